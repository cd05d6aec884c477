// Day 04's new flags: each invalid value ends the program with status 2 and
// one line of standard error that names the flag and the value.
#include "day04.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <ostream>
#include <string>

namespace band::test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

struct invalid_flag {
  std::string name;  // the test's name
  std::string option;
  std::string value;
};

// Names the case in test output, in place of the bytes of the struct.
void PrintTo(const invalid_flag& flag, std::ostream* out) { *out << flag.name; }

class InvalidFlag : public ::testing::TestWithParam<invalid_flag> {};

// Every case listens on port 0, so that a flag the binary wrongly accepted
// could not bind a fixed port.
TEST_P(InvalidFlag, ExitsWithStatus2) {
  const auto& [name, option, value] = GetParam();
  child_process band(day04_binary, {"--listen", "127.0.0.1:0", "--workers", "1", option, value});

  EXPECT_EQ(band.wait_exit(), exited_with(2));
  band.wait_for_output_end();
  EXPECT_THAT(band.group_members(), IsEmpty());
  const auto lines = band.stderr_lines();
  ASSERT_THAT(lines, SizeIs(1));
  EXPECT_THAT(lines.front(), HasSubstr(option + ": invalid "));
  EXPECT_THAT(lines.front(), HasSubstr("'" + value + "'"));
}

INSTANTIATE_TEST_SUITE_P(
    Flags, InvalidFlag,
    ::testing::Values(invalid_flag{"ReloadBatchZero", "--reload-batch", "0"},
                      invalid_flag{"ReloadBatchTooLarge", "--reload-batch", "99999"},
                      invalid_flag{"GracefulTimeoutZero", "--graceful-timeout", "0"},
                      invalid_flag{"ReadyTimeoutNotDuration", "--ready-timeout", "x"},
                      invalid_flag{"ReadyTimeoutUnknownUnit", "--ready-timeout", "2x"},
                      invalid_flag{"MaxRequestsNegative", "--max-requests", "-1"},
                      invalid_flag{"JitterNotNumber", "--max-requests-jitter", "ten"},
                      invalid_flag{"ReadyDelayZero", "--demo-ready-delay", "0"},
                      invalid_flag{"BalanceUnknown", "--balance", "random"}),
    [](const ::testing::TestParamInfo<invalid_flag>& info) { return info.param.name; });

TEST(Flags, HelpListsLifecycleOptions) {
  child_process band(day04_binary, {"--help"});
  EXPECT_EQ(band.wait_exit(), exited_with(0));
  band.wait_for_output_end();

  const std::string help = band.stdout_text();
  for (const std::string option : {"--graceful-timeout", "--ready-timeout", "--reload-batch", "--max-requests",
                                   "--max-requests-jitter", "--demo-ready-delay", "--demo-not-ready-if"}) {
    EXPECT_THAT(help, HasSubstr(option));
  }
}

}  // namespace
}  // namespace band::test
