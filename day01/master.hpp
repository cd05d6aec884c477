// The master process: binds, forks the workers, replaces the ones that die
// and stops them all on request.
#pragma once

#include "band.hpp"

#include <band/common/listener.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/types.h>

#include <string>
#include <vector>

namespace band {

class master {
 public:
  master(const options& options, worker_function function);
  int run();

 private:
  struct slot {
    pid_t pid = 0;            // 0 while the slot has no worker
    unsigned generation = 0;  // how many workers this slot has had
  };

  void wait_for_signal();
  void ignore_hangups();
  void handle_sigchld();
  void handle_stop_signal(int signal_number);

  void reap_children();
  void spawn_missing_workers();
  bool spawn_worker(unsigned slot_index);
  void kill_survivors(const std::string& reason);
  void finish_if_stopped();
  unsigned live_workers() const;

  options options_;
  worker_function function_;
  common::listener listener_;
  boost::asio::io_context context_;
  boost::asio::signal_set signals_;
  boost::asio::signal_set hangup_signal_;
  boost::asio::steady_timer stop_timer_;
  boost::asio::steady_timer fork_retry_timer_;
  std::vector<slot> slots_;
  bool stopping_ = false;
};

// The child's side of a fork: runs the worker function and the worker's
// event loop, then exits the process. Never returns.
[[noreturn]] void run_worker_process(unsigned slot, int listen_fd, const worker_function& function);

}  // namespace band
