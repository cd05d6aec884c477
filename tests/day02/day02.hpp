// What the day 02 tests share: the binary under test and readers of its log.
#pragma once

#include <band_test.hpp>

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace band::test {

// BAND_DAY02_BINARY is set by CMake to the built band-day02.
inline const std::string day02_binary = BAND_DAY02_BINARY;

// Starts band-day02 on a free loopback port and waits until it listens.
inline band_process start_day02(std::vector<std::string> flags) {
  return band_process(day02_binary, std::move(flags));
}

// The start of a master's line at `level` about worker SLOT pid PID, as a
// regular expression.
std::string worker_event(const std::string& level, unsigned slot, pid_t pid);

// The start of a line that worker SLOT pid PID writes itself.
std::string worker_line(unsigned slot, pid_t pid);

// The lines of standard error that match `pattern` so far, in order.
std::vector<line_match> matching_lines(const child_process& band, const std::string& pattern);

// The index in stderr_lines() of the first line that matches `pattern`, or
// -1 when none does.
long first_line_index(const child_process& band, const std::string& pattern);

// The time stamp that starts every log line, "2026-12-04 20:29:10.516".
// Throws std::invalid_argument when the line has none.
std::chrono::system_clock::time_point log_time(const std::string& line);

// The time from the stamp of line `earlier` to that of `later`.
std::chrono::milliseconds log_interval(const std::string& earlier, const std::string& later);

// The pids of every "worker SLOT pid PID started" line so far.
std::vector<pid_t> started_pids(const child_process& band);

// Checks that the master ended with `expected` and that no worker it ever
// started still runs, by the pids its log names and by its process group.
void expect_band_gone(const band_process& band, const exit_status& expected);

}  // namespace band::test
