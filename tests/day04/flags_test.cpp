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

class InvalidFlag : public ::testing::TestWithParam<invalid_flag> {};

TEST_P(InvalidFlag, ExitsWithStatus2) { expect_rejected(day04_binary, GetParam()); }

// Each case's message names the flag and quotes the value.
invalid_flag rejected(std::string name, std::string option, std::string value) {
  return {std::move(name), {option, value}, {option + ": invalid ", "'" + value + "'"}};
}

INSTANTIATE_TEST_SUITE_P(
    Flags, InvalidFlag,
    ::testing::Values(rejected("ReloadBatchZero", "--reload-batch", "0"),
                      rejected("ReloadBatchTooLarge", "--reload-batch", "99999"),
                      rejected("GracefulTimeoutZero", "--graceful-timeout", "0"),
                      rejected("ReadyTimeoutNotDuration", "--ready-timeout", "x"),
                      rejected("ReadyTimeoutUnknownUnit", "--ready-timeout", "2x"),
                      rejected("MaxRequestsNegative", "--max-requests", "-1"),
                      rejected("JitterNotNumber", "--max-requests-jitter", "ten"),
                      rejected("ReadyDelayZero", "--demo-ready-delay", "0"),
                      rejected("BalanceUnknown", "--balance", "random"),
                      invalid_flag{"JitterWithoutLimit",
                                   {"--max-requests-jitter", "5"},
                                   {"--max-requests-jitter 5 needs --max-requests"}}),
    invalid_flag_name);

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
