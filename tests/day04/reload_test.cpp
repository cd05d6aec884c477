// Rolling reloads on SIGHUP. Under load from the test, no request fails and
// every worker is replaced. A reload whose new worker never becomes ready
// leaves the old workers serving, and a second SIGHUP restarts the reload.
#include "load.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <regex>
#include <string>
#include <vector>

namespace band::test {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::Not;
using ::testing::UnorderedElementsAreArray;

// Responses the load must collect between two steps of a test, so that each
// phase has seen many connections of both kinds.
constexpr std::uint64_t responses_per_phase = 2'000;

// The pattern of the line the master logs once worker SLOT pid PID has
// exited after draining for `reason`.
std::string drained_exit(unsigned slot, pid_t pid, const std::string& reason) {
  return worker_event("info", slot, pid) + "exited with status 0 after " + regex_escape(reason) + "$";
}

// Checks which workers served: only `old_pids` sent responses before
// `reload_start`, and only `new_pids` served requests sent after
// `old_gone`, each of them at least once.
void expect_workers_replaced(const load_report& report, const std::vector<pid_t>& old_pids,
                             const std::vector<pid_t>& new_pids, load_clock::time_point reload_start,
                             load_clock::time_point old_gone) {
  for (const auto& [pid, responses] : report.by_worker) {
    if (responses.first_response < reload_start) {
      EXPECT_THAT(old_pids, Contains(pid)) << "a response from pid " << pid;
    }
    if (responses.last_sent > old_gone) {
      EXPECT_THAT(new_pids, Contains(pid)) << "a response from pid " << pid;
    }
  }
  for (const pid_t pid : old_pids) {
    const auto position = report.by_worker.find(pid);
    ASSERT_NE(position, report.by_worker.end()) << "old worker pid " << pid << " served nothing";
    EXPECT_LT(position->second.first_response, reload_start) << "old worker pid " << pid;
  }
  for (const pid_t pid : new_pids) {
    const auto position = report.by_worker.find(pid);
    ASSERT_NE(position, report.by_worker.end()) << "new worker pid " << pid << " served nothing";
    EXPECT_GT(position->second.last_sent, old_gone) << "new worker pid " << pid;
  }
}

class Reload : public ::testing::TestWithParam<std::string> {};

TEST_P(Reload, UnderLoadDropsNothing) {
  auto band = start_day04(GetParam(), 2);
  const auto old_pids = wait_until_ready(band, 2);
  load_generator load(band.endpoint());
  ASSERT_TRUE(load.wait_for_responses(responses_per_phase));

  const auto reload_start = load_clock::now();
  band.send_signal(SIGHUP);
  band.wait_for_line(master_line("info") + "reload 1 finished: 2 workers serving, all new$");
  for (unsigned slot = 0; slot < 2; ++slot) band.wait_for_line(drained_exit(slot, old_pids[slot], "reload 1"));
  const auto old_gone = load_clock::now();
  const auto new_pids = pids_of(band.wait_for_workers(2));
  ASSERT_TRUE(load.wait_for_responses(load.responses() + responses_per_phase));
  const auto report = load.stop();

  expect_no_failures(report);
  for (const pid_t pid : old_pids) EXPECT_THAT(new_pids, Not(Contains(pid)));
  expect_workers_replaced(report, old_pids, new_pids, reload_start, old_gone);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

INSTANTIATE_TEST_SUITE_P(Strategies, Reload, ::testing::Values("reuseport", "shared", "round-robin", "least-conn"),
                         strategy_case_name);

// The measurement for the chapter: ten reloads, one after another, of two
// workers under the test's load.
TEST(Reload, TenUnderLoad) {
  constexpr unsigned reloads = 10;
  // The load runs through all reloads; in a build without sanitizers it
  // must reach this many requests.
  constexpr std::uint64_t min_total = 50'000;
  auto band = start_day04("reuseport", 2);
  wait_until_ready(band, 2);
  const auto load_start = load_clock::now();
  load_generator load(band.endpoint());

  // Each reload starts after its share of the requests, or after this long
  // in a slow build or on a busy machine.
  constexpr auto max_gap = std::chrono::seconds(4);
  for (unsigned reload = 1; reload <= reloads; ++reload) {
    load.wait_for_responses(reload * min_total / reloads, max_gap);
    band.send_signal(SIGHUP);
    band.wait_for_line(master_line("info") + "reload " + std::to_string(reload) + " finished: 2 workers serving, all new$");
  }
  load.wait_for_responses(min_total, max_gap);
  const auto report = load.stop();
  const auto seconds = std::chrono::duration<double>(load_clock::now() - load_start).count();

  RecordProperty("responses", std::to_string(report.responses));
  RecordProperty("seconds", std::to_string(seconds));
  RecordProperty("failed", std::to_string(report.failed()));
  RecordProperty("workers", std::to_string(report.by_worker.size()));
  std::cout << reloads << " reloads of 2 workers under load: " << report.responses << " requests served in "
            << seconds << " s, " << report.failed() << " failed, by " << report.by_worker.size() << " workers\n";
  expect_no_failures(report);
#ifndef BAND_TEST_SANITIZED
  EXPECT_GE(report.responses, min_total);
#endif
  // The 2 first workers and the 2 of each reload.
  EXPECT_LE(report.by_worker.size(), 2 * (reloads + 1));
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// A file the test creates, removed when the test ends even if it fails.
class temporary_file {
 public:
  explicit temporary_file(const std::string& name)
      : path_(std::filesystem::path(::testing::TempDir()) / (name + "-" + std::to_string(::getpid()))) {
    std::filesystem::remove(path_);
  }
  ~temporary_file() { remove(); }
  temporary_file(const temporary_file&) = delete;
  temporary_file& operator=(const temporary_file&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }
  void create() const { std::ofstream{path_}; }
  void remove() const {
    std::error_code ignored;
    std::filesystem::remove(path_, ignored);
  }

 private:
  std::filesystem::path path_;
};

class FailedReload : public ::testing::TestWithParam<std::string> {};

// A replacement that never reports ready: the reload fails after the
// --ready-timeout, and the old workers go on as if nothing happened. The
// replacement must not serve meanwhile either, because it never reported
// ready.
TEST_P(FailedReload, OldWorkersServe) {
  const temporary_file not_ready("band-day04-not-ready");
  auto band = start_day04(GetParam(), 2, {"--ready-timeout", "2s", "--demo-not-ready-if", not_ready.path().string()});
  const auto old_pids = wait_until_ready(band, 2);
  load_generator load(band.endpoint());
  ASSERT_TRUE(load.wait_for_responses(responses_per_phase));

  not_ready.create();
  band.send_signal(SIGHUP);
  const pid_t replacement = band.wait_for_worker_start(0, 2);
  band.wait_for_line(master_line("error") + "reload 1 failed: worker 0 pid " + std::to_string(replacement) +
                     " was not ready within the --ready-timeout of 2s; the serving workers go on$");
  band.wait_for_line(drained_exit(0, replacement, "the failed reload"));
  not_ready.remove();
  ASSERT_TRUE(load.wait_for_responses(load.responses() + responses_per_phase));
  const auto report = load.stop();

  expect_no_failures(report);
  EXPECT_THAT(pids_of(band.wait_for_workers(2)), UnorderedElementsAreArray(old_pids));
  // Slot 1 never got a replacement, because the reload goes one slot at a
  // time.
  EXPECT_EQ(band.count_lines(master_line("info") + R"(worker \d+ pid \d+ started \(generation 2\)$)"), 1u);
  EXPECT_EQ(band.count_lines("reload 1 finished"), 0u);
  std::vector<pid_t> served_by;
  for (const auto& [pid, responses] : report.by_worker) served_by.push_back(pid);
  EXPECT_THAT(served_by, UnorderedElementsAreArray(old_pids)) << "pid " << replacement << " never reported ready";
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

INSTANTIATE_TEST_SUITE_P(Strategies, FailedReload,
                         ::testing::Values("reuseport", "shared", "round-robin", "least-conn"), strategy_case_name);

// The second SIGHUP arrives while reload 1 still waits for its first new
// worker, which reports ready only after 500 ms: the band must end with
// workers that all started after it.
TEST(Reload, SecondSighupRestarts) {
  auto band = start_day04("reuseport", 2, {"--demo-ready-delay", "500ms"});
  wait_until_ready(band, 2);
  load_generator load(band.endpoint());
  ASSERT_TRUE(load.wait_for_responses(responses_per_phase));

  band.send_signal(SIGHUP);
  band.wait_for_worker_start(0, 2);
  band.send_signal(SIGHUP);
  band.wait_for_line(master_line("info") + "received SIGHUP; reload 2: ");
  const long second_reload = first_line_index(band, "received SIGHUP; reload 2: ");
  band.wait_for_line(master_line("info") + "reload 2 finished: 2 workers serving, all new$");
  const auto workers = pids_of(band.wait_for_workers(2));
  const auto report = load.stop();

  expect_no_failures(report);
  EXPECT_EQ(band.count_lines("reload 1 finished"), 0u);
  for (const pid_t pid : workers) {
    const long started = first_line_index(band, master_line("info") + R"(worker \d pid )" + std::to_string(pid) + " started");
    EXPECT_GT(started, second_reload) << "worker pid " << pid << " started before the second SIGHUP";
  }
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// A stop while a new worker is still starting: the reload ends unfinished,
// and old and new workers alike exit.
TEST(Reload, StopDuringReloadExitsCleanly) {
  auto band = start_day04("reuseport", 2, {"--demo-ready-delay", "3s"});
  wait_until_ready(band, 2);
  band.send_signal(SIGHUP);
  band.wait_for_worker_start(0, 2);
  band.send_signal(SIGTERM);
  band.wait_for_line(master_line("info") + "reload 1 left unfinished: the band is stopping$");
  expect_band_gone(band, exited_with(0));
  EXPECT_EQ(band.count_lines("reload 1 finished"), 0u);
}

// A slot whose worker died waits out its backoff with no worker. The reload
// finishes once the worker it restarts is ready, not while the slot is
// empty. Five early deaths raise slot 1's backoff to 1.6 s, far longer than
// slot 0's new worker takes to get ready.
TEST(Reload, WaitsForSlotInBackoff) {
  auto band = start_day04("reuseport", 2, {"--min-uptime", "1m", "--demo-ready-delay", "300ms"});
  wait_until_ready(band, 2);
  for (unsigned generation = 1; generation <= 5; ++generation) {
    const pid_t worker = band.wait_for_worker_start(1, generation);
    ASSERT_TRUE(send_signal(band.child(worker), SIGKILL));
    band.wait_for_line(worker_event("warning", 1, worker) + "killed by SIGKILL; ");
  }
  band.send_signal(SIGHUP);
  const pid_t restarted = band.wait_for_worker_start(1, 6);
  band.wait_for_line(master_line("info") + "reload 1 finished: 2 workers serving, all new$");

  const long restarted_ready = first_line_index(band, "worker 1 pid " + std::to_string(restarted) + " ready after ");
  ASSERT_GE(restarted_ready, 0);
  EXPECT_GT(first_line_index(band, "reload 1 finished"), restarted_ready);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// --reload-batch 2: two new workers start at once, and the old ones of
// their slots drain only once the new ones are ready.
TEST(Reload, BatchOfTwo) {
  auto band = start_day04("reuseport", 4, {"--reload-batch", "2", "--demo-ready-delay", "300ms"});
  wait_until_ready(band, 4);
  load_generator load(band.endpoint());
  ASSERT_TRUE(load.wait_for_responses(responses_per_phase));

  band.send_signal(SIGHUP);
  band.wait_for_line(master_line("info") + "reload 1 finished: 4 workers serving, all new$");
  const auto report = load.stop();

  expect_no_failures(report);
  const long first_drain = first_line_index(band, "draining: reload 1$");
  ASSERT_GE(first_drain, 0);
  const auto lines = band.stderr_lines();
  const std::regex new_worker(R"(started \(generation 2\)$)");
  const auto started_before_drain = std::count_if(lines.begin(), lines.begin() + first_drain, [&](const auto& line) {
    return std::regex_search(line, new_worker);
  });
  EXPECT_EQ(started_before_drain, 2);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// SIGTTOU removes the slot whose new worker is still starting: the reload
// has nothing left to wait for, and must finish.
TEST(Reload, ScaleDownDuringReloadFinishes) {
  auto band = start_day04("reuseport", 2, {"--demo-ready-delay", "1s"});
  wait_until_ready(band, 2);

  band.send_signal(SIGHUP);
  const pid_t starting = band.wait_for_worker_start(1, 2);
  band.send_signal(SIGTTOU);
  band.wait_for_line(worker_event("info", 1, starting) + "draining: removal by SIGTTOU$");
  band.wait_for_line(master_line("info") + "reload 1 finished: ");
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// The old worker dies while its new one starts: the new one takes the slot,
// the reload finishes with it, and no other worker is forked.
TEST(Reload, NewWorkerTakesOverFromDeadOne) {
  auto band = start_day04("least-conn", 1, {"--demo-faults", "--demo-ready-delay", "1s"});
  const pid_t old_worker = wait_until_ready(band, 1).front();

  band.send_signal(SIGHUP);
  const pid_t new_worker = band.wait_for_worker_start(0, 2);
  exit_during_succession(band, old_worker, new_worker);
  band.wait_for_line(master_line("info") + "reload 1 finished: 1 worker serving, all new$");

  EXPECT_THAT(pids_of(band.wait_for_workers(1)), ElementsAre(new_worker));
  EXPECT_EQ(worker_pid_of(band.get("/")), new_worker);
  EXPECT_EQ(started_pids(band).size(), 2u);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// A new worker that took the slot of a worker that died still belongs to the
// reload. When it misses the --ready-timeout, the reload fails, and the slot's
// worker is restarted as after any crash.
TEST(Reload, TakenOverSlotCanFail) {
  const temporary_file not_ready("band-day04-taken-over");
  auto band = start_day04("least-conn", 1,
                          {"--demo-faults", "--ready-timeout", "1s", "--demo-not-ready-if", not_ready.path().string()});
  const pid_t old_worker = wait_until_ready(band, 1).front();

  not_ready.create();
  band.send_signal(SIGHUP);
  const pid_t new_worker = band.wait_for_worker_start(0, 2);
  exit_during_succession(band, old_worker, new_worker);
  band.wait_for_line(master_line("error") + "reload 1 failed: worker 0 pid " + std::to_string(new_worker) +
                     " was not ready within the --ready-timeout of 1s; the serving workers go on$");
  // A worker restarted before the file is gone misses the timeout too. So
  // the second "ready" line of slot 0 names the first restarted worker to serve.
  not_ready.remove();
  const pid_t restarted =
      std::stoi(wait_for_nth_line(band, master_line("info") + R"(worker 0 pid (\d+) ready after )", 2)[1]);

  EXPECT_EQ(worker_pid_of(band.get("/")), restarted);
  EXPECT_EQ(band.count_lines("reload 1 finished"), 0u);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

// With one worker, the connections passed to it that it never took wait
// for the new worker that takes its slot, instead of being closed.
TEST(Reload, UntakenConnectionsWaitForSuccessor) {
  auto band = start_day04("least-conn", 1, {"--demo-faults", "--demo-ready-delay", "1s"});
  const pid_t old_worker = wait_until_ready(band, 1).front();

  band.send_signal(SIGHUP);
  const pid_t new_worker = band.wait_for_worker_start(0, 2);
  http_connection hung(band.endpoint());
  hung.send_get("/hang");
  band.wait_for_line("blocking the event loop forever as /hang requests$");
  const auto held_before = open_descriptors(band.pid()).size();
  std::vector<std::unique_ptr<http_connection>> waiting;
  for (int request = 0; request < 3; ++request) {
    waiting.push_back(std::make_unique<http_connection>(band.endpoint()));
    waiting.back()->send_get("/");
  }
  // The master keeps its copy of each connection until the worker takes it.
  ASSERT_TRUE(poll_until([&] { return open_descriptors(band.pid()).size() >= held_before + 3; }));
  send_signal(band.child(old_worker), SIGKILL);
  band.wait_for_line(worker_event("warning", 0, old_worker) + "killed by SIGKILL; its successor pid " +
                     std::to_string(new_worker) + " takes the slot$");

  for (const auto& connection : waiting) EXPECT_EQ(worker_pid_of(connection->read_response()), new_worker);
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0));
}

}  // namespace
}  // namespace band::test
