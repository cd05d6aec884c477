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

// A --balance value as a gtest name, which may hold only letters, digits
// and underscores: "round-robin" becomes "round_robin".
std::string strategy_case_name(const ::testing::TestParamInfo<std::string>& info);

// The start of a master's line at `level` about worker SLOT pid PID, as a
// regular expression.
std::string worker_event(const std::string& level, unsigned slot, pid_t pid);

// Waits for the first `count` workers, slots 0 … count-1, to report ready
// and returns their pids by slot.
std::vector<pid_t> wait_until_ready(const band_process& band, unsigned count);

// Waits until `count` lines match `pattern` and returns the capture groups
// of the last of them, the newest.
std::vector<std::string> wait_for_nth_line(const child_process& band, const std::string& pattern, std::size_t count);

// The index in stderr_lines() of the first line that matches `pattern`, or
// -1 when none does.
long line_index(const child_process& band, const std::string& pattern);

// The pids of every "worker SLOT pid PID started" line so far.
std::vector<pid_t> started_pids(const child_process& band);

// Checks that the master ended with `expected` and that no worker it ever
// started still runs.
void expect_band_gone(const band_process& band, const exit_status& expected,
                      std::chrono::milliseconds timeout = default_timeout);

}  // namespace band::test
