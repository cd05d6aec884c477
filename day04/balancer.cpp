#include "balancer.hpp"

#include "channel.hpp"

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

balancer::balancer(asio::io_context& context, balance strategy, slot_table& table)
    : context_(context),
      strategy_(strategy),
      table_(table),
      listen_watch_(context),
      accept_retry_timer_(context),
      next_target_(targets_.end()) {}

balancer::~balancer() {
  stop_accepting();
  close_held();
}

void balancer::start_accepting(int listen_fd) {
  // Only the master accepts in these strategies, and it must never block in
  // accept(): the listening socket becomes non-blocking.
  const int flags = ::fcntl(listen_fd, F_GETFL);
  if (flags < 0 || ::fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    throw std::system_error(errno, std::generic_category(), "fcntl O_NONBLOCK on the listening socket");
  }
  const int watch_fd = ::fcntl(listen_fd, F_DUPFD_CLOEXEC, 0);
  if (watch_fd < 0) throw std::system_error(errno, std::generic_category(), "dup of the listening socket");
  listen_watch_.assign(watch_fd);
  listen_fd_ = listen_fd;
  accepting_ = true;
  wait_for_connections();
}

void balancer::wait_for_connections() {
  if (!accepting_ || waiting_for_connections_ || retrying_accept_ || waiting_.size() >= max_waiting) return;
  waiting_for_connections_ = true;
  listen_watch_.async_wait(asio::posix::descriptor_base::wait_read, [this](boost::system::error_code ec) {
    waiting_for_connections_ = false;
    if (ec || !accepting_) return;
    accept_from(listen_fd_);
    wait_for_connections();
  });
}

void balancer::take_queued(int listen_fd) {
  const int flags = ::fcntl(listen_fd, F_GETFL);
  if (flags >= 0) ::fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK);
  while (accept_from(listen_fd)) {
  }
}

// Accepts up to a batch. Returns true when more connections may be queued.
bool balancer::accept_from(int listen_fd) {
  for (int count = 0; count < accept_batch && waiting_.size() < max_waiting; ++count) {
    const int connection_fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (connection_fd >= 0) {
      dispatch(connection_fd);
      continue;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
    if (errno == EINTR || errno == ECONNABORTED) continue;
    // EMFILE, ENFILE, ENOBUFS, ENOMEM: the connection stays queued in the
    // kernel, so wait a little and try again.
    spdlog::error("accept failed: {}; retrying in {} ms", std::strerror(errno), accept_retry_delay.count());
    retrying_accept_ = true;
    accept_retry_timer_.expires_after(accept_retry_delay);
    accept_retry_timer_.async_wait([this](boost::system::error_code ec) {
      retrying_accept_ = false;
      if (!ec) wait_for_connections();
    });
    return false;
  }
  return waiting_.size() < max_waiting;
}

balancer::target* balancer::find(std::size_t record) {
  for (auto& t : targets_) {
    if (t.record == record) return &t;
  }
  return nullptr;
}

// Round-robin takes the next usable target after the last one chosen.
// Least-conn takes the target with the fewest connections: those the worker
// reports open in the slot table, plus those sent that it has not counted
// yet. Ties go round-robin. Connections left on a removed reuseport socket go
// round-robin too.
balancer::target* balancer::choose_target() {
  target* best = nullptr;
  std::int64_t best_load = std::numeric_limits<std::int64_t>::max();
  auto it = next_target_ == targets_.end() ? targets_.begin() : next_target_;
  for (std::size_t step = 0; step < targets_.size(); ++step, ++it) {
    if (it == targets_.end()) it = targets_.begin();
    target& t = *it;
    if (t.retired || t.blocked) continue;
    if (strategy_ != balance::least_conn) return &t;
    const auto& stats = table_[t.record].stats;
    const std::int64_t load = stats.active.load(std::memory_order_relaxed) +
                              uncounted(t.unacknowledged.size(), t.next_sequence - 1,
                                        stats.accepted.load(std::memory_order_relaxed));
    if (load < best_load) {
      best = &t;
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

// Sends one connection to the target the strategy chooses. Returns false when
// no worker can take it now.
bool balancer::try_send(int connection_fd) {
  while (target* t = choose_target()) {
    const std::uint64_t sequence = t->next_sequence;
    const transfer result =
        send_message(t->channel->native_handle(), {message_kind::connection, sequence}, connection_fd);
    if (result == transfer::done) {
      ++t->next_sequence;
      t->unacknowledged.emplace_back(sequence, connection_fd);
      for (auto it = targets_.begin(); it != targets_.end(); ++it) {
        if (&*it == t) next_target_ = std::next(it);
      }
      return true;
    }
    // A full channel, or a worker that died and whose SIGCHLD is on its way:
    // try the others meanwhile.
    t->blocked = true;
    if (result == transfer::would_block) wait_until_writable(*t);
  }
  return false;
}

void balancer::dispatch_waiting() {
  while (!waiting_.empty() && try_send(waiting_.front())) waiting_.pop_front();
  wait_for_connections();
}

void balancer::wait_until_writable(target& t) {
  const std::size_t record = t.record;
  t.channel->async_wait(asio::posix::descriptor_base::wait_write, [this, record](boost::system::error_code ec) {
    target* waited = find(record);
    if (ec || waited == nullptr) return;
    waited->blocked = false;
    dispatch_waiting();
  });
}

void balancer::add_target(std::size_t record, asio::posix::stream_descriptor& channel) {
  targets_.push_back(target{record, &channel, {}, 1, false, false});
  dispatch_waiting();
}

void balancer::retire_target(std::size_t record) {
  if (target* t = find(record)) t->retired = true;
}

void balancer::remove_target(std::size_t record) {
  for (auto it = targets_.begin(); it != targets_.end(); ++it) {
    if (it->record != record) continue;
    auto orphans = std::move(it->unacknowledged);
    if (next_target_ == it) next_target_ = std::next(it);
    targets_.erase(it);
    if (orphans.empty()) return;
    const char* noun = orphans.size() == 1 ? "connection" : "connections";
    if (targets_.empty() && stopped_) {
      spdlog::warn("closing {} {} that a stopped worker had not taken", orphans.size(), noun);
      for (const auto& orphan : orphans) ::close(orphan.second);
      return;
    }
    // With no other worker ready, they wait for the next one, such as the
    // successor that takes the slot.
    spdlog::info("passing {} {} that a stopped worker had not taken to {}", orphans.size(), noun,
                 targets_.empty() ? "the next worker ready" : "other workers");
    // Ahead of the ones already waiting: these arrived earlier.
    for (auto orphan = orphans.rbegin(); orphan != orphans.rend(); ++orphan) waiting_.push_front(orphan->second);
    return dispatch_waiting();
  }
}

void balancer::acknowledge(std::size_t record, std::uint64_t sequence) {
  target* t = find(record);
  if (t == nullptr) return;
  while (!t->unacknowledged.empty() && t->unacknowledged.front().first <= sequence) {
    ::close(t->unacknowledged.front().second);
    t->unacknowledged.pop_front();
  }
}

void balancer::stop_accepting() {
  accepting_ = false;
  stopped_ = true;
  accept_retry_timer_.cancel();
  boost::system::error_code ignored;
  listen_watch_.close(ignored);
}

void balancer::close_held() noexcept {
  for (int connection_fd : waiting_) ::close(connection_fd);
  waiting_.clear();
  for (auto& t : targets_) {
    for (const auto& held : t.unacknowledged) ::close(held.second);
    t.unacknowledged.clear();
  }
}

void balancer::close_inherited_descriptors() noexcept {
  // The child never runs the master's event loop, so it may close these
  // descriptors behind the Asio objects that still name them.
  if (listen_watch_.is_open()) ::close(listen_watch_.native_handle());
  for (const auto& t : targets_) {
    for (const auto& held : t.unacknowledged) ::close(held.second);
  }
  for (int connection_fd : waiting_) ::close(connection_fd);
}

}  // namespace band
