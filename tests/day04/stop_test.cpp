// Stopping the band: SIGTERM drains (requests in progress finish, idle
// keep-alive connections close at once, SIGHUP is ignored meanwhile), and
// SIGINT and SIGQUIT stop fast.
#include "day04.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/beast/http/error.hpp>
#include <boost/system/system_error.hpp>

#include <signal.h>

#include <memory>
#include <string>
#include <vector>

namespace band::test {
namespace {

using namespace std::chrono_literals;
using ::testing::Not;
using ::testing::StartsWith;

// Far above the 2 s a long request takes, so that a slow build still waits
// for its response rather than failing it.
constexpr auto long_request_timeout = 30s;

// Opens a keep-alive connection that has served one request, so that the
// worker has certainly taken it before the test sends its next request.
std::unique_ptr<http_connection> open_served_connection(const band_process& band) {
  auto connection = std::make_unique<http_connection>(band.endpoint(), long_request_timeout);
  EXPECT_EQ(connection->get("/").result_int(), 200);
  return connection;
}

// Reads on a connection the server must have closed: the read fails with
// end of stream or a reset, and the test gets the error text.
std::string read_closed(http_connection& connection) {
  try {
    const auto response = connection.read_response();
    return "a response with status " + std::to_string(response.result_int());
  } catch (const boost::system::system_error& error) {
    return error.code() == boost::beast::http::error::end_of_stream ? "end of stream" : error.what();
  }
}

class GracefulStop : public ::testing::TestWithParam<std::string> {};

// The request is sent just before SIGTERM, on a connection the worker has
// taken: whichever comes first to the worker, the request gets its full
// response, and then the connection closes.
TEST_P(GracefulStop, LongRequestCompletes) {
  auto band = start_day04("reuseport", 2);
  wait_until_ready(band, 2);
  auto connection = open_served_connection(band);

  const auto sent = std::chrono::steady_clock::now();
  connection->send_get(GetParam());
  band.send_signal(SIGTERM);
  const auto response = connection->read_response();
  EXPECT_GE(std::chrono::steady_clock::now() - sent, 2s);
  EXPECT_EQ(response.result_int(), 200);
  EXPECT_NE(worker_pid_of(response), 0);
  EXPECT_EQ(read_closed(*connection), "end of stream");
  expect_band_gone(band, exited_with(0), long_request_timeout);
}

// Named by the path: "sleep", "work".
INSTANTIATE_TEST_SUITE_P(Requests, GracefulStop, ::testing::Values("/sleep?ms=2000", "/work?ms=2000"),
                         [](const auto& info) {
                           const std::string target = info.param;
                           return target.substr(1, target.find('?') - 1);
                         });

// Idle connections do not hold the drain up until --graceful-timeout: each
// worker closes them within its idle delay of 100 ms.
TEST(GracefulStop, IdleKeepAliveClosedAtOnce) {
  auto band = start_day04("reuseport", 2, {"--graceful-timeout", "30s"});
  wait_until_ready(band, 2);
  std::vector<std::unique_ptr<http_connection>> idle;
  for (int index = 0; index < 10; ++index) idle.push_back(open_served_connection(band));

  const auto signalled = std::chrono::steady_clock::now();
  band.send_signal(SIGTERM);
  expect_band_gone(band, exited_with(0), 5s);
  const auto took = std::chrono::steady_clock::now() - signalled;
  RecordProperty("stop_ms", std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  for (auto& connection : idle) EXPECT_EQ(read_closed(*connection), "end of stream");
}

TEST(GracefulStop, SighupIgnored) {
  auto band = start_day04("reuseport", 2);
  wait_until_ready(band, 2);
  auto connection = open_served_connection(band);
  connection->send_get("/sleep?ms=1500");

  band.send_signal(SIGTERM);
  band.wait_for_line(master_line("info") + "received SIGTERM; stopping gracefully");
  band.send_signal(SIGHUP);
  band.wait_for_line(master_line("info") + "received SIGHUP during the stop; ignoring it$");
  EXPECT_EQ(connection->read_response().result_int(), 200);
  expect_band_gone(band, exited_with(0));
  EXPECT_EQ(band.count_lines(R"(started \(generation 2\))"), 0u);
}

class FastStop : public ::testing::TestWithParam<int> {};

// SIGINT and SIGQUIT do not wait for requests in progress: the master exits
// at once and the 10 s request fails.
TEST_P(FastStop, CutsLongRequest) {
  auto band = start_day04("reuseport", 2);
  wait_until_ready(band, 2);
  auto connection = open_served_connection(band);
  connection->send_get("/sleep?ms=10000");

  const auto signalled = std::chrono::steady_clock::now();
  band.send_signal(GetParam());
  expect_band_gone(band, exited_with(0), 5s);
  EXPECT_LT(std::chrono::steady_clock::now() - signalled, 5s);
  EXPECT_THAT(read_closed(*connection), Not(StartsWith("a response")));
}

INSTANTIATE_TEST_SUITE_P(Signals, FastStop, ::testing::Values(SIGINT, SIGQUIT),
                         [](const auto& info) { return info.param == SIGINT ? "Sigint" : "Sigquit"; });

}  // namespace
}  // namespace band::test
