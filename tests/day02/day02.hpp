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

// The start of a line that worker SLOT pid PID writes itself.
std::string worker_line(unsigned slot, pid_t pid);

// The time stamp that starts every log line, "2026-12-04 20:29:10.516".
// Throws std::invalid_argument when the line has none.
std::chrono::system_clock::time_point log_time(const std::string& line);

// The time from the stamp of line `earlier` to that of `later`.
std::chrono::milliseconds log_interval(const std::string& earlier, const std::string& later);

}  // namespace band::test
