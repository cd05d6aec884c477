// Readers of /proc: which processes run, whose children they are, which
// process group they belong to and which descriptors they hold.
#pragma once

#include <sys/types.h>

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace band::test {

// The fields of /proc/PID/stat that the tests read.
struct proc_stat {
  pid_t pid = 0;
  char state = '?';  // 'Z' for a zombie
  pid_t parent = 0;
  pid_t process_group = 0;
  unsigned long long start_time = 0;  // clock ticks after boot
};

// Reads /proc/PID/stat. Returns nullopt when no such process exists.
std::optional<proc_stat> read_proc_stat(pid_t pid);

// A process named by its pid and its start time, so that a pid the kernel
// has given to a new process is not taken for the old one.
struct process_id {
  pid_t pid = 0;
  unsigned long long start_time = 0;

  friend bool operator==(const process_id&, const process_id&) = default;
};

std::ostream& operator<<(std::ostream& out, const process_id& process);

// Whether the process exists, has not been replaced by another with the
// same pid, and is not a zombie.
bool is_running(const process_id& process);

// Sends `signal_number` to the process unless it has ended. Returns whether
// the signal was sent.
bool send_signal(const process_id& process, int signal_number);

// The running children of `parent` (zombies left out), by pid. Scans
// /proc/*/stat, because /proc/PID/task/TID/children needs a kernel option
// that not every kernel has.
std::vector<process_id> running_children(pid_t parent);

// The running members of process group `group`, by pid.
std::vector<process_id> running_group_members(pid_t group);

std::vector<pid_t> pids_of(const std::vector<process_id>& processes);

// The descriptors open in `pid`, each as "FD -> TARGET", by descriptor.
std::vector<std::string> open_descriptors(pid_t pid);

}  // namespace band::test
