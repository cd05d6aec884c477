// The demo HTTP application every day serves, on Boost.Beast.
//
//   GET /            200, body "worker SLOT pid PID", header X-Worker-Pid
//   GET /work?ms=N   burns N ms of CPU time, then answers as /; the event
//                    loop is blocked meanwhile, as in a CPU-bound handler
//   GET /sleep?ms=N  answers as / after N ms on a timer; the event loop goes
//                    on serving, as while a handler waits for a database
//   with --demo-faults only (404 otherwise):
//   GET /crash       abort()
//   GET /exit?code=N answers, then exits with status N
//   GET /leak?mb=N   allocates and touches N MiB, kept until the process ends
//   GET /hang        blocks the event loop forever
//
// Connections are kept alive as HTTP/1.1 asks. The request path allocates
// nothing per request beyond what Beast's parser needs.
#pragma once

#include "band/common/connection_stats.hpp"

#include <boost/asio/io_context.hpp>

#include <cstddef>
#include <functional>
#include <memory>

namespace band::common {

struct demo_options {
  unsigned slot = 0;
  bool faults = false;  // serve /crash, /exit, /leak and /hang
  // Counters to update, or null. Must outlive the server.
  connection_stats* stats = nullptr;
  // Called after each request is counted in stats->requests; may be empty.
  std::function<void()> counted = nullptr;
};

class demo_server {
 public:
  // Starts accepting on `listen_fd`, a listening socket that the server takes
  // over (closing it when stopped or destroyed). With a `listen_fd` of -1 the
  // server accepts nothing itself and serves the connections given to adopt().
  demo_server(boost::asio::io_context& context, int listen_fd, demo_options options);
  ~demo_server();
  demo_server(const demo_server&) = delete;
  demo_server& operator=(const demo_server&) = delete;

  // Serves a connected TCP socket accepted elsewhere, taking it over.
  void adopt(int connection_fd);

  // Closes the listening socket; open connections go on.
  void stop_accepting();
  // Closes the connections that wait for a request; those serving one go on.
  void close_idle_connections();
  // Closes the listening socket and every connection.
  void stop();
  // Stops gracefully: closes the listening socket, answers each request in
  // progress or begun within 100 ms with "Connection: close", closes the
  // connections that stay idle that long, and calls `drained` once no
  // connection is left.
  void drain(std::function<void()> drained);

  std::size_t connection_count() const noexcept;

  class impl;

 private:
  std::shared_ptr<impl> impl_;
};

}  // namespace band::common
