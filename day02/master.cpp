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
using common::format_duration;

namespace {

// After a failed fork() (EAGAIN from a process limit, ENOMEM), wait this long
// before trying again, so a full process table is not hammered.
constexpr auto fork_retry_delay = std::chrono::milliseconds(1'000);
// The longest a worker waits between two heartbeats. It stamps more often
// when the heartbeat timeout is short, so that one late timer tick is far
// from a missed timeout.
constexpr auto max_heartbeat_interval = std::chrono::milliseconds(1'000);

std::chrono::milliseconds heartbeat_interval(const options& options) {
  return std::min({max_heartbeat_interval, options.check_interval, options.heartbeat_timeout / 4});
}

std::chrono::milliseconds since(monotonic_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(monotonic_clock::now() - start);
}

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
      table_(options.workers == 0 ? online_cpus() : options.workers),
      signals_(context_, SIGCHLD, SIGTERM, SIGINT),
      hangup_signal_(context_, SIGHUP),
      stop_timer_(context_),
      fork_retry_timer_(context_),
      health_timer_(context_),
      intensity_(options.max_restarts, options.restart_window) {
  for (std::size_t index = 0; index < table_.size(); ++index) slots_.push_back(std::make_unique<slot>(context_));
}

// NOTE: every worker accepts on the one inherited socket, so the kernel picks
// which worker gets a connection; day 03 measures the alternatives.
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
  schedule_health_check();
  context_.run();
  if (exit_status_ == 0) spdlog::info("all workers stopped; exiting");
  else spdlog::error("all workers stopped; exiting with status {}", exit_status_);
  return exit_status_;
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
  finish_if_stopped();
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

    const auto found = std::find_if(slots_.begin(), slots_.end(), [pid](const auto& s) { return s->child.pid() == pid; });
    if (found == slots_.end()) {
      spdlog::warn("reaped unknown child pid {}, {}", pid, common::describe_wait_status(status));
      continue;
    }
    replace_worker(static_cast<unsigned>(found - slots_.begin()), pid, status);
  }
}

// Logs a worker's exit and decides what follows: nothing while stopping, the
// end of the band for a fatal configuration error or too many restarts, and
// otherwise a new worker in the same slot after the slot's backoff.
void master::replace_worker(unsigned index, pid_t pid, int status) {
  slot& s = *slots_[index];
  s.child.reaped();
  s.kill_timer.cancel();
  const std::string reason = std::exchange(s.stop_reason, {});
  const std::string description = common::describe_wait_status(status) + (reason.empty() ? "" : " after " + reason);

  if (stopping_) return spdlog::info("worker {} pid {} {}", index, pid, description);

  if (WIFEXITED(status) && WEXITSTATUS(status) == exit_config_error) {
    spdlog::error("worker {} pid {} {}, which reports a configuration error; stopping the band", index, pid,
                  description);
    return begin_stop(exit_config_error);
  }
  if (!intensity_.record(monotonic_clock::now())) {
    spdlog::error("worker {} pid {} {}; that is {} within {}, more than --max-restarts {}; stopping the band",
                  index, pid, description, common::plural(intensity_.recent_count(), "restart"), format_duration(options_.restart_window),
                  options_.max_restarts);
    return begin_stop(exit_restart_intensity);
  }

  const auto uptime = since(s.started);
  const auto delay = s.backoff.next_delay(uptime, options_.min_uptime);
  if (delay == std::chrono::milliseconds::zero()) {
    spdlog::warn("worker {} pid {} {}; replacing it", index, pid, description);
    spawn_worker(index);
    return;
  }
  spdlog::warn("worker {} pid {} {}; it ran for {}, under --min-uptime {}; replacing it in {}", index, pid,
               description, format_duration(uptime), format_duration(options_.min_uptime), format_duration(delay));
  s.respawn_pending = true;
  s.respawn_timer.expires_after(delay);
  s.respawn_timer.async_wait([this, index](boost::system::error_code ec) {
    slots_[index]->respawn_pending = false;
    if (!ec && !stopping_) spawn_worker(index);
  });
}

void master::spawn_missing_workers() {
  for (unsigned index = 0; index < slots_.size(); ++index) {
    if (slots_[index]->child.running() || slots_[index]->respawn_pending) continue;
    if (!spawn_worker(index)) return;
  }
}

// Forks one worker into slot `index`. Returns false when fork() fails, after
// arranging a retry.
bool master::spawn_worker(unsigned index) {
  // Block every signal across fork(): until the child has put back the
  // default handlers, a signal sent to it would run Asio's handler, which
  // writes to the master's signal pipe and would make the master act on a
  // signal meant for the worker.
  sigset_t all_signals;
  sigset_t previous_mask;
  ::sigfillset(&all_signals);
  ::sigprocmask(SIG_BLOCK, &all_signals, &previous_mask);

  // A fresh heartbeat, so the new worker's time to start counts from now.
  table_[index].heartbeat_ns.store(to_heartbeat(monotonic_clock::now()), std::memory_order_relaxed);

  const pid_t master_pid = ::getpid();
  context_.notify_fork(asio::execution_context::fork_prepare);
  const pid_t pid = ::fork();
  if (pid == 0) {
    context_.notify_fork(asio::execution_context::fork_child);
    // Drop the master's signal handlers and its pidfds of the other workers.
    boost::system::error_code ignored;
    signals_.clear(ignored);
    hangup_signal_.clear(ignored);
    for (auto& other : slots_) other->child.reaped();
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
    common::setup_logging(common::worker_role(index));
    ::sigprocmask(SIG_SETMASK, &previous_mask, nullptr);
    run_worker_process(index, listener_.fd(), table_[index], heartbeat_interval(options_), function_);
  }

  const int fork_errno = errno;
  context_.notify_fork(asio::execution_context::fork_parent);
  ::sigprocmask(SIG_SETMASK, &previous_mask, nullptr);
  if (pid < 0) {
    spdlog::error("fork failed for worker {}: {}; retrying in {}", index, std::strerror(fork_errno),
                  format_duration(fork_retry_delay));
    fork_retry_timer_.expires_after(fork_retry_delay);
    fork_retry_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec && !stopping_) spawn_missing_workers();
    });
    return false;
  }

  slot& s = *slots_[index];
  s.child = child_process(pid);
  s.started = monotonic_clock::now();
  ++s.generation;
  spdlog::info("worker {} pid {} started (generation {})", index, pid, s.generation);
  return true;
}

void master::handle_stop_signal(int signal_number) {
  const auto name = common::signal_name(signal_number);
  if (stopping_) {
    spdlog::warn("received {} during the stop; killing the workers now", name);
    return kill_survivors("a second stop signal");
  }
  spdlog::info("received {}; stopping {}", name, common::plural(live_workers(), "worker"));
  begin_stop(0);
}

// Stops the band: SIGTERM to every worker, SIGKILL to those still running
// after the stop timeout. The master exits with `exit_status` once all are
// reaped.
void master::begin_stop(int exit_status) {
  stopping_ = true;
  exit_status_ = exit_status;
  fork_retry_timer_.cancel();
  health_timer_.cancel();
  for (auto& s : slots_) {
    s->respawn_timer.cancel();
    s->kill_timer.cancel();
    s->child.signal(SIGTERM);
  }
  stop_timer_.expires_after(options_.stop_timeout);
  stop_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) kill_survivors("the stop timeout of " + format_duration(options_.stop_timeout));
  });
  finish_if_stopped();
}

void master::kill_survivors(const std::string& reason) {
  for (unsigned index = 0; index < slots_.size(); ++index) {
    const auto& child = slots_[index]->child;
    if (!child.running()) continue;
    spdlog::warn("worker {} pid {} still running after {}; sending SIGKILL", index, child.pid(), reason);
    child.signal(SIGKILL);
  }
}

void master::finish_if_stopped() {
  if (!stopping_ || live_workers() != 0) return;
  stop_timer_.cancel();
  context_.stop();
}

unsigned master::live_workers() const {
  return static_cast<unsigned>(std::count_if(slots_.begin(), slots_.end(), [](const auto& s) { return s->child.running(); }));
}

int run(const options& options, worker_function function) {
  master band_master(options, std::move(function));
  return band_master.run();
}

}  // namespace band
