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
using ::testing::Ge;
using ::testing::Le;

TEST(Recycle, MaxRequestsUnderLoad) {
  constexpr unsigned max_requests = 50;
  constexpr unsigned jitter = 10;
  constexpr unsigned recycles = 3;
  // A check every 100 ms, and clients that pause 50 ms between requests,
  // so that a worker is replaced soon after it reaches its limit rather
  // than thousands of requests later.
  auto band = start_day04("reuseport", 2,
                          {"--max-requests", std::to_string(max_requests), "--max-requests-jitter",
                           std::to_string(jitter), "--check-interval", "100ms"});
  wait_until_ready(band, 2);
  load_options options;
  options.pause = std::chrono::milliseconds(50);
  options.max_requests = 3'000;
  load_generator load(band.endpoint(), options);

  const std::string limit_line_pattern = master_line("info") +
                                       R"(worker (\d+) pid (\d+) answered (\d+) requests, at least its limit of (\d+) )"
                                       R"(\(--max-requests 50 plus jitter\); replacing it$)";
  const auto last = wait_for_nth_line(band, limit_line_pattern, recycles);
  const pid_t last_recycled = std::stoi(last[2]);
  band.wait_for_line(worker_event("info", static_cast<unsigned>(std::stoul(last[1])), last_recycled) +
                     "exited with status 0 after answered ");
  const auto report = load.stop();

  RecordProperty("requests", std::to_string(report.responses));
  expect_no_failures(report);
  const std::regex limit_line(limit_line_pattern);
  for (const auto& line : band.stderr_lines()) {
    std::smatch match;
    if (!std::regex_search(line, match, limit_line)) continue;
    const auto limit = std::stoul(match[4].str());
    EXPECT_THAT(limit, AllOf(Ge(max_requests), Le(max_requests + jitter))) << line;
    EXPECT_GE(std::stoul(match[3].str()), limit) << line;
  }
  EXPECT_GE(started_pids(band).size(), 2u + recycles);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

}  // namespace
}  // namespace band::test
