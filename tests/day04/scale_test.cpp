// Scaling on SIGTTOU and SIGTTIN under load from the test: the newest worker
// drains and leaves, a new one joins and serves, and no request fails.
#include "load.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

namespace band::test {
namespace {

using ::testing::UnorderedElementsAre;

constexpr std::uint64_t responses_per_phase = 2'000;

class Scale : public ::testing::TestWithParam<std::string> {};

TEST_P(Scale, DownAndUpUnderLoad) {
  auto band = start_day04(GetParam(), 3);
  const auto pids = wait_until_ready(band, 3);
  load_generator load(band.endpoint());
  ASSERT_TRUE(load.wait_for_responses(responses_per_phase));

  band.send_signal(SIGTTOU);
  band.wait_for_line(worker_event("info", 2, pids[2]) + "draining: removal by SIGTTOU$");
  band.wait_for_line(worker_event("info", 2, pids[2]) + "exited with status 0 after removal by SIGTTOU$");
  const auto removed_gone = load_clock::now();
  EXPECT_THAT(pids_of(band.wait_for_workers(2)), UnorderedElementsAre(pids[0], pids[1]));
  ASSERT_TRUE(load.wait_for_responses(load.responses() + responses_per_phase));

  band.send_signal(SIGTTIN);
  band.wait_for_line(master_line("info") + "received SIGTTIN; adding worker 2$");
  const pid_t added = std::stoi(
      wait_for_nth_line(band, master_line("info") + R"(worker 2 pid (\d+) started \(generation 1\)$)", 2)[1]);
  band.wait_for_line(worker_event("info", 2, added) + "ready after ");
  EXPECT_THAT(pids_of(band.wait_for_workers(3)), UnorderedElementsAre(pids[0], pids[1], added));
  EXPECT_TRUE(poll_until([&] { return load.responses_from(added) >= 100; }))
      << "the added worker served " << load.responses_from(added) << " requests";
  const auto report = load.stop();

  expect_no_failures(report);
  ASSERT_EQ(report.by_worker.count(pids[2]), 1u);
  EXPECT_LT(report.by_worker.at(pids[2]).last_sent, removed_gone);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

INSTANTIATE_TEST_SUITE_P(Strategies, Scale, ::testing::Values("reuseport", "shared", "round-robin", "least-conn"),
                         strategy_case_name);

// Opens keep-alive connections until one is served by worker `pid`, and
// returns it once the other workers are idle again, or null after 100
// connections served by others. With the shared socket the kernel tends to
// wake the same worker every time. So each connection another worker served
// keeps that worker busy on /work for 300 ms, and the next connection goes
// to a worker still free.
std::unique_ptr<http_connection> connection_served_by(const band_process& band, pid_t pid) {
  std::vector<std::unique_ptr<http_connection>> busy;
  std::unique_ptr<http_connection> found;
  for (int attempt = 0; attempt < 100 && !found; ++attempt) {
    auto connection = std::make_unique<http_connection>(band.endpoint());
    if (worker_pid_of(connection->get("/")) == pid) {
      found = std::move(connection);
      break;
    }
    connection->send_get("/work?ms=300");
    busy.push_back(std::move(connection));
  }
  for (const auto& connection : busy) EXPECT_EQ(connection->read_response().result_int(), 200);
  return found;
}

// A worker added while a removed one still drains a long request gets its
// share of new connections at once, and none of them waits for the drain.
// The load's timeout of 2 s is far below the 5 s drain.
TEST_P(Scale, AddedDuringDrainServes) {
  using namespace std::chrono_literals;
  auto band = start_day04(GetParam(), 3);
  const auto pids = wait_until_ready(band, 3);
  auto long_request = connection_served_by(band, pids[2]);
  ASSERT_NE(long_request, nullptr) << "no connection reached worker 2";
  long_request->send_get("/sleep?ms=5000");
  const auto removed = band.child(pids[2]);

  band.send_signal(SIGTTOU);
  band.wait_for_line(worker_event("info", 2, pids[2]) + "draining: removal by SIGTTOU$");
  band.send_signal(SIGTTIN);
  const pid_t added = std::stoi(
      wait_for_nth_line(band, master_line("info") + R"(worker 2 pid (\d+) started \(generation 1\)$)", 2)[1]);
  band.wait_for_line(worker_event("info", 2, added) + "ready after ");
  load_options options;
  options.timeout = 2s;
  load_generator load(band.endpoint(), options);
  const bool added_served = poll_until([&] { return load.responses_from(added) >= 200; }, 3s);
  const auto report = load.stop();

  EXPECT_TRUE(added_served) << "the added worker served " << load.responses_from(added) << " requests";
  expect_no_failures(report);
  EXPECT_TRUE(is_running(removed)) << "the removed worker stopped draining before the test ended";
  EXPECT_EQ(long_request->read_response().result_int(), 200);
}

// A worker added by SIGTTIN gets connections only once it has reported
// ready. The load's timeout of 2 s is below the 4 s the new worker takes,
// so a connection sent to it in its first 2 s fails.
TEST_P(Scale, NotReadyAddedGetsNoConnections) {
  using namespace std::chrono_literals;
  auto band = start_day04(GetParam(), 2, {"--demo-ready-delay", "4s"});
  wait_until_ready(band, 2);
  load_options options;
  options.timeout = 2s;
  load_generator load(band.endpoint(), options);
  ASSERT_TRUE(load.wait_for_responses(responses_per_phase));

  band.send_signal(SIGTTIN);
  const pid_t added = band.wait_for_worker_start(2);
  band.wait_for_line(worker_event("info", 2, added) + "ready after ");
  EXPECT_TRUE(poll_until([&] { return load.responses_from(added) >= 100; }))
      << "the added worker served " << load.responses_from(added) << " requests";
  const auto report = load.stop();

  expect_no_failures(report);
}

// Sends SIGTTIN after a SIGTTOU that removed slot 2 while `holder`, stopped
// with SIGSTOP, still has the slot's reuseport socket open. The
// master must take that socket out of the group before the new one joins,
// or a third of new connections wait on a socket that no worker accepts
// from. Continues `holder` at the end and waits for `holder_exit`.
void expect_added_slot_serves(const band_process& band, const process_id& holder, const std::string& holder_exit) {
  using namespace std::chrono_literals;
  const std::string started = master_line("info") + R"(worker 2 pid (\d+) started \(generation \d+\)$)";
  const std::size_t starts_before = band.count_lines(started);
  band.send_signal(SIGTTIN);
  const pid_t added = std::stoi(wait_for_nth_line(band, started, starts_before + 1)[1]);
  band.wait_for_line(worker_event("info", 2, added) + "ready after ");
  load_options options;
  options.timeout = 2s;
  load_generator load(band.endpoint(), options);
  const bool added_served = poll_until([&] { return load.responses_from(added) >= 200; });
  const bool load_ran = load.wait_for_responses(load.responses() + responses_per_phase);
  ASSERT_TRUE(send_signal(holder, SIGCONT));
  band.wait_for_line(worker_event("info", 2, holder.pid) + holder_exit);
  const auto report = load.stop();

  EXPECT_TRUE(added_served) << "the added worker served " << load.responses_from(added) << " requests";
  EXPECT_TRUE(load_ran);
  expect_no_failures(report);
  EXPECT_EQ(report.by_worker.count(holder.pid), 0u) << "the stopped worker answered a request";
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// The removed worker itself keeps the socket open.
TEST(Scale, AddedWhileRemovedHoldsItsSocket) {
  auto band = start_day04("reuseport", 3);
  const auto pids = wait_until_ready(band, 3);
  const auto removed = band.child(pids[2]);
  ASSERT_TRUE(send_signal(removed, SIGSTOP));

  band.send_signal(SIGTTOU);
  band.wait_for_line(worker_event("info", 2, pids[2]) + "draining: removal by SIGTTOU$");
  expect_added_slot_serves(band, removed, "exited with status 0 after removal by SIGTTOU$");
}

// The slot's worker from before a reload, still draining, keeps the socket open
// after the removed worker has exited.
TEST(Scale, AddedWhileOlderWorkerHoldsSocket) {
  auto band = start_day04("reuseport", 3, {"--reload-batch", "3"});
  const auto pids = wait_until_ready(band, 3);
  const auto old_worker = band.child(pids[2]);
  ASSERT_TRUE(send_signal(old_worker, SIGSTOP));
  band.send_signal(SIGHUP);
  band.wait_for_line(master_line("info") + "reload 1 finished: 3 workers serving, all new$");
  const pid_t new_worker = band.wait_for_worker_start(2, 2);

  band.send_signal(SIGTTOU);
  band.wait_for_line(worker_event("info", 2, new_worker) + "exited with status 0 after removal by SIGTTOU$");
  expect_added_slot_serves(band, old_worker, "exited with status 0 after reload 1$");
}

TEST(Scale, KeepsLastWorker) {
  auto band = start_day04("reuseport", 1);
  const auto pids = wait_until_ready(band, 1);
  band.send_signal(SIGTTOU);
  band.wait_for_line(master_line("warning") + "received SIGTTOU; keeping the last worker$");
  EXPECT_EQ(worker_pid_of(band.get("/")), pids[0]);
  EXPECT_THAT(pids_of(band.wait_for_workers(1)), UnorderedElementsAre(pids[0]));
}

}  // namespace
}  // namespace band::test
