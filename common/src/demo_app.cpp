#include "band/common/demo_app.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <spdlog/spdlog.h>

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <system_error>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace band::common {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

// Request limits. Beast's defaults are 8 KiB of header and 1 MiB of body; the
// demo takes no body, so a small one is plenty.
constexpr std::uint32_t max_header_bytes = 8 * 1024;
constexpr std::uint64_t max_body_bytes = 64 * 1024;
constexpr unsigned max_work_ms = 60'000;
constexpr unsigned max_leak_mb = 65'536;
// A draining server closes a keep-alive connection that has not begun a new
// request within this delay. Closing it at once would race a request the
// client is sending at that moment, which then fails; a client that sends
// within the delay gets its answer with "Connection: close".
constexpr auto drain_idle_delay = std::chrono::milliseconds(100);
// After accept() fails for lack of descriptors or memory, wait this long
// before trying again instead of spinning.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);

// Memory that /leak allocates, kept until the process ends.
std::vector<std::unique_ptr<char[]>> leaked_blocks;
std::uint64_t leaked_mb = 0;

std::optional<std::string_view> query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::optional<unsigned> parse_unsigned(std::optional<std::string_view> text, unsigned max) {
  if (!text) return std::nullopt;
  unsigned value = 0;
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (text->empty() || error != std::errc{} || end != text->data() + text->size() || value > max) return std::nullopt;
  return value;
}

std::chrono::nanoseconds thread_cpu_time() {
  timespec now{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

// Spends `duration` of this thread's CPU time, so /work costs the same CPU on
// a loaded machine as on an idle one (it takes longer on the wall clock).
void burn_cpu(std::chrono::milliseconds duration) {
  const auto deadline = thread_cpu_time() + duration;
  volatile std::uint64_t sink = 0;
  while (thread_cpu_time() < deadline) {
    for (int i = 0; i < 1000; ++i) sink = sink * 31 + static_cast<std::uint64_t>(i);
  }
}

void leak_memory(unsigned mb) {
  const std::size_t bytes = static_cast<std::size_t>(mb) << 20;
  auto block = std::make_unique<char[]>(bytes);
  // Touch every page so the memory is resident, not only reserved.
  std::memset(block.get(), 0x5a, bytes);
  leaked_blocks.push_back(std::move(block));
  leaked_mb += mb;
}

}  // namespace

class demo_session;

class demo_server::impl : public std::enable_shared_from_this<impl> {
 public:
  impl(asio::io_context& context, int listen_fd, demo_options options)
      : acceptor_(context), retry_timer_(context), options_(options) {
    const auto pid = std::to_string(::getpid());
    pid_text_ = pid;
    root_body_ = "worker " + std::to_string(options.slot) + " pid " + pid + "\n";
    if (listen_fd < 0) return;
    acceptor_.assign(socket_protocol(listen_fd), listen_fd);
  }

  // Asio needs the address family of a socket it adopts; read it from the
  // socket itself.
  static tcp socket_protocol(int fd) {
    sockaddr_storage address{};
    socklen_t size = sizeof address;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      throw std::system_error(errno, std::generic_category(), "getsockname on an adopted socket");
    }
    return address.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
  }

  void start_session(tcp::socket socket);
  asio::any_io_executor executor() { return acceptor_.get_executor(); }

  void do_accept();
  void stop_accepting() {
    retry_timer_.cancel();
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  }
  void close_idle_connections();
  void stop();
  void drain(std::function<void()> drained);
  bool draining() const noexcept { return draining_; }
  // Called as a session ends: completes a drain when it was the last.
  void session_closed();

  const demo_options& options() const noexcept { return options_; }
  const std::string& pid_text() const noexcept { return pid_text_; }
  const std::string& root_body() const noexcept { return root_body_; }

  std::list<demo_session*> sessions;

 private:
  tcp::acceptor acceptor_;
  asio::steady_timer retry_timer_;
  demo_options options_;
  std::string pid_text_;
  std::string root_body_;
  std::function<void()> drained_;
  bool draining_ = false;
};

class demo_session : public std::enable_shared_from_this<demo_session> {
 public:
  demo_session(std::shared_ptr<demo_server::impl> server, tcp::socket socket)
      : server_(std::move(server)),
        socket_(std::move(socket)),
        sleep_timer_(socket_.get_executor()),
        drain_timer_(socket_.get_executor()) {
    server_->sessions.push_front(this);
    position_ = server_->sessions.begin();
    response_.set(http::field::server, "band");
    response_.set(http::field::content_type, "text/plain");
    response_.set("X-Worker-Pid", server_->pid_text());
  }
  ~demo_session() {
    server_->sessions.erase(position_);
    if (auto* stats = server_->options().stats) stats->active.fetch_sub(1, std::memory_order_relaxed);
    server_->session_closed();
  }

  void start() {
    read_request();
    if (server_->draining()) close_when_idle();
  }

  // Closes the connection after drain_idle_delay unless a request has begun.
  void close_when_idle() {
    drain_timer_.expires_after(drain_idle_delay);
    drain_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      const auto self = weak.lock();
      if (!ec && self && self->idle()) self->close();
    });
  }

  // Waiting for a request and holding no part of one, neither read nor
  // waiting in the socket's receive buffer.
  bool idle() {
    if (!idle_ || buffer_.size() != 0) return false;
    boost::system::error_code ec;
    return socket_.available(ec) == 0 && !ec;
  }

  void close() {
    boost::system::error_code ignored;
    sleep_timer_.cancel();
    drain_timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void read_request() {
    idle_ = true;
    parser_.emplace();
    parser_->header_limit(max_header_bytes);
    parser_->body_limit(max_body_bytes);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](boost::system::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(boost::system::error_code ec) {
    idle_ = false;
    if (ec == http::error::end_of_stream || ec == asio::error::operation_aborted) return close();
    if (ec) {
      // A malformed or oversized request: answer 400 when the socket still
      // works, then close, because the stream position is lost.
      respond(http::status::bad_request, "bad request: " + ec.message() + "\n");
      response_.keep_alive(false);
      return write_response();
    }
    if (handle_request(parser_->get()) == reply::now) write_response();
  }

  void write_response() {
    if (auto* stats = server_->options().stats) {
      stats->requests.fetch_add(1, std::memory_order_relaxed);
      if (server_->options().counted) server_->options().counted();
    }
    response_.prepare_payload();
    // A draining server answers the request in hand, then closes.
    if (server_->draining()) response_.keep_alive(false);
    http::async_write(socket_, response_, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec || !self->response_.keep_alive()) return self->close();
      self->read_request();
    });
  }

  void respond(http::status status, std::string_view body) {
    response_.result(status);
    response_.body().assign(body);
  }

  enum class reply { now, later };

  // Fills in the response. Returns reply::later when a timer writes it.
  reply handle_request(const http::request<http::empty_body>& request) {
    response_.version(request.version());
    response_.keep_alive(request.keep_alive());
    if (request.method() != http::verb::get) {
      respond(http::status::method_not_allowed, "only GET is served\n");
      return reply::now;
    }

    const std::string_view target = request.target();
    const auto question = target.find('?');
    const std::string_view path = target.substr(0, question);
    const std::string_view query = question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);

    if (path == "/sleep") return handle_sleep(query);
    route(path, query);
    return reply::now;
  }

  void route(std::string_view path, std::string_view query) {
    if (path == "/") return respond(http::status::ok, server_->root_body());
    if (path == "/work") {
      const auto ms = parse_unsigned(query_value(query, "ms"), max_work_ms);
      if (!ms) return respond(http::status::bad_request, "/work needs ms=N with N from 0 to 60000\n");
      burn_cpu(std::chrono::milliseconds(*ms));
      return respond(http::status::ok, server_->root_body());
    }
    if (server_->options().faults) {
      if (path == "/crash") {
        spdlog::warn("aborting as /crash requests");
        std::abort();
      }
      if (path == "/exit") return handle_exit(query);
      if (path == "/leak") return handle_leak(query);
      if (path == "/hang") {
        spdlog::warn("blocking the event loop forever as /hang requests");
        for (;;) ::pause();
      }
    }
    respond(http::status::not_found, "not found\n");
  }

  reply handle_sleep(std::string_view query) {
    const auto ms = parse_unsigned(query_value(query, "ms"), max_work_ms);
    if (!ms) {
      respond(http::status::bad_request, "/sleep needs ms=N with N from 0 to 60000\n");
      return reply::now;
    }
    respond(http::status::ok, server_->root_body());
    sleep_timer_.expires_after(std::chrono::milliseconds(*ms));
    sleep_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->close();
      self->write_response();
    });
    return reply::later;
  }

  void handle_exit(std::string_view query) {
    const auto code = parse_unsigned(query_value(query, "code"), 255);
    if (!code) return respond(http::status::bad_request, "/exit needs code=N with N from 0 to 255\n");
    respond(http::status::ok, "exiting with status " + std::to_string(*code) + "\n");
    response_.keep_alive(false);
    response_.prepare_payload();
    boost::system::error_code ignored;
    http::write(socket_, response_, ignored);
    spdlog::warn("exiting with status {} as /exit requests", *code);
    ::_exit(static_cast<int>(*code));
  }

  void handle_leak(std::string_view query) {
    const auto mb = parse_unsigned(query_value(query, "mb"), max_leak_mb);
    if (!mb || *mb == 0) return respond(http::status::bad_request, "/leak needs mb=N with N from 1 to 65536\n");
    leak_memory(*mb);
    spdlog::info("leaked {} MiB as /leak requests, {} MiB in all", *mb, leaked_mb);
    respond(http::status::ok, "leaked " + std::to_string(*mb) + " MiB, " + std::to_string(leaked_mb) + " MiB in all\n");
  }

  std::shared_ptr<demo_server::impl> server_;
  std::list<demo_session*>::iterator position_;
  tcp::socket socket_;
  boost::beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::empty_body>> parser_;
  http::response<http::string_body> response_;
  asio::steady_timer sleep_timer_;
  asio::steady_timer drain_timer_;
  bool idle_ = true;
};

void demo_server::impl::do_accept() {
  acceptor_.async_accept([self = shared_from_this()](boost::system::error_code ec, tcp::socket socket) {
    if (!ec) {
      // Serve it even when the acceptor has closed meanwhile (a drain began
      // after the kernel handed this connection over): dropping it would
      // reset a connection the client saw accepted.
      self->start_session(std::move(socket));
      if (self->acceptor_.is_open()) self->do_accept();
      return;
    }
    if (ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    // A socket that no longer listens: a supervisor shut it down to take it
    // out of a reuseport group while this worker drains.
    if (ec == asio::error::invalid_argument) {
      return spdlog::info("the listening socket was shut down; accepting no more");
    }
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays queued in the
    // kernel, so wait a little and try again.
    spdlog::error("accept failed: {}; retrying in {} ms", ec.message(), accept_retry_delay.count());
    self->retry_timer_.expires_after(accept_retry_delay);
    self->retry_timer_.async_wait([self](boost::system::error_code timer_ec) {
      if (!timer_ec) self->do_accept();
    });
  });
}

void demo_server::impl::start_session(tcp::socket socket) {
  boost::system::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  if (auto* stats = options_.stats) {
    stats->accepted.fetch_add(1, std::memory_order_relaxed);
    stats->active.fetch_add(1, std::memory_order_relaxed);
  }
  std::make_shared<demo_session>(shared_from_this(), std::move(socket))->start();
}

void demo_server::impl::close_idle_connections() {
  for (auto* session : sessions) {
    if (session->idle()) session->close();
  }
}

void demo_server::impl::drain(std::function<void()> drained) {
  drained_ = std::move(drained);
  draining_ = true;
  stop_accepting();
  for (auto* session : sessions) session->close_when_idle();
  session_closed();
}

void demo_server::impl::session_closed() {
  if (!drained_ || !sessions.empty()) return;
  // Post, so the callback runs once the closing session is fully gone.
  asio::post(acceptor_.get_executor(), std::exchange(drained_, {}));
}

void demo_server::impl::stop() {
  stop_accepting();
  for (auto* session : sessions) session->close();
}

demo_server::demo_server(asio::io_context& context, int listen_fd, demo_options options)
    : impl_(std::make_shared<impl>(context, listen_fd, options)) {
  impl_->do_accept();
}

demo_server::~demo_server() { impl_->stop(); }

void demo_server::adopt(int connection_fd) {
  tcp::socket socket(impl_->executor());
  boost::system::error_code ec;
  tcp protocol = tcp::v4();
  try {
    protocol = impl::socket_protocol(connection_fd);
  } catch (...) {
    ::close(connection_fd);
    throw;
  }
  socket.assign(protocol, connection_fd, ec);
  if (ec) {
    ::close(connection_fd);
    throw boost::system::system_error(ec, "adopting a connection");
  }
  impl_->start_session(std::move(socket));
}

void demo_server::stop_accepting() { impl_->stop_accepting(); }
void demo_server::close_idle_connections() { impl_->close_idle_connections(); }
void demo_server::stop() { impl_->stop(); }
void demo_server::drain(std::function<void()> drained) { impl_->drain(std::move(drained)); }
std::size_t demo_server::connection_count() const noexcept { return impl_->sessions.size(); }

}  // namespace band::common
