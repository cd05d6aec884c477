// The master process: binds, forks the workers, watches their health,
// replaces the ones that die, reloads, scales and recycles them without
// dropping a request, and stops them all on request or when they die too
// often.
#pragma once

#include "balancer.hpp"
#include "band.hpp"
#include "child_process.hpp"
#include "restart_policy.hpp"
#include "slot_table.hpp"

#include <band/common/listener.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <list>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace band {

// One worker process, from fork to reaping.
struct worker_process {
  explicit worker_process(boost::asio::io_context& context)
      : channel(context), kill_timer(context), ready_timer(context) {}

  enum class phase {
    starting,  // forked, not yet ready
    serving,   // reported ready
    draining,  // asked to stop gracefully; no longer counts as the slot's worker
  };

  child_process child;
  unsigned slot = 0;
  std::size_t record = 0;      // its record in the slot table
  unsigned generation = 0;     // the slot's fork count when it started
  unsigned reload_number = 0;  // the reload it belongs to; 0 before any
  monotonic_clock::time_point started;
  phase state = phase::starting;
  // Why the master signalled it, for the line that logs its exit; empty when
  // the master has not signalled it.
  std::string stop_reason;
  std::uint64_t request_limit = 0;  // recycle after this many requests; 0: never
  bool recycled = false;            // reached request_limit; its successor is on the way
  boost::asio::posix::stream_descriptor channel;  // the master's end
  boost::asio::steady_timer kill_timer;           // SIGKILL after a signal that went unheeded
  boost::asio::steady_timer ready_timer;          // ready_timeout
};

class master {
 public:
  master(const options& options, worker_function function);
  int run();

 private:
  using process_ptr = std::shared_ptr<worker_process>;

  struct slot {
    explicit slot(boost::asio::io_context& context) : respawn_timer(context) {}
    process_ptr current;     // the worker that serves this slot, or none
    process_ptr successor;   // its replacement while it starts (reload, recycle)
    unsigned generation = 0;  // how many workers this slot has had
    restart_backoff backoff;
    boost::asio::steady_timer respawn_timer;  // a start delayed by the backoff
    bool respawn_pending = false;             // respawn_timer is running
    std::string succession_reason;            // why `successor` was started
  };

  // master.cpp: the supervisor's steps.
  void wait_for_signals();
  void handle_signal(int signal_number);
  void reap_children();
  void handle_exit(const process_ptr& process, int status);
  void replace_worker(const process_ptr& process, pid_t pid, int status, const std::string& description);
  void spawn_missing_workers();
  process_ptr spawn_worker(unsigned index);
  void retry_spawn_later();
  void begin_stop(int exit_status, bool graceful);
  void kill_survivors(const std::string& reason);
  void finish_if_stopped();
  process_ptr find_process(pid_t pid) const;
  std::vector<process_ptr> all_processes() const;

  // channel.cpp side of the master: messages from workers.
  void read_channel(const process_ptr& process);
  void handle_ready(const process_ptr& process);

  // lifecycle.cpp: readiness, drains, reloads, scaling, recycling.
  void handle_ready_timeout(const process_ptr& process);
  void drain(const process_ptr& process, std::string reason);
  void begin_reload();
  void continue_reload();
  void abort_reload(const std::string& reason);
  void replace_gracefully(unsigned index, std::string reason);
  void add_slot();
  void remove_slot();
  void update_reuseport_steering();
  void steer_to_ready_slots();

  // health.cpp: the health checks.
  void schedule_health_check();
  void check_health();
  void check_heartbeat(const process_ptr& process, monotonic_clock::time_point now);
  void check_memory(const process_ptr& process);
  void check_request_limit(const process_ptr& process);
  void restart_unhealthy(const process_ptr& process, int signal_number, std::string reason);

  // listeners.cpp: sockets.
  void open_listeners();
  void add_listener();
  int listen_fd_for(unsigned index) const;
  void close_inherited_descriptors(unsigned index, int own_channel) noexcept;

  options options_;
  worker_function function_;
  // One socket, or one per slot with reuseport; the master holds them open
  // for the whole run, so a replacement worker finds the same socket.
  std::vector<common::listener> listeners_;
  // Sockets of removed reuseport slots, closed once their worker has exited.
  std::list<std::pair<common::listener, pid_t>> retired_listeners_;
  slot_table table_;
  boost::asio::io_context context_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer stop_timer_;
  boost::asio::steady_timer fork_retry_timer_;
  boost::asio::steady_timer health_timer_;
  balancer balancer_;
  std::vector<std::unique_ptr<slot>> slots_;
  std::list<process_ptr> draining_;  // workers that left their slot and finish their requests
  restart_intensity intensity_;
  std::mt19937_64 random_;  // for --max-requests-jitter
  unsigned reload_number_ = 0;  // reloads asked for so far
  std::size_t steered_sockets_ = 0;  // reuseport sockets the steering program picks from
  bool reloading_ = false;
  bool stopping_ = false;
  int exit_status_ = 0;
};

// The child's side of a fork: runs the worker function and the worker's
// event loop, stamping heartbeats into `record` and talking to the master
// over `channel_fd`, then exits the process. A `request_limit` other than 0
// is the worker's share of --max-requests. Never returns.
[[noreturn]] void run_worker_process(unsigned slot, int listen_fd, int channel_fd, slot_record& record,
                                     std::chrono::milliseconds heartbeat_interval, std::uint64_t request_limit,
                                     const worker_function& function);

// "round-robin" for balance::round_robin.
const char* to_string(balance strategy);

}  // namespace band
