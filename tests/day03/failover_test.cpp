// What becomes of connections that reach a worker which dies before it
// takes them: each test stops a worker with SIGSTOP, sends requests, and
// then kills the stopped worker with SIGKILL.
#include "day03.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>

namespace band::test {
namespace {

using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

// Each worker pid in `answered_by` must be one of `allowed`.
void expect_answers_from(const std::vector<pid_t>& answered_by, const std::vector<pid_t>& allowed) {
  for (const pid_t pid : answered_by) {
    EXPECT_THAT(allowed, ::testing::Contains(pid)) << "an answer from pid " << pid;
  }
}

// The master holds worker 0's socket open, so connections that the kernel
// queued on it wait there for the replacement instead of being reset.
TEST(Reuseport, QueuedConnectionsServedAfterKill) {
  auto band = start_day03("reuseport", 2);
  const auto pids = first_worker_pids(band, 2);
  ASSERT_TRUE(send_signal(band.child(pids[0]), SIGSTOP));
  pending_requests requests(band.endpoint(), 20);

  ASSERT_TRUE(send_signal(band.child(pids[0]), SIGKILL));
  const pid_t replacement = band.wait_for_worker_start(0, 2);
  const auto outcome = requests.read_all();

  EXPECT_THAT(outcome.errors, IsEmpty());
  EXPECT_EQ(outcome.answered_by.size(), 20u);
  expect_answers_from(outcome.answered_by, {pids[1], replacement});
  // The kernel hashes each connection to one of the two sockets, so the
  // chance that none of 20 went to the stopped worker's is about 2^-20.
  const auto from_replacement = std::count(outcome.answered_by.begin(), outcome.answered_by.end(), replacement);
  EXPECT_GT(from_replacement, 0) << "no connection was queued for worker 0";
}

class Failover : public ::testing::TestWithParam<std::string> {};

// A stopped worker acknowledges nothing, so the master still holds every
// connection it handed to it, and passes them on when the worker dies.
TEST_P(Failover, UntakenConnectionsPassedOn) {
  auto band = start_day03(GetParam(), 2);
  const auto pids = first_worker_pids(band, 2);
  ASSERT_TRUE(send_signal(band.child(pids[0]), SIGSTOP));
  constexpr std::size_t sent = 10;
  pending_requests requests(band.endpoint(), sent);

  ASSERT_TRUE(send_signal(band.child(pids[0]), SIGKILL));
  const auto handed = band.wait_for_line(master_line("info") +
                                         R"(handing (\d+) connections? that worker 0 had not taken to other workers$)");
  const auto outcome = requests.read_all();
  EXPECT_THAT(outcome.errors, IsEmpty());
  EXPECT_EQ(outcome.answered_by.size(), sent);
  if (!outcome.errors.empty()) {
    // Lost connections may mean that the master itself died.
    const bool master_ended = poll_until([&] { return band.poll_exit().has_value(); }, std::chrono::seconds(1));
    ASSERT_FALSE(master_ended) << "the master " << *band.poll_exit();
  }

  const pid_t replacement = band.wait_for_worker_start(0, 2);
  expect_answers_from(outcome.answered_by, {pids[1], replacement});
  const auto handed_count = std::stoul(handed.groups[1]);
  EXPECT_GE(handed_count, 1u);
  // Round-robin alternates whatever the workers do.
  if (GetParam() == "round-robin") {
    EXPECT_EQ(handed_count, sent / 2);
  }
  EXPECT_THAT(pids_of(band.wait_for_workers(2)), UnorderedElementsAre(pids[1], replacement));
}

INSTANTIATE_TEST_SUITE_P(Strategies, Failover, ::testing::Values("round-robin", "least-conn"), strategy_case_name);

// A measurement for the chapter, not a guarantee: with one shared socket,
// what happens to requests sent while a worker is stopped and then killed.
// Only the recovery is asserted.
TEST(Shared, StoppedWorkerKilled) {
  auto band = start_day03("shared", 2);
  const auto pids = first_worker_pids(band, 2);
  ASSERT_TRUE(send_signal(band.child(pids[0]), SIGSTOP));
  constexpr std::size_t sent = 20;
  pending_requests requests(band.endpoint(), sent);

  ASSERT_TRUE(send_signal(band.child(pids[0]), SIGKILL));
  const pid_t replacement = band.wait_for_worker_start(0, 2);
  const auto outcome = requests.read_all();

  RecordProperty("sent", static_cast<int>(sent));
  RecordProperty("answered", static_cast<int>(outcome.answered_by.size()));
  RecordProperty("failed", static_cast<int>(outcome.errors.size()));
  std::cout << "shared strategy, worker stopped then killed: " << outcome.answered_by.size() << " of " << sent
            << " requests answered, " << outcome.errors.size() << " failed (" << outcome.timed_out
            << " timed out)\n";
  for (const auto& error : outcome.errors) std::cout << "  " << error << '\n';

  EXPECT_TRUE(band.wait_for_answer_from(replacement));
  EXPECT_THAT(pids_of(band.wait_for_workers(2)), UnorderedElementsAre(pids[1], replacement));
}

}  // namespace
}  // namespace band::test
