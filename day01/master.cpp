#include "master.hpp"

#include <band/common/logging.hpp>
#include <band/common/parse.hpp>
#include <band/common/wait_status.hpp>

#include <spdlog/spdlog.h>

#include <sched.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

namespace band {

namespace asio = boost::asio;

namespace {

// After a failed fork() (EAGAIN from a process limit, ENOMEM), wait this long
// before trying again, so a full process table is not hammered.
constexpr auto fork_retry_delay = std::chrono::seconds(1);

}  // namespace

// The CPUs this process may run on: fewer than the machine has under taskset
// or a cgroup cpuset. A CPU quota (docker --cpus) does not show here.
unsigned online_cpus() {
  cpu_set_t allowed;
  if (::sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) > 0) {
    return static_cast<unsigned>(CPU_COUNT(&allowed));
  }
  const long count = ::sysconf(_SC_NPROCESSORS_ONLN);
  return count > 0 ? static_cast<unsigned>(count) : 1;
}

master::master(const options& options, worker_function function)
    : options_(options),
      function_(std::move(function)),
      listener_(common::listener::open(options.listen, {.backlog = options.backlog})),
      signals_(context_, SIGCHLD, SIGTERM, SIGINT),
      hangup_signal_(context_, SIGHUP),
      stop_timer_(context_),
      fork_retry_timer_(context_),
      slots_(options.workers == 0 ? online_cpus() : options.workers) {}

// NOTE: every worker accepts on the one inherited socket, so the kernel picks
// which worker gets a connection; day 03 measures the alternatives. No health
// check watches memory or frozen event loops before day 02.
int master::run() {
  // A log reader that goes away (`band | head`, a restarted collector) must
  // not kill the master: writes to it fail with EPIPE instead.
  ::signal(SIGPIPE, SIG_IGN);
  // Day 04 scales on SIGTTIN and SIGTTOU; until then they are ignored, and
  // the workers inherit that. Their default action would stop the master.
  // They are not logged: with `stty tostop`, a background master's every
  // write to the terminal raises SIGTTOU, and logging it would loop.
  ::signal(SIGTTIN, SIG_IGN);
  ::signal(SIGTTOU, SIG_IGN);
  spdlog::info("listening on {}", common::to_string(listener_.local_endpoint()));
  spdlog::info("starting {}", common::plural(slots_.size(), "worker"));
  wait_for_signal();
  ignore_hangups();
  spawn_missing_workers();
  context_.run();
  spdlog::info("all workers stopped; exiting");
  return 0;
}

// The supervisor's policy, one signal at a time: reap and replace on SIGCHLD,
// stop on SIGTERM and SIGINT. The handlers run in the event loop, not in
// signal context, so they may log, allocate and fork.
void master::wait_for_signal() {
  signals_.async_wait([this](boost::system::error_code ec, int signal_number) {
    if (ec) return;
    if (signal_number == SIGCHLD) handle_sigchld();
    else handle_stop_signal(signal_number);
    wait_for_signal();
  });
}

// NOTE: SIGHUP is logged and ignored until day 04 makes it a rolling reload,
// so closing the terminal leaves the band running.
void master::ignore_hangups() {
  hangup_signal_.async_wait([this](boost::system::error_code ec, int) {
    if (ec) return;
    spdlog::info("received SIGHUP; ignoring it, as reloads come on day 04");
    ignore_hangups();
  });
}

void master::handle_sigchld() {
  reap_children();
  if (stopping_) return finish_if_stopped();
  spawn_missing_workers();
}

// One SIGCHLD may stand for several deaths: signals of one kind do not queue,
// so reap until waitpid() finds no more.
void master::reap_children() {
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid == 0) return;
    if (pid < 0) {
      if (errno == EINTR) continue;
      if (errno != ECHILD) spdlog::error("waitpid failed: {}", std::strerror(errno));
      return;
    }

    const auto found = std::find_if(slots_.begin(), slots_.end(), [pid](const slot& s) { return s.pid == pid; });
    if (found == slots_.end()) {
      spdlog::warn("reaped unknown child pid {}, {}", pid, common::describe_wait_status(status));
      continue;
    }
    found->pid = 0;
    const auto index = static_cast<unsigned>(found - slots_.begin());
    const std::string description = common::describe_wait_status(status);
    if (stopping_) {
      spdlog::info("worker {} pid {} {}", index, pid, description);
    } else {
      // TODO: day 02 adds a backoff. A worker that dies as it starts is
      // replaced as fast as fork() allows, forever.
      spdlog::warn("worker {} pid {} {}; replacing it", index, pid, description);
    }
  }
}

void master::spawn_missing_workers() {
  for (unsigned index = 0; index < slots_.size(); ++index) {
    if (slots_[index].pid != 0) continue;
    if (!spawn_worker(index)) {
      spdlog::error("retrying the start of worker {} in {}", index,
                    common::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(fork_retry_delay)));
      fork_retry_timer_.expires_after(fork_retry_delay);
      fork_retry_timer_.async_wait([this](boost::system::error_code ec) {
        if (!ec && !stopping_) spawn_missing_workers();
      });
      return;
    }
  }
}

// Forks one worker into `slot_index`. Returns false when fork() fails.
bool master::spawn_worker(unsigned slot_index) {
  // Block every signal across fork(): until the child has put back the
  // default handlers, a signal sent to it would run Asio's handler, which
  // writes to the master's signal pipe and would make the master act on a
  // signal meant for the worker.
  sigset_t all_signals;
  sigset_t previous_mask;
  ::sigfillset(&all_signals);
  ::sigprocmask(SIG_BLOCK, &all_signals, &previous_mask);

  const pid_t master_pid = ::getpid();
  context_.notify_fork(asio::execution_context::fork_prepare);
  const pid_t pid = ::fork();
  if (pid == 0) {
    context_.notify_fork(asio::execution_context::fork_child);
    // Drop the master's signal handlers; the worker installs its own.
    boost::system::error_code ignored;
    signals_.clear(ignored);
    hangup_signal_.clear(ignored);
    // Die with the master, even when it is killed with SIGKILL. If the master
    // died before prctl() took effect, the parent is already someone else.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != master_pid) ::_exit(1);
    // Ctrl-C in a terminal signals the whole process group. The master
    // answers it by stopping the workers, so a worker ignores SIGINT and
    // never dies of it before the master has begun the stop. SIGHUP from a
    // closed terminal likewise reaches them all, and the master ignores it.
    ::signal(SIGINT, SIG_IGN);
    ::signal(SIGHUP, SIG_IGN);
    common::setup_logging(common::worker_role(slot_index));
    ::sigprocmask(SIG_SETMASK, &previous_mask, nullptr);
    run_worker_process(slot_index, listener_.fd(), function_);
  }

  const int fork_errno = errno;
  context_.notify_fork(asio::execution_context::fork_parent);
  ::sigprocmask(SIG_SETMASK, &previous_mask, nullptr);
  if (pid < 0) {
    spdlog::error("fork failed for worker {}: {}", slot_index, std::strerror(fork_errno));
    return false;
  }

  auto& slot = slots_[slot_index];
  slot.pid = pid;
  ++slot.generation;
  spdlog::info("worker {} pid {} started (generation {})", slot_index, pid, slot.generation);
  return true;
}

// Begins a stop: SIGTERM to every worker, SIGKILL to those still running
// after the stop timeout. A second SIGTERM or SIGINT skips the wait.
void master::handle_stop_signal(int signal_number) {
  const auto name = common::signal_name(signal_number);
  if (stopping_) {
    spdlog::warn("received {} during the stop; killing the workers now", name);
    return kill_survivors("a second stop signal");
  }

  stopping_ = true;
  fork_retry_timer_.cancel();
  spdlog::info("received {}; stopping {}", name, common::plural(live_workers(), "worker"));
  for (const auto& slot : slots_) {
    if (slot.pid != 0) ::kill(slot.pid, SIGTERM);
  }
  stop_timer_.expires_after(options_.stop_timeout);
  stop_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) kill_survivors("the stop timeout of " + common::format_duration(options_.stop_timeout));
  });
  finish_if_stopped();
}

// A worker that has exited but is not yet reaped keeps its pid, so kill()
// here can reach no other process.
void master::kill_survivors(const std::string& reason) {
  for (unsigned index = 0; index < slots_.size(); ++index) {
    const pid_t pid = slots_[index].pid;
    if (pid == 0) continue;
    spdlog::warn("worker {} pid {} still running after {}; sending SIGKILL", index, pid, reason);
    ::kill(pid, SIGKILL);
  }
}

void master::finish_if_stopped() {
  if (live_workers() != 0) return;
  stop_timer_.cancel();
  context_.stop();
}

unsigned master::live_workers() const {
  return static_cast<unsigned>(std::count_if(slots_.begin(), slots_.end(), [](const slot& s) { return s.pid != 0; }));
}

int run(const options& options, worker_function function) {
  master band_master(options, std::move(function));
  return band_master.run();
}

}  // namespace band
