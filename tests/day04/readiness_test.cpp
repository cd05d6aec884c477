// Readiness: each worker reports ready on its channel, and in a reload the
// old worker of a slot serves until its successor has reported ready.
#include "load.hpp"

#include <band/common/parse.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <string>

namespace band::test {
namespace {

using namespace std::chrono_literals;

// The pattern of "worker SLOT pid PID ready after DURATION", with DURATION
// as the first group.
std::string ready_line(unsigned slot, pid_t pid) { return worker_event("info", slot, pid) + R"(ready after (\S+)$)"; }

std::chrono::milliseconds ready_after(const band_process& band, unsigned slot, pid_t pid) {
  return common::parse_duration(band.wait_for_line(ready_line(slot, pid)).groups[1]);
}

// The master measures from the worker's start, and the worker waits 1 s
// after that, so no line may show less.
TEST(Readiness, DelayLogged) {
  constexpr unsigned workers = 4;
  auto band = start_day04("reuseport", workers, {"--demo-ready-delay", "1s"});
  for (unsigned slot = 0; slot < workers; ++slot) {
    const pid_t pid = band.wait_for_worker_start(slot);
    EXPECT_GE(ready_after(band, slot, pid), 1s) << "worker " << slot;
  }
}

TEST(Readiness, OldServesUntilSuccessorReady) {
  auto band = start_day04("reuseport", 2, {"--demo-ready-delay", "1s"});
  const auto old_pids = wait_until_ready(band, 2);
  load_generator load(band.endpoint());
  ASSERT_TRUE(load.wait_for_responses(1'000));

  band.send_signal(SIGHUP);
  band.wait_for_worker_start(0, 2);
  const auto successor_started = load_clock::now();
  band.wait_for_line(master_line("info") + "reload 1 finished: 2 workers serving, all new$");
  const auto report = load.stop();

  expect_no_failures(report);
  for (unsigned slot = 0; slot < 2; ++slot) {
    const pid_t new_pid = band.wait_for_worker_start(slot, 2);
    const long ready = first_line_index(band, ready_line(slot, new_pid));
    const long draining = first_line_index(band, worker_event("info", slot, old_pids[slot]) + "draining: reload 1$");
    ASSERT_GE(ready, 0) << "slot " << slot;
    ASSERT_GE(draining, 0) << "slot " << slot;
    EXPECT_LT(ready, draining) << "slot " << slot << ": the old worker drained before its successor was ready";
  }
  // The successor needs a second to be ready, so the old worker still
  // serves requests sent half a second after the test saw it start.
  ASSERT_EQ(report.by_worker.count(old_pids[0]), 1u);
  EXPECT_GT(report.by_worker.at(old_pids[0]).last_sent, successor_started + 500ms);
}

}  // namespace
}  // namespace band::test
