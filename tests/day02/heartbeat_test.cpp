// Freeze detection: a worker whose event loop stops stamping its heartbeat
// in the shared slot table gets SIGABRT.
#include "day02.hpp"

#include <band/common/parse.hpp>

#include <boost/system/system_error.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace band::test {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;

// The master's warning that worker SLOT pid PID missed the heartbeat
// timeout `timeout`. Group 1 is the heartbeat's age.
std::string no_heartbeat_line(unsigned slot, pid_t pid, const std::string& timeout) {
  return worker_event("warning", slot, pid) + "no heartbeat for (\\S+), over the --heartbeat-timeout of " + timeout +
         "; sending SIGABRT$";
}

const std::string killed_by_abort = R"(killed by SIGABRT( \(core dumped\))? after no heartbeat)";

TEST(Heartbeat, HangKilledBySigabrt) {
  auto band =
      start_day02({"--workers", "1", "--demo-faults", "--heartbeat-timeout", "2s", "--check-interval", "200ms"});
  const pid_t old_pid = band.wait_for_worker_start(0);
  http_connection connection(band.endpoint());
  connection.send_get("/hang");
  const auto hang = band.wait_for_line(worker_line(0, old_pid) + "blocking the event loop forever");

  const auto abort = band.wait_for_line(no_heartbeat_line(0, old_pid, "2s"));
  const auto age = common::parse_duration(abort.groups[1]);
  EXPECT_GT(age, 2s);
  EXPECT_LT(age, 4s) << "2s timeout, checked every 200ms";
  const auto latency = log_interval(hang.line, abort.line);
  RecordProperty("hang_to_sigabrt_ms", std::to_string(latency.count()));
  EXPECT_LT(latency, 4s);

  band.wait_for_line(worker_event("warning", 0, old_pid) + killed_by_abort);
  const pid_t new_pid = band.wait_for_worker_start(0, 2);
  EXPECT_TRUE(band.wait_for_answer_from(new_pid));
}

// /sleep waits on a timer, so the event loop goes on turning and stamping.
TEST(Heartbeat, SleepingRequestNotKilled) {
  auto band = start_day02({"--workers", "1", "--heartbeat-timeout", "1s", "--check-interval", "200ms"});
  const pid_t pid = band.wait_for_worker_start(0);

  const auto sent = std::chrono::steady_clock::now();
  const auto response = band.get("/sleep?ms=3000");
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 3s);
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(worker_pid_of(response), pid);
  EXPECT_EQ(band.count_lines("no heartbeat"), 0u);
  EXPECT_THAT(pids_of(band.children()), ElementsAre(pid));
}

// A handler that computes for longer than the heartbeat timeout blocks the
// event loop just as a hang does. Day 02 cannot tell the two apart, so it
// kills such a worker. This test pins that limit.
TEST(Heartbeat, LongBlockingWorkKilled) {
  auto band = start_day02({"--workers", "1", "--heartbeat-timeout", "1s", "--check-interval", "200ms"});
  const pid_t pid = band.wait_for_worker_start(0);
  http_connection connection(band.endpoint());
  connection.send_get("/work?ms=3000");

  band.wait_for_line(no_heartbeat_line(0, pid, "1s"));
  band.wait_for_line(worker_event("warning", 0, pid) + killed_by_abort);
  EXPECT_THROW(connection.read_response(), boost::system::system_error);
}

}  // namespace
}  // namespace band::test
