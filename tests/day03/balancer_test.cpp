// Unit tests of the master's balancer without child processes: the test
// plays the workers through the worker ends of their channels, and connects
// to the balancer's loopback listener as the clients.
#include "balancer.hpp"
#include "descriptors.hpp"

#include <band/common/listener.hpp>
#include <band_test.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <map>
#include <system_error>
#include <vector>

namespace band::test {
namespace {

using ::testing::ElementsAre;

// A connection as a fake worker took it from its channel.
struct taken_connection {
  unsigned short client_port = 0;  // the client's end, to tell connections apart
  std::uint64_t sequence = 0;
  unique_fd fd;
};

unsigned short port_of(const sockaddr_in& address) { return ntohs(address.sin_port); }

// The master's balancer on a loopback listener, with fake workers.
class fake_band {
 public:
  fake_band(balance strategy, unsigned slots)
      : listener_(common::listener::open(common::parse_endpoint("127.0.0.1:0"))),
        table_(slots),
        balancer_(context_, listener_.fd(), strategy, table_),
        workers_(slots),
        taken_(slots) {
    balancer_.start();
  }

  slot_table& table() { return table_; }
  balancer& master() { return balancer_; }

  // Gives `slot` a worker: the balancer gets the master's end of a new
  // channel, the test keeps the worker's end.
  void attach(unsigned slot) {
    auto ends = open_channel();
    balancer_.attach(slot, ends.master.release());
    workers_[slot] = std::move(ends.worker);
  }

  // The worker in `slot` dies: its end of the channel and the connections
  // it took close, as the kernel closes them when a process dies.
  void kill_worker(unsigned slot) {
    workers_[slot].reset();
    taken_[slot].clear();
  }

  // Connects a new client and returns its port.
  unsigned short connect_client() {
    unique_fd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (client.get() < 0) throw std::system_error(errno, std::generic_category(), "socket");
    sockaddr_in server{};
    socklen_t size = sizeof server;
    ::getsockname(listener_.fd(), reinterpret_cast<sockaddr*>(&server), &size);
    if (::connect(client.get(), reinterpret_cast<sockaddr*>(&server), sizeof server) != 0) {
      throw std::system_error(errno, std::generic_category(), "connect to the balancer's listener");
    }
    sockaddr_in local{};
    size = sizeof local;
    ::getsockname(client.get(), reinterpret_cast<sockaddr*>(&local), &size);
    clients_[port_of(local)] = std::move(client);
    return port_of(local);
  }

  int client(unsigned short port) const { return clients_.at(port).get(); }

  // Runs the master's event loop, and takes what reaches the fake workers,
  // until `condition` holds. Returns false after default_timeout.
  template <class Condition>
  bool run_until(Condition&& condition) {
    const auto deadline = std::chrono::steady_clock::now() + default_timeout;
    for (;;) {
      context_.restart();
      context_.run_for(poll_interval);
      take_connections();
      if (condition()) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
    }
  }

  const std::vector<taken_connection>& taken(unsigned slot) const { return taken_[slot]; }
  std::vector<unsigned short> ports_taken(unsigned slot) const {
    std::vector<unsigned short> ports;
    for (const auto& connection : taken_[slot]) ports.push_back(connection.client_port);
    return ports;
  }
  std::size_t total_taken() const {
    std::size_t total = 0;
    for (const auto& connections : taken_) total += connections.size();
    return total;
  }

 private:
  void take_connections() {
    for (unsigned slot = 0; slot < workers_.size(); ++slot) {
      if (workers_[slot].get() < 0) continue;
      int fd = -1;
      std::uint64_t sequence = 0;
      while (receive_connection(workers_[slot].get(), fd, sequence) == transfer::done) {
        sockaddr_in peer{};
        socklen_t size = sizeof peer;
        ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &size);
        taken_[slot].push_back({port_of(peer), sequence, unique_fd(fd)});
      }
    }
  }

  boost::asio::io_context context_;
  common::listener listener_;
  slot_table table_;
  balancer balancer_;
  std::vector<unique_fd> workers_;
  std::vector<std::vector<taken_connection>> taken_;
  std::map<unsigned short, unique_fd> clients_;
};

// What a client reads now without waiting: 0 at the end of the stream, -1
// (EAGAIN) while the connection is open and quiet.
ssize_t peek(int client_fd) {
  char byte = 0;
  return ::recv(client_fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
}

TEST(Balancer, RoundRobinAlternates) {
  fake_band band(balance::round_robin, 2);
  band.attach(0);
  band.attach(1);
  const auto first = band.connect_client();
  const auto second = band.connect_client();
  const auto third = band.connect_client();
  const auto fourth = band.connect_client();

  ASSERT_TRUE(band.run_until([&] { return band.total_taken() == 4; }));
  EXPECT_THAT(band.ports_taken(0), ElementsAre(first, third));
  EXPECT_THAT(band.ports_taken(1), ElementsAre(second, fourth));
  EXPECT_EQ(band.taken(0)[0].sequence, 1u);
  EXPECT_EQ(band.taken(0)[1].sequence, 2u);
}

// Slot 0's worker reports 3 open connections. The first three new ones go
// to slot 1, whose load then is 3 unacknowledged hand-offs: the tie goes to
// slot 0, round-robin. Had least-conn ignored the unacknowledged ones, all
// four would go to slot 1.
TEST(Balancer, LeastConnCountsBothLoads) {
  fake_band band(balance::least_conn, 2);
  band.table()[0].stats.active = 3;
  band.attach(0);
  band.attach(1);
  std::vector<unsigned short> ports;
  for (int client = 0; client < 4; ++client) ports.push_back(band.connect_client());

  ASSERT_TRUE(band.run_until([&] { return band.total_taken() == 4; }));
  EXPECT_THAT(band.ports_taken(1), ElementsAre(ports[0], ports[1], ports[2]));
  EXPECT_THAT(band.ports_taken(0), ElementsAre(ports[3]));
}

// The master keeps its copy of a connection until the worker acknowledges
// it, and then closes that copy.
TEST(Balancer, AckClosesMasterCopy) {
  fake_band band(balance::round_robin, 1);
  int worker_end = -1;
  {
    auto ends = open_channel();
    band.master().attach(0, ends.master.release());
    worker_end = ends.worker.release();
  }
  const unique_fd worker(worker_end);
  const auto port = band.connect_client();

  int taken_fd = -1;
  std::uint64_t sequence = 0;
  ASSERT_TRUE(band.run_until([&] { return receive_connection(worker.get(), taken_fd, sequence) == transfer::done; }));
  ::close(taken_fd);
  // Only the master's copy keeps the connection open now.
  EXPECT_EQ(peek(band.client(port)), -1);

  ASSERT_EQ(send_ack(worker.get(), sequence), transfer::done);
  EXPECT_TRUE(band.run_until([&] { return peek(band.client(port)) == 0; })) << "the client never saw the end";
}

// Worker 0 dies holding two connections it never acknowledged: both go to
// worker 1, in the order they arrived, still open.
TEST(Balancer, DetachPassesOnUnacknowledged) {
  fake_band band(balance::round_robin, 2);
  band.attach(0);
  band.attach(1);
  std::vector<unsigned short> ports;
  for (int client = 0; client < 4; ++client) ports.push_back(band.connect_client());
  ASSERT_TRUE(band.run_until([&] { return band.total_taken() == 4; }));
  ASSERT_THAT(band.ports_taken(0), ElementsAre(ports[0], ports[2]));

  band.kill_worker(0);
  band.master().detach(0);
  ASSERT_TRUE(band.run_until([&] { return band.taken(1).size() == 4; }));
  EXPECT_THAT(band.ports_taken(1), ElementsAre(ports[1], ports[3], ports[0], ports[2]));
  EXPECT_EQ(peek(band.client(ports[0])), -1);
  EXPECT_EQ(peek(band.client(ports[2])), -1);
}

// With no worker to take them, the master holds the connections it accepted
// and hands them out in order once a worker comes.
TEST(Balancer, HoldsConnectionsUntilWorker) {
  fake_band band(balance::round_robin, 1);
  const auto before = open_descriptors(::getpid()).size();
  const auto first = band.connect_client();
  const auto second = band.connect_client();
  // Two client sockets, and the two the master accepted.
  ASSERT_TRUE(band.run_until([&] { return open_descriptors(::getpid()).size() == before + 4; }));

  band.attach(0);
  ASSERT_TRUE(band.run_until([&] { return band.total_taken() == 2; }));
  EXPECT_THAT(band.ports_taken(0), ElementsAre(first, second));
}

// A worker that died before the master reaped it: sending to it fails, and
// the connection goes to the next worker.
TEST(Balancer, DeadChannelSkipped) {
  fake_band band(balance::round_robin, 2);
  band.attach(0);
  band.attach(1);
  band.kill_worker(0);
  const auto first = band.connect_client();
  const auto second = band.connect_client();

  ASSERT_TRUE(band.run_until([&] { return band.total_taken() == 2; }));
  EXPECT_THAT(band.ports_taken(1), ElementsAre(first, second));
}

TEST(Balancer, StopClosesHeldConnections) {
  fake_band band(balance::round_robin, 1);
  const auto before = open_descriptors(::getpid()).size();
  const auto port = band.connect_client();
  ASSERT_TRUE(band.run_until([&] { return open_descriptors(::getpid()).size() == before + 2; }));

  band.master().stop();
  EXPECT_TRUE(poll_until([&] { return peek(band.client(port)) == 0; })) << "the client never saw the end";
}

}  // namespace
}  // namespace band::test
