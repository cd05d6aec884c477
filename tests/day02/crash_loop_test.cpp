// Crash loops: the per-slot restart backoff, the restart intensity that
// stops the band, and exit status 78 for a configuration error.
#include "day02.hpp"

#include <band/common/parse.hpp>

#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace band::test {
namespace {

using namespace std::chrono_literals;

TEST(CrashLoop, BackoffDelaysGrow) {
  auto band = start_day02({"--workers", "1", "--demo-exit-at-start", "1", "--max-restarts", "100"});
  band.wait_for_worker_start(0, 5);

  // One slot, so the lines alternate: start of generation N, its death,
  // start of generation N + 1.
  const auto deaths = matching_lines(band, master_line("warning") +
                                               R"(worker 0 pid \d+ exited with status 1; it ran for \S+, )"
                                               R"(under --min-uptime 1s; replacing it in (\S+)$)");
  const auto starts = matching_lines(band, master_line("info") + R"(worker 0 pid \d+ started \(generation \d+\)$)");
  ASSERT_GE(deaths.size(), 4u);
  ASSERT_GE(starts.size(), 5u);

  std::chrono::milliseconds expected = 100ms;
  std::vector<std::chrono::milliseconds> waits;
  std::vector<std::chrono::milliseconds> gaps;
  for (std::size_t death = 0; death < 4; ++death) {
    SCOPED_TRACE(deaths[death].line);
    EXPECT_EQ(common::parse_duration(deaths[death].groups[1]), expected);
    // From the death to the next start: the backoff as it ran. The log's
    // time stamps are truncated to milliseconds.
    waits.push_back(log_interval(deaths[death].line, starts[death + 1].line));
    EXPECT_GE(waits.back(), expected - 1ms);
    // From one start to the next: the worker's short life plus the backoff.
    gaps.push_back(log_interval(starts[death].line, starts[death + 1].line));
    EXPECT_GE(gaps.back(), expected - 1ms);
    if (death > 0) {
      EXPECT_GT(waits[death], waits[death - 1]);
      EXPECT_GT(gaps[death], gaps[death - 1]);
    }
    expected *= 2;
  }

  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

TEST(CrashLoop, IntensityStopsBand) {
  auto band = start_day02(
      {"--workers", "2", "--demo-exit-at-start", "1", "--max-restarts", "3", "--restart-window", "60s"});
  expect_band_gone(band, exited_with(3));

  band.wait_for_line(master_line("error") + R"(worker \d pid \d+ exited with status 1; that is 4 restarts within 1m, )"
                                            R"(more than --max-restarts 3; stopping the band$)");
  band.wait_for_line(master_line("error") + "all workers stopped; exiting with status 3$");
  // Two workers at the start and one restart of each before the fourth
  // death.
  EXPECT_GE(started_pids(band).size(), 4u);
}

TEST(CrashLoop, ConfigErrorStopsBand) {
  auto band = start_day02({"--workers", "2", "--demo-faults"});
  band.wait_for_workers(2);
  const auto response = band.get("/exit?code=78");
  EXPECT_EQ(response.result_int(), 200u);
  const pid_t pid = worker_pid_of(response);
  ASSERT_NE(pid, 0);

  expect_band_gone(band, exited_with(78));
  band.wait_for_line(master_line("error") + R"(worker \d pid )" + std::to_string(pid) +
                     " exited with status 78, which reports a configuration error; stopping the band$");
  EXPECT_EQ(band.count_lines("replacing it"), 0u);
}

TEST(CrashLoop, ConfigErrorAtStart) {
  auto band = start_day02({"--workers", "2", "--demo-exit-at-start", "78"});
  expect_band_gone(band, exited_with(78));
  band.wait_for_line("which reports a configuration error; stopping the band$");
  EXPECT_EQ(band.count_lines("replacing it"), 0u);
}

// A worker that ran at least --min-uptime is replaced at once, and the next
// quick death starts the backoff again from 100ms. --min-uptime is 1s so
// that the test kills each young worker well within it, even on a slow
// machine.
TEST(CrashLoop, LongUptimeResetsBackoff) {
  auto band = start_day02({"--workers", "1", "--min-uptime", "1s"});
  const auto quick_death_line = [](pid_t pid, const std::string& delay) {
    return worker_event("warning", 0, pid) + R"(killed by SIGKILL; it ran for \d+ms, under --min-uptime 1s; )"
                                             "replacing it in " + delay + "$";
  };
  const auto kill_worker = [&](unsigned generation) {
    const pid_t pid = band.wait_for_worker_start(0, generation);
    EXPECT_TRUE(send_signal(band.child(pid), SIGKILL));
    return pid;
  };

  band.wait_for_line(quick_death_line(kill_worker(1), "100ms"));
  band.wait_for_line(quick_death_line(kill_worker(2), "200ms"));

  const pid_t long_lived = band.wait_for_worker_start(0, 3);
  // Only time passing can show that the worker outlived --min-uptime.
  std::this_thread::sleep_for(1500ms);
  ASSERT_TRUE(send_signal(band.child(long_lived), SIGKILL));
  const auto at_once = band.wait_for_line(worker_event("warning", 0, long_lived) + "killed by SIGKILL; replacing it$");
  const auto next_start = band.wait_for_line(master_line("info") + R"(worker 0 pid \d+ started \(generation 4\)$)");
  EXPECT_LT(log_interval(at_once.line, next_start.line), 100ms) << "less than the first backoff delay";

  band.wait_for_line(quick_death_line(kill_worker(4), "100ms"));
  band.wait_for_worker_start(0, 5);
}

}  // namespace
}  // namespace band::test
