// Day 02's new flags: each invalid value ends the program with status 2 and
// one line of standard error that names the flag and the value.
#include "day02.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace band::test {
namespace {

using ::testing::HasSubstr;

class InvalidFlag : public ::testing::TestWithParam<invalid_flag> {};

TEST_P(InvalidFlag, ExitsWithStatus2) { expect_rejected(day02_binary, GetParam()); }

INSTANTIATE_TEST_SUITE_P(
    Flags, InvalidFlag,
    ::testing::Values(
        invalid_flag{"MaxMemoryZero", {"--max-memory", "0"}, {"--max-memory: invalid size '0'"}},
        invalid_flag{"MaxMemoryUnknownUnit", {"--max-memory", "12X"}, {"--max-memory: invalid size '12X'"}},
        invalid_flag{"MeasureRss", {"--memory-measure", "rss"}, {"--memory-measure: invalid value 'rss'"}},
        invalid_flag{"CheckIntervalZero", {"--check-interval", "0"}, {"--check-interval: invalid duration '0'"}},
        invalid_flag{"KillTimeoutZero", {"--kill-timeout", "0"}, {"--kill-timeout: invalid duration '0'"}},
        invalid_flag{"MinUptimeUnknownUnit", {"--min-uptime", "1x"}, {"--min-uptime: invalid duration '1x'"}},
        invalid_flag{"MaxRestartsNegative", {"--max-restarts", "-1"}, {"--max-restarts: invalid value '-1'"}},
        invalid_flag{"RestartWindowZero", {"--restart-window", "0s"}, {"--restart-window: invalid duration '0s'"}},
        invalid_flag{"PreloadZero", {"--demo-preload", "0"}, {"--demo-preload: invalid size '0'"}},
        invalid_flag{"ExitAtStartTooLarge",
                     {"--demo-exit-at-start", "300"},
                     {"--demo-exit-at-start: invalid value '300'"}},
        // The check runs at --check-interval, so it could not see a shorter
        // timeout in time. The interval's default is 1s.
        invalid_flag{"HeartbeatNotAboveInterval",
                     {"--heartbeat-timeout", "1s"},
                     {"--heartbeat-timeout 1s must be longer than --check-interval 1s"}},
        invalid_flag{"HeartbeatBelowInterval",
                     {"--heartbeat-timeout", "500ms", "--check-interval", "2s"},
                     {"--heartbeat-timeout 500ms must be longer than --check-interval 2s"}}),
    invalid_flag_name);

TEST(Flags, HelpListsHealthOptions) {
  child_process band(day02_binary, {"--help"});
  EXPECT_EQ(band.wait_exit(), exited_with(0));
  band.wait_for_output_end();

  const std::string help = band.stdout_text();
  for (const std::string option :
       {"--max-memory", "--memory-measure", "--check-interval", "--heartbeat-timeout", "--kill-timeout",
        "--min-uptime", "--max-restarts", "--restart-window", "--demo-preload", "--demo-exit-at-start"}) {
    EXPECT_THAT(help, HasSubstr(option));
  }
}

}  // namespace
}  // namespace band::test
