// Readers for the /proc files that bench-restart needs (Linux only).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace bench {

// Resident memory of one process, in KiB as the kernel reports it.
struct memory_sample {
  std::uint64_t rss_kib = 0;  // VmRSS from /proc/PID/status
  std::uint64_t pss_kib = 0;  // Pss from /proc/PID/smaps_rollup
};

// Reads VmRSS and Pss. Returns nullopt when the process is gone or VmRSS is missing.
// Throws what band::common::read_memory_usage throws.
std::optional<memory_sample> read_memory(pid_t pid);

// Reads the parent pid from /proc/PID/stat. Returns nullopt when the process is gone.
std::optional<pid_t> parent_pid(pid_t pid);

// The children of every thread of `pid`, from /proc/PID/task/*/children,
// zombies included. Empty when the process is gone.
std::vector<pid_t> child_pids(pid_t pid);

// Facts about this machine for the report's header.
struct machine_info {
  long online_cpus = 0;
  std::string cpu_model;       // "model name" from /proc/cpuinfo
  std::string kernel_release;  // uname -r
  std::uint64_t memory_kib = 0;  // MemTotal from /proc/meminfo
  // The 1-minute load average from /proc/loadavg: other work on the machine
  // when the run started, which makes the figures noisier.
  std::string load_average;
};

machine_info read_machine_info();

}  // namespace bench
