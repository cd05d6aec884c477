#include "day01.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>

#include <regex>
#include <set>

namespace band::test {
namespace {

using ::testing::Contains;

bool ipv6_loopback_available() {
  boost::asio::io_context context;
  tcp::acceptor acceptor(context);
  boost::system::error_code ec;
  acceptor.open(tcp::v6(), ec);
  if (!ec) acceptor.bind({boost::asio::ip::address_v6::loopback(), 0}, ec);
  return !ec;
}

TEST(Serve, RootNamesWorker) {
  auto band = start_day01({"--workers", "3"});
  const auto workers = pids_of(band.wait_for_workers(3));

  const auto response = band.get("/");
  EXPECT_EQ(response.result_int(), 200u);
  const pid_t pid = worker_pid_of(response);
  EXPECT_THAT(workers, Contains(pid));

  std::smatch body;
  const std::string& text = response.body();
  ASSERT_TRUE(std::regex_match(text, body, std::regex(R"(worker (\d) pid (\d+)\n?)"))) << text;
  EXPECT_EQ(body[2].str(), std::to_string(pid));
  EXPECT_EQ(band.wait_for_worker_start(std::stoul(body[1].str())), pid) << "the master logged another pid for slot "
                                                                        << body[1];
}

TEST(Serve, SpreadsConnections) {
  auto band = start_day01({"--workers", "3"});
  band.wait_for_workers(3);

  // The kernel chooses which worker accepts, so the test waits for a second
  // one with a deadline instead of expecting a share.
  std::set<pid_t> answering;
  unsigned requests = 0;
  const bool spread = poll_until([&] {
    answering.insert(worker_pid_of(band.get("/")));
    ++requests;
    return answering.size() > 1;
  });
  EXPECT_TRUE(spread) << "one worker answered all " << requests << " connections";
}

TEST(Serve, KeepAliveSameWorker) {
  auto band = start_day01({"--workers", "2"});
  band.wait_for_workers(2);
  http_connection connection(band.endpoint());

  const auto first = connection.get("/");
  EXPECT_TRUE(first.keep_alive());
  const pid_t pid = worker_pid_of(first);
  EXPECT_NE(pid, 0);
  for (int request = 2; request <= 5; ++request) {
    EXPECT_EQ(worker_pid_of(connection.get("/")), pid) << "request " << request << " on the connection";
  }
}

TEST(Serve, Ipv6Loopback) {
  if (!ipv6_loopback_available()) GTEST_SKIP() << "[::1]:0 cannot be bound on this machine";
  auto band = start_day01({"--listen", "[::1]:0", "--workers", "1"});
  EXPECT_EQ(band.endpoint().address(), boost::asio::ip::address_v6::loopback());

  const auto response = band.get("/");
  EXPECT_EQ(response.result_int(), 200u);
  EXPECT_EQ(worker_pid_of(response), band.wait_for_worker_start(0));
}

}  // namespace
}  // namespace band::test
