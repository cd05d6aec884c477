// Passing connections from the master to workers over their channels: every
// accepted connection in the round-robin and least-conn strategies, and in
// any strategy, the connections left on the socket of a removed reuseport
// slot.
#pragma once

#include "band.hpp"
#include "slot_table.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <cstdint>
#include <deque>
#include <list>
#include <utility>

namespace band {

class balancer {
 public:
  balancer(boost::asio::io_context& context, balance strategy, slot_table& table);
  ~balancer();
  balancer(const balancer&) = delete;
  balancer& operator=(const balancer&) = delete;

  // Accepts on `listen_fd` from now on, and passes every connection on.
  void start_accepting(int listen_fd);
  // Accepts the connections queued on `listen_fd` now, and passes them on.
  void take_queued(int listen_fd);

  // A worker that is ready for connections, with its record in the slot
  // table and the master's end of its channel.
  void add_target(std::size_t record, boost::asio::posix::stream_descriptor& channel);
  // Sends it no more connections. It still takes those already sent.
  void retire_target(std::size_t record);
  // The worker is gone: the connections it had not acknowledged go to others.
  void remove_target(std::size_t record);
  // The worker has taken every connection up to `sequence`.
  void acknowledge(std::size_t record, std::uint64_t sequence);

  // Stops accepting; `close_held` also closes every connection not yet
  // passed on (a fast stop), where a graceful stop still passes them.
  void stop_accepting();
  void close_held() noexcept;
  // In a newly forked worker: closes the master's descriptors that the child
  // inherited, so that no worker keeps another's connection open.
  void close_inherited_descriptors() noexcept;

 private:
  struct target {
    std::size_t record;
    boost::asio::posix::stream_descriptor* channel;
    // Connections sent and not yet acknowledged: the master keeps its copy
    // until the worker has taken them.
    std::deque<std::pair<std::uint64_t, int>> unacknowledged;
    std::uint64_t next_sequence = 1;
    bool blocked = false;  // the channel was full; waiting until it drains
    bool retired = false;  // draining: no new connections
  };

  target* find(std::size_t record);
  void wait_for_connections();
  bool accept_from(int listen_fd);
  void dispatch(int connection_fd);
  bool try_send(int connection_fd);
  void dispatch_waiting();
  target* choose_target();
  void wait_until_writable(target& t);

  boost::asio::io_context& context_;
  balance strategy_;
  slot_table& table_;
  int listen_fd_ = -1;
  boost::asio::posix::stream_descriptor listen_watch_;  // a duplicate of listen_fd_, to wait on
  boost::asio::steady_timer accept_retry_timer_;
  std::list<target> targets_;  // std::list: handlers keep pointers across changes
  std::list<target>::iterator next_target_;
  std::deque<int> waiting_;  // accepted, not yet sent: no worker could take them
  bool accepting_ = false;
  bool stopped_ = false;  // the band is stopping: a dead worker's connections are closed, not held
  bool waiting_for_connections_ = false;
  bool retrying_accept_ = false;  // accept() failed; accept_retry_timer_ runs
};

}  // namespace band
