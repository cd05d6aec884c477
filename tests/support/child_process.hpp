// A program under test, started in its own process group with its output
// captured, and killed with everything it started when the object goes away.
#pragma once

#include "poll.hpp"
#include "proc.hpp"

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

namespace band::test {

// How a process ended.
struct exit_status {
  bool killed = false;  // true when a signal killed the process, false when it exited
  int value = 0;        // the exit status, or the signal number when killed

  friend bool operator==(const exit_status&, const exit_status&) = default;
};

exit_status exited_with(int status);
exit_status killed_by(int signal_number);
std::ostream& operator<<(std::ostream& out, const exit_status& status);

// A line of standard error that matched a pattern, with the pattern's
// capture groups (groups[0] is the whole match).
struct line_match {
  std::string line;
  std::vector<std::string> groups;
};

// Starts a program with fork and exec in a new process group whose id is
// its pid, so that a test can signal the whole group as a terminal's Ctrl-C
// does. Standard input is /dev/null. A reader thread stores standard output
// and standard error. The destructor sends SIGKILL to the process group and
// to every process children() has returned, reaps the program, and prints
// its output when the test has failed.
//
// The program is reaped only by the destructor (wait_exit() leaves it a
// zombie), so its pid, and with it the process group id, cannot be reused
// by an unrelated process while this object exists.
class child_process {
 public:
  // Throws std::system_error when a pipe, fork or exec fails.
  child_process(const std::string& path, const std::vector<std::string>& arguments);
  ~child_process();
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }

  // Sends a signal to the program alone, or to its whole process group.
  void send_signal(int signal_number) const;
  void send_signal_to_group(int signal_number) const;

  // The program's running children. The destructor kills them too, even
  // when they have left the process group.
  std::vector<process_id> children();
  // The running child with this pid. Throws std::runtime_error when the
  // program has no such child.
  process_id child(pid_t pid);
  // The running processes in the program's process group other than the
  // program itself: its workers, and any they left behind.
  std::vector<process_id> group_members() const;

  // The exit status when the program has ended, without reaping it.
  std::optional<exit_status> poll_exit() const;
  // Waits for the program to end. Throws std::runtime_error on timeout.
  exit_status wait_exit(std::chrono::milliseconds timeout = default_timeout) const;

  std::vector<std::string> stderr_lines() const;
  std::string stdout_text() const;
  // Waits for a line of standard error to match `pattern` (ECMAScript, found
  // anywhere in the line) and returns the first such line. Throws
  // std::runtime_error on timeout.
  line_match wait_for_line(const std::string& pattern, std::chrono::milliseconds timeout = default_timeout) const;
  std::size_t count_lines(const std::string& pattern) const;
  // Waits until every process holding the program's standard output and
  // error has closed them, so that no more lines can come. Throws
  // std::runtime_error on timeout.
  void wait_for_output_end(std::chrono::milliseconds timeout = default_timeout) const;

 private:
  void read_output();
  void store_output(bool is_stderr, const char* data, std::size_t size);
  void kill_everything();
  void print_output() const;

  std::string path_;
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::vector<process_id> seen_children_;

  mutable std::mutex mutex_;
  mutable std::condition_variable output_changed_;
  std::vector<std::string> stderr_lines_;
  std::string stderr_partial_line_;
  std::string stdout_text_;
  bool output_ended_ = false;
  std::atomic<bool> stop_reading_{false};
  std::thread reader_;
};

}  // namespace band::test
