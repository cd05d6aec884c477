// Every strategy serves, replaces a killed worker and stops cleanly; a bad
// --balance value is rejected.
#include "day03.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <string>

namespace band::test {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

class Serve : public ::testing::TestWithParam<std::string> {};

TEST_P(Serve, AnswersRoot) {
  auto band = start_day03(GetParam(), 2);
  const auto pids = first_worker_pids(band, 2);

  const auto response = band.get("/");
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_THAT(pids, ::testing::Contains(worker_pid_of(response)));
}

TEST_P(Serve, KilledWorkerReplaced) {
  auto band = start_day03(GetParam(), 2);
  const auto pids = first_worker_pids(band, 2);
  ASSERT_EQ(band.get("/").result_int(), 200);

  ASSERT_TRUE(send_signal(band.child(pids[0]), SIGKILL));
  const pid_t replacement = band.wait_for_worker_start(0, 2);

  EXPECT_TRUE(band.wait_for_answer_from(replacement));
  EXPECT_TRUE(band.wait_for_answer_from(pids[1]));
  EXPECT_THAT(pids_of(band.wait_for_workers(2)), UnorderedElementsAre(pids[1], replacement));
}

TEST_P(Serve, SigtermExitsCleanly) {
  auto band = start_day03(GetParam(), 2);
  first_worker_pids(band, 2);
  ASSERT_EQ(band.get("/").result_int(), 200);

  band.send_signal(SIGTERM);
  EXPECT_EQ(band.wait_exit(), exited_with(0));
  band.wait_for_line(master_line("info") + "all workers stopped; exiting$");
  // The master reaps every worker before it exits, and its process group id
  // cannot be reused while it is an unreaped zombie.
  EXPECT_THAT(band.group_members(), IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Strategies, Serve, ::testing::Values("shared", "reuseport", "round-robin", "least-conn"),
                         strategy_case_name);

// SIGHUP, SIGTTIN and SIGTTOU get their meaning on day 04; until then the
// master ignores them (and logs SIGHUP), and neither it nor a worker stops.
// With least-conn, a stopped master would pass on no connection.
TEST(Signals, ReservedForDay04Ignored) {
  auto band = start_day03("least-conn", 1);
  expect_reserved_signals_ignored(band);
}

// A worker stopped with SIGSTOP cannot take what the master handed it, nor
// heed SIGTERM. The stop kills it after --stop-timeout and closes the
// connections it held, so their clients see the connection end instead of
// waiting for ever.
TEST(Stop, HeldConnectionsClosed) {
  auto band = start_day03("round-robin", 2, {"--stop-timeout", "1s"});
  const auto pids = first_worker_pids(band, 2);
  ASSERT_TRUE(send_signal(band.child(pids[0]), SIGSTOP));
  pending_requests requests(band.endpoint(), 4);

  band.send_signal(SIGTERM);
  const auto outcome = requests.read_all();
  EXPECT_EQ(band.wait_exit(), exited_with(0));
  EXPECT_THAT(band.group_members(), IsEmpty());
  band.wait_for_line(master_line("warning") + "worker 0 pid " + std::to_string(pids[0]) +
                     " still running after the stop timeout of 1s; sending SIGKILL$");
  EXPECT_EQ(outcome.timed_out, 0u) << ::testing::PrintToString(outcome.errors);
}

TEST(Flags, BadBalanceRejected) {
  child_process band(day03_binary, {"--listen", "127.0.0.1:0", "--workers", "1", "--balance", "random"});

  EXPECT_EQ(band.wait_exit(), exited_with(2));
  band.wait_for_output_end();
  EXPECT_THAT(band.group_members(), IsEmpty());
  const auto lines = band.stderr_lines();
  ASSERT_EQ(lines.size(), 1u) << ::testing::PrintToString(lines);
  EXPECT_THAT(lines[0], HasSubstr("--balance"));
  EXPECT_THAT(lines[0], HasSubstr("'random'"));
  EXPECT_THAT(lines[0], HasSubstr("round-robin"));
}

}  // namespace
}  // namespace band::test
