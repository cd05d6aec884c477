// A server under test: a child process started with fork() and exec(), whose
// standard error bench-restart reads through a pipe. The destructor stops
// and reaps it and every descendant it leaves behind.
#pragma once

#include "timing.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace bench {

// The address in the server's `listening on HOST:PORT` line.
struct listen_address {
  std::string host;  // without the brackets of an IPv6 address
  unsigned short port = 0;
};

struct stop_result {
  bool exited_before_stop = false;  // the server was gone before stop() sent a signal
  bool reaped = false;             // false: still not gone after SIGKILL and a second grace period
  int wait_status = 0;             // from waitpid(), when reaped
  bool needed_sigkill = false;     // still running when the grace period after SIGTERM ended
  std::size_t orphans_killed = 0;  // descendants left after the server was reaped
};

// Makes bench-restart a child subreaper (PR_SET_CHILD_SUBREAPER): the
// descendants that a server leaves behind become bench-restart's children,
// so server_process::stop() can kill and reap them. Call it once, first.
void become_child_subreaper();

// NOTE: run one server_process at a time. stop() kills every child of
// bench-restart that remains after the server is reaped, because those
// children can only be the server's orphans.
class server_process {
 public:
  // Starts `argv` (argv[0] is the program's path). The child gets a process
  // group of its own, so a Ctrl-C reaches only bench-restart, and SIGTERM
  // when bench-restart dies. `stop_grace` is how long a stop waits after
  // SIGTERM before SIGKILL. Throws std::system_error when fork() or exec()
  // fails.
  server_process(const std::vector<std::string>& argv, std::chrono::nanoseconds stop_grace);
  ~server_process();
  server_process(const server_process&) = delete;
  server_process& operator=(const server_process&) = delete;

  pid_t pid() const noexcept { return pid_; }
  // The moment just before fork().
  clock::time_point fork_time() const noexcept { return fork_time_; }

  // Reads standard error until the `listening on HOST:PORT` line arrives.
  // Returns nullopt at the deadline, or when standard error closes first.
  std::optional<listen_address> wait_for_listen_line(clock::time_point deadline);

  // Sleeps up to `timeout`, reading standard error meanwhile so that the
  // pipe never fills and blocks the server. Returns early when output
  // arrives or a signal interrupts the wait.
  void pause(std::chrono::nanoseconds timeout);

  // Reads the standard error output that has arrived, without waiting.
  void read_output();

  // Returns whether the server still runs, and reaps it when it has exited.
  bool running();

  // Waits until the server has exited and is reaped, or `deadline` passes,
  // reading its output meanwhile. Returns whether it was reaped.
  bool wait_for_exit(clock::time_point deadline);

  // Stops the server: SIGTERM, then SIGKILL when it outlives the grace
  // period. Then kills and reaps the descendants it left behind. A second
  // call returns the first call's result.
  stop_result stop();

  // The wait status once the server has been reaped.
  std::optional<int> wait_status() const noexcept { return wait_status_; }

  // Standard error lines before the listen line (at most 50 kept).
  const std::vector<std::string>& startup_lines() const noexcept { return startup_lines_; }
  // Lines that mention an error or a warning, except the expected "killed by
  // SIGKILL" reports of the benchmark's own kills (at most 20 kept).
  const std::vector<std::string>& notable_lines() const noexcept { return notable_lines_; }
  std::size_t notable_line_count() const noexcept { return notable_line_count_; }

 private:
  void handle_line(const std::string& line);
  bool try_reap();
  void close_stderr() noexcept;
  std::size_t kill_orphans();

  pid_t pid_ = -1;
  int stderr_fd_ = -1;
  std::chrono::nanoseconds stop_grace_;
  clock::time_point fork_time_;
  std::optional<int> wait_status_;
  std::optional<stop_result> stop_result_;

  std::string partial_line_;
  std::optional<listen_address> listen_address_;
  std::vector<std::string> startup_lines_;
  std::vector<std::string> notable_lines_;
  std::size_t notable_line_count_ = 0;
};

}  // namespace bench
