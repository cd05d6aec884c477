#include "day01.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>

namespace band::test {
namespace {

using ::testing::IsEmpty;

// Checks the end of a requested stop: exit status 0, the last log line, and
// no worker left running, in the process group or among `workers`.
void expect_clean_exit(const band_process& band, const std::vector<process_id>& workers) {
  EXPECT_EQ(band.wait_exit(), exited_with(0));
  band.wait_for_line(master_line("info") + "all workers stopped; exiting$");
  // The master reaps every worker before it exits, so none may remain even
  // for a moment.
  EXPECT_THAT(band.group_members(), IsEmpty());
  for (const auto& worker : workers) EXPECT_FALSE(is_running(worker)) << worker;
}

TEST(Stop, SigtermExitsCleanly) {
  auto band = start_day01({"--workers", "2"});
  const auto workers = band.wait_for_workers(2);
  band.send_signal(SIGTERM);
  expect_clean_exit(band, workers);
}

TEST(Stop, SigintExitsCleanly) {
  auto band = start_day01({"--workers", "2"});
  const auto workers = band.wait_for_workers(2);
  band.send_signal(SIGINT);
  expect_clean_exit(band, workers);
}

// Ctrl-C in a terminal sends SIGINT to the whole foreground process group.
TEST(Stop, GroupSigintStopsOnce) {
  auto band = start_day01({"--workers", "2"});
  const auto workers = band.wait_for_workers(2);
  band.send_signal_to_group(SIGINT);
  expect_clean_exit(band, workers);

  band.wait_for_output_end();
  EXPECT_EQ(band.count_lines("replacing it"), 0u);
  EXPECT_EQ(band.count_lines("killed by SIGINT"), 0u);
}

TEST(Stop, KillsHungWorker) {
  auto band = start_day01({"--demo-faults", "--stop-timeout", "1s", "--workers", "1"});
  const pid_t pid = band.wait_for_worker_start(0);
  const auto workers = band.wait_for_workers(1);
  http_connection connection(band.endpoint());
  connection.send_get("/hang");
  band.wait_for_line(R"(\[worker 0 pid )" + std::to_string(pid) + R"(\] blocking the event loop forever)");

  band.send_signal(SIGTERM);
  band.wait_for_line(master_line("warning") + "worker 0 pid " + std::to_string(pid) +
                     " still running after the stop timeout of 1s; sending SIGKILL$");
  expect_clean_exit(band, workers);
}

TEST(Stop, SigtermDuringStartup) {
  // start_day01 returns as soon as the "listening on" line is out, while
  // the master may still be forking.
  auto band = start_day01({"--workers", "2"});
  band.send_signal(SIGTERM);
  expect_clean_exit(band, {});
}

TEST(Stop, MasterKillLeavesNoOrphans) {
  auto band = start_day01({"--workers", "2"});
  const auto workers = band.wait_for_workers(2);
  band.send_signal(SIGKILL);
  EXPECT_EQ(band.wait_exit(), killed_by(SIGKILL));

  // The orphaned workers get a new parent, so they are looked up by pid and
  // start time, not as the master's children.
  const bool all_gone = poll_until([&] { return std::none_of(workers.begin(), workers.end(), is_running); });
  EXPECT_TRUE(all_gone) << "still running: " << ::testing::PrintToString(band.group_members());
}

// SIGHUP, SIGTTIN and SIGTTOU get their meaning on day 04; until then the
// master ignores them (and logs SIGHUP), and neither it nor a worker stops.
TEST(Stop, ReservedSignalsIgnored) {
  auto band = start_day01({"--workers", "1"});
  expect_reserved_signals_ignored(band);
}

}  // namespace
}  // namespace band::test
