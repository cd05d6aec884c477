#include "band/common/listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace band::common {

namespace {

[[noreturn]] void throw_invalid(std::string_view text, std::string_view why) {
  throw std::invalid_argument("invalid address '" + std::string(text) + "': " + std::string(why) +
                              "; expected HOST:PORT such as 127.0.0.1:8080 or [::1]:8080");
}

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

}  // namespace

tcp_endpoint parse_endpoint(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) throw_invalid(text, "the port is missing");

  std::string_view host = text.substr(0, colon);
  const std::string_view port_text = text.substr(colon + 1);

  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc{} || end != port_text.data() + port_text.size() || port > 65535) {
    throw_invalid(text, "the port must be a number from 0 to 65535");
  }

  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) host = host.substr(1, host.size() - 2);
  if (host.empty()) throw_invalid(text, "the host is missing");
  if (host == "localhost") host = "127.0.0.1";

  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(std::string(host), ec);
  if (ec) throw_invalid(text, "the host is not a numeric IPv4 or IPv6 address");
  if (address.is_v6() && !bracketed) throw_invalid(text, "IPv6 addresses go in brackets");
  if (address.is_v4() && bracketed) throw_invalid(text, "only IPv6 addresses go in brackets");
  return {address, static_cast<unsigned short>(port)};
}

std::string to_string(const tcp_endpoint& endpoint) {
  const auto address = endpoint.address();
  // Appended piece by piece: GCC 12 gives a false -Wrestrict warning for
  // "[" + std::string.
  std::string text;
  if (address.is_v6()) text.append("[").append(address.to_string()).append("]");
  else text.append(address.to_string());
  return text.append(":").append(std::to_string(endpoint.port()));
}

listener listener::open(const tcp_endpoint& endpoint, const listen_options& options) {
  const std::string where = to_string(endpoint);
  const int family = endpoint.address().is_v6() ? AF_INET6 : AF_INET;
  listener result(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (result.fd_ < 0) throw_errno("socket for " + where);

  const int on = 1;
  // SO_REUSEADDR lets a restarted master bind while old connections linger in
  // TIME_WAIT; it does not let two listeners share the port (that is SO_REUSEPORT).
  if (::setsockopt(result.fd_, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
    throw_errno("setsockopt SO_REUSEADDR on " + where);
  }
  if (options.reuse_port && ::setsockopt(result.fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
    throw_errno("setsockopt SO_REUSEPORT on " + where);
  }
  if (family == AF_INET6 && ::setsockopt(result.fd_, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0) {
    throw_errno("setsockopt IPV6_V6ONLY on " + where);
  }
  if (::bind(result.fd_, endpoint.data(), static_cast<socklen_t>(endpoint.size())) != 0) {
    throw_errno("bind " + where);
  }
  if (::listen(result.fd_, options.backlog) != 0) throw_errno("listen on " + where);
  return result;
}

listener::listener(listener&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

listener& listener::operator=(listener&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

listener::~listener() { close(); }

void listener::close() noexcept {
  if (fd_ >= 0) ::close(std::exchange(fd_, -1));
}

tcp_endpoint listener::local_endpoint() const {
  tcp_endpoint endpoint;
  socklen_t size = static_cast<socklen_t>(endpoint.capacity());
  if (::getsockname(fd_, endpoint.data(), &size) != 0) throw_errno("getsockname");
  endpoint.resize(size);
  return endpoint;
}

}  // namespace band::common
