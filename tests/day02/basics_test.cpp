// Day 01's guarantees, still true with the health checks on.
#include "day02.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <string>
#include <vector>

namespace band::test {
namespace {

using ::testing::Contains;

// The health checks are on, with limits that no worker here reaches within
// a test's default timeout, even one that /hang blocks.
const std::vector<std::string> health_flags{"--demo-faults", "--max-memory", "1G", "--check-interval", "200ms",
                                            "--heartbeat-timeout", "60s"};

band_process start_checked_band(unsigned workers) {
  auto flags = health_flags;
  flags.insert(flags.end(), {"--workers", std::to_string(workers)});
  return start_day02(flags);
}

TEST(Basics, KilledWorkerReplaced) {
  auto band = start_checked_band(2);
  const pid_t old_pid = band.wait_for_worker_start(1);
  ASSERT_TRUE(send_signal(band.child(old_pid), SIGKILL));

  band.wait_for_line(worker_event("warning", 1, old_pid) + "killed by SIGKILL");
  const pid_t new_pid = band.wait_for_worker_start(1, 2);
  EXPECT_THAT(pids_of(band.wait_for_workers(2)), Contains(new_pid));
  EXPECT_TRUE(band.wait_for_answer_from(new_pid));
}

TEST(Basics, SigtermExitsCleanly) {
  auto band = start_checked_band(2);
  const auto workers = band.wait_for_workers(2);
  band.send_signal(SIGTERM);

  expect_band_gone(band, exited_with(0));
  band.wait_for_line(master_line("info") + "all workers stopped; exiting$");
  for (const auto& worker : workers) EXPECT_FALSE(is_running(worker)) << worker;
}

// SIGHUP, SIGTTIN and SIGTTOU get their meaning on day 04; until then the
// master ignores them (and logs SIGHUP), and neither it nor a worker stops.
TEST(Basics, ReservedSignalsIgnored) {
  auto band = start_checked_band(1);
  expect_reserved_signals_ignored(band);
}

// The workers die by PR_SET_PDEATHSIG with SIGKILL, which even a worker
// whose event loop is blocked cannot ignore.
TEST(Basics, MasterKillLeavesNoOrphans) {
  auto band = start_checked_band(2);
  const auto workers = band.wait_for_workers(2);
  http_connection connection(band.endpoint());
  connection.send_get("/hang");
  band.wait_for_line("blocking the event loop forever");

  band.send_signal(SIGKILL);
  EXPECT_EQ(band.wait_exit(), killed_by(SIGKILL));
  // An orphan gets a new parent, so each worker is looked up by pid and
  // start time, not as a child of the master.
  for (const auto& worker : workers) {
    EXPECT_TRUE(poll_until([&] { return !is_running(worker); })) << worker << " still runs";
  }
}

}  // namespace
}  // namespace band::test
