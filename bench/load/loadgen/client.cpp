#include "client.hpp"

#include "response_parser.hpp"

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <chrono>
#include <cstring>
#include <string_view>

namespace loadgen {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// A response's status line, headers and body must fit in this buffer.
constexpr std::size_t response_capacity = 16 * 1024;
// A closed-loop client waits this long after a failed request, so that a
// server refusing connections does not make it spin.
constexpr auto retry_delay = std::chrono::milliseconds(10);

enum class client_mode {
  keep_alive,         // closed loop, one connection for many requests
  close_per_request,  // closed loop, a new connection for each request
  one_shot,           // open loop: one request, then the client ends
};

class client : public std::enable_shared_from_this<client> {
 public:
  client(asio::io_context& context, const tcp::endpoint& target, const request_texts& requests, recorder& results,
         client_mode mode)
      : socket_(context), retry_timer_(context), target_(target), requests_(requests), results_(results), mode_(mode) {}

  // Closed loop: claims requests until the recorder stops handing them out.
  void start() { next_request(); }

  // Open loop: sends one request, counting its latency from `scheduled`, and
  // decrements `in_flight` when it ends. The count is shared because the
  // scheduler may end before its last requests.
  void start_one(clock::time_point scheduled, bool heavy, std::shared_ptr<std::size_t> in_flight) {
    started_ = scheduled;
    heavy_ = heavy;
    in_flight_ = std::move(in_flight);
    connect();
  }

 private:
  void next_request() {
    if (!results_.start_request(heavy_)) return close();
    started_ = clock::now();
    if (socket_.is_open()) return send();
    connect();
  }

  void connect() {
    socket_.async_connect(target_, [self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return self->fail("connect: " + ec.message());
      boost::system::error_code ignored;
      self->socket_.set_option(tcp::no_delay(true), ignored);
      self->send();
    });
  }

  void send() {
    const std::string& text = heavy_ ? requests_.heavy : requests_.light;
    asio::async_write(socket_, asio::buffer(text), [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
      if (ec) return self->fail("write: " + ec.message());
      self->read();
    });
  }

  void read() {
    socket_.async_read_some(asio::buffer(input_.data() + used_, input_.size() - used_),
                            [self = shared_from_this()](boost::system::error_code ec, std::size_t size) {
                              if (ec) return self->fail("read: " + ec.message());
                              self->used_ += size;
                              self->handle_input();
                            });
  }

  void handle_input() {
    const auto response = parse_response(std::string_view(input_.data(), used_));
    if (response.status == parse_status::invalid) return fail("invalid response: " + std::string(response.error));
    if (response.status == parse_status::incomplete) {
      if (used_ == input_.size()) return fail("response larger than 16 KiB");
      return read();
    }

    results_.record_response(heavy_, clock::now() - started_, response.code, response.worker_pid,
                             responses_on_connection_++ == 0);
    std::memmove(input_.data(), input_.data() + response.size, used_ - response.size);
    used_ -= response.size;
    if (mode_ == client_mode::one_shot) return finish();
    if (response.close || mode_ == client_mode::close_per_request) close();
    next_request();
  }

  void fail(const std::string& error_text) {
    results_.record_error(error_text);
    close();
    if (mode_ == client_mode::one_shot) return finish();
    retry_timer_.expires_after(retry_delay);
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->next_request();
    });
  }

  void close() {
    boost::system::error_code ignored;
    socket_.close(ignored);
    used_ = 0;
    responses_on_connection_ = 0;
  }

  void finish() {
    close();
    --*in_flight_;
  }

  tcp::socket socket_;
  asio::steady_timer retry_timer_;
  tcp::endpoint target_;
  const request_texts& requests_;
  recorder& results_;
  client_mode mode_;
  std::array<char, response_capacity> input_;
  std::size_t used_ = 0;
  std::size_t responses_on_connection_ = 0;
  clock::time_point started_;
  bool heavy_ = false;
  std::shared_ptr<std::size_t> in_flight_;
};

// Starts the open loop's requests on schedule: request i is due at
// start + i / rate, and a late timer starts every request already due.
class scheduler : public std::enable_shared_from_this<scheduler> {
 public:
  scheduler(asio::io_context& context, const tcp::endpoint& target, const request_texts& requests, double rate,
            std::size_t max_in_flight, recorder& results)
      : context_(context),
        timer_(context),
        target_(target),
        requests_(requests),
        interval_(std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(1.0 / rate))),
        max_in_flight_(max_in_flight),
        results_(results),
        next_due_(clock::now()) {}

  void tick() {
    const auto now = clock::now();
    while (next_due_ <= now) {
      bool heavy = false;
      if (!results_.start_request(heavy)) return;
      if (*in_flight_ >= max_in_flight_) {
        results_.record_skipped();
      } else {
        ++*in_flight_;
        std::make_shared<client>(context_, target_, requests_, results_, client_mode::one_shot)
            ->start_one(next_due_, heavy, in_flight_);
      }
      next_due_ += interval_;
    }
    timer_.expires_at(next_due_);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->tick();
    });
  }

 private:
  asio::io_context& context_;
  asio::steady_timer timer_;
  tcp::endpoint target_;
  const request_texts& requests_;
  clock::duration interval_;
  std::size_t max_in_flight_;
  recorder& results_;
  clock::time_point next_due_;
  std::shared_ptr<std::size_t> in_flight_ = std::make_shared<std::size_t>(0);
};

std::string build_request(const tcp::endpoint& target, const std::string& path, bool close) {
  std::string text = "GET " + path + " HTTP/1.1\r\nHost: " + target.address().to_string() + ":" +
                     std::to_string(target.port()) + "\r\n";
  if (close) text += "Connection: close\r\n";
  return text + "\r\n";
}

}  // namespace

request_texts build_requests(const tcp::endpoint& target, const std::string& light_path,
                             const std::string& heavy_path, bool close) {
  return {build_request(target, light_path, close), build_request(target, heavy_path, close)};
}

void start_closed_loop(asio::io_context& context, const tcp::endpoint& target, const request_texts& requests,
                       bool close, std::size_t connections, recorder& results) {
  const auto mode = close ? client_mode::close_per_request : client_mode::keep_alive;
  for (std::size_t i = 0; i < connections; ++i) {
    std::make_shared<client>(context, target, requests, results, mode)->start();
  }
}

void start_open_loop(asio::io_context& context, const tcp::endpoint& target, const request_texts& requests,
                     double rate, std::size_t max_in_flight, recorder& results) {
  std::make_shared<scheduler>(context, target, requests, rate, max_in_flight, results)->tick();
}

}  // namespace loadgen
