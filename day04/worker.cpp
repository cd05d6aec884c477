// The worker's side: everything that runs in the child after fork().
#include "channel.hpp"
#include "master.hpp"

#include <band/common/wait_status.hpp>

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <csignal>
#include <exception>
#include <memory>
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

  // Takes what the master sent before it asked this worker to stop, and
  // stops waiting for more. The master sends nothing after that request.
  void take_last_connections() {
    boost::system::error_code ignored;
    channel_.cancel(ignored);
    receive_connections();
    stopped_ = true;
  }

 private:
  void wait_for_connections() {
    if (stopped_) return;
    channel_.async_wait(boost::asio::posix::descriptor_base::wait_read, [this](boost::system::error_code ec) {
      if (!ec) {
        receive_connections();
        wait_for_connections();
      }
    });
  }

  // Acknowledges before serving: a worker that died after reading part of a
  // request must not leave the master a connection to pass on, because the
  // next worker would see the request's remainder only.
  void receive_connections() {
    std::vector<int> received;
    for (;;) {
      message incoming{};
      int connection_fd = -1;
      const transfer result = receive_message(channel_.native_handle(), incoming, connection_fd);
      if (result != transfer::done) break;  // would_block; or closed: the master is gone and PDEATHSIG follows
      if (incoming.kind != message_kind::connection || connection_fd < 0) {
        if (connection_fd >= 0) ::close(connection_fd);
        continue;
      }
      taken_ = incoming.value;
      received.push_back(connection_fd);
    }
    acknowledge();
    for (int connection_fd : received) worker_.take_connection(connection_fd);
  }

  void acknowledge() {
    if (taken_ == acknowledged_ || waiting_to_write_) return;
    const transfer result = send_message(channel_.native_handle(), {message_kind::ack, taken_});
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
  bool stopped_ = false;
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

void worker::ready() {
  if (ready_sent_) return;
  ready_sent_ = true;
  // The channel is empty this early, so the message fits; a master that is
  // gone ends this process through PR_SET_PDEATHSIG.
  if (send_message(channel_fd_, {message_kind::ready, 0}) == transfer::would_block) {
    spdlog::error("cannot report ready: the channel to the master is full");
  }
}

void worker::check_request_limit() {
  if (request_limit_ == 0 || limit_reported_) return;
  const std::uint64_t answered = stats_.requests.load(std::memory_order_relaxed);
  if (answered < request_limit_) return;
  // A full channel leaves the report to a later call.
  limit_reported_ = send_message(channel_fd_, {message_kind::limit, answered}) != transfer::would_block;
}

// Runs every stop handler and calls `drained` once all have called their
// `done`, or at once when there is none.
void worker::drain(std::function<void()> drained) {
  auto handlers = std::move(stop_handlers_);
  if (handlers.empty()) return drained();
  auto remaining = std::make_shared<std::size_t>(handlers.size());
  auto finish = std::make_shared<std::function<void()>>(std::move(drained));
  for (auto& handler : handlers) {
    handler([remaining, finish] {
      if (--*remaining == 0) (*finish)();
    });
  }
}

void run_worker_process(unsigned slot, int listen_fd, int channel_fd, slot_record& record,
                        std::chrono::milliseconds heartbeat_interval, std::uint64_t request_limit,
                        const worker_function& function) {
  int status = 0;
  try {
    worker self(slot, listen_fd, channel_fd, record.stats, request_limit);
    ::signal(SIGPIPE, SIG_IGN);
    heartbeat beats(self.context(), record, heartbeat_interval);
    connection_receiver receiver(self, channel_fd);

    // SIGTERM drains: no new connections, the current requests finish.
    // SIGQUIT stops at once, also during a drain. The set stays armed, so a
    // second SIGTERM is ignored rather than left to its default action.
    boost::asio::signal_set stop_signals(self.context(), SIGTERM, SIGQUIT);
    bool draining = false;
    std::function<void()> wait_for_stop_signal = [&] {
      stop_signals.async_wait([&](boost::system::error_code ec, int signal_number) {
        if (ec) return;
        if (signal_number == SIGQUIT) {
          spdlog::info("received SIGQUIT; stopping now");
          return self.context().stop();
        }
        if (!draining) {
          draining = true;
          spdlog::info("received SIGTERM; finishing the requests in progress");
          receiver.take_last_connections();
          self.drain([&self] {
            spdlog::info("requests finished; stopping");
            self.context().stop();
          });
        }
        wait_for_stop_signal();
      });
    };
    wait_for_stop_signal();

    function(self);
    if (!self.ready_deferred()) self.ready();
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
