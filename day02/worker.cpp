// The worker's side: everything that runs in the child after fork().
#include "master.hpp"

#include <band/common/wait_status.hpp>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <csignal>
#include <exception>

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

}  // namespace

void worker::run_stop_handlers() {
  auto handlers = std::move(stop_handlers_);
  for (auto& handler : handlers) handler();
}

void run_worker_process(unsigned slot, int listen_fd, slot_record& record,
                        std::chrono::milliseconds heartbeat_interval, const worker_function& function) {
  int status = 0;
  try {
    worker self(slot, listen_fd);
    boost::asio::signal_set stop_signals(self.context(), SIGTERM);
    // NOTE: day 02 still stops at once: connections serving a request are
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
