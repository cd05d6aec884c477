#include "worker.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace bare {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A request's line and headers must fit in this buffer; a request with a
// body is not served (the benchmark sends none).
constexpr std::size_t input_capacity = 8 * 1024;
// After accept() fails for lack of descriptors or memory, wait this long
// before trying again instead of spinning.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);

// The responses a worker sends, built at start so that a request costs
// no allocation.
struct responses {
  std::string ok;
  std::string ok_close;
  std::string not_found;
  std::string not_found_close;
  std::string too_large;  // always closes
};

std::string build_response(std::string_view status, std::string_view body, std::string_view pid, bool close) {
  std::string text;
  text.append("HTTP/1.1 ").append(status).append("\r\n");
  text.append("Content-Type: text/plain\r\n");
  text.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  text.append("X-Worker-Pid: ").append(pid).append("\r\n");
  if (close) text.append("Connection: close\r\n");
  text.append("\r\n").append(body);
  return text;
}

responses build_responses(unsigned slot) {
  const std::string pid = std::to_string(::getpid());
  const std::string body = "worker " + std::to_string(slot) + " pid " + pid + "\n";
  return {
      build_response("200 OK", body, pid, false),
      build_response("200 OK", body, pid, true),
      build_response("404 Not Found", "not found\n", pid, false),
      build_response("404 Not Found", "not found\n", pid, true),
      build_response("431 Request Header Fields Too Large", "request header too large\n", pid, true),
  };
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool contains_ignoring_case(std::string_view text, std::string_view word) {
  for (std::size_t i = 0; i + word.size() <= text.size(); ++i) {
    if (equals_ignoring_case(text.substr(i, word.size()), word)) return true;
  }
  return false;
}

// Whether the connection stays open after the response: HTTP/1.1 without
// "Connection: close". An HTTP/1.0 request gets its response, then the
// connection closes.
bool wants_keep_alive(std::string_view request_line, std::string_view headers) {
  if (!request_line.ends_with("HTTP/1.1")) return false;
  while (!headers.empty()) {
    const auto end = headers.find("\r\n");
    const std::string_view line = headers.substr(0, end);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos && equals_ignoring_case(line.substr(0, colon), "connection") &&
        contains_ignoring_case(line.substr(colon + 1), "close")) {
      return false;
    }
    if (end == std::string_view::npos) break;
    headers.remove_prefix(end + 2);
  }
  return true;
}

class connection : public std::enable_shared_from_this<connection> {
 public:
  connection(tcp::socket socket, const responses& answers, band::common::connection_stats* stats)
      : socket_(std::move(socket)), answers_(answers), stats_(stats) {
    if (stats_ == nullptr) return;
    stats_->accepted.fetch_add(1, std::memory_order_relaxed);
    stats_->active.fetch_add(1, std::memory_order_relaxed);
  }

  ~connection() {
    if (stats_ != nullptr) stats_->active.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() { read(); }

 private:
  void read() {
    socket_.async_read_some(asio::buffer(input_.data() + used_, input_.size() - used_),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t size) {
                              if (ec) return;  // the client closed, or reset, the connection
                              self->used_ += size;
                              self->answer_complete_requests();
                            });
  }

  // Writes the responses to every complete request in the buffer (more
  // than one when the client pipelines) in one call: the prebuilt response
  // itself for one request, or a batch copied together for several.
  void answer_complete_requests() {
    const std::string_view input(input_.data(), used_);
    const std::string* first = nullptr;
    std::size_t consumed = 0;
    closing_ = false;
    while (!closing_) {
      const auto end = input.find("\r\n\r\n", consumed);
      if (end == std::string_view::npos) break;
      const std::string* response = choose_response(input.substr(consumed, end - consumed));
      consumed = end + 4;
      if (first == nullptr) {
        first = response;
      } else {
        if (batch_.empty()) batch_.append(*first);
        batch_.append(*response);
      }
      closing_ = response == &answers_.ok_close || response == &answers_.not_found_close;
    }

    if (first == nullptr && used_ == input_.size()) {
      closing_ = true;
      return write(asio::buffer(answers_.too_large));
    }
    std::memmove(input_.data(), input_.data() + consumed, used_ - consumed);
    used_ -= consumed;
    if (first == nullptr) return read();
    write(batch_.empty() ? asio::buffer(*first) : asio::buffer(batch_));
  }

  // The response to one request: its line and headers, without the blank line.
  const std::string* choose_response(std::string_view request) const {
    const auto line_end = request.find("\r\n");
    const std::string_view line = request.substr(0, line_end);
    const std::string_view headers = line_end == std::string_view::npos ? std::string_view{} : request.substr(line_end + 2);
    const bool keep_alive = wants_keep_alive(line, headers);
    if (line.starts_with("GET / ") || line.starts_with("GET /?")) return keep_alive ? &answers_.ok : &answers_.ok_close;
    return keep_alive ? &answers_.not_found : &answers_.not_found_close;
  }

  void write(asio::const_buffer data) {
    asio::async_write(socket_, data, [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      self->batch_.clear();
      if (ec) return;
      if (self->closing_) {
        boost::system::error_code ignored;
        self->socket_.shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      if (self->used_ > 0) return self->answer_complete_requests();
      self->read();
    });
  }

  tcp::socket socket_;
  const responses& answers_;
  band::common::connection_stats* stats_;
  std::array<char, input_capacity> input_;
  std::size_t used_ = 0;
  std::string batch_;
  bool closing_ = false;
};

}  // namespace

struct server::state {
  state(asio::io_context& context, unsigned slot, const tcp& protocol, int listen_fd,
        band::common::connection_stats* stats)
      : context(context),
        protocol(protocol),
        acceptor(context),
        retry_timer(context),
        answers(build_responses(slot)),
        stats(stats) {
    if (listen_fd >= 0) acceptor.assign(protocol, listen_fd);
  }

  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space || ec == asio::error::no_memory) {
        spdlog::error("accept failed: {}; retrying in {} ms", ec.message(), accept_retry_delay.count());
        retry_timer.expires_after(accept_retry_delay);
        retry_timer.async_wait([this](boost::system::error_code timer_ec) {
          if (!timer_ec) accept();
        });
        return;
      }
      if (ec == asio::error::operation_aborted) return;  // the server is being destroyed
      if (ec) {
        spdlog::error("accept failed: {}; this worker stops accepting", ec.message());
        return;
      }
      start(std::move(socket));
      accept();
    });
  }

  void start(tcp::socket socket) {
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<connection>(std::move(socket), answers, stats)->start();
  }

  asio::io_context& context;
  tcp protocol;
  tcp::acceptor acceptor;
  asio::steady_timer retry_timer;
  responses answers;
  band::common::connection_stats* stats;
};

server::server(asio::io_context& context, unsigned slot, const tcp& protocol, int listen_fd,
               band::common::connection_stats* stats)
    : state_(std::make_unique<state>(context, slot, protocol, listen_fd, stats)) {
  if (listen_fd >= 0) state_->accept();
}

server::~server() = default;

void server::adopt(int connection_fd) {
  boost::system::error_code ec;
  tcp::socket socket(state_->context);
  socket.assign(state_->protocol, connection_fd, ec);
  if (ec) {
    spdlog::error("cannot serve connection {}: {}", connection_fd, ec.message());
    ::close(connection_fd);
    return;
  }
  state_->start(std::move(socket));
}

void serve(unsigned slot, const tcp& protocol, int listen_fd) {
  asio::io_context context(1);
  server listening(context, slot, protocol, listen_fd);
  context.run();
}

}  // namespace bare
