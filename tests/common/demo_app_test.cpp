// The demo application in this process: a demo_server on 127.0.0.1 with its
// own thread, and a small Beast client. /crash, /exit and /hang with faults on
// would end or block the test program, so of the three only /crash is
// requested, with faults off, where it is a 404.
#include "band/common/demo_app.hpp"
#include "band/common/listener.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace band::common {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using boost::system::error_code;
using namespace std::chrono_literals;

// Bounds every network step and every call into the server's thread. It is
// generous because the sanitizer build is several times slower.
constexpr auto io_timeout = 10s;

using response = http::response<http::string_body>;

// A demo_server listening on 127.0.0.1 at a free port, with its io_context
// run by a thread of its own.
class running_server {
 public:
  explicit running_server(demo_options options) {
    auto socket = listener::open(parse_endpoint("127.0.0.1:0"));
    port_ = socket.local_endpoint().port();
    // demo_server takes over the descriptor it gets and listener has no
    // release(), so the server gets a duplicate and `socket` closes the
    // original here.
    const int fd = ::fcntl(socket.fd(), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "fcntl F_DUPFD_CLOEXEC");
    server_.emplace(context_, fd, options);
    thread_ = std::thread([this] { context_.run(); });
  }

  // Stops the thread first, so the server's destructor closes its sockets
  // while no handler runs.
  ~running_server() {
    context_.stop();
    thread_.join();
    server_.reset();
  }

  running_server(const running_server&) = delete;
  running_server& operator=(const running_server&) = delete;

  unsigned short port() const noexcept { return port_; }

  // Runs `function` on the server's thread, because demo_server is not
  // thread-safe, and returns its result.
  template <class Function>
  auto call(Function function) {
    using result_type = std::invoke_result_t<Function, demo_server&>;
    auto task = std::make_shared<std::packaged_task<result_type()>>([this, function] { return function(*server_); });
    auto result = task->get_future();
    asio::post(context_, [task] { (*task)(); });
    if (result.wait_for(io_timeout) != std::future_status::ready) {
      throw std::runtime_error("the server's thread did not run a call within the timeout");
    }
    return result.get();
  }

  std::size_t connection_count() {
    return call([](demo_server& server) { return server.connection_count(); });
  }

  // Polls connection_count() until it is `expected` or io_timeout passes.
  bool wait_for_connection_count(std::size_t expected) {
    const auto deadline = std::chrono::steady_clock::now() + io_timeout;
    while (connection_count() != expected) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(1ms);
    }
    return true;
  }

 private:
  asio::io_context context_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(context_);
  std::optional<demo_server> server_;
  std::thread thread_;
  unsigned short port_ = 0;
};

// An HTTP/1.1 client of 127.0.0.1 on its own io_context, run on the calling
// thread. Every step ends within io_timeout.
class http_client {
 public:
  error_code connect(unsigned short port) {
    const asio::ip::tcp::endpoint server(asio::ip::make_address("127.0.0.1"), port);
    return run([&](auto handler) { stream_.async_connect(server, handler); });
  }

  error_code write_raw(std::string_view bytes) {
    return run([&](auto handler) { asio::async_write(stream_, asio::buffer(bytes), handler); });
  }

  // Sends a request without reading the response.
  error_code send(std::string_view target, http::verb method = http::verb::get, unsigned version = 11) {
    http::request<http::empty_body> request(method, target, version);
    request.set(http::field::host, "127.0.0.1");
    return run([&](auto handler) { http::async_write(stream_, request, handler); });
  }

  error_code read(response& result) {
    return run([&](auto handler) { http::async_read(stream_, buffer_, result, handler); });
  }

  // Sends a request and reads its response. A failed step throws, which
  // fails the test with the step's error.
  response fetch(std::string_view target, http::verb method = http::verb::get, unsigned version = 11) {
    if (const auto ec = send(target, method, version)) throw boost::system::system_error(ec, "sending the request");
    response result;
    if (const auto ec = read(result)) throw boost::system::system_error(ec, "reading the response");
    return result;
  }

  // Returns whether the connection has a byte or an end of stream to read
  // within `timeout`, without reading it.
  bool readable_within(std::chrono::milliseconds timeout) {
    pollfd entry{stream_.socket().native_handle(), POLLIN, 0};
    return ::poll(&entry, 1, static_cast<int>(timeout.count())) > 0;
  }

  // Reads until the server closes the connection, and returns how the read
  // ended: http::error::end_of_stream for a clean close before any byte.
  error_code read_until_closed() {
    response ignored;
    return read(ignored);
  }

 private:
  template <class Start>
  error_code run(Start start) {
    error_code result = asio::error::would_block;
    stream_.expires_after(io_timeout);
    start([&result](error_code ec, auto&&...) { result = ec; });
    context_.restart();
    context_.run();
    return result;
  }

  asio::io_context context_;
  beast::tcp_stream stream_{context_};
  beast::flat_buffer buffer_;
};

// A client connected to `server`. The constructor throws when connecting fails.
class connected_client : public http_client {
 public:
  explicit connected_client(const running_server& server) {
    if (const auto ec = connect(server.port())) throw boost::system::system_error(ec, "connecting to the demo server");
  }
};

std::string root_body() { return "worker 7 pid " + std::to_string(::getpid()) + "\n"; }

// A demo server in slot 7 and a client connected to it.
class demo_app : public ::testing::Test {
 protected:
  explicit demo_app(bool faults = false) : server({.slot = 7, .faults = faults}), client(server) {}

  running_server server;
  connected_client client;
};

// The same with --demo-faults.
class demo_app_faults : public demo_app {
 protected:
  demo_app_faults() : demo_app(true) {}
};

TEST_F(demo_app, root) {
  const auto result = client.fetch("/");
  EXPECT_EQ(result.result(), http::status::ok);
  EXPECT_EQ(result.body(), root_body());
  EXPECT_EQ(result[http::field::content_type], "text/plain");
  EXPECT_EQ(result["X-Worker-Pid"], std::to_string(::getpid()));
}

TEST_F(demo_app, work) {
  const auto result = client.fetch("/work?ms=20");
  EXPECT_EQ(result.result(), http::status::ok);
  EXPECT_EQ(result.body(), root_body());
}

TEST_F(demo_app, sleep) {
  const auto result = client.fetch("/sleep?ms=20");
  EXPECT_EQ(result.result(), http::status::ok);
  EXPECT_EQ(result.body(), root_body());

  EXPECT_EQ(client.fetch("/sleep?ms=abc").result(), http::status::bad_request);
  EXPECT_EQ(client.fetch("/sleep?ms=60001").result(), http::status::bad_request);
}

TEST_F(demo_app, sleep_leaves_loop_serving) {
  constexpr auto sleep = 1000ms;
  ASSERT_FALSE(client.send("/sleep?ms=" + std::to_string(sleep.count())));

  connected_client other(server);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(other.fetch("/").result(), http::status::ok);
  EXPECT_LT(std::chrono::steady_clock::now() - start, sleep);

  response slept;
  ASSERT_FALSE(client.read(slept));
  EXPECT_EQ(slept.result(), http::status::ok);
}

TEST_F(demo_app, work_rejects_bad_ms) {
  for (const std::string_view target :
       {"/work", "/work?ms=", "/work?ms=abc", "/work?ms=-5", "/work?ms=20x", "/work?ms=60001", "/work?ms=999999"}) {
    SCOPED_TRACE(target);
    const auto result = client.fetch(target);
    EXPECT_EQ(result.result(), http::status::bad_request);
    EXPECT_THAT(result.body(), ::testing::HasSubstr("ms=N"));
  }
}

TEST_F(demo_app, unknown_path) {
  EXPECT_EQ(client.fetch("/nope").result(), http::status::not_found);
  EXPECT_EQ(client.fetch("/index.html").result(), http::status::not_found);
}

TEST_F(demo_app, faults_off_are_not_found) {
  EXPECT_EQ(client.fetch("/crash").result(), http::status::not_found);
  EXPECT_EQ(client.fetch("/leak?mb=1").result(), http::status::not_found);
}

TEST_F(demo_app, post_not_allowed) {
  EXPECT_EQ(client.fetch("/", http::verb::post).result(), http::status::method_not_allowed);
}

TEST_F(demo_app_faults, leak) {
  const auto result = client.fetch("/leak?mb=1");
  EXPECT_EQ(result.result(), http::status::ok);
  EXPECT_THAT(result.body(), ::testing::StartsWith("leaked 1 MiB"));

  EXPECT_EQ(client.fetch("/leak?mb=0").result(), http::status::bad_request);
}

TEST_F(demo_app, keep_alive) {
  const auto first = client.fetch("/");
  EXPECT_EQ(first.result(), http::status::ok);
  EXPECT_TRUE(first.keep_alive());
  const auto second = client.fetch("/");
  EXPECT_EQ(second.result(), http::status::ok);
  EXPECT_EQ(server.connection_count(), 1U);
}

TEST_F(demo_app, http_1_0_closes) {
  const auto result = client.fetch("/", http::verb::get, 10);
  EXPECT_EQ(result.result(), http::status::ok);
  EXPECT_FALSE(result.keep_alive());
  EXPECT_EQ(client.read_until_closed(), http::error::end_of_stream);
}

TEST_F(demo_app, malformed_request) {
  ASSERT_FALSE(client.write_raw("NOT A REQUEST\r\n\r\n"));
  response result;
  ASSERT_FALSE(client.read(result));
  EXPECT_EQ(result.result(), http::status::bad_request);
  EXPECT_FALSE(result.keep_alive());
  EXPECT_EQ(client.read_until_closed(), http::error::end_of_stream);
}

TEST_F(demo_app, close_idle_connections) {
  ASSERT_EQ(client.fetch("/").result(), http::status::ok);

  // The session is idle only once the server's write handler has run, which
  // may be after the client read the response, so ask until it closes.
  const auto deadline = std::chrono::steady_clock::now() + io_timeout;
  bool closed = false;
  while (!closed && std::chrono::steady_clock::now() < deadline) {
    server.call([](demo_server& demo) { demo.close_idle_connections(); });
    closed = client.readable_within(10ms);
  }
  ASSERT_TRUE(closed) << "close_idle_connections() left an idle connection open";
  EXPECT_EQ(client.read_until_closed(), http::error::end_of_stream);
  EXPECT_TRUE(server.wait_for_connection_count(0));
}

TEST_F(demo_app, stop_accepting) {
  ASSERT_EQ(client.fetch("/").result(), http::status::ok);

  server.call([](demo_server& demo) { demo.stop_accepting(); });

  http_client late;
  EXPECT_EQ(late.connect(server.port()), asio::error::connection_refused);
  // Connections accepted before go on.
  EXPECT_EQ(client.fetch("/").result(), http::status::ok);
}

TEST_F(demo_app, stop_closes_all) {
  ASSERT_EQ(client.fetch("/").result(), http::status::ok);

  server.call([](demo_server& demo) { demo.stop(); });
  EXPECT_EQ(client.read_until_closed(), http::error::end_of_stream);
  http_client late;
  EXPECT_EQ(late.connect(server.port()), asio::error::connection_refused);
}

}  // namespace
}  // namespace band::common
