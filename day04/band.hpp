// band, day 04: never drop a request.
//
// Day 03's manager (workers per slot with health checks, restart backoff and
// intensity, and a choice of balancing strategy) with lifecycle changes that
// clients do not see: workers report when they are ready, drain before they
// exit, and are replaced one slot at a time on SIGHUP (a rolling reload),
// added and removed on SIGTTIN and SIGTTOU, and recycled after a number of
// requests.
//
// Signals to the master:
//   SIGTERM          graceful stop: workers finish their requests, then exit
//   SIGINT, SIGQUIT  fast stop: workers close their connections and exit
//   SIGHUP           rolling reload
//   SIGTTIN, SIGTTOU one worker more, one worker fewer (never below one)
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
// The most workers SIGTTIN can reach: half the slot table, so each can have a
// replacement starting during a reload.
inline constexpr unsigned max_workers = slot_table::capacity / 2;

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

  // Lifecycle.
  // How long a draining worker may take to finish its requests before it gets
  // SIGKILL: in a graceful stop, a reload, a scale-down or a recycle.
  std::chrono::milliseconds graceful_timeout{30'000};
  // How long a new worker may take to report ready. In a reload, a worker
  // that is not ready in time aborts the reload.
  std::chrono::milliseconds ready_timeout{30'000};
  unsigned reload_batch = 1;  // slots a reload replaces at once
  // A worker that has answered max_requests plus a random share of
  // max_requests_jitter requests is replaced; 0: never.
  std::uint64_t max_requests = 0;
  std::uint64_t max_requests_jitter = 0;

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
// passes each connection the master accepted to the on_connection handler;
// band also passes connections in the other strategies when a socket of a
// removed slot still held some.
class worker {
 public:
  using connection_handler = std::function<void(int connection_fd)>;
  // Called once when the worker must stop gracefully; calls `done` when the
  // last request has been answered.
  using stop_handler = std::function<void(std::function<void()> done)>;

  unsigned slot() const noexcept { return slot_; }
  // The inherited listening socket, or -1. The worker owns this copy of the
  // descriptor: closing it does not close the master's.
  int listen_fd() const noexcept { return listen_fd_; }
  boost::asio::io_context& context() noexcept { return context_; }
  // Counters in the slot table that the master reads; least-conn balances on
  // stats().active and --max-requests counts stats().requests.
  common::connection_stats& stats() noexcept { return stats_; }
  // Call after counting a request in stats().requests. The call that finds
  // the count at the worker's --max-requests share requests a successor from
  // the master at once. Without these calls the master notices at its next
  // health check, up to one --check-interval later.
  void check_request_limit();
  // Sets the handler that takes over each connection the master passes.
  void on_connection(connection_handler handler) { connection_handler_ = std::move(handler); }
  // Adds a handler for the graceful stop (SIGTERM). band stops the event loop
  // once every handler has called its `done`, or at once on a fast stop
  // (SIGQUIT), or when there is no handler.
  void on_stop(stop_handler handler) { stop_handlers_.push_back(std::move(handler)); }

  // band reports the worker ready when the worker function returns. A worker
  // that has more to do first (warm a cache, connect to a database) calls
  // defer_ready() in the function and ready() once it is done. With the
  // shared and reuseport strategies the kernel hands connections to whoever
  // accepts, so such a worker should start accepting only when it calls
  // ready(); with round-robin and least-conn the master passes nothing
  // before then.
  void defer_ready() noexcept { ready_deferred_ = true; }
  void ready();

  worker(unsigned slot, int listen_fd, int channel_fd, common::connection_stats& stats, std::uint64_t request_limit)
      : slot_(slot), listen_fd_(listen_fd), channel_fd_(channel_fd), stats_(stats), request_limit_(request_limit) {}
  bool ready_deferred() const noexcept { return ready_deferred_; }
  void take_connection(int connection_fd);
  void drain(std::function<void()> drained);

 private:
  unsigned slot_;
  int listen_fd_;
  int channel_fd_;
  common::connection_stats& stats_;
  std::uint64_t request_limit_;  // 0: none
  bool limit_reported_ = false;
  boost::asio::io_context context_;
  connection_handler connection_handler_;
  std::vector<stop_handler> stop_handlers_;
  bool ready_deferred_ = false;
  bool ready_sent_ = false;
};

using worker_function = std::function<void(worker&)>;

// Thrown by a worker function when its configuration is wrong: the worker
// exits with exit_config_error, and the master stops the band rather than
// restart a worker that cannot work.
class config_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Runs the band until SIGTERM, SIGINT or SIGQUIT stops it; returns the exit
// status for main: 0 after a requested stop, exit_restart_intensity or
// exit_config_error when the band gave up. Throws std::system_error when the
// listening socket cannot be opened, before any worker starts.
int run(const options& options, worker_function function);

// The number of online CPUs, at least 1.
unsigned online_cpus();

}  // namespace band
