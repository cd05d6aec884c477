#include "balancer.hpp"

#include "handoff.hpp"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>

namespace band {

namespace asio = boost::asio;

namespace {

// Connections accepted in one go before the master turns to other events.
constexpr int accept_batch = 64;
// Connections the master holds while no worker can take them. Past this it
// stops accepting, and new connections wait in the kernel's listen backlog.
constexpr std::size_t max_waiting = 1024;
// After accept() fails for lack of descriptors or memory, wait this long.
constexpr auto accept_retry_delay = std::chrono::milliseconds(100);

// The connections sent to a worker that its server has not counted in
// `active` yet. A server that counts `accepted` gives the exact number: sent
// minus accepted. For one that does not, the unacknowledged connections are
// the estimate. It counts twice those the worker has taken but whose
// acknowledgement the master has not read, which during a burst of
// connections pushed them to the slower worker.
std::int64_t uncounted(std::size_t unacknowledged, std::uint64_t sent, std::uint64_t accepted) {
  if (accepted == 0 || accepted > sent) return static_cast<std::int64_t>(unacknowledged);
  return static_cast<std::int64_t>(sent - accepted);
}

}  // namespace

balancer::balancer(asio::io_context& context, int listen_fd, balance strategy, slot_table& table)
    : context_(context),
      strategy_(strategy),
      table_(table),
      listen_fd_(listen_fd),
      listen_watch_(context),
      accept_retry_timer_(context) {
  // Only the master accepts in these strategies, and it must never block in
  // accept(): the listening socket becomes non-blocking.
  const int flags = ::fcntl(listen_fd, F_GETFL);
  if (flags < 0 || ::fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    throw std::system_error(errno, std::generic_category(), "fcntl O_NONBLOCK on the listening socket");
  }
  const int watch_fd = ::fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
  if (watch_fd < 0) throw std::system_error(errno, std::generic_category(), "dup of the listening socket");
  listen_watch_.assign(watch_fd);
  for (std::size_t slot = 0; slot < table.size(); ++slot) channels_.push_back(std::make_unique<channel>(context));
}

balancer::~balancer() { stop(); }

void balancer::start() {
  accepting_ = true;
  wait_for_connections();
}

void balancer::wait_for_connections() {
  if (!accepting_ || waiting_for_connections_ || waiting_.size() >= max_waiting) return;
  waiting_for_connections_ = true;
  listen_watch_.async_wait(asio::posix::descriptor_base::wait_read, [this](boost::system::error_code ec) {
    waiting_for_connections_ = false;
    if (ec || !accepting_) return;
    accept_connections();
  });
}

void balancer::accept_connections() {
  for (int count = 0; count < accept_batch && waiting_.size() < max_waiting; ++count) {
    const int connection_fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection_fd >= 0) {
      dispatch(connection_fd);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    if (errno == EINTR || errno == ECONNABORTED) continue;
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays queued in the
    // kernel, so wait a little and try again.
    spdlog::error("accept failed: {}; retrying in {} ms", std::strerror(errno), accept_retry_delay.count());
    accept_retry_timer_.expires_after(accept_retry_delay);
    accept_retry_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) wait_for_connections();
    });
    return;
  }
  wait_for_connections();
}

bool balancer::usable(unsigned slot) const {
  const channel& c = *channels_[slot];
  return c.descriptor.is_open() && !c.blocked;
}

// Round-robin takes the next usable slot after the last one chosen.
// Least-conn takes the slot with the fewest connections: those the worker
// reports open in the slot table, plus those sent that it has not counted
// yet. Ties go round-robin.
std::optional<unsigned> balancer::choose_slot() const {
  const auto count = static_cast<unsigned>(channels_.size());
  std::optional<unsigned> best;
  std::int64_t best_load = std::numeric_limits<std::int64_t>::max();
  for (unsigned step = 0; step < count; ++step) {
    const unsigned slot = (next_slot_ + step) % count;
    if (!usable(slot)) continue;
    if (strategy_ == balance::round_robin) return slot;
    const auto& stats = table_[slot].stats;
    const channel& c = *channels_[slot];
    const std::int64_t load = stats.active.load(std::memory_order_relaxed) +
                              uncounted(c.unacknowledged.size(), c.next_sequence - 1,
                                        stats.accepted.load(std::memory_order_relaxed) - c.accepted_before);
    if (load < best_load) {
      best = slot;
      best_load = load;
    }
  }
  return best;
}

void balancer::dispatch(int connection_fd) {
  // Earlier connections go first: a new one waits behind those already waiting.
  if (waiting_.empty() && try_send(connection_fd)) return;
  waiting_.push_back(connection_fd);
  dispatch_waiting();
}

// Sends one connection to the slot the strategy chooses. Returns false when
// no worker can take it now.
bool balancer::try_send(int connection_fd) {
  while (const auto slot = choose_slot()) {
    channel& c = *channels_[*slot];
    const std::uint64_t sequence = c.next_sequence;
    const transfer result = send_connection(c.descriptor.native_handle(), connection_fd, sequence);
    if (result == transfer::done) {
      ++c.next_sequence;
      c.unacknowledged.emplace_back(sequence, connection_fd);
      next_slot_ = (*slot + 1) % static_cast<unsigned>(channels_.size());
      return true;
    }
    // A full channel, or a worker that died and whose SIGCHLD is on its way:
    // try the other slots meanwhile.
    c.blocked = true;
    if (result == transfer::would_block) wait_until_writable(*slot);
  }
  return false;
}

void balancer::dispatch_waiting() {
  while (!waiting_.empty() && try_send(waiting_.front())) waiting_.pop_front();
  wait_for_connections();
}

void balancer::wait_until_writable(unsigned slot) {
  channels_[slot]->descriptor.async_wait(asio::posix::descriptor_base::wait_write,
                                         [this, slot](boost::system::error_code ec) {
                                           if (ec) return;
                                           channels_[slot]->blocked = false;
                                           dispatch_waiting();
                                         });
}

void balancer::attach(unsigned slot, int channel_fd) {
  channel& c = *channels_[slot];
  c.descriptor.assign(channel_fd);
  c.blocked = false;
  c.next_sequence = 1;
  c.accepted_before = table_[slot].stats.accepted.load(std::memory_order_relaxed);
  wait_for_acks(slot);
  dispatch_waiting();
}

void balancer::wait_for_acks(unsigned slot) {
  channels_[slot]->descriptor.async_wait(asio::posix::descriptor_base::wait_read,
                                         [this, slot](boost::system::error_code ec) {
                                           if (!ec) read_acks(slot);
                                         });
}

void balancer::read_acks(unsigned slot) {
  channel& c = *channels_[slot];
  for (;;) {
    std::uint64_t acknowledged = 0;
    const transfer result = receive_ack(c.descriptor.native_handle(), acknowledged);
    if (result == transfer::closed) return;  // the worker is gone; detach() follows its SIGCHLD
    if (result == transfer::would_block) return wait_for_acks(slot);
    while (!c.unacknowledged.empty() && c.unacknowledged.front().first <= acknowledged) {
      ::close(c.unacknowledged.front().second);
      c.unacknowledged.pop_front();
    }
  }
}

void balancer::detach(unsigned slot) {
  channel& c = *channels_[slot];
  boost::system::error_code ignored;
  c.descriptor.close(ignored);
  auto orphans = std::exchange(c.unacknowledged, {});
  if (orphans.empty()) return;
  const char* noun = orphans.size() == 1 ? "connection" : "connections";
  if (!accepting_) {
    // NOTE: during a stop they are closed, as the workers' own connections
    // are cut; day 04 drains instead.
    spdlog::warn("closing {} {} that worker {} had not taken, as the band stops", orphans.size(), noun, slot);
    for (const auto& orphan : orphans) ::close(orphan.second);
    return;
  }
  spdlog::info("handing {} {} that worker {} had not taken to other workers", orphans.size(), noun, slot);
  // Ahead of the ones already waiting: these arrived earlier.
  for (auto it = orphans.rbegin(); it != orphans.rend(); ++it) waiting_.push_front(it->second);
  dispatch_waiting();
}

void balancer::stop() {
  accepting_ = false;
  accept_retry_timer_.cancel();
  boost::system::error_code ignored;
  listen_watch_.close(ignored);
  for (int connection_fd : std::exchange(waiting_, {})) ::close(connection_fd);
}

void balancer::close_inherited_descriptors() noexcept {
  // The child never runs the master's event loop, so it may close these
  // descriptors behind the Asio objects that still name them.
  if (listen_watch_.is_open()) ::close(listen_watch_.native_handle());
  for (const auto& c : channels_) {
    if (c->descriptor.is_open()) ::close(c->descriptor.native_handle());
    for (const auto& held : c->unacknowledged) ::close(held.second);
  }
  for (int connection_fd : waiting_) ::close(connection_fd);
}

}  // namespace band
