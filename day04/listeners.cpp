// The master's listening sockets: one for the shared and hand-off
// strategies, one per slot for reuseport.
#include "master.hpp"

#include <spdlog/spdlog.h>

#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace band {

// Opens the listening sockets the strategy needs. With reuseport every slot
// gets its own socket on the same address.
void master::open_listeners() {
  const bool per_slot = options_.strategy == balance::reuseport;
  listeners_.push_back(
      common::listener::open(options_.listen, {.backlog = options_.backlog, .reuse_port = per_slot}));
  if (!per_slot) return;
  while (listeners_.size() < slots_.size()) add_listener();
  steered_sockets_ = listeners_.size();
  update_reuseport_steering();
}

// Adds a slot's socket to the group. The steering program reaches it only
// once the slot's worker is ready (steer_to_ready_slots).
void master::add_listener() {
  // Port 0 picks a free port on the first bind; the other sockets join it.
  const auto endpoint = listeners_.front().local_endpoint();
  listeners_.push_back(common::listener::open(endpoint, {.backlog = options_.backlog, .reuse_port = true}));
}

// Widens the steering program over the added slots whose worker is ready,
// in slot order, so no connection waits on the socket of a worker that is
// still starting.
void master::steer_to_ready_slots() {
  if (options_.strategy != balance::reuseport) return;
  const std::size_t before = steered_sockets_;
  while (steered_sockets_ < listeners_.size() && steered_sockets_ < slots_.size()) {
    const auto& current = slots_[steered_sockets_]->current;
    if (!current || current->state != worker_process::phase::serving) break;
    ++steered_sockets_;
  }
  if (steered_sockets_ != before) update_reuseport_steering();
}

// The kernel keeps a reuseport group's sockets in an array, in the order they
// joined, and fills the hole a closed socket leaves with the last one. This
// classic BPF program picks a socket at random among the first N, one per
// slot, so that a removed slot's socket gets no new connection while its
// worker drains. It is the last in the array because SIGTTOU removes the
// newest slot, and add_slot() shuts it down before a new socket joins. Without a
// program the kernel hashes over every socket in the group, the removed one
// included.
// NOTE: a SYN that reached the removed socket just before the program
// changed can complete its handshake after the master's last take_queued()
// and is then reset; net.ipv4.tcp_migrate_req (Linux 5.14) would migrate it.
void master::update_reuseport_steering() {
  if (options_.strategy != balance::reuseport) return;
  const auto count = static_cast<std::uint32_t>(std::max<std::size_t>(steered_sockets_, 1));
  sock_filter code[] = {
      {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)},
      {BPF_ALU | BPF_MOD | BPF_K, 0, 0, count},
      {BPF_RET | BPF_A, 0, 0, 0},
  };
  sock_fprog program{static_cast<unsigned short>(std::size(code)), code};
  if (::setsockopt(listeners_.front().fd(), SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program) != 0) {
    // NOTE: without the program a scale-down can reset the few connections
    // that reach the removed socket before it closes.
    spdlog::error("setsockopt SO_ATTACH_REUSEPORT_CBPF failed: {}; the kernel hashes over all sockets",
                  std::strerror(errno));
  }
}

int master::listen_fd_for(unsigned index) const {
  switch (options_.strategy) {
    case balance::shared: return listeners_.front().fd();
    case balance::reuseport: return listeners_[index].fd();
    case balance::round_robin:
    case balance::least_conn: return -1;
  }
  return -1;
}

// In a new worker: closes what it inherited and must not hold. A worker that
// kept another slot's reuseport socket, a connection the master holds or
// another worker's channel would keep them open after their owner closed
// them.
void master::close_inherited_descriptors(unsigned index, int own_channel) noexcept {
  balancer_.close_inherited_descriptors();
  const int own_listener = listen_fd_for(index);
  for (auto& listener : listeners_) {
    if (listener.fd() != own_listener) ::close(listener.fd());
  }
  for (auto& retired : retired_listeners_) ::close(retired.first.fd());
  for (const auto& process : all_processes()) {
    if (process->channel.is_open() && process->channel.native_handle() != own_channel) {
      ::close(process->channel.native_handle());
    }
  }
}

}  // namespace band
