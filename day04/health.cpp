// The master's health checks: every check interval, each worker's heartbeat,
// memory and request count against their limits.
#include "master.hpp"

#include <band/common/parse.hpp>
#include <band/common/proc.hpp>
#include <band/common/wait_status.hpp>

#include <spdlog/spdlog.h>

#include <csignal>
#include <exception>

namespace band {

void master::schedule_health_check() {
  health_timer_.expires_after(options_.check_interval);
  health_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopping_) return;
    check_health();
    schedule_health_check();
  });
}

void master::check_health() {
  const auto now = monotonic_clock::now();
  for (const auto& process : all_processes()) {
    // A worker the master has already signalled, or asked to drain, is on
    // its way out.
    if (!process->child.running() || !process->stop_reason.empty()) continue;
    if (process->state == worker_process::phase::draining) continue;
    // A starting worker may block its loop while it initialises; the ready
    // timeout bounds it instead.
    if (process->state == worker_process::phase::serving) check_heartbeat(process, now);
    if (options_.max_memory != 0 && process->stop_reason.empty()) check_memory(process);
    if (process->request_limit != 0 && process->stop_reason.empty()) check_request_limit(process);
  }
}

// A worker whose event loop has not turned within the heartbeat timeout is
// frozen. SIGABRT ends it with a core dump, where core dumps are enabled, so
// the stack can show where it hung.
void master::check_heartbeat(const process_ptr& process, monotonic_clock::time_point now) {
  const auto last = from_heartbeat(table_[process->record].heartbeat_ns.load(std::memory_order_relaxed));
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - last);
  if (age <= options_.heartbeat_timeout) return;
  restart_unhealthy(process, SIGABRT,
                    "no heartbeat for " + common::format_duration(age) + ", over the --heartbeat-timeout of " +
                        common::format_duration(options_.heartbeat_timeout));
}

void master::check_memory(const process_ptr& process) {
  const pid_t pid = process->child.pid();
  std::optional<common::memory_usage> usage;
  try {
    // RSS bounds both USS and PSS from above, and statm is far cheaper to
    // read than smaps_rollup: most checks of a healthy worker end here.
    const auto resident = common::read_resident_bytes(pid);
    if (!resident || *resident <= options_.max_memory) return;
    usage = common::read_memory_usage(pid);
  } catch (const std::exception& error) {
    spdlog::error("worker {} pid {}: cannot read its memory: {}", process->slot, pid, error.what());
    return;
  }
  if (!usage) return;  // it has just exited; SIGCHLD follows

  const bool private_only = options_.measure == memory_measure::uss;
  const std::uint64_t used = private_only ? usage->uss() : usage->pss;
  if (used <= options_.max_memory) return;
  restart_unhealthy(process, SIGTERM,
                    std::string(private_only ? "private memory (USS) " : "proportional memory (PSS) ") +
                        common::format_size(used) + " over the --max-memory limit of " +
                        common::format_size(options_.max_memory));
}

// A worker past its request limit is replaced the way a reload replaces it:
// the successor starts, and the worker drains once the successor is ready.
// The worker reports the moment it reaches its limit over its channel; the
// health check only catches an application that counts requests without
// calling worker::check_request_limit().
void master::check_request_limit(const process_ptr& process) {
  if (stopping_ || !process->stop_reason.empty() || process->state == worker_process::phase::draining) return;
  const std::uint64_t served = table_[process->record].stats.requests.load(std::memory_order_relaxed);
  if (process->request_limit == 0 || served < process->request_limit) return;
  slot& s = *slots_[process->slot];
  if (s.current != process || s.successor) return;
  const std::string limit =
      std::to_string(process->request_limit) + " (--max-requests " + std::to_string(options_.max_requests) +
      (options_.max_requests_jitter == 0 ? ")" : " plus jitter)");
  spdlog::info("worker {} pid {} answered {}, at least its limit of {}; replacing it", process->slot,
               process->child.pid(), common::plural(served, "request"), limit);
  process->recycled = true;
  replace_gracefully(process->slot, "reaching its request limit of " + limit);
}

// Sends `signal_number` and, when the worker is still running kill_timeout
// later, SIGKILL. The exit is then handled like any other death: it counts
// toward the restart intensity and the slot's backoff.
void master::restart_unhealthy(const process_ptr& process, int signal_number, std::string reason) {
  const pid_t pid = process->child.pid();
  spdlog::warn("worker {} pid {} {}; sending {}", process->slot, pid, reason, common::signal_name(signal_number));
  process->stop_reason = std::move(reason);
  process->child.signal(signal_number);
  process->kill_timer.expires_after(options_.kill_timeout);
  process->kill_timer.async_wait([this, weak = std::weak_ptr(process), signal_number](boost::system::error_code ec) {
    const auto waited = weak.lock();
    if (ec || !waited || !waited->child.running()) return;
    spdlog::warn("worker {} pid {} still running {} after {}; sending SIGKILL", waited->slot, waited->child.pid(),
                 common::format_duration(options_.kill_timeout), common::signal_name(signal_number));
    waited->child.signal(SIGKILL);
  });
}

}  // namespace band
