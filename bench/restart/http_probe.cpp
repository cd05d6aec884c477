#include "http_probe.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <string_view>
#include <utility>

namespace bench {

namespace {

namespace http = boost::beast::http;

constexpr std::string_view root_request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
// The demo's response to `GET /` has a body of a few dozen bytes. The limit
// stops a wrong server from feeding the parser forever.
constexpr std::uint64_t max_body_bytes = 64 * 1024;

probe_result failure(probe_outcome outcome, int error = 0) { return probe_result{outcome, 0, 0, error, clock::now()}; }

probe_result failure_from_errno(int error) {
  if (error == ECONNREFUSED) return failure(probe_outcome::refused);
  if (error == ECONNRESET || error == EPIPE) return failure(probe_outcome::reset);
  return failure(probe_outcome::socket_error, error);
}

pid_t parse_pid(std::string_view text) {
  pid_t pid = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (error != std::errc{} || end != text.data() + text.size() || pid <= 0) return 0;
  return pid;
}

probe_result response_result(const http::response<http::string_body>& response) {
  probe_result result{probe_outcome::response, response.result_int(), 0, 0, clock::now()};
  if (const auto header = response.find("X-Worker-Pid"); header != response.end()) {
    result.worker_pid = parse_pid(header->value());
  }
  return result;
}

}  // namespace

sockaddr_in loopback_address(const listen_address& address) {
  sockaddr_in server{};
  server.sin_family = AF_INET;
  server.sin_port = htons(address.port);
  if (::inet_pton(AF_INET, address.host.c_str(), &server.sin_addr) != 1) {
    throw std::invalid_argument("the server listens on '" + address.host +
                                "', not an IPv4 address; start it with --listen 127.0.0.1:0");
  }
  if ((ntohl(server.sin_addr.s_addr) >> 24) != 127) {
    throw std::invalid_argument("the server listens on " + address.host +
                                ", outside 127.0.0.0/8; bench-restart only probes loopback addresses");
  }
  return server;
}

probe_fleet::probe_fleet(const sockaddr_in& server) : server_(server) {}

probe_fleet::~probe_fleet() { abandon(); }

void probe_fleet::start() {
  auto current = std::make_unique<probe>();
  current->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (current->fd < 0) {
    finished_.push_back(failure(probe_outcome::socket_error, errno));
    return;
  }
  current->parser.eager(true);
  current->parser.body_limit(max_body_bytes);

  std::optional<probe_result> result;
  if (::connect(current->fd, reinterpret_cast<const sockaddr*>(&server_), sizeof server_) == 0) {
    current->connected = true;
    result = advance(*current);
  } else if (errno != EINPROGRESS) {
    result = failure_from_errno(errno);
  }
  if (result) {
    ::close(current->fd);
    finished_.push_back(*result);
    return;
  }
  probes_.push_back(std::move(current));
}

std::vector<probe_result> probe_fleet::wait(clock::time_point until) {
  // Results from start() need no wait, but the other probes still get a look.
  const timespec timeout = finished_.empty() ? to_timespec(until - clock::now()) : timespec{0, 0};
  if (probes_.empty()) {
    ::nanosleep(&timeout, nullptr);
    return std::exchange(finished_, {});
  }

  std::vector<pollfd> polls;
  polls.reserve(probes_.size());
  for (const auto& current : probes_) {
    const bool reading = current->connected && current->sent == root_request.size();
    polls.push_back(pollfd{current->fd, static_cast<short>(reading ? POLLIN : POLLOUT), 0});
  }
  if (::ppoll(polls.data(), polls.size(), &timeout, nullptr) <= 0) return std::exchange(finished_, {});

  std::vector<std::unique_ptr<probe>> waiting;
  for (std::size_t i = 0; i < probes_.size(); ++i) {
    if (polls[i].revents != 0) {
      if (auto result = advance(*probes_[i])) {
        ::close(probes_[i]->fd);
        finished_.push_back(*result);
        continue;
      }
    }
    waiting.push_back(std::move(probes_[i]));
  }
  probes_ = std::move(waiting);
  return std::exchange(finished_, {});
}

std::size_t probe_fleet::abandon() noexcept {
  const std::size_t count = probes_.size();
  for (const auto& current : probes_) ::close(current->fd);
  probes_.clear();
  return count;
}

// Moves a probe on after poll() reported an event on its socket: finishes
// the connect, sends the rest of the request, or reads. Returns the result
// once the probe has one.
std::optional<probe_result> probe_fleet::advance(probe& current) {
  if (!current.connected) {
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(current.fd, SOL_SOCKET, SO_ERROR, &error, &size) != 0) return failure_from_errno(errno);
    if (error != 0) return failure_from_errno(error);
    current.connected = true;
  }
  if (current.sent < root_request.size()) {
    if (auto failed = send_request(current)) return failed;
    if (current.sent < root_request.size()) return std::nullopt;
  }
  return read_response(current);
}

std::optional<probe_result> probe_fleet::send_request(probe& current) {
  const std::string_view unsent = root_request.substr(current.sent);
  const ssize_t sent = ::send(current.fd, unsent.data(), unsent.size(), MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno == EAGAIN || errno == EINTR) return std::nullopt;
    return failure_from_errno(errno);
  }
  current.sent += static_cast<std::size_t>(sent);
  return std::nullopt;
}

// Reads what has arrived. Returns nullopt while the response is incomplete
// and the socket has nothing more for now.
std::optional<probe_result> probe_fleet::read_response(probe& current) {
  char chunk[4096];
  for (;;) {
    const ssize_t count = ::recv(current.fd, chunk, sizeof chunk, 0);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0 && errno == EAGAIN) return std::nullopt;
    if (count < 0) return failure_from_errno(errno);

    boost::system::error_code ec;
    if (count == 0) {
      // The server closed the connection: complete only for a response
      // whose body ends at the close.
      current.parser.put_eof(ec);
      if (ec || !current.parser.is_done()) return failure(probe_outcome::reset);
      return response_result(current.parser.get());
    }
    current.unparsed.append(chunk, static_cast<std::size_t>(count));
    const std::size_t used = current.parser.put(boost::asio::buffer(current.unparsed), ec);
    current.unparsed.erase(0, used);
    if (ec && ec != http::error::need_more) return failure(probe_outcome::bad_response);
    if (current.parser.is_done()) return response_result(current.parser.get());
  }
}

}  // namespace bench
