#include "load.hpp"

#include <boost/asio/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <algorithm>
#include <optional>
#include <sstream>

namespace band::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

// Enough examples to see what went wrong without flooding the output.
constexpr std::size_t max_failure_examples = 10;
// After a failure a client waits this long before its next request, so that
// a server that has gone away is not hammered with connects.
constexpr std::chrono::milliseconds failure_pause{10};

}  // namespace

const char* to_string(failure kind) {
  switch (kind) {
    case failure::connect: return "connect failed";
    case failure::send: return "sending the request failed";
    case failure::keep_alive_closed: return "keep-alive connection closed before the response";
    case failure::no_response: return "new connection closed before the response";
    case failure::truncated: return "connection closed during the response";
    case failure::timeout: return "timed out";
    case failure::status: return "status other than 200";
    case failure::no_worker_pid: return "no X-Worker-Pid";
    case failure::other: return "other error";
  }
  return "unknown";
}

std::uint64_t load_report::failed() const {
  std::uint64_t total = 0;
  for (const auto count : failures) total += count;
  return total;
}

void expect_no_failures(const load_report& report) {
  std::ostringstream examples;
  for (const auto& example : report.failure_examples) examples << "\n  " << example;
  for (std::size_t kind = 0; kind < failure_kinds; ++kind) {
    EXPECT_EQ(report.failures[kind], 0u) << to_string(static_cast<failure>(kind)) << ", of " << report.responses
                                         << " responses; the first failures:" << examples.str();
  }
}

// One client: a connection it reuses (keep-alive) or opens anew for each
// request, and the request in progress on it. Each step is an asynchronous
// operation whose handler starts the next.
class load_generator::client : public std::enable_shared_from_this<client> {
 public:
  client(load_generator& load, bool keep_alive)
      : load_(load), keep_alive_(keep_alive), stream_(load.context_), pause_timer_(load.context_) {
    std::ostringstream host;
    host << load.server_;
    request_ = {http::verb::get, "/", 11};
    request_.set(http::field::host, host.str());
    request_.set(http::field::user_agent, "band-test-load");
    request_.keep_alive(keep_alive);
  }

  void start() { begin_request(); }

 private:
  void next_request(std::chrono::milliseconds pause) {
    if (pause.count() == 0) return begin_request();
    pause_timer_.expires_after(pause);
    pause_timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (!ec) self->begin_request();
    });
  }

  void begin_request() {
    if (!load_.may_start_request()) return close();
    sent_at_ = load_clock::now();
    if (stream_.socket().is_open()) {
      reused_ = true;
      load_.record_connection(true);
      return write_request();
    }
    reused_ = false;
    buffer_.clear();
    stream_.expires_after(load_.options_.timeout);
    stream_.async_connect(load_.server_, [self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->fail(ec == beast::error::timeout ? failure::timeout : failure::connect, ec, "connect");
      self->load_.record_connection(false);
      self->write_request();
    });
  }

  void write_request() {
    stream_.expires_after(load_.options_.timeout);
    http::async_write(stream_, request_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) return self->read_response();
      if (ec == beast::error::timeout) return self->fail(failure::timeout, ec, "write");
      self->fail(self->reused_ ? failure::keep_alive_closed : failure::send, ec, "write");
    });
  }

  void read_response() {
    parser_.emplace();
    stream_.expires_after(load_.options_.timeout);
    http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      self->handle_response(ec);
    });
  }

  void handle_response(beast::error_code ec) {
    if (ec) return fail(classify_read_error(ec), ec, "read");
    const auto& response = parser_->get();
    if (response.result_int() != 200) {
      return fail(failure::status, {}, "status " + std::to_string(response.result_int()));
    }
    const pid_t pid = worker_pid_of(response);
    if (pid == 0) return fail(failure::no_worker_pid, {}, "X-Worker-Pid '" + std::string(response["X-Worker-Pid"]) + "'");
    load_.record_response(pid, sent_at_);
    if (!keep_alive_ || !response.keep_alive()) close();
    next_request(load_.options_.pause);
  }

  failure classify_read_error(beast::error_code ec) const {
    if (ec == beast::error::timeout) return failure::timeout;
    const bool closed = ec == http::error::end_of_stream || ec == http::error::partial_message ||
                        ec == asio::error::connection_reset || ec == asio::error::eof ||
                        ec == asio::error::broken_pipe;
    if (!closed) return failure::other;
    if (parser_->got_some()) return failure::truncated;
    return reused_ ? failure::keep_alive_closed : failure::no_response;
  }

  // Records the failure and goes on with a new connection.
  void fail(failure kind, beast::error_code ec, const std::string& step) {
    std::string message = std::string(to_string(kind)) + ": " + step;
    if (ec) message += ": " + ec.message();
    message += reused_ ? " (reused connection)" : " (new connection)";
    load_.record_failure(kind, message);
    close();
    next_request(std::max(load_.options_.pause, failure_pause));
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  load_generator& load_;
  bool keep_alive_;
  beast::tcp_stream stream_;
  asio::steady_timer pause_timer_;
  beast::flat_buffer buffer_;
  http::request<http::empty_body> request_;
  std::optional<http::response_parser<http::string_body>> parser_;
  load_clock::time_point sent_at_;
  bool reused_ = false;
};

load_generator::load_generator(const tcp::endpoint& server, load_options options)
    : server_(server), options_(std::move(options)), deadline_(load_clock::now() + options_.max_duration) {
  for (unsigned index = 0; index < options_.keep_alive_clients; ++index) {
    std::make_shared<client>(*this, true)->start();
  }
  for (unsigned index = 0; index < options_.new_connection_clients; ++index) {
    std::make_shared<client>(*this, false)->start();
  }
  thread_ = std::thread([this] {
    context_.run();
    ended_ = true;
  });
}

load_generator::~load_generator() {
  if (!joined_) stop();
}

bool load_generator::may_start_request() {
  if (stopping_ || load_clock::now() >= deadline_) return false;
  return started_.fetch_add(1) < options_.max_requests;
}

void load_generator::record_response(pid_t pid, load_clock::time_point sent) {
  const auto now = load_clock::now();
  {
    std::lock_guard lock(mutex_);
    ++report_.responses;
    auto [position, inserted] = report_.by_worker.try_emplace(pid, worker_responses{0, now, sent});
    worker_responses& responses = position->second;
    ++responses.count;
    responses.last_sent = std::max(responses.last_sent, sent);
  }
  ++responses_;
}

void load_generator::record_connection(bool reused) {
  std::lock_guard lock(mutex_);
  ++(reused ? report_.reused : report_.new_connections);
}

void load_generator::record_failure(failure kind, const std::string& message) {
  {
    std::lock_guard lock(mutex_);
    ++report_.failures[static_cast<std::size_t>(kind)];
    if (report_.failure_examples.size() < max_failure_examples) report_.failure_examples.push_back(message);
  }
  ++failed_;
}

std::uint64_t load_generator::responses_from(pid_t pid) const {
  std::lock_guard lock(mutex_);
  const auto position = report_.by_worker.find(pid);
  return position == report_.by_worker.end() ? 0 : position->second.count;
}

bool load_generator::wait_for_responses(std::uint64_t count, std::chrono::milliseconds timeout) const {
  return poll_until([&] { return responses_ >= count || ended_; }, timeout) && responses_ >= count;
}

load_report load_generator::stop() {
  stopping_ = true;
  thread_.join();
  joined_ = true;
  std::lock_guard lock(mutex_);
  return report_;
}

}  // namespace band::test
