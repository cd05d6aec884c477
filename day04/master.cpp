#include "master.hpp"

#include "channel.hpp"

#include <band/common/logging.hpp>
#include <band/common/parse.hpp>
#include <band/common/wait_status.hpp>

#include <spdlog/spdlog.h>

#include <sched.h>
#include <sys/prctl.h>
#include <sys/socket.h>
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

const char* to_string(balance strategy) {
  switch (strategy) {
    case balance::shared: return "shared";
    case balance::reuseport: return "reuseport";
    case balance::round_robin: return "round-robin";
    case balance::least_conn: return "least-conn";
  }
  return "unknown";
}

master::master(const options& options, worker_function function)
    : options_(options),
      function_(std::move(function)),
      signals_(context_),
      stop_timer_(context_),
      fork_retry_timer_(context_),
      health_timer_(context_),
      balancer_(context_, options.strategy, table_),
      intensity_(options.max_restarts, options.restart_window),
      random_(std::random_device{}()) {
  for (int signal_number : {SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGTTIN, SIGTTOU}) signals_.add(signal_number);
  const unsigned count = options.workers == 0 ? online_cpus() : options.workers;
  for (unsigned index = 0; index < count; ++index) slots_.push_back(std::make_unique<slot>(context_));
  open_listeners();
}

int master::run() {
  // A log reader that goes away (`band | head`, a restarted collector) must
  // not kill the master: writes to it fail with EPIPE instead.
  ::signal(SIGPIPE, SIG_IGN);
  spdlog::info("listening on {}", common::to_string(listeners_.front().local_endpoint()));
  spdlog::info("starting {}, balancing with {}", common::plural(slots_.size(), "worker"), to_string(options_.strategy));
  wait_for_signals();
  if (options_.strategy == balance::round_robin || options_.strategy == balance::least_conn) {
    balancer_.start_accepting(listeners_.front().fd());
  }
  spawn_missing_workers();
  schedule_health_check();
  context_.run();
  if (exit_status_ == 0) spdlog::info("all workers stopped; exiting");
  else spdlog::error("all workers stopped; exiting with status {}", exit_status_);
  return exit_status_;
}

// The supervisor's policy, one signal at a time. The handlers run in the
// event loop, not in signal context, so they may log, allocate and fork.
void master::wait_for_signals() {
  signals_.async_wait([this](boost::system::error_code ec, int signal_number) {
    if (ec) return;
    handle_signal(signal_number);
    wait_for_signals();
  });
}

void master::handle_signal(int signal_number) {
  const auto name = common::signal_name(signal_number);
  if (signal_number == SIGCHLD) {
    reap_children();
    return finish_if_stopped();
  }
  if (stopping_) {
    if (signal_number == SIGTERM || signal_number == SIGINT || signal_number == SIGQUIT) {
      spdlog::warn("received {} during the stop; killing the workers now", name);
      return kill_survivors("a second stop signal");
    }
    return spdlog::info("received {} during the stop; ignoring it", name);
  }
  switch (signal_number) {
    case SIGTERM:
      spdlog::info("received SIGTERM; stopping gracefully: workers finish their requests within {}",
                   format_duration(options_.graceful_timeout));
      return begin_stop(0, true);
    case SIGINT:
    case SIGQUIT:
      spdlog::info("received {}; stopping fast: workers close their connections", name);
      return begin_stop(0, false);
    case SIGHUP: return begin_reload();
    case SIGTTIN: return add_slot();
    case SIGTTOU: return remove_slot();
  }
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
    if (const auto process = find_process(pid)) handle_exit(process, status);
    else spdlog::warn("reaped unknown child pid {}, {}", pid, common::describe_wait_status(status));
  }
}

// Releases what a reaped worker held, logs its exit and decides what
// follows from the role it had: a draining worker is simply gone; a
// successor that died before it was ready fails its reload; a slot's serving
// worker is replaced.
void master::handle_exit(const process_ptr& process, int status) {
  const pid_t pid = process->child.pid();
  process->child.reaped();
  process->kill_timer.cancel();
  process->ready_timer.cancel();
  balancer_.remove_target(process->record);
  boost::system::error_code ignored;
  process->channel.close(ignored);
  const std::uint64_t answered = table_[process->record].stats.requests.load(std::memory_order_relaxed);
  table_.release(process->record);
  for (auto it = retired_listeners_.begin(); it != retired_listeners_.end(); ++it) {
    if (it->second != pid) continue;
    // The last connections that reached a removed slot's socket go to
    // the other workers before the socket closes. Another worker of the
    // slot, still draining, may hold a copy: shutdown() takes the socket out
    // of the reuseport group all the same.
    balancer_.take_queued(it->first.fd());
    ::shutdown(it->first.fd(), SHUT_RD);
    retired_listeners_.erase(it);
    break;
  }

  const std::string reason = std::exchange(process->stop_reason, {});
  const std::string description = common::describe_wait_status(status) + (reason.empty() ? "" : " after " + reason);
  const unsigned index = process->slot;

  if (const auto it = std::find(draining_.begin(), draining_.end(), process); it != draining_.end()) {
    draining_.erase(it);
    // For a recycled worker, the total shows how far past its limit the
    // drain took it.
    if (process->recycled) {
      return spdlog::info("worker {} pid {} {}; {} answered in all", index, pid, description,
                          common::plural(answered, "request"));
    }
    return spdlog::info("worker {} pid {} {}", index, pid, description);
  }
  slot& s = *slots_[index];
  if (s.successor == process) {
    s.successor.reset();
    if (stopping_) return spdlog::info("worker {} pid {} {}", index, pid, description);
    spdlog::warn("worker {} pid {} {} before it was ready", index, pid, description);
    if (reloading_) abort_reload("worker " + std::to_string(index) + " pid " + std::to_string(pid) + " " + description);
    if (!intensity_.record(monotonic_clock::now())) {
      spdlog::error("that is {} within {}, more than --max-restarts {}; stopping the band",
                    common::plural(intensity_.recent_count(), "restart"), format_duration(options_.restart_window), options_.max_restarts);
      begin_stop(exit_restart_intensity, true);
    }
    return;
  }
  if (s.current == process) {
    s.current.reset();
    if (stopping_) return spdlog::info("worker {} pid {} {}", index, pid, description);
    // A worker of this reload that died before it was ready, such as a
    // successor that took over the slot, fails the reload.
    if (reloading_ && process->state == worker_process::phase::starting &&
        process->reload_number >= reload_number_) {
      abort_reload("worker " + std::to_string(index) + " pid " + std::to_string(pid) + " " + description +
                   " before it was ready");
    }
    return replace_worker(process, pid, status, description);
  }
}

// Decides what follows a serving worker's exit: the end of the band for a
// fatal configuration error or too many restarts, the slot's successor when
// one is starting (a reload or a recycle was under way), and otherwise a new
// worker in the same slot after the slot's backoff.
void master::replace_worker(const process_ptr& process, pid_t pid, int status, const std::string& description) {
  const unsigned index = process->slot;
  slot& s = *slots_[index];
  if (WIFEXITED(status) && WEXITSTATUS(status) == exit_config_error) {
    spdlog::error("worker {} pid {} {}, which reports a configuration error; stopping the band", index, pid,
                  description);
    return begin_stop(exit_config_error, true);
  }
  if (!intensity_.record(monotonic_clock::now())) {
    spdlog::error("worker {} pid {} {}; that is {} within {}, more than --max-restarts {}; stopping the band",
                  index, pid, description, common::plural(intensity_.recent_count(), "restart"), format_duration(options_.restart_window),
                  options_.max_restarts);
    return begin_stop(exit_restart_intensity, true);
  }

  if (s.successor) {
    s.current = std::exchange(s.successor, nullptr);
    s.succession_reason.clear();
    spdlog::warn("worker {} pid {} {}; its successor pid {} takes the slot", index, pid, description,
                 s.current->child.pid());
    if (reloading_) continue_reload();
    return;
  }

  const auto uptime = since(process->started);
  const auto delay = s.backoff.next_delay(uptime, options_.min_uptime);
  if (delay == std::chrono::milliseconds::zero()) {
    spdlog::warn("worker {} pid {} {}; replacing it", index, pid, description);
    s.current = spawn_worker(index);
    return;
  }
  spdlog::warn("worker {} pid {} {}; it ran for {}, under --min-uptime {}; replacing it in {}", index, pid,
               description, format_duration(uptime), format_duration(options_.min_uptime), format_duration(delay));
  s.respawn_pending = true;
  s.respawn_timer.expires_after(delay);
  s.respawn_timer.async_wait([this, index](boost::system::error_code ec) {
    if (index >= slots_.size()) return;
    slot& waited = *slots_[index];
    waited.respawn_pending = false;
    if (!ec && !stopping_ && !waited.current) waited.current = spawn_worker(index);
  });
}

void master::spawn_missing_workers() {
  for (unsigned index = 0; index < slots_.size(); ++index) {
    slot& s = *slots_[index];
    if (s.current || s.respawn_pending) continue;
    s.current = spawn_worker(index);
    if (!s.current) return;
  }
}

// Forks one worker for slot `index`. Returns null when fork() fails, after
// arranging a retry.
master::process_ptr master::spawn_worker(unsigned index) {
  const auto record = table_.allocate();
  if (!record) {
    spdlog::error("cannot start worker {}: all {} slot table records are in use", index, slot_table::capacity);
    return nullptr;
  }
  int channel[2] = {-1, -1};
  try {
    make_channel(channel);
  } catch (const std::system_error& error) {
    table_.release(*record);
    spdlog::error("cannot start worker {}: {}; retrying in {}", index, error.what(), format_duration(fork_retry_delay));
    retry_spawn_later();
    return nullptr;
  }
  // A fresh heartbeat, so the new worker's time to start counts from now.
  table_[*record].heartbeat_ns.store(to_heartbeat(monotonic_clock::now()), std::memory_order_relaxed);

  // Block every signal across fork(): until the child has put back the
  // default handlers, a signal sent to it would run Asio's handler, which
  // writes to the master's signal pipe and would make the master act on a
  // signal meant for the worker.
  sigset_t all_signals;
  sigset_t previous_mask;
  ::sigfillset(&all_signals);
  ::sigprocmask(SIG_BLOCK, &all_signals, &previous_mask);

  // Drawn before fork(): the worker counts against its own limit.
  std::uint64_t request_limit = 0;
  if (options_.max_requests != 0) {
    std::uniform_int_distribution<std::uint64_t> jitter(0, options_.max_requests_jitter);
    request_limit = options_.max_requests + jitter(random_);
  }

  const pid_t master_pid = ::getpid();
  // Taken before fork(): the child may start its work before the parent runs again.
  const auto fork_time = monotonic_clock::now();
  context_.notify_fork(asio::execution_context::fork_prepare);
  const pid_t pid = ::fork();
  if (pid == 0) {
    context_.notify_fork(asio::execution_context::fork_child);
    // Drop the master's signal handlers, its pidfds of the other workers and
    // every descriptor the worker must not hold.
    boost::system::error_code ignored;
    signals_.clear(ignored);
    for (const auto& other : all_processes()) other->child.reaped();
    close_inherited_descriptors(index, channel[1]);
    ::close(channel[0]);
    // Die with the master, even when it is killed with SIGKILL. If the master
    // died before prctl() took effect, the parent is already someone else.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != master_pid) ::_exit(1);
    // Signals from a terminal reach the whole process group; the master
    // decides what they mean for the workers.
    for (int signal_number : {SIGINT, SIGHUP, SIGTTIN, SIGTTOU}) ::signal(signal_number, SIG_IGN);
    common::setup_logging(common::worker_role(index));
    ::sigprocmask(SIG_SETMASK, &previous_mask, nullptr);
    run_worker_process(index, listen_fd_for(index), channel[1], table_[*record], heartbeat_interval(options_),
                       request_limit, function_);
  }

  const int fork_errno = errno;
  context_.notify_fork(asio::execution_context::fork_parent);
  ::sigprocmask(SIG_SETMASK, &previous_mask, nullptr);
  ::close(channel[1]);
  if (pid < 0) {
    ::close(channel[0]);
    table_.release(*record);
    spdlog::error("fork failed for worker {}: {}; retrying in {}", index, std::strerror(fork_errno),
                  format_duration(fork_retry_delay));
    retry_spawn_later();
    return nullptr;
  }

  slot& s = *slots_[index];
  auto process = std::make_shared<worker_process>(context_);
  process->child = child_process(pid);
  process->slot = index;
  process->record = *record;
  process->generation = ++s.generation;
  process->reload_number = reload_number_;
  process->started = fork_time;
  process->request_limit = request_limit;
  process->channel.assign(channel[0]);
  spdlog::info("worker {} pid {} started (generation {})", index, pid, process->generation);

  read_channel(process);
  process->ready_timer.expires_after(options_.ready_timeout);
  process->ready_timer.async_wait([this, weak = std::weak_ptr(process)](boost::system::error_code ec) {
    if (auto waited = weak.lock(); !ec && waited) handle_ready_timeout(waited);
  });
  return process;
}

void master::retry_spawn_later() {
  fork_retry_timer_.expires_after(fork_retry_delay);
  fork_retry_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec && !stopping_) spawn_missing_workers();
  });
}

// Stops the band. A graceful stop sends SIGTERM, and each worker finishes
// its requests; a fast stop sends SIGQUIT, and each worker closes its
// connections at once. Workers still running after the graceful timeout get
// SIGKILL. The master exits with `exit_status` once all are reaped.
void master::begin_stop(int exit_status, bool graceful) {
  stopping_ = true;
  if (reloading_) spdlog::info("reload {} left unfinished: the band is stopping", reload_number_);
  reloading_ = false;
  exit_status_ = exit_status;
  fork_retry_timer_.cancel();
  health_timer_.cancel();
  balancer_.stop_accepting();
  if (!graceful) balancer_.close_held();
  // New connections are refused from now on, where a socket kept open until
  // the master exits would queue them and then reset them. The workers close
  // their own copies as they drain.
  for (auto& listener : listeners_) listener.close();
  retired_listeners_.clear();
  for (auto& s : slots_) {
    s->respawn_timer.cancel();
    s->respawn_pending = false;
  }
  for (const auto& process : all_processes()) {
    process->kill_timer.cancel();
    process->ready_timer.cancel();
    balancer_.retire_target(process->record);
    process->child.signal(graceful ? SIGTERM : SIGQUIT);
  }
  stop_timer_.expires_after(options_.graceful_timeout);
  stop_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) kill_survivors("the --graceful-timeout of " + format_duration(options_.graceful_timeout));
  });
  finish_if_stopped();
}

void master::kill_survivors(const std::string& reason) {
  for (const auto& process : all_processes()) {
    if (!process->child.running()) continue;
    spdlog::warn("worker {} pid {} still running after {}; sending SIGKILL", process->slot, process->child.pid(), reason);
    process->child.signal(SIGKILL);
  }
}

void master::finish_if_stopped() {
  if (!stopping_ || !all_processes().empty()) return;
  stop_timer_.cancel();
  context_.stop();
}

// Every worker process that runs and is not yet reaped.
std::vector<master::process_ptr> master::all_processes() const {
  std::vector<process_ptr> processes;
  for (const auto& s : slots_) {
    if (s->current) processes.push_back(s->current);
    if (s->successor) processes.push_back(s->successor);
  }
  processes.insert(processes.end(), draining_.begin(), draining_.end());
  return processes;
}

master::process_ptr master::find_process(pid_t pid) const {
  for (const auto& process : all_processes()) {
    if (process->child.pid() == pid) return process;
  }
  return nullptr;
}

int run(const options& options, worker_function function) {
  master band_master(options, std::move(function));
  return band_master.run();
}

}  // namespace band
