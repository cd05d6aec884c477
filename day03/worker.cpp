// The worker's side: everything that runs in the child after fork().
#include "handoff.hpp"
#include "master.hpp"

#include <band/common/wait_status.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <csignal>
#include <exception>
#include <optional>
#include <vector>

namespace band {

namespace {

// Stamps the worker's heartbeat now and again every `interval` for as long
// as the event loop turns. A handler that blocks the loop stops the stamps,
// which is what the master's freeze detection looks for.
class heartbeat {
 public:
  heartbeat(boost::asio::io_context& context, slot_record& record, std::chrono::milliseconds interval)
      : timer_(context), record_(record), interval_(interval) {
    beat();
  }

 private:
  void beat() {
    record_.heartbeat_ns.store(to_heartbeat(monotonic_clock::now()), std::memory_order_relaxed);
    timer_.expires_after(interval_);
    timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) beat();
    });
  }

  boost::asio::steady_timer timer_;
  slot_record& record_;
  std::chrono::milliseconds interval_;
};

// Takes the connections the master passes over the worker's channel, and
// acknowledges them. One acknowledgement covers every connection taken
// since the last, so a burst costs one message back.
class connection_receiver {
 public:
  connection_receiver(worker& self, int channel_fd) : worker_(self), channel_(self.context(), channel_fd) {
    wait_for_connections();
  }

 private:
  void wait_for_connections() {
    channel_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](boost::system::error_code ec) {
      if (!ec) receive_connections();
    });
  }

  // Acknowledges before serving: a worker that died after reading part of a
  // request must not leave the master a connection to pass on, because the
  // next worker would see the request's remainder only.
  void receive_connections() {
    std::vector<int> received;
    for (;;) {
      int connection_fd = -1;
      std::uint64_t sequence = 0;
      const transfer result = receive_connection(channel_.native_handle(), connection_fd, sequence);
      if (result != transfer::done) break;  // would_block; or closed: the master is gone and PDEATHSIG follows
      taken_ = sequence;
      received.push_back(connection_fd);
    }
    acknowledge();
    for (int connection_fd : received) worker_.take_connection(connection_fd);
    wait_for_connections();
  }

  void acknowledge() {
    if (taken_ == acknowledged_ || waiting_to_write_) return;
    const transfer result = send_ack(channel_.native_handle(), taken_);
    if (result == transfer::done) {
      acknowledged_ = taken_;
      return;
    }
    if (result == transfer::closed) return;
    // The channel is full: acknowledge once it drains, or the master would
    // keep its copies of these connections open.
    waiting_to_write_ = true;
    channel_.async_wait(boost::asio::posix::descriptor_base::wait_write, [this](boost::system::error_code ec) {
      waiting_to_write_ = false;
      if (!ec) acknowledge();
    });
  }

  worker& worker_;
  boost::asio::posix::stream_descriptor channel_;
  std::uint64_t taken_ = 0;
  std::uint64_t acknowledged_ = 0;
  bool waiting_to_write_ = false;
};

}  // namespace

void worker::take_connection(int connection_fd) {
  if (!connection_handler_) {
    static bool warned = false;
    if (!warned) spdlog::error("the master passed a connection, but the worker function set no on_connection handler");
    warned = true;
    ::close(connection_fd);
    return;
  }
  try {
    connection_handler_(connection_fd);
  } catch (const std::exception& error) {
    spdlog::error("the connection handler failed: {}", error.what());
  }
}

void worker::run_stop_handlers() {
  auto handlers = std::move(stop_handlers_);
  for (auto& handler : handlers) handler();
}

void run_worker_process(unsigned slot, int listen_fd, int channel_fd, slot_record& record,
                        std::chrono::milliseconds heartbeat_interval, const worker_function& function) {
  int status = 0;
  try {
    worker self(slot, listen_fd, record.stats);
    boost::asio::signal_set stop_signals(self.context(), SIGTERM);
    // NOTE: day 03 still stops at once: connections serving a request are
    // cut. Day 04 drains them first.
    stop_signals.async_wait([&self](boost::system::error_code ec, int signal_number) {
      if (ec) return;
      spdlog::info("received {}; stopping", common::signal_name(signal_number));
      self.run_stop_handlers();
      self.context().stop();
    });
    ::signal(SIGPIPE, SIG_IGN);

    function(self);
    heartbeat beats(self.context(), record, heartbeat_interval);
    std::optional<connection_receiver> receiver;
    if (channel_fd >= 0) receiver.emplace(self, channel_fd);
    self.context().run();
  } catch (const config_error& error) {
    spdlog::error("configuration error: {}", error.what());
    status = exit_config_error;
  } catch (const std::exception& error) {
    spdlog::error("worker failed: {}", error.what());
    status = 1;
  }
  // _exit, not exit: the child holds a copy of the master's objects, and
  // their destructors and atexit handlers are the master's business.
  spdlog::default_logger()->flush();
  ::_exit(status);
}

}  // namespace band
