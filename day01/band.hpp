// band, day 01: one process per core.
//
// band::run() binds the listening socket, forks one worker per slot, replaces
// any worker that dies in the same slot, and stops them all on SIGTERM or
// SIGINT. Each worker runs `worker_function` once, then its event loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <vector>

namespace band {

struct options {
  boost::asio::ip::tcp::endpoint listen{boost::asio::ip::make_address_v4("127.0.0.1"), 8080};
  unsigned workers = 0;  // 0: one per online CPU
  int backlog = 1024;
  // How long a stop waits for workers to exit after SIGTERM before it sends
  // SIGKILL.
  std::chrono::milliseconds stop_timeout{10'000};
};

// What a worker process receives: its slot, the listening socket it
// inherited, and an event loop that band runs once the worker function returns.
class worker {
 public:
  unsigned slot() const noexcept { return slot_; }
  // The inherited listening socket. The worker owns this copy of the
  // descriptor: closing it does not close the master's.
  int listen_fd() const noexcept { return listen_fd_; }
  boost::asio::io_context& context() noexcept { return context_; }
  // Adds a handler that runs when the worker is asked to stop (SIGTERM),
  // before band stops the event loop.
  void on_stop(std::function<void()> handler) { stop_handlers_.push_back(std::move(handler)); }

  worker(unsigned slot, int listen_fd) : slot_(slot), listen_fd_(listen_fd) {}
  void run_stop_handlers();

 private:
  unsigned slot_;
  int listen_fd_;
  boost::asio::io_context context_;
  std::vector<std::function<void()>> stop_handlers_;
};

using worker_function = std::function<void(worker&)>;

// Runs the band until SIGTERM or SIGINT stops it; returns the exit status for
// main (0 after a clean stop). Throws std::system_error when the listening
// socket cannot be opened, before any worker starts.
int run(const options& options, worker_function function);

// The number of online CPUs, at least 1.
unsigned online_cpus();

}  // namespace band
