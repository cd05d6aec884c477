// --max-requests: a worker that has served its share of requests is
// replaced the way a reload replaces it, and no request fails.
#include "load.hpp"

#include <band/common/parse.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <regex>
#include <string>

namespace band::test {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Ge;
using ::testing::Le;

TEST(Recycle, MaxRequestsUnderLoad) {
  constexpr unsigned max_requests = 300;
  constexpr unsigned jitter = 100;
  constexpr unsigned recycles = 4;
  // Each worker is replaced well after its limit when the worker does not
  // report reaching it, because the next health check is a minute away.
  // The bound on a worker's total requests leaves room for the requests
  // it serves while its successor starts and for those in progress when it
  // drains.
  constexpr unsigned overshoot = 1'000;
  auto band = start_day04("reuseport", 2,
                          {"--max-requests", std::to_string(max_requests), "--max-requests-jitter",
                           std::to_string(jitter), "--check-interval", "1m", "--heartbeat-timeout", "5m"});
  wait_until_ready(band, 2);
  load_options options;
  options.max_requests = 200'000;
  load_generator load(band.endpoint(), options);

  const std::string limit_line_pattern = master_line("info") +
                                         R"(worker (\d+) pid (\d+) answered (\d+) requests, at least its limit of (\d+) )"
                                         R"(\(--max-requests 300 plus jitter\); replacing it$)";
  const std::string exit_line_pattern = master_line("info") +
                                        R"(worker (\d+) pid (\d+) exited with status 0 after reaching its request )"
                                        R"(limit of (\d+) .*; (\d+) requests answered in all$)";
  wait_for_nth_line(band, exit_line_pattern, recycles);
  const auto report = load.stop();

  RecordProperty("requests", std::to_string(report.responses));
  expect_no_failures(report);
  const std::regex limit_line(limit_line_pattern);
  const std::regex exit_line(exit_line_pattern);
  unsigned exits = 0;
  for (const auto& line : band.stderr_lines()) {
    std::smatch match;
    if (std::regex_search(line, match, limit_line)) {
      const auto limit = std::stoul(match[4].str());
      EXPECT_THAT(limit, AllOf(Ge(max_requests), Le(max_requests + jitter))) << line;
      EXPECT_GE(std::stoul(match[3].str()), limit) << line;
    } else if (std::regex_search(line, match, exit_line)) {
      ++exits;
      const auto limit = std::stoul(match[3].str());
      EXPECT_THAT(std::stoul(match[4].str()), AllOf(Ge(limit), Le(limit + overshoot))) << line;
    }
  }
  EXPECT_GE(exits, recycles);
  EXPECT_GE(started_pids(band).size(), 2u + recycles);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// Without jitter the limit is --max-requests itself, and the log shows it
// without mentioning jitter. The total counts the requests of the recycled
// worker alone.
TEST(Recycle, LimitWithoutJitterLogged) {
  auto band = start_day04("least-conn", 1, {"--max-requests", "1"});
  const pid_t first = wait_until_ready(band, 1).front();

  EXPECT_EQ(worker_pid_of(band.get("/")), first);
  band.wait_for_line(worker_event("info", 0, first) +
                     R"(answered 1 request, at least its limit of 1 \(--max-requests 1\); replacing it$)");
  band.wait_for_line(worker_event("info", 0, first) +
                     R"(exited with status 0 after reaching its request limit of 1 \(--max-requests 1\); )"
                     R"(1 request answered in all$)");
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
  EXPECT_EQ(band.count_lines("plus jitter"), 0u);
}

// The worker dies while the successor its request limit started is still
// starting: the successor takes the slot, and no other worker is forked.
TEST(Recycle, SuccessorTakesOverFromDeadWorker) {
  auto band = start_day04("least-conn", 1,
                          {"--max-requests", "1", "--demo-faults", "--demo-ready-delay", "1s"});
  const pid_t old_worker = wait_until_ready(band, 1).front();

  EXPECT_EQ(worker_pid_of(band.get("/")), old_worker);
  const pid_t successor = band.wait_for_worker_start(0, 2);
  exit_during_succession(band, old_worker, successor);
  band.wait_for_line(worker_event("info", 0, successor) + "ready after ");

  EXPECT_THAT(pids_of(band.wait_for_workers(1)), ElementsAre(successor));
  EXPECT_EQ(started_pids(band).size(), 2u);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

}  // namespace
}  // namespace band::test
