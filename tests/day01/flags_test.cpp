#include "day01.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <cctype>
#include <ostream>
#include <string>
#include <vector>

namespace band::test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

// Checks that `band` ended with `expected_status` before it started a
// worker, and returns its only line of standard error.
std::string only_error_line(child_process& band, int expected_status) {
  EXPECT_EQ(band.wait_exit(), exited_with(expected_status));
  band.wait_for_output_end();
  EXPECT_THAT(band.group_members(), IsEmpty());
  const auto lines = band.stderr_lines();
  EXPECT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  return lines.empty() ? std::string() : lines.front();
}

struct bad_flag {
  std::string name;  // the test's name
  std::vector<std::string> flags;
  std::string option;  // the option the message must name
  std::string value;   // and the value it must quote
};

// Names the case in ctest's list instead of dumping the object's bytes.
void PrintTo(const bad_flag& flag, std::ostream* out) { *out << flag.name; }

class BadFlag : public ::testing::TestWithParam<bad_flag> {};

TEST_P(BadFlag, ExitsWithUsageError) {
  child_process band(day01_binary, GetParam().flags);
  const std::string line = only_error_line(band, 2);
  EXPECT_THAT(line, HasSubstr(GetParam().option));
  EXPECT_THAT(line, HasSubstr(GetParam().value));
}

// Every case but --listen's own also listens on port 0, so that a flag the
// binary wrongly accepted could not bind a fixed port.
INSTANTIATE_TEST_SUITE_P(
    Flags, BadFlag,
    ::testing::Values(
        bad_flag{"WorkersZero", {"--listen", "127.0.0.1:0", "--workers", "0"}, "--workers", "'0'"},
        bad_flag{"WorkersNotNumber", {"--listen", "127.0.0.1:0", "--workers", "abc"}, "--workers", "'abc'"},
        bad_flag{"WorkersEmpty", {"--listen", "127.0.0.1:0", "--workers", ""}, "--workers", "''"},
        bad_flag{"WorkersTooMany", {"--listen", "127.0.0.1:0", "--workers", "99999"}, "--workers", "'99999'"},
        bad_flag{"ListenNoPort", {"--listen", "nonsense"}, "--listen", "'nonsense'"},
        bad_flag{"ListenPortTooLarge", {"--listen", "127.0.0.1:70000"}, "--listen", "'127.0.0.1:70000'"},
        bad_flag{"StopTimeoutZero", {"--listen", "127.0.0.1:0", "--stop-timeout", "0"}, "--stop-timeout", "'0'"},
        bad_flag{"UnknownOption", {"--listen", "127.0.0.1:0", "--bogus"}, "--bogus", "--bogus"}),
    [](const ::testing::TestParamInfo<bad_flag>& info) { return info.param.name; });

TEST(Flags, BusyPortFails) {
  boost::asio::io_context context;
  const tcp::acceptor holder(context, {boost::asio::ip::make_address("127.0.0.1"), 0});
  const std::string address = "127.0.0.1:" + std::to_string(holder.local_endpoint().port());

  child_process band(day01_binary, {"--listen", address, "--workers", "1"});
  std::string line = only_error_line(band, 1);
  std::transform(line.begin(), line.end(), line.begin(), [](unsigned char c) { return std::tolower(c); });
  EXPECT_THAT(line, HasSubstr("address already in use"));
  EXPECT_THAT(line, HasSubstr(address));
  EXPECT_THAT(line, HasSubstr("--listen"));
}

TEST(Flags, HelpListsOptions) {
  child_process band(day01_binary, {"--help"});
  EXPECT_EQ(band.wait_exit(), exited_with(0));
  band.wait_for_output_end();

  const std::string help = band.stdout_text();
  for (const std::string option : {"--listen", "--workers", "--demo-faults", "--stop-timeout"}) {
    EXPECT_THAT(help, HasSubstr(option));
  }
}

}  // namespace
}  // namespace band::test
