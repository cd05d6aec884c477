// The master's health checks: every check interval, each worker's heartbeat
// and memory against their limits.
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
  for (unsigned index = 0; index < slots_.size(); ++index) {
    const slot& s = *slots_[index];
    // A worker the master has already signalled is on its way out.
    if (!s.child.running() || !s.stop_reason.empty()) continue;
    check_heartbeat(index, now);
    if (options_.max_memory != 0 && s.stop_reason.empty()) check_memory(index);
  }
}

// A worker whose event loop has not turned within the heartbeat timeout is
// frozen. SIGABRT ends it with a core dump, where core dumps are enabled, so
// the stack can show where it hung.
void master::check_heartbeat(unsigned index, monotonic_clock::time_point now) {
  const auto last = from_heartbeat(table_[index].heartbeat_ns.load(std::memory_order_relaxed));
  const auto age = std::chrono::duration_cast<std::chrono::milliseconds>(now - last);
  if (age <= options_.heartbeat_timeout) return;
  restart_unhealthy(index, SIGABRT,
                    "no heartbeat for " + common::format_duration(age) + ", over the --heartbeat-timeout of " +
                        common::format_duration(options_.heartbeat_timeout));
}

void master::check_memory(unsigned index) {
  const pid_t pid = slots_[index]->child.pid();
  std::optional<common::memory_usage> usage;
  try {
    // RSS bounds both USS and PSS from above, and statm is far cheaper to
    // read than smaps_rollup: most checks of a healthy worker end here.
    const auto resident = common::read_resident_bytes(pid);
    if (!resident || *resident <= options_.max_memory) return;
    usage = common::read_memory_usage(pid);
  } catch (const std::exception& error) {
    spdlog::error("worker {} pid {}: cannot read its memory: {}", index, pid, error.what());
    return;
  }
  if (!usage) return;  // it has just exited; SIGCHLD follows

  const bool private_only = options_.measure == memory_measure::uss;
  const std::uint64_t used = private_only ? usage->uss() : usage->pss;
  if (used <= options_.max_memory) return;
  restart_unhealthy(index, SIGTERM,
                    std::string(private_only ? "private memory (USS) " : "proportional memory (PSS) ") +
                        common::format_size(used) + " over the --max-memory limit of " +
                        common::format_size(options_.max_memory));
}

// Sends `signal_number` and, when the worker is still running kill_timeout
// later, SIGKILL. The exit is then handled like any other death: it counts
// toward the restart intensity and the slot's backoff.
void master::restart_unhealthy(unsigned index, int signal_number, std::string reason) {
  slot& s = *slots_[index];
  const pid_t pid = s.child.pid();
  spdlog::warn("worker {} pid {} {}; sending {}", index, pid, reason, common::signal_name(signal_number));
  s.stop_reason = std::move(reason);
  s.child.signal(signal_number);
  s.kill_timer.expires_after(options_.kill_timeout);
  s.kill_timer.async_wait([this, index, pid, signal_number](boost::system::error_code ec) {
    const slot& waited = *slots_[index];
    if (ec || waited.child.pid() != pid) return;
    spdlog::warn("worker {} pid {} still running {} after {}; sending SIGKILL", index, pid,
                 common::format_duration(options_.kill_timeout), common::signal_name(signal_number));
    waited.child.signal(SIGKILL);
  });
}

}  // namespace band
