#include "band/common/listener.hpp"

#include "rejects.hpp"

#include <boost/asio/ip/address.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace band::common {
namespace {

using boost::asio::ip::make_address;
using testing::expect_rejected;

listener open_loopback(const listen_options& options = {}) {
  return listener::open(parse_endpoint("127.0.0.1:0"), options);
}

listener open_loopback_port(unsigned short port, const listen_options& options = {}) {
  return listener::open(tcp_endpoint(make_address("127.0.0.1"), port), options);
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

int socket_option(int fd, int level, int name) {
  int value = 0;
  socklen_t size = sizeof value;
  if (::getsockopt(fd, level, name, &value, &size) != 0) return -1;
  return value;
}

TEST(parse_endpoint, ipv4) {
  const auto endpoint = parse_endpoint("127.0.0.1:8080");
  EXPECT_EQ(endpoint.address(), make_address("127.0.0.1"));
  EXPECT_EQ(endpoint.port(), 8080);
}

TEST(parse_endpoint, ipv6_in_brackets) {
  const auto endpoint = parse_endpoint("[::1]:0");
  EXPECT_TRUE(endpoint.address().is_v6());
  EXPECT_EQ(endpoint.address(), make_address("::1"));
  EXPECT_EQ(endpoint.port(), 0);
}

TEST(parse_endpoint, localhost) {
  const auto endpoint = parse_endpoint("localhost:8080");
  EXPECT_EQ(endpoint.address(), make_address("127.0.0.1"));
  EXPECT_EQ(endpoint.port(), 8080);
}

TEST(parse_endpoint, port_range) {
  EXPECT_EQ(parse_endpoint("127.0.0.1:0").port(), 0);
  EXPECT_EQ(parse_endpoint("127.0.0.1:65535").port(), 65535);
}

TEST(parse_endpoint, rejects_invalid) {
  const std::string_view invalid[] = {
      "127.0.0.1",        // port missing
      "127.0.0.1:",       // port empty
      "127.0.0.1:65536",  // port out of range
      "127.0.0.1:-1",     //
      "127.0.0.1:80x",    // junk after the port
      "127.0.0.1:80 ",    //
      "abc:80",           // not a numeric address
      "example.com:80",   // names other than localhost would need DNS
      "::1:80",           // IPv6 without brackets
      "[::1]",            // port missing
      "[127.0.0.1]:80",   // IPv4 in brackets
      ":80",              // host empty
      "[]:80",            //
      "",
  };
  for (const auto text : invalid) expect_rejected(text, parse_endpoint);
}

TEST(endpoint_to_string, round_trip) {
  for (const std::string_view text : {"127.0.0.1:8080", "0.0.0.0:0", "[::1]:0", "[2001:db8::1]:65535"}) {
    EXPECT_EQ(to_string(parse_endpoint(text)), text);
  }
}

TEST(endpoint_to_string, localhost_as_address) {
  EXPECT_EQ(to_string(parse_endpoint("localhost:80")), "127.0.0.1:80");
}

TEST(listener, default_is_closed) {
  listener socket;
  EXPECT_EQ(socket.fd(), -1);
  socket.close();
  EXPECT_EQ(socket.fd(), -1);
}

TEST(listener, port_zero_gets_real_port) {
  const auto socket = open_loopback();
  ASSERT_GE(socket.fd(), 0);
  const auto endpoint = socket.local_endpoint();
  EXPECT_EQ(endpoint.address(), make_address("127.0.0.1"));
  EXPECT_NE(endpoint.port(), 0);
}

TEST(listener, close_on_exec) {
  const auto socket = open_loopback();
  const int flags = ::fcntl(socket.fd(), F_GETFD);
  ASSERT_NE(flags, -1) << std::strerror(errno);
  EXPECT_TRUE(flags & FD_CLOEXEC);
}

TEST(listener, is_listening) {
  const auto socket = open_loopback();
  EXPECT_EQ(socket_option(socket.fd(), SOL_SOCKET, SO_ACCEPTCONN), 1);

  // The kernel completes a loopback connection from the backlog before
  // accept(), so a blocking connect() returns at once.
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0) << std::strerror(errno);
  const auto endpoint = socket.local_endpoint();
  const int result = ::connect(client, endpoint.data(), static_cast<socklen_t>(endpoint.size()));
  const int connect_errno = errno;
  ::close(client);
  EXPECT_EQ(result, 0) << std::strerror(connect_errno);
}

TEST(listener, ipv6_loopback) {
  std::optional<listener> socket;
  try {
    socket.emplace(listener::open(parse_endpoint("[::1]:0")));
  } catch (const std::system_error& error) {
    if (error.code() == std::errc::address_not_available || error.code() == std::errc::address_family_not_supported) {
      GTEST_SKIP() << "no IPv6 loopback here: " << error.what();
    }
    throw;
  }
  const auto endpoint = socket->local_endpoint();
  EXPECT_EQ(endpoint.address(), make_address("::1"));
  EXPECT_NE(endpoint.port(), 0);
  EXPECT_EQ(socket_option(socket->fd(), IPPROTO_IPV6, IPV6_V6ONLY), 1);
  EXPECT_EQ(socket_option(socket->fd(), SOL_SOCKET, SO_ACCEPTCONN), 1);
}

TEST(listener, port_in_use) {
  const auto first = open_loopback();
  const auto port = first.local_endpoint().port();
  try {
    open_loopback_port(port);
    FAIL() << "a second listener bound port " << port;
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::address_in_use);
    EXPECT_THAT(error.what(), ::testing::HasSubstr("bind 127.0.0.1:" + std::to_string(port)));
  }
}

TEST(listener, reuse_port_shares_port) {
  const listen_options shared{.reuse_port = true};
  const auto first = open_loopback(shared);
  const auto port = first.local_endpoint().port();
  const auto second = open_loopback_port(port, shared);
  EXPECT_EQ(second.local_endpoint().port(), port);
  EXPECT_EQ(socket_option(first.fd(), SOL_SOCKET, SO_REUSEPORT), 1);
  EXPECT_EQ(socket_option(second.fd(), SOL_SOCKET, SO_REUSEPORT), 1);
}

TEST(listener, reuse_port_needs_both) {
  const auto first = open_loopback();
  const auto port = first.local_endpoint().port();
  try {
    open_loopback_port(port, {.reuse_port = true});
    FAIL() << "port " << port << " was shared with a listener without SO_REUSEPORT";
  } catch (const std::system_error& error) {
    EXPECT_EQ(error.code(), std::errc::address_in_use);
  }
}

TEST(listener, move_closes_once) {
  std::optional<listener> source(open_loopback());
  const int fd = source->fd();
  {
    const listener target(std::move(*source));
    EXPECT_EQ(source->fd(), -1);
    EXPECT_EQ(target.fd(), fd);
    EXPECT_TRUE(is_open(fd));
  }
  EXPECT_FALSE(is_open(fd));

  // Give the freed number to a new descriptor: if the moved-from listener
  // closed its old number again, it would close this one.
  const int reused = ::fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, fd);
  ASSERT_EQ(reused, fd);
  source.reset();
  EXPECT_TRUE(is_open(reused));
  ::close(reused);
}

TEST(listener, move_assign_closes_target) {
  auto source = open_loopback();
  auto target = open_loopback();
  const int source_fd = source.fd();
  const int target_fd = target.fd();

  target = std::move(source);
  EXPECT_EQ(source.fd(), -1);
  EXPECT_EQ(target.fd(), source_fd);
  EXPECT_TRUE(is_open(source_fd));
  EXPECT_FALSE(is_open(target_fd));
}

TEST(listener, self_move_assign_keeps_socket) {
  auto socket = open_loopback();
  const int fd = socket.fd();
  listener& alias = socket;  // through a reference, so the compiler does not warn of a self-move
  socket = std::move(alias);
  EXPECT_EQ(socket.fd(), fd);
  EXPECT_TRUE(is_open(fd));
}

TEST(listener, close_is_idempotent) {
  auto socket = open_loopback();
  const int fd = socket.fd();
  socket.close();
  EXPECT_EQ(socket.fd(), -1);
  EXPECT_FALSE(is_open(fd));
  socket.close();
  EXPECT_EQ(socket.fd(), -1);
}

}  // namespace
}  // namespace band::common
