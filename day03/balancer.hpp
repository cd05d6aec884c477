// The master's side of the hand-off strategies (round-robin, least-conn):
// it accepts every connection itself and passes each one to a worker over
// the worker's channel.
#pragma once

#include "band.hpp"
#include "slot_table.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace band {

class balancer {
 public:
  balancer(boost::asio::io_context& context, int listen_fd, balance strategy, slot_table& table);
  ~balancer();
  balancer(const balancer&) = delete;
  balancer& operator=(const balancer&) = delete;

  void start();
  // Takes the master's end of a new worker's channel.
  void attach(unsigned slot, int channel_fd);
  // The worker in `slot` is gone: closes its channel and hands the
  // connections it had not acknowledged to other workers.
  void detach(unsigned slot);
  // Stops accepting and closes every connection the master still holds.
  void stop();
  // In a newly forked worker: closes the master's descriptors that the child
  // inherited, so that no worker keeps another's connection open.
  void close_inherited_descriptors() noexcept;

 private:
  struct channel {
    explicit channel(boost::asio::io_context& context) : descriptor(context) {}
    boost::asio::posix::stream_descriptor descriptor;  // the master's end
    // Connections sent and not yet acknowledged: the master keeps its copy
    // until the worker has taken them.
    std::deque<std::pair<std::uint64_t, int>> unacknowledged;
    std::uint64_t next_sequence = 1;
    // The slot's `accepted` counter when this worker attached: the slot
    // table counts for the slot, across its workers.
    std::uint64_t accepted_before = 0;
    bool blocked = false;  // the channel was full; waiting until it drains
  };

  void wait_for_connections();
  void accept_connections();
  void dispatch(int connection_fd);
  bool try_send(int connection_fd);
  void dispatch_waiting();
  std::optional<unsigned> choose_slot() const;
  bool usable(unsigned slot) const;
  void wait_for_acks(unsigned slot);
  void read_acks(unsigned slot);
  void wait_until_writable(unsigned slot);

  boost::asio::io_context& context_;
  balance strategy_;
  slot_table& table_;
  int listen_fd_;
  boost::asio::posix::stream_descriptor listen_watch_;  // a duplicate of listen_fd_, to wait on
  boost::asio::steady_timer accept_retry_timer_;
  std::vector<std::unique_ptr<channel>> channels_;
  std::deque<int> waiting_;  // accepted, not yet sent: no worker could take them
  unsigned next_slot_ = 0;
  bool accepting_ = false;
  bool waiting_for_connections_ = false;
};

}  // namespace band
