// band, day 03: who gets the connection.
//
// Day 02's manager (one worker per slot, replaced when it dies, with memory
// and heartbeat checks, restart backoff and intensity) with a choice of how
// connections reach the workers: a shared listening socket, one SO_REUSEPORT
// socket per slot, or the master accepting and handing each connection to a
// worker, in turn or to the least busy.
#pragma once

#include "slot_table.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <vector>

namespace band {

// A worker that exits with this status reports a configuration error that no
// restart can fix (EX_CONFIG in sysexits.h). The master then stops the band
// and exits with the same status, so an outer supervisor can tell it apart.
inline constexpr int exit_config_error = 78;
// The master's exit status when workers die more often than the restart
// intensity allows.
inline constexpr int exit_restart_intensity = 3;

enum class balance {
  shared,       // every worker accepts on one socket; the kernel picks
  reuseport,    // one SO_REUSEPORT socket per slot, held open by the master
  round_robin,  // the master accepts and passes connections in turn
  least_conn,   // the master accepts and passes each to the least busy worker
};

enum class memory_measure {
  uss,  // private pages only (Private_Clean + Private_Dirty)
  pss,  // private pages plus each shared page divided by its sharers
};

struct options {
  boost::asio::ip::tcp::endpoint listen{boost::asio::ip::make_address_v4("127.0.0.1"), 8080};
  unsigned workers = 0;  // 0: one per online CPU
  int backlog = 1024;
  balance strategy = balance::least_conn;
  // How long a stop of the band waits for workers to exit after SIGTERM
  // before it sends SIGKILL.
  std::chrono::milliseconds stop_timeout{10'000};

  // Health checks, every check_interval.
  std::uint64_t max_memory = 0;  // bytes of a worker's own memory; 0: no limit
  memory_measure measure = memory_measure::uss;
  std::chrono::milliseconds check_interval{1'000};
  // A worker whose event loop has not turned for this long gets SIGABRT.
  std::chrono::milliseconds heartbeat_timeout{30'000};
  // How long a worker restarted by a health check (SIGTERM for memory,
  // SIGABRT for a freeze) may take to exit before it gets SIGKILL.
  std::chrono::milliseconds kill_timeout{5'000};

  // Crash loops.
  // A worker that ran this long restarts at once and resets its slot's backoff.
  std::chrono::milliseconds min_uptime{1'000};
  // More than max_restarts unplanned exits within restart_window, across the
  // band, stop it with exit_restart_intensity.
  unsigned max_restarts = 10;
  std::chrono::milliseconds restart_window{120'000};
};

// What a worker process receives: its slot, its connections, and an event
// loop that band runs once the worker function returns. A timer on that loop
// stamps the worker's heartbeat.
//
// With the shared and reuseport strategies the worker accepts on
// listen_fd(). With round-robin and least-conn, listen_fd() is -1 and band
// passes each connection the master accepted to the on_connection handler.
class worker {
 public:
  using connection_handler = std::function<void(int connection_fd)>;

  unsigned slot() const noexcept { return slot_; }
  // The inherited listening socket, or -1. The worker owns this copy of the
  // descriptor: closing it does not close the master's.
  int listen_fd() const noexcept { return listen_fd_; }
  boost::asio::io_context& context() noexcept { return context_; }
  // Counters in the slot table that the master reads; least-conn balances on
  // stats().active, so a server should keep it current.
  common::connection_stats& stats() noexcept { return stats_; }
  // Sets the handler that takes over each connection the master passes.
  void on_connection(connection_handler handler) { connection_handler_ = std::move(handler); }
  // Adds a handler that runs when the worker is asked to stop (SIGTERM),
  // before band stops the event loop.
  void on_stop(std::function<void()> handler) { stop_handlers_.push_back(std::move(handler)); }

  worker(unsigned slot, int listen_fd, common::connection_stats& stats)
      : slot_(slot), listen_fd_(listen_fd), stats_(stats) {}
  void run_stop_handlers();
  void take_connection(int connection_fd);

 private:
  unsigned slot_;
  int listen_fd_;
  common::connection_stats& stats_;
  boost::asio::io_context context_;
  connection_handler connection_handler_;
  std::vector<std::function<void()>> stop_handlers_;
};

using worker_function = std::function<void(worker&)>;

// Thrown by a worker function when its configuration is wrong: the worker
// exits with exit_config_error, and the master stops the band rather than
// restart a worker that cannot work.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs the band until SIGTERM or SIGINT stops it; returns the exit status for
// main: 0 after a requested stop, exit_restart_intensity or exit_config_error
// when the band gave up. Throws std::system_error when the listening socket
// cannot be opened, before any worker starts.
int run(const options& options, worker_function function);

// The number of online CPUs, at least 1.
unsigned online_cpus();

}  // namespace band
