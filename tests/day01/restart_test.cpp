#include "day01.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>

namespace band::test {
namespace {

using ::testing::Contains;
using ::testing::Not;

// The master's warning that worker SLOT pid PID died with `description`.
std::string replacing_line(unsigned slot, pid_t pid, const std::string& description) {
  return master_line("warning") + "worker " + std::to_string(slot) + " pid " + std::to_string(pid) + " " +
         description + "; replacing it$";
}

// /crash aborts, and the description has " (core dumped)" when the core
// file size limit allows a dump.
const std::string killed_by_abort = R"(killed by SIGABRT( \(core dumped\))?)";

TEST(Restart, ReplacesKilledWorker) {
  auto band = start_day01({"--workers", "2"});
  const pid_t old_pid = band.wait_for_worker_start(1);
  ASSERT_TRUE(send_signal(band.child(old_pid), SIGKILL));

  band.wait_for_line(replacing_line(1, old_pid, "killed by SIGKILL"));
  const pid_t new_pid = band.wait_for_worker_start(1, 2);
  EXPECT_NE(new_pid, old_pid);
  EXPECT_THAT(pids_of(band.wait_for_workers(2)), Contains(new_pid));
  EXPECT_TRUE(band.wait_for_answer_from(new_pid));
}

TEST(Restart, ReplacesSeveralAtOnce) {
  auto band = start_day01({"--workers", "3"});
  for (unsigned slot = 0; slot < 3; ++slot) band.wait_for_worker_start(slot);
  const auto old_workers = band.wait_for_workers(3);
  for (const auto& worker : old_workers) ASSERT_TRUE(send_signal(worker, SIGKILL)) << worker;

  for (unsigned slot = 0; slot < 3; ++slot) band.wait_for_worker_start(slot, 2);
  for (const auto& worker : band.wait_for_workers(3)) EXPECT_THAT(old_workers, Not(Contains(worker)));
  EXPECT_EQ(band.count_lines("killed by SIGKILL; replacing it$"), 3u);
}

TEST(Restart, CrashIsReplaced) {
  auto band = start_day01({"--demo-faults", "--workers", "1"});
  const pid_t old_pid = band.wait_for_worker_start(0);
  http_connection connection(band.endpoint());
  connection.send_get("/crash");

  band.wait_for_line(replacing_line(0, old_pid, killed_by_abort));
  const pid_t new_pid = band.wait_for_worker_start(0, 2);
  EXPECT_TRUE(band.wait_for_answer_from(new_pid));
}

TEST(Restart, ExitIsReplaced) {
  auto band = start_day01({"--demo-faults", "--workers", "1"});
  const pid_t old_pid = band.wait_for_worker_start(0);
  EXPECT_EQ(band.get("/exit?code=3").result_int(), 200u);

  band.wait_for_line(replacing_line(0, old_pid, "exited with status 3"));
  const pid_t new_pid = band.wait_for_worker_start(0, 2);
  EXPECT_TRUE(band.wait_for_answer_from(new_pid));
}

TEST(Restart, FaultsOffByDefault) {
  auto band = start_day01({"--workers", "1"});
  const auto worker = band.child(band.wait_for_worker_start(0));

  for (const std::string target : {"/crash", "/exit?code=3", "/leak?mb=1", "/hang"}) {
    const auto response = band.get(target);
    EXPECT_EQ(response.result_int(), 404u) << target;
    EXPECT_EQ(worker_pid_of(response), worker.pid) << target;
  }
  EXPECT_TRUE(is_running(worker));
  EXPECT_EQ(band.children(), std::vector{worker});
  EXPECT_EQ(band.count_lines("replacing it"), 0u);
}

TEST(Restart, KeepsDescriptorCount) {
  auto band = start_day01({"--demo-faults", "--workers", "1"});
  pid_t worker = band.wait_for_worker_start(0);
  ASSERT_TRUE(band.wait_for_answer_from(worker));
  const auto before = open_descriptors(band.pid());

  for (unsigned generation = 2; generation <= 4; ++generation) {
    http_connection connection(band.endpoint());
    connection.send_get("/crash");
    worker = band.wait_for_worker_start(0, generation);
    ASSERT_TRUE(band.wait_for_answer_from(worker)) << "generation " << generation;
  }

  std::vector<std::string> after;
  EXPECT_TRUE(poll_until([&] { return (after = open_descriptors(band.pid())).size() == before.size(); }))
      << "before:\n" << ::testing::PrintToString(before) << "\nafter:\n" << ::testing::PrintToString(after);
}

}  // namespace
}  // namespace band::test
