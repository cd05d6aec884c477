#include "scenarios.hpp"

#include "http_probe.hpp"
#include "interrupt.hpp"
#include "server_process.hpp"

#include <band/common/wait_status.hpp>

#include <sys/wait.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <functional>

namespace bench {

namespace {

using std::chrono::nanoseconds;

constexpr unsigned launch_workers = 2;
// Bounds on every polling loop besides its deadline: at one probe every
// 0.2 ms, 5 s allows 25,000 probes.
// A server that accepts every connection but never responds would otherwise
// hold 25,000 sockets open at once.
constexpr std::size_t max_probes_per_measurement = 100'000;
constexpr std::size_t max_probes_in_flight = 64;

void count_probe(probe_counts& counts, const probe_result& result) {
  ++counts.connections;
  switch (result.outcome) {
    case probe_outcome::response:
      if (result.status != 200) ++counts.not_200;
      break;
    case probe_outcome::refused: ++counts.refused; break;
    case probe_outcome::reset: ++counts.reset; break;
    case probe_outcome::bad_response: ++counts.bad_response; break;
    case probe_outcome::socket_error: ++counts.socket_error; break;
  }
}

bool is_200_with_pid(const probe_result& result) {
  return result.outcome == probe_outcome::response && result.status == 200 && result.worker_pid > 0;
}

// Starts a probe of `GET /` every `options.poll_interval`, each on a new
// connection and without waiting for the earlier ones, until `accept` takes
// a result. Returns that result, or nullopt at the deadline, after
// max_probes_per_measurement probes, or when the server exits. `accept` is
// called with every result, also those that come after the accepted one.
std::optional<probe_result> poll_until(server_process& server, const sockaddr_in& address,
                                       clock::time_point deadline, const bench_options& options,
                                       probe_counts& counts,
                                       const std::function<bool(const probe_result&)>& accept) {
  probe_fleet fleet(address);
  std::optional<probe_result> accepted;
  const auto take = [&](const std::vector<probe_result>& results) {
    for (const auto& result : results) {
      count_probe(counts, result);
      if (accept(result) && !accepted) accepted = result;
    }
  };

  std::size_t started = 0;
  auto next_start = clock::now();
  while (!accepted) {
    throw_if_interrupted();
    const auto now = clock::now();
    if (now >= deadline) break;
    const bool may_start = started < max_probes_per_measurement && fleet.in_flight() < max_probes_in_flight;
    if (may_start && now >= next_start) {
      fleet.start();
      ++started;
      next_start = now + options.poll_interval;
    }
    take(fleet.wait(may_start ? std::min(next_start, deadline) : deadline));
    server.read_output();
    if (!accepted && !server.running()) break;
  }

  const auto stragglers_deadline = accepted ? clock::now() + straggler_wait : clock::now();
  while (fleet.in_flight() > 0 && clock::now() < stragglers_deadline) {
    throw_if_interrupted();
    take(fleet.wait(stragglers_deadline));
    server.read_output();
  }
  const std::size_t abandoned = fleet.abandon();
  counts.connections += abandoned;
  counts.unanswered += abandoned;
  return accepted;
}

// Describes why a server printed no listen line or sent no response: its
// exit, or the timeout.
std::string describe_silence(server_process& server, const bench_options& options) {
  // A server whose standard error has just closed may not be reapable yet.
  constexpr auto exit_wait = std::chrono::milliseconds(100);
  if (server.wait_for_exit(clock::now() + exit_wait)) {
    return "the server " + band::common::describe_wait_status(*server.wait_status());
  }
  return "timed out after " + duration_text(options.timeout);
}

// Waits until the server has forked `count` children, within the deadline.
bool wait_for_children(server_process& server, std::size_t count, clock::time_point deadline,
                       const bench_options& options) {
  while (child_pids(server.pid()).size() < count) {
    throw_if_interrupted();
    if (clock::now() >= deadline || !server.running()) return false;
    server.pause(options.poll_interval);
  }
  return true;
}

// Stops the server and records in `anomalies` what differs from a clean stop.
void stop_and_check(server_process& server, const std::string& label, nanoseconds grace, anomaly_list& anomalies) {
  const stop_result stopped = server.stop();
  if (!stopped.reaped) {
    anomalies.add(label + ": still running after SIGTERM, SIGKILL and " + duration_text(2 * grace));
  } else if (stopped.exited_before_stop) {
    anomalies.add(label + ": " + band::common::describe_wait_status(stopped.wait_status) + " before the stop");
  } else if (stopped.needed_sigkill) {
    anomalies.add(label + ": still running " + duration_text(grace) + " after SIGTERM; sent SIGKILL");
  } else if (!WIFEXITED(stopped.wait_status) || WEXITSTATUS(stopped.wait_status) != 0) {
    anomalies.add(label + " after SIGTERM: " + band::common::describe_wait_status(stopped.wait_status) +
                  ", where a clean stop exits with status 0");
  }
  if (stopped.orphans_killed > 0) {
    anomalies.add(label + ": left " + std::to_string(stopped.orphans_killed) +
                  " child processes behind when it exited; bench-restart killed and reaped them");
  }
  for (const auto& line : server.notable_lines()) anomalies.add(label + " logged: " + line);
  if (server.notable_line_count() > server.notable_lines().size()) {
    anomalies.add(label + " logged " + std::to_string(server.notable_line_count() - server.notable_lines().size()) +
                  " more lines that mention an error or a warning");
  }
}

// One launch: fork+exec → listen line → first 200, then the master's memory
// once both workers exist. Records a failure instead of throwing.
void measure_one_launch(const bench_options& options, launch_series& series) {
  server_process server(series.server_argv, options.timeout);
  const std::string label = "launch " + std::to_string(series.attempted) + " (master pid " +
                            std::to_string(server.pid()) + ")";
  const auto deadline = server.fork_time() + options.timeout;

  const auto listen = server.wait_for_listen_line(deadline);
  const auto listen_line_read = clock::now();
  if (!listen) {
    series.failures.push_back(label + ": no `listening on` line: " + describe_silence(server, options));
    return stop_and_check(server, label, options.timeout, series.anomalies);
  }

  const auto response = poll_until(server, loopback_address(*listen), deadline, options, series.probes,
                                   [](const probe_result& result) { return is_200_with_pid(result); });
  if (!response) {
    series.failures.push_back(label + ": no 200: " + describe_silence(server, options));
    return stop_and_check(server, label, options.timeout, series.anomalies);
  }
  series.to_listen_line.push_back(listen_line_read - server.fork_time());
  series.listen_line_to_200.push_back(response->finished - listen_line_read);
  series.to_first_200.push_back(response->finished - server.fork_time());

  if (!wait_for_children(server, series.workers, clock::now() + options.timeout, options)) {
    series.anomalies.add(label + ": fewer than " + std::to_string(series.workers) + " workers after " +
                         duration_text(options.timeout) + "; no memory sample");
  } else if (const auto memory = read_memory(server.pid())) {
    series.master_memory.push_back(*memory);
  }
  stop_and_check(server, label, options.timeout, series.anomalies);
}

// Sends SIGKILL to `worker` and polls until a 200 from another worker pid.
// Returns that pid, or nullopt after recording a failure.
std::optional<pid_t> kill_and_wait_for_replacement(server_process& server, const sockaddr_in& address,
                                                   pid_t worker, const bench_options& options, kill_series& series) {
  const auto killed_at = clock::now();
  if (::kill(worker, SIGKILL) != 0) {
    series.aborted = "kill(" + std::to_string(worker) + ", SIGKILL) failed: " + std::strerror(errno);
    return std::nullopt;
  }
  const auto accept_replacement = [&series, worker](const probe_result& result) {
    if (is_200_with_pid(result) && result.worker_pid == worker) ++series.probes.from_killed_worker;
    return is_200_with_pid(result) && result.worker_pid != worker;
  };
  const auto response =
      poll_until(server, address, killed_at + options.timeout, options, series.probes, accept_replacement);
  if (response) {
    series.kill_to_response.push_back(response->finished - killed_at);
    return response->worker_pid;
  }

  series.failures.push_back("kill " + std::to_string(series.attempted) + " (worker pid " + std::to_string(worker) +
                            "): no 200 from a new worker: " + describe_silence(server, options));
  // Look once more, without timing it, so the series can go on.
  const auto late = poll_until(server, address, clock::now() + options.timeout, options, series.probes,
                               [worker](const probe_result& result) {
                                 return is_200_with_pid(result) && result.worker_pid != worker;
                               });
  if (!late) {
    series.aborted = "no worker responded within " + duration_text(2 * options.timeout) + " of kill " +
                     std::to_string(series.attempted);
    return std::nullopt;
  }
  return late->worker_pid;
}

// Waits for the server's start, then kills its worker options.kills times,
// each time waiting for the replacement. Records in `series` why it ends
// early.
void run_kill_series(server_process& server, const bench_options& options, kill_series& series) {
  const auto listen = server.wait_for_listen_line(server.fork_time() + options.timeout);
  series.startup_lines = server.startup_lines();
  if (!listen) {
    series.aborted = "no `listening on` line: " + describe_silence(server, options);
    return;
  }

  const sockaddr_in address = loopback_address(*listen);
  // The probes before the first kill wait for the server's start, so they
  // stay out of the series' counts.
  probe_counts startup_probes;
  const auto first = poll_until(server, address, clock::now() + options.timeout, options, startup_probes,
                                [](const probe_result& result) { return is_200_with_pid(result); });
  if (!first) {
    series.aborted = "no 200 with an X-Worker-Pid header: " + describe_silence(server, options);
    return;
  }
  series.memory_after_startup = read_memory(server.pid());

  pid_t worker = first->worker_pid;
  for (unsigned round = 1; round <= options.kills; ++round) {
    throw_if_interrupted();
    // Only a child of the server started here may be killed.
    if (parent_pid(worker) != server.pid()) {
      series.aborted = "X-Worker-Pid " + std::to_string(worker) + " is not a child of the server (pid " +
                       std::to_string(server.pid()) + "), so it was not killed";
      break;
    }
    series.attempted = round;
    const auto replacement = kill_and_wait_for_replacement(server, address, worker, options, series);
    if (!replacement) break;
    worker = *replacement;
  }
  series.memory_after_kills = read_memory(server.pid());
}

}  // namespace

void anomaly_list::add(const std::string& text) {
  const auto same = std::find_if(items_.begin(), items_.end(), [&text](const item& i) { return i.text == text; });
  if (same != items_.end()) {
    ++same->count;
  } else if (items_.size() < max_items) {
    items_.push_back(item{text});
  } else {
    ++dropped_;
  }
}

launch_series measure_launches(const bench_options& options) {
  launch_series series;
  series.workers = launch_workers;
  series.server_argv = {options.band_path, "--listen", "127.0.0.1:0", "--workers", std::to_string(launch_workers)};
  for (unsigned launch = 1; launch <= options.launches; ++launch) {
    throw_if_interrupted();
    series.attempted = launch;
    measure_one_launch(options, series);
  }
  return series;
}

kill_series measure_kills(const std::vector<std::string>& server_argv, const bench_options& options) {
  kill_series series;
  series.server_argv = server_argv;
  server_process server(server_argv, options.timeout);
  run_kill_series(server, options, series);
  stop_and_check(server, "the server (pid " + std::to_string(server.pid()) + ")", options.timeout, series.anomalies);
  return series;
}

}  // namespace bench
