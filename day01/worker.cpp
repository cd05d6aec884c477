// The worker's side: everything that runs in the child after fork().
#include "master.hpp"

#include <band/common/wait_status.hpp>

#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <csignal>
#include <exception>

namespace band {

void worker::run_stop_handlers() {
  auto handlers = std::move(stop_handlers_);
  for (auto& handler : handlers) handler();
}

void run_worker_process(unsigned slot, int listen_fd, const worker_function& function) {
  int status = 0;
  try {
    worker self(slot, listen_fd);
    boost::asio::signal_set stop_signals(self.context(), SIGTERM);
    // NOTE: day 01 stops at once: connections still serving a request are
    // cut. Day 04 drains them first.
    stop_signals.async_wait([&self](boost::system::error_code ec, int signal_number) {
      if (ec) return;
      spdlog::info("received {}; stopping", common::signal_name(signal_number));
      self.run_stop_handlers();
      self.context().stop();
    });
    ::signal(SIGPIPE, SIG_IGN);

    function(self);
    self.context().run();
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
