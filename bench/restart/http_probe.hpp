// Probes of `GET /`, each over a new TCP connection, that overlap: a new
// probe starts while earlier ones still wait for their responses, so a
// connection that never gets a response cannot delay the response to a
// later one. Only loopback addresses (127.0.0.0/8) are accepted, because
// bench-restart measures servers it starts on this machine.
#pragma once

#include "server_process.hpp"
#include "timing.hpp"

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <netinet/in.h>
#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

namespace bench {

enum class probe_outcome {
  response,      // a complete HTTP response arrived
  refused,       // connect() failed with ECONNREFUSED: nothing listens
  reset,         // the connection was reset or closed before a complete response
  bad_response,  // the bytes that arrived are not a valid HTTP response
  socket_error,  // any other system call failure, with its errno in probe_result::error
};

struct probe_result {
  probe_outcome outcome = probe_outcome::socket_error;
  unsigned status = 0;          // HTTP status, for a response
  pid_t worker_pid = 0;         // the X-Worker-Pid header, 0 when absent or invalid
  int error = 0;                // errno, for socket_error
  clock::time_point finished;  // when the result was known
};

// Builds the IPv4 address of a server's listen line. Throws
// std::invalid_argument when the host is not in 127.0.0.0/8.
sockaddr_in loopback_address(const listen_address& address);

class probe_fleet {
 public:
  explicit probe_fleet(const sockaddr_in& server);
  ~probe_fleet();
  probe_fleet(const probe_fleet&) = delete;
  probe_fleet& operator=(const probe_fleet&) = delete;

  // Opens a new connection and sends `GET / HTTP/1.1` with
  // `Connection: close`, as far as that goes without blocking.
  void start();

  // Waits until a probe finishes or `until` passes, then returns the probes
  // that have finished (possibly none). A signal ends the wait early.
  std::vector<probe_result> wait(clock::time_point until);

  // Connections still waiting for a complete response.
  std::size_t in_flight() const noexcept { return probes_.size(); }

  // Closes the connections still waiting and returns how many there were.
  std::size_t abandon() noexcept;

 private:
  struct probe {
    int fd = -1;
    bool connected = false;
    std::size_t sent = 0;
    boost::beast::http::response_parser<boost::beast::http::string_body> parser;
    std::string unparsed;
  };

  std::optional<probe_result> advance(probe& current);
  std::optional<probe_result> send_request(probe& current);
  std::optional<probe_result> read_response(probe& current);

  sockaddr_in server_;
  std::vector<std::unique_ptr<probe>> probes_;
  std::vector<probe_result> finished_;
};

}  // namespace bench
