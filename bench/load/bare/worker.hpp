// The worker of bench-load-bare: accepts on an inherited listening socket
// with Boost.Asio and responds to every request with responses built once.
#pragma once

#include <band/common/connection_stats.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>

namespace bare {

// Serves on `listen_fd` until the process is killed, or until accept()
// fails with an error other than a lack of descriptors or memory. Throws
// boost::system::system_error when the socket cannot be adopted.
void serve(unsigned slot, const boost::asio::ip::tcp& protocol, int listen_fd);

// The same server on an event loop that someone else runs, so that band can
// supervise it (bench-load-bare-on-band). With a `listen_fd` of -1 it
// accepts nothing itself and serves the connections passed to adopt().
// `stats`, when not null, counts the connections accepted and open, which
// band's least-conn balances on.
class server {
 public:
  server(boost::asio::io_context& context, unsigned slot, const boost::asio::ip::tcp& protocol, int listen_fd,
         band::common::connection_stats* stats = nullptr);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  // Serves a connected TCP socket accepted elsewhere, taking it over.
  void adopt(int connection_fd);

 private:
  struct state;
  std::unique_ptr<state> state_;
};

}  // namespace bare
