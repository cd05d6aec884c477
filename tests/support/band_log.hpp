// What the tests of days 02 and later share: test names for strategies,
// checks on a band master's log and on its end.
#pragma once

#include "band_process.hpp"
#include "child_process.hpp"

#include <gtest/gtest.h>

#include <sys/types.h>

#include <chrono>
#include <ostream>
#include <string>
#include <vector>

namespace band::test {

// A --balance value as a gtest name, which may contain only letters, digits
// and underscores: "round-robin" becomes "round_robin".
std::string gtest_name(std::string strategy);
std::string strategy_case_name(const ::testing::TestParamInfo<std::string>& info);

// A command line that a band binary must reject: status 2, and one line of
// standard error that contains every part of `expected`.
struct invalid_flag {
  std::string name;  // the test's name
  std::vector<std::string> flags;
  std::vector<std::string> expected;
};

// Names the case in test output, in place of the bytes of the struct.
void PrintTo(const invalid_flag& flag, std::ostream* out);
std::string invalid_flag_name(const ::testing::TestParamInfo<invalid_flag>& info);

// Runs `binary` with `flag.flags` on port 0, so that a flag it wrongly
// accepts could not bind a fixed port, and checks that it rejects them.
void expect_rejected(const std::string& binary, const invalid_flag& flag);

// The start of a master's line at `level` about worker SLOT pid PID, as a
// regular expression.
std::string worker_event(const std::string& level, unsigned slot, pid_t pid);

// The lines of standard error that match `pattern` so far, in order.
std::vector<line_match> matching_lines(const child_process& band, const std::string& pattern);

// The index in stderr_lines() of the first line that matches `pattern`, or
// -1 when none does.
long first_line_index(const child_process& band, const std::string& pattern);

// The pids of every "worker SLOT pid PID started" line so far.
std::vector<pid_t> started_pids(const child_process& band);

// For days 01 to 03: sends SIGTTIN, SIGTTOU and then SIGHUP to the whole
// process group, as a stray kill or a closed terminal would, and checks that
// the master logs the SIGHUP, that it is not stopped, and that a worker
// still responds. Run the band with one worker, so that a worker stopped by
// SIGTTIN's default action makes the request fail.
void expect_reserved_signals_ignored(const band_process& band);

// Checks that the master ended with `expected` within `timeout` and that no
// worker it ever started still runs, by the pids its log names and by its
// process group.
void expect_band_gone(const band_process& band, const exit_status& expected,
                      std::chrono::milliseconds timeout = default_timeout);

}  // namespace band::test
