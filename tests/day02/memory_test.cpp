// The memory watchdog: --max-memory on a worker's own memory (USS), or on
// its proportional share (PSS), read from /proc/PID/smaps_rollup.
#include "day02.hpp"

#include <band/common/proc.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <string>

namespace band::test {
namespace {

using namespace std::chrono_literals;
using ::testing::UnorderedElementsAre;

constexpr std::uint64_t mib = 1ULL << 20;

// The master's warning that worker SLOT pid PID is over the 64 MiB limit
// by `measure` ("private memory (USS)"). Group 1 is the size in MiB.
std::string over_limit_line(unsigned slot, pid_t pid, const std::string& measure) {
  return worker_event("warning", slot, pid) + regex_escape(measure) +
         R"( ([\d.]+) MiB over the --max-memory limit of 64\.0 MiB; sending SIGTERM$)";
}

TEST(Memory, LeakPastLimitRestarts) {
  auto band = start_day02({"--workers", "1", "--demo-faults", "--max-memory", "64M", "--check-interval", "200ms"});
  const pid_t old_pid = band.wait_for_worker_start(0);
  const auto response = band.get("/leak?mb=100");
  ASSERT_EQ(response.result_int(), 200u);
  ASSERT_EQ(worker_pid_of(response), old_pid);

  // A slow leak, as under AddressSanitizer, can be caught while the
  // request still touches pages, and the latency is then negative.
  const auto leaked = band.wait_for_line(worker_line(0, old_pid) + "leaked 100 MiB");
  const auto over = band.wait_for_line(over_limit_line(0, old_pid, "private memory (USS)"));
  EXPECT_GT(std::stod(over.groups[1]), 64.0);
  const auto latency = log_interval(leaked.line, over.line);
  RecordProperty("leak_to_sigterm_ms", std::to_string(latency.count()));
  EXPECT_LT(latency, 2s) << "the check runs every 200ms";

  band.wait_for_line(worker_event("warning", 0, old_pid) +
                     R"(exited with status 0 after private memory \(USS\) .*; replacing it)");
  const pid_t new_pid = band.wait_for_worker_start(0, 2);
  EXPECT_TRUE(band.wait_for_answer_from(new_pid));
}

// Pages the master touched before fork() are in every worker's RSS but
// shared copy-on-write, so a limit on USS must not count them.
TEST(Memory, SharedPagesNotCounted) {
  auto band = start_day02(
      {"--workers", "2", "--demo-preload", "256M", "--max-memory", "64M", "--check-interval", "200ms"});
  const pid_t first = band.wait_for_worker_start(0);
  const pid_t second = band.wait_for_worker_start(1);

  // What the master's check reads: a limit on RSS would restart both.
  for (const pid_t pid : {first, second}) {
    const auto usage = common::read_memory_usage(pid);
    ASSERT_TRUE(usage.has_value()) << "pid " << pid;
    EXPECT_GT(usage->rss, 256 * mib) << "pid " << pid;
    EXPECT_LT(usage->uss(), 64 * mib) << "pid " << pid;
  }

  // 5 s are 25 checks. The test waits that long on purpose, for lines that
  // must not come.
  const bool restarted = poll_until(
      [&] { return band.count_lines("over the --max-memory") > 0 || band.count_lines("replacing it") > 0; }, 5s);
  EXPECT_FALSE(restarted);
  EXPECT_EQ(band.count_lines(R"(started \(generation)"), 2u);
  EXPECT_THAT(pids_of(band.children()), UnorderedElementsAre(first, second));
}

// The same shared pages do count toward PSS: a worker that shares 256 MiB
// with the master alone has a PSS of at least 128 MiB, so it is restarted.
TEST(Memory, PssCountsSharedPages) {
  auto band = start_day02({"--workers", "1", "--demo-preload", "256M", "--memory-measure", "pss", "--max-memory",
                           "64M", "--check-interval", "200ms"});
  const pid_t pid = band.wait_for_worker_start(0);

  const auto over = band.wait_for_line(over_limit_line(0, pid, "proportional memory (PSS)"));
  EXPECT_GE(std::stod(over.groups[1]), 128.0);
  band.wait_for_worker_start(0, 2);

  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// A worker whose event loop is blocked cannot act on SIGTERM, so the master
// sends SIGKILL after --kill-timeout. With PSS the preloaded pages put the
// worker over the limit from its start. The first check comes 3 s after the
// master starts, which leaves time to hang the worker before it. The long
// heartbeat timeout leaves the memory check alone to act.
TEST(Memory, SigkillAfterIgnoredSigterm) {
  auto band = start_day02({"--workers", "1", "--demo-faults", "--demo-preload", "256M", "--memory-measure", "pss",
                           "--max-memory", "64M", "--check-interval", "3s", "--heartbeat-timeout", "60s",
                           "--kill-timeout", "1s"});
  const pid_t pid = band.wait_for_worker_start(0);
  http_connection connection(band.endpoint());
  connection.send_get("/hang");
  const std::string hang = worker_line(0, pid) + "blocking the event loop forever";
  band.wait_for_line(hang);

  const std::string over = over_limit_line(0, pid, "proportional memory (PSS)");
  const auto sigterm = band.wait_for_line(over);
  ASSERT_LT(first_line_index(band, hang), first_line_index(band, over))
      << "the first memory check came before the worker hung";
  const auto sigkill =
      band.wait_for_line(worker_event("warning", 0, pid) + "still running 1s after SIGTERM; sending SIGKILL$");
  // The log's time stamps are truncated to milliseconds.
  EXPECT_GE(log_interval(sigterm.line, sigkill.line), 999ms);

  band.wait_for_line(worker_event("warning", 0, pid) +
                     R"(killed by SIGKILL after proportional memory \(PSS\) .*; replacing it)");
  band.wait_for_worker_start(0, 2);
}

}  // namespace
}  // namespace band::test
