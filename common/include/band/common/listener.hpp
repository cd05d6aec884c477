// Listening sockets: parsing HOST:PORT and opening a bound, listening socket
// that the master holds and its forked workers inherit.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <string>
#include <string_view>

namespace band::common {

using tcp_endpoint = boost::asio::ip::tcp::endpoint;

// Parses "127.0.0.1:8080", "[::1]:0" or "localhost:8080" (numeric addresses
// and "localhost" only, so parsing never blocks on DNS). Port 0 asks the
// kernel for a free port. Throws std::invalid_argument naming the value.
tcp_endpoint parse_endpoint(std::string_view text);

// Formats an endpoint the way parse_endpoint reads it: IPv6 in brackets.
std::string to_string(const tcp_endpoint& endpoint);

struct listen_options {
  int backlog = 1024;
  bool reuse_port = false;  // SO_REUSEPORT, for one socket per worker
};

// An open listening socket that closes itself. The descriptor has
// close-on-exec set: fork() keeps it in the workers, exec() does not leak it.
class listener {
 public:
  // Creates, binds and listens. Throws std::system_error whose message names
  // the failed call ("bind 127.0.0.1:8080") and whose code is the errno.
  static listener open(const tcp_endpoint& endpoint, const listen_options& options = {});

  listener() = default;
  listener(listener&& other) noexcept;
  listener& operator=(listener&& other) noexcept;
  listener(const listener&) = delete;
  listener& operator=(const listener&) = delete;
  ~listener();

  int fd() const noexcept { return fd_; }
  // The bound address, with the real port when port 0 was requested.
  tcp_endpoint local_endpoint() const;
  void close() noexcept;

 private:
  explicit listener(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace band::common
