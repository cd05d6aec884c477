// The master process: binds, forks the workers, watches their health,
// replaces the ones that die with a backoff, and stops them all on request
// or when they die too often.
#pragma once

#include "balancer.hpp"
#include "band.hpp"
#include "child_process.hpp"
#include "restart_policy.hpp"
#include "slot_table.hpp"

#include <band/common/listener.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <memory>
#include <string>
#include <vector>

namespace band {

class master {
 public:
  master(const options& options, worker_function function);
  int run();

 private:
  struct slot {
    explicit slot(boost::asio::io_context& context) : respawn_timer(context), kill_timer(context) {}

    child_process child;      // not running while the slot is empty
    unsigned generation = 0;  // how many workers this slot has had
    monotonic_clock::time_point started;
    // Why the master signalled this worker, for the line that logs its exit;
    // empty when the master has not signalled it.
    std::string stop_reason;
    restart_backoff backoff;
    boost::asio::steady_timer respawn_timer;  // a start delayed by the backoff
    bool respawn_pending = false;             // respawn_timer is running
    boost::asio::steady_timer kill_timer;     // SIGKILL after a signal that went unheeded
  };

  // master.cpp: the supervisor's steps.
  void wait_for_signal();
  void ignore_hangups();
  void handle_sigchld();
  void handle_stop_signal(int signal_number);
  void reap_children();
  void replace_worker(unsigned index, pid_t pid, int status);
  void spawn_missing_workers();
  bool spawn_worker(unsigned index);
  void retry_spawn_later();
  void begin_stop(int exit_status);
  void kill_survivors(const std::string& reason);
  void finish_if_stopped();
  unsigned live_workers() const;

  // health.cpp: the health checks.
  void schedule_health_check();
  void check_health();
  void check_heartbeat(unsigned index, monotonic_clock::time_point now);
  void check_memory(unsigned index);
  void restart_unhealthy(unsigned index, int signal_number, std::string reason);

  void open_listeners();
  int listen_fd_for(unsigned index) const;
  void close_inherited_descriptors(unsigned index) noexcept;

  options options_;
  worker_function function_;
  // One socket, or one per slot with reuseport; the master holds them open
  // for the whole run, so a replacement worker finds the same socket.
  std::vector<common::listener> listeners_;
  slot_table table_;
  boost::asio::io_context context_;
  boost::asio::signal_set signals_;
  boost::asio::signal_set hangup_signal_;
  boost::asio::steady_timer stop_timer_;
  boost::asio::steady_timer fork_retry_timer_;
  boost::asio::steady_timer health_timer_;
  std::unique_ptr<balancer> balancer_;  // round-robin and least-conn only
  std::vector<std::unique_ptr<slot>> slots_;
  restart_intensity intensity_;
  bool stopping_ = false;
  int exit_status_ = 0;
};

// The child's side of a fork: runs the worker function and the worker's
// event loop, stamping heartbeats into `record` and taking connections from
// `channel_fd` (or -1), then exits the process. Never returns.
[[noreturn]] void run_worker_process(unsigned slot, int listen_fd, int channel_fd, slot_record& record,
                                     std::chrono::milliseconds heartbeat_interval, const worker_function& function);

// "round-robin" for balance::round_robin.
const char* to_string(balance strategy);

}  // namespace band
