// How the master's strategies spread new connections over the workers.
#include "day03.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace band::test {
namespace {

using ::testing::AllOf;
using ::testing::Ge;
using ::testing::Le;

constexpr unsigned requests_per_worker = 100;

class Spread : public ::testing::TestWithParam<std::tuple<std::string, unsigned>> {};

// Waits until the workers hold no connection and the master holds only
// `master_sockets`, its listening ones: then each worker has counted its
// connections closed and the master has had every hand-off acknowledged, so
// least-conn computes every load as zero.
bool wait_until_idle(const band_process& band, const std::vector<pid_t>& workers, std::size_t master_sockets) {
  return poll_until([&] {
    const bool workers_idle =
        std::all_of(workers.begin(), workers.end(), [](pid_t pid) { return tcp_sockets_held(pid) == 0; });
    return workers_idle && tcp_sockets_held(band.pid()) == master_sockets;
  });
}

// One connection at a time, each closed and counted closed before the next
// opens, so every worker is equally idle at each choice. Without that wait
// least-conn rightly avoids a worker that a loaded machine has not yet let
// count its last connection closed, and the spread depends on scheduling.
TEST_P(Spread, EvenAcrossWorkers) {
  const auto& [strategy, workers] = GetParam();
  auto band = start_day03(strategy, workers);
  const auto pids = first_worker_pids(band, workers);
  const auto master_sockets = tcp_sockets_held(band.pid());

  std::map<pid_t, unsigned> answers;
  for (unsigned request = 0; request < workers * requests_per_worker; ++request) {
    ++answers[worker_pid_of(band.get("/"))];
    ASSERT_TRUE(wait_until_idle(band, pids, master_sockets)) << "after request " << request;
  }

  RecordProperty("answers", ::testing::PrintToString(answers));
  EXPECT_EQ(answers.size(), workers) << ::testing::PrintToString(answers);
  for (const pid_t pid : pids) {
    const unsigned count = answers.count(pid) != 0 ? answers.at(pid) : 0;
    EXPECT_THAT(count, AllOf(Ge(requests_per_worker * 9 / 10), Le(requests_per_worker * 11 / 10)))
        << "worker pid " << pid << " of " << ::testing::PrintToString(answers);
  }
}

INSTANTIATE_TEST_SUITE_P(Strategies, Spread,
                         ::testing::Combine(::testing::Values("round-robin", "least-conn"), ::testing::Values(2u, 3u)),
                         [](const auto& info) {
                           return gtest_name(std::get<0>(info.param)) + "_" + std::to_string(std::get<1>(info.param));
                         });

// Leaves one worker holding idle keep-alive connections and the other none.
// Least-conn must then send every new connection to the idle worker, where
// round-robin would send every other one to the busy worker.
TEST(LeastConn, AvoidsBusyWorker) {
  auto band = start_day03("least-conn", 2);
  const auto pids = first_worker_pids(band, 2);
  const auto master_sockets = tcp_sockets_held(band.pid());

  // Least-conn itself spreads these evenly, so each worker ends up with
  // about half.
  constexpr int opened = 12;
  std::vector<std::pair<pid_t, std::unique_ptr<http_connection>>> kept_open;
  for (int connection = 0; connection < opened; ++connection) kept_open.push_back(open_connection(band.endpoint()));
  const auto kept_by = [&kept_open](pid_t pid) {
    return std::count_if(kept_open.begin(), kept_open.end(),
                         [pid](const auto& connection) { return connection.first == pid; });
  };
  const pid_t busy = kept_by(pids[0]) >= kept_by(pids[1]) ? pids[0] : pids[1];
  const pid_t idle = busy == pids[0] ? pids[1] : pids[0];
  std::erase_if(kept_open, [idle](const auto& connection) { return connection.first == idle; });
  ASSERT_GE(kept_open.size(), 3u) << "worker pid " << busy << " took too few of the " << opened << " connections";
  for (const auto& connection : kept_open) ASSERT_EQ(connection.first, busy);

  // Until the idle worker has counted its connections closed and the master
  // has had every hand-off acknowledged, the idle worker's load is not zero.
  ASSERT_TRUE(wait_until_idle(band, {idle}, master_sockets));

  // Each request's connection closes before the next opens, so the idle
  // worker's load stays at most 2 (an unprocessed close and an unprocessed
  // acknowledgement), below the busy worker's.
  const auto answers = answers_by_worker(band, 20);
  EXPECT_EQ(answers.count(busy), 0u) << ::testing::PrintToString(answers);
  EXPECT_EQ(answers.count(idle) != 0 ? answers.at(idle) : 0, 20u) << ::testing::PrintToString(answers);
}

}  // namespace
}  // namespace band::test
