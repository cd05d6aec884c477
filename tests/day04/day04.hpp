// What the day 04 tests share: the binary under test, its balancing
// strategies, and readers of the master's log lines about workers.
#pragma once

#include <band_test.hpp>

#include <gtest/gtest.h>

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace band::test {

// BAND_DAY04_BINARY is set by CMake to the built band-day04.
inline const std::string day04_binary = BAND_DAY04_BINARY;

// Starts band-day04 on a free loopback port with `workers` workers balanced
// by `strategy`, plus `flags`, and waits until it listens.
inline band_process start_day04(const std::string& strategy, unsigned workers, std::vector<std::string> flags = {}) {
  flags.insert(flags.begin(), {"--balance", strategy, "--workers", std::to_string(workers)});
  return band_process(day04_binary, std::move(flags));
}

// Waits for the first `count` workers, slots 0 … count-1, to report ready
// and returns their pids by slot.
std::vector<pid_t> wait_until_ready(const band_process& band, unsigned count);

// Ends `old_worker`, slot 0's serving worker, with /exit?code=3 while
// `successor` starts, and waits until the master gives the slot to it.
void exit_during_succession(const band_process& band, pid_t old_worker, pid_t successor);

// Waits until `count` lines match `pattern` and returns the capture groups
// of the last of them, the newest.
std::vector<std::string> wait_for_nth_line(const child_process& band, const std::string& pattern, std::size_t count);

}  // namespace band::test
