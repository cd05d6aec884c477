// The load generator itself: that it keeps both kinds of connection busy
// and counts each kind of failure apart, so that the tests that assert no
// failure could see one.
#include "load.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <memory>
#include <string>
#include <thread>

namespace band::test {
namespace {

namespace asio = boost::asio;

const tcp::endpoint loopback_any_port{asio::ip::make_address("127.0.0.1"), 0};

TEST(Load, KeepsBothKindsBusy) {
  auto band = start_day04("reuseport", 2);
  const auto pids = wait_until_ready(band, 2);

  load_generator load(band.endpoint());
  ASSERT_TRUE(load.wait_for_responses(2'000)) << load.responses() << " responses, " << load.failed() << " failed";
  const auto report = load.stop();

  expect_no_failures(report);
  EXPECT_GE(report.responses, 2'000u);
  // Keep-alive clients send more requests in the same time, because a new
  // connection costs a handshake.
  EXPECT_GT(report.new_connections, 200u);
  EXPECT_GT(report.reused, 200u);
  EXPECT_THAT(report.by_worker, ::testing::SizeIs(2));
  for (const pid_t pid : pids) EXPECT_EQ(report.by_worker.count(pid), 1u) << "worker pid " << pid;
}

// A socket that is bound but does not listen refuses connections, and no
// other server can take its port meanwhile.
TEST(Load, CountsRefusedConnects) {
  asio::io_context context;
  tcp::socket bound(context, tcp::v4());
  bound.bind(loopback_any_port);

  load_options options;
  options.max_requests = 20;
  load_generator load(bound.local_endpoint(), options);
  ASSERT_TRUE(poll_until([&] { return load.failed() == 20; })) << load.failed() << " failed";
  const auto report = load.stop();

  EXPECT_EQ(report.responses, 0u);
  EXPECT_EQ(report.failed(failure::connect), 20u);
  EXPECT_EQ(report.failed(), 20u);
}

// A server that serves one request per connection, leaving it open as
// keep-alive, and then closes it: the next request on that connection is
// the one an HTTP client may retry, and must be counted apart.
class close_after_first_response {
 public:
  close_after_first_response() : acceptor_(context_, loopback_any_port) {
    accept();
    thread_ = std::thread([this] { context_.run(); });
  }
  ~close_after_first_response() {
    context_.stop();
    thread_.join();
  }

  tcp::endpoint endpoint() const { return acceptor_.local_endpoint(); }

 private:
  struct session {
    explicit session(tcp::socket s) : socket(std::move(s)) {}
    tcp::socket socket;
    asio::streambuf request;
  };

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec) return;
      serve(std::make_shared<session>(std::move(socket)));
      accept();
    });
  }

  static void serve(const std::shared_ptr<session>& s) {
    asio::async_read_until(s->socket, s->request, "\r\n\r\n", [s](boost::system::error_code ec, std::size_t) {
      if (ec) return;
      static const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Worker-Pid: 1\r\n\r\n";
      asio::async_write(s->socket, asio::buffer(response), [s](boost::system::error_code, std::size_t) {
        boost::system::error_code ignored;
        s->socket.close(ignored);
      });
    });
  }

  asio::io_context context_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

TEST(Load, CountsClosedKeepAlive) {
  close_after_first_response server;
  load_options options;
  options.keep_alive_clients = 1;
  options.new_connection_clients = 0;
  options.max_requests = 10;
  load_generator load(server.endpoint(), options);
  ASSERT_TRUE(poll_until([&] { return load.responses() + load.failed() == 10; }));
  const auto report = load.stop();

  // Requests alternate: one served on a new connection, one failed on
  // the same connection once the server has closed it.
  EXPECT_EQ(report.responses, 5u);
  EXPECT_EQ(report.failed(failure::keep_alive_closed), 5u) << ::testing::PrintToString(report.failure_examples);
  EXPECT_EQ(report.failed(), 5u);
  EXPECT_EQ(report.reused, 5u);
}

}  // namespace
}  // namespace band::test
