// The master's cost per connection under round-robin and least-conn:
// accepting it, passing it over a worker's SOCK_SEQPACKET channel with
// SCM_RIGHTS, and the worker taking it. Both ends run in this one thread, so
// the figures leave out the wake-up of another process.
#include "handoff.hpp"

#include <band/common/listener.hpp>

#include <benchmark/benchmark.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <string>
#include <system_error>

namespace {

[[noreturn]] void throw_errno(const std::string& call) {
  throw std::system_error(errno, std::generic_category(), call);
}

// A worker channel, both ends closed when the benchmark ends.
struct channel {
  channel() { band::make_channel(ends); }
  ~channel() {
    ::close(ends[0]);
    ::close(ends[1]);
  }
  int master() const { return ends[0]; }
  int worker() const { return ends[1]; }
  int ends[2] = {-1, -1};
};

// Connections waiting in a loopback listener's backlog, made in batches
// while the clock is stopped, so that the timed part is the server's side.
class client_batch {
 public:
  static constexpr std::size_t size = 64;

  explicit client_batch(const band::common::listener& server) {
    socklen_t length = sizeof address_;
    if (::getsockname(server.fd(), reinterpret_cast<sockaddr*>(&address_), &length) != 0) throw_errno("getsockname");
    clients_.fill(-1);
  }
  ~client_batch() { close_all(); }

  // Closes the previous batch and connects `size` new clients.
  void refill() {
    close_all();
    for (int& fd : clients_) {
      fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) throw_errno("socket");
      // A reset instead of a FIN on close leaves no TIME_WAIT behind, so a
      // long run does not use up the loopback's ephemeral ports.
      const linger reset_on_close{1, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof reset_on_close);
      if (::connect(fd, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0) throw_errno("connect");
    }
  }

 private:
  void close_all() {
    for (int& fd : clients_) {
      if (fd >= 0) ::close(fd);
      fd = -1;
    }
  }

  sockaddr_in address_{};
  std::array<int, size> clients_{};
};

// Sends `fd` over the channel as the master does and receives it as the
// worker does. Returns the worker's copy, or -1 after marking the benchmark
// failed.
int hand_off(benchmark::State& state, channel& worker_channel, int fd, std::uint64_t sequence) {
  if (band::send_connection(worker_channel.master(), fd, sequence) != band::transfer::done) {
    state.SkipWithError("send_connection did not complete");
    return -1;
  }
  int taken_fd = -1;
  std::uint64_t taken_sequence = 0;
  if (band::receive_connection(worker_channel.worker(), taken_fd, taken_sequence) != band::transfer::done) {
    state.SkipWithError("receive_connection did not complete");
    return -1;
  }
  return taken_fd;
}

// One connection's whole path through the master and into a worker:
// accept4, send_connection, receive_connection, and both copies closed (the
// master's as after the worker's acknowledgement, the worker's as the
// connection ends).
void BM_AcceptAndHandOff(benchmark::State& state) {
  const auto server = band::common::listener::open(band::common::parse_endpoint("127.0.0.1:0"), {.backlog = 1024});
  client_batch clients(server);
  channel worker_channel;
  std::uint64_t sequence = 0;
  std::size_t left_in_batch = 0;

  for (auto _ : state) {
    if (left_in_batch == 0) {
      state.PauseTiming();
      clients.refill();
      left_in_batch = client_batch::size;
      state.ResumeTiming();
    }
    --left_in_batch;

    const int connection_fd = ::accept4(server.fd(), nullptr, nullptr, SOCK_CLOEXEC);
    if (connection_fd < 0) {
      state.SkipWithError("accept4 failed");
      break;
    }
    const int taken_fd = hand_off(state, worker_channel, connection_fd, ++sequence);
    if (taken_fd < 0) break;
    ::close(connection_fd);
    ::close(taken_fd);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AcceptAndHandOff);

// The hand-off alone: one descriptor sent and received over the channel,
// and the received copy closed.
void BM_SendAndReceive(benchmark::State& state) {
  channel worker_channel;
  channel passed;  // any descriptor will do; this one is a socket, as a connection is
  std::uint64_t sequence = 0;

  for (auto _ : state) {
    const int taken_fd = hand_off(state, worker_channel, passed.master(), ++sequence);
    if (taken_fd < 0) break;
    ::close(taken_fd);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SendAndReceive);

// One acknowledgement, sent by the worker and read by the master. A worker
// sends one per burst of connections, so this is the most it adds to each.
void BM_Acknowledgement(benchmark::State& state) {
  channel worker_channel;
  std::uint64_t sequence = 0;

  for (auto _ : state) {
    std::uint64_t acknowledged = 0;
    if (band::send_ack(worker_channel.worker(), ++sequence) != band::transfer::done ||
        band::receive_ack(worker_channel.master(), acknowledged) != band::transfer::done) {
      state.SkipWithError("the acknowledgement did not arrive");
      break;
    }
    benchmark::DoNotOptimize(acknowledged);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Acknowledgement);

}  // namespace
