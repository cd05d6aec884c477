#include "report.hpp"

#include "stats.hpp"

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <sstream>

namespace bench {

namespace {

using std::chrono::nanoseconds;

std::string format_ms(nanoseconds duration) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << std::chrono::duration<double, std::milli>(duration).count() << " ms";
  return text.str();
}

std::string format_kib(std::uint64_t kib) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << static_cast<double>(kib) / 1024.0 << " MiB (" << kib << " KiB)";
  return text.str();
}

std::string format_gib(std::uint64_t kib) {
  std::ostringstream text;
  text << std::fixed << std::setprecision(1) << static_cast<double>(kib) / (1024.0 * 1024.0) << " GiB";
  return text.str();
}

// Makes an absolute path below the working directory relative, so the report
// reads the same on every checkout. Returns any other text unchanged.
std::string display_path(const std::string& text) {
  if (text.empty() || text.front() != '/') return text;
  std::error_code ec;
  const auto relative = std::filesystem::path(text).lexically_relative(std::filesystem::current_path(ec));
  if (ec || relative.empty() || *relative.begin() == "..") return text;
  return relative.string();
}

// The command in Markdown backticks. (Built by appending, because GCC 12
// gives a false -Wrestrict warning for "`" + std::string&&.)
std::string display_command(const std::vector<std::string>& argv) {
  std::string text = "`";
  for (std::size_t i = 0; i < argv.size(); ++i) {
    if (i > 0) text += ' ';
    text += display_path(argv[i]);
  }
  text += '`';
  return text;
}

std::string summary_cells(const std::vector<nanoseconds>& samples) {
  const auto stats = summarize(samples);
  if (!stats) return "n/a | n/a | n/a | n/a";
  return format_ms(stats->median) + " | " + format_ms(stats->p90) + " | " + format_ms(stats->min) + " | " +
         format_ms(stats->max);
}

// The sample with the median VmRSS, so both figures come from one moment.
std::optional<memory_sample> median_memory(std::vector<memory_sample> samples) {
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end(),
            [](const memory_sample& a, const memory_sample& b) { return a.rss_kib < b.rss_kib; });
  return samples[samples.size() / 2];
}

// "node v20.20.2, cluster scheduling round-robin" from the node script's
// startup line, or "node" when the line is missing.
std::string node_description(const kill_series& series) {
  for (const auto& line : series.startup_lines) {
    const auto start = line.find("node v");
    if (start != std::string::npos) return line.substr(start);
  }
  return "node";
}

void print_header(std::ostream& out, const report_input& input) {
  const auto& machine = input.machine;
  const auto interval = std::chrono::duration_cast<std::chrono::microseconds>(input.options.poll_interval);
  out << "# Day 01 restart benchmark\n\n"
      << "- Machine: " << machine.online_cpus << " online CPUs (nproc), " << machine.cpu_model << ", "
      << format_gib(machine.memory_kib) << " of memory, Linux " << machine.kernel_release
      << ", 1-minute load average " << machine.load_average << " at the start\n"
      << "- Date: " << input.date << "\n"
      << "- Command: `" << input.command << "`\n"
      << "- Method: a probe is `GET /` over a new TCP connection to 127.0.0.1 with `Connection: close`. "
      << "A new probe starts every " << interval.count() << " µs, without waiting for the earlier ones, "
      << "until the awaited response has been read. Times come from the monotonic clock (steady_clock). "
      << "A measurement that takes longer than " << duration_text(input.options.timeout)
      << " counts as a failure. p90 is the nearest-rank 90th percentile.\n\n";
}

void print_failures(std::ostream& out, const std::string& series, const std::vector<std::string>& failures) {
  for (const auto& failure : failures) out << "- " << series << ", failed: " << failure << "\n";
  if (!failures.empty()) out << "\n";
}

void print_launches(std::ostream& out, const launch_series& series) {
  out << "## 1. Launch → first 200\n\n"
      << display_command(series.server_argv) << ", " << series.attempted << " launches, " << series.failures.size()
      << " failed, " << series.probes.connections << " connections in all. "
      << "The clock starts just before fork(); exec() follows in the child.\n\n"
      << "| phase | median | p90 | min | max |\n"
      << "|---|--:|--:|--:|--:|\n"
      << "| fork → `listening on` line read | " << summary_cells(series.to_listen_line) << " |\n"
      << "| `listening on` line → first 200 read | " << summary_cells(series.listen_line_to_200) << " |\n"
      << "| fork → first 200 read (total) | " << summary_cells(series.to_first_200) << " |\n\n";
  print_failures(out, "launches", series.failures);
}

std::string kill_row(const std::string& server, const kill_series& series) {
  return "| " + server + " | " + std::to_string(series.attempted) + " | " + std::to_string(series.failures.size()) +
         " | " + summary_cells(series.kill_to_response) + " |\n";
}

std::string probe_row(const std::string& server, const probe_counts& counts) {
  return "| " + server + " | " + std::to_string(counts.connections) + " | " + std::to_string(counts.refused) + " | " +
         std::to_string(counts.reset) + " | " + std::to_string(counts.unanswered) + " | " +
         std::to_string(counts.from_killed_worker) + " | " +
         std::to_string(counts.not_200 + counts.bad_response + counts.socket_error) + " |\n";
}

// Prints what the band counts show about the gap between a worker's death
// and its replacement.
void print_band_gap_notes(std::ostream& out, const kill_series& band) {
  if (band.kill_to_response.empty()) return;
  if (band.probes.refused == 0) {
    out << "- band: with `--workers 1` no other worker can take a connection while the replacement starts. "
        << "The master holds the listening socket and keeps it open, so a connection made in that gap waits "
        << "in the listen backlog that the master holds until the replacement accepts it: the client sees a "
        << "slower response, not a refusal. No probe was refused.\n";
  } else {
    out << "- band: " << band.probes.refused << " probes were refused, so at times nothing listened on the port.\n";
  }
}

// Prints what the node counts show. The explanations hold for round-robin
// scheduling, as Node v20's lib/internal/cluster/round_robin_handle.js has it.
void print_node_gap_notes(std::ostream& out, const std::string& description, const kill_series& node) {
  if (description.find("round-robin") == std::string::npos) return;
  if (node.probes.refused > 0) {
    out << "- node: " << node.probes.refused << " probes were refused. With round-robin scheduling the primary "
        << "accepts the connections itself, closes its listening socket when its last worker exits and opens "
        << "a new one when the replacement calls listen().\n";
  }
  if (node.probes.unanswered > 0) {
    out << "- node: " << node.probes.unanswered << " connections got no response. The primary closes its copy "
        << "of an accepted connection only when a worker confirms the hand-off, so a connection handed to the "
        << "worker that was just killed stays open in the primary with no response.\n";
  }
}

void print_kills(std::ostream& out, const report_input& input) {
  const std::string node = input.node_kills ? node_description(*input.node_kills) : "";
  out << "## 2. kill -9 → first response from the replacement\n\n"
      << "The clock starts just before kill(SIGKILL) of the only worker and stops when a 200 whose "
      << "X-Worker-Pid names a new pid has been read.\n\n"
      << "| server | kills | failed | median | p90 | min | max |\n"
      << "|---|--:|--:|--:|--:|--:|--:|\n"
      << kill_row("band", input.band_kills);
  if (input.node_kills) out << kill_row(node, *input.node_kills);
  out << "\n";

  out << "Commands:\n\n- band: " << display_command(input.band_kills.server_argv) << "\n";
  if (input.node_kills) {
    out << "- node: " << display_command(input.node_kills->server_argv) << "\n";
  } else {
    out << "- node: skipped (not installed)\n";
  }
  out << "\n";

  out << "What the probes of the kill series ran into, one count per connection. No response: the connection "
      << "still had no complete response " << duration_text(straggler_wait) << " after the awaited 200 "
      << "arrived, or when a measurement failed, and bench-restart closed it.\n\n"
      << "| server | connections | refused | reset | no response | 200 from the killed worker | other |\n"
      << "|---|--:|--:|--:|--:|--:|--:|\n"
      << probe_row("band", input.band_kills.probes);
  if (input.node_kills) out << probe_row(node, input.node_kills->probes);
  out << "\n";

  print_band_gap_notes(out, input.band_kills);
  if (input.node_kills) print_node_gap_notes(out, node, *input.node_kills);
  out << "\n";
  print_failures(out, "band", input.band_kills.failures);
  if (input.band_kills.aborted) out << "- band, stopped early: " << *input.band_kills.aborted << "\n\n";
  if (input.node_kills) {
    print_failures(out, "node", input.node_kills->failures);
    if (input.node_kills->aborted) out << "- node, stopped early: " << *input.node_kills->aborted << "\n\n";
  }
}

void print_memory_row(std::ostream& out, const std::string& process, const std::string& moment,
                      const std::optional<memory_sample>& sample) {
  out << "| " << process << " | " << moment << " | " << (sample ? format_kib(sample->rss_kib) : "n/a") << " | "
      << (sample ? format_kib(sample->pss_kib) : "n/a") << " |\n";
}

std::string after_replacements(const kill_series& series) {
  return "after " + std::to_string(series.kill_to_response.size()) + " replacements";
}

void print_memory(std::ostream& out, const report_input& input) {
  out << "## 3. Master memory\n\n"
      << "VmRSS from /proc/PID/status and Pss from /proc/PID/smaps_rollup. VmRSS counts every resident page "
      << "in full. Pss divides each shared page among the processes that map it: the workers forked from the "
      << "master, and also any other process on the machine that maps the same shared libraries.\n\n"
      << "| process | when | VmRSS | Pss |\n"
      << "|---|---|--:|--:|\n";
  print_memory_row(out, "band master, " + std::to_string(input.launches.workers) + " workers",
                   "after startup (median of " + std::to_string(input.launches.master_memory.size()) + " launches)",
                   median_memory(input.launches.master_memory));
  print_memory_row(out, "band master, 1 worker", "after startup", input.band_kills.memory_after_startup);
  print_memory_row(out, "band master, 1 worker", after_replacements(input.band_kills),
                   input.band_kills.memory_after_kills);
  if (input.node_kills) {
    print_memory_row(out, "node cluster primary, 1 worker", "after startup", input.node_kills->memory_after_startup);
    print_memory_row(out, "node cluster primary, 1 worker", after_replacements(*input.node_kills),
                     input.node_kills->memory_after_kills);
  }
  out << "\n";
}

void print_anomalies(std::ostream& out, const std::string& series, const anomaly_list& anomalies) {
  for (const auto& item : anomalies.items()) {
    out << "- " << series << ": " << item.text;
    if (item.count > 1) out << " (" << item.count << " times)";
    out << "\n";
  }
  if (anomalies.dropped() > 0) out << "- " << series << ": " << anomalies.dropped() << " more, not listed\n";
}

void print_all_anomalies(std::ostream& out, const report_input& input) {
  out << "## Unexpected events\n\n";
  const bool none = input.launches.anomalies.items().empty() && input.band_kills.anomalies.items().empty() &&
                    (!input.node_kills || input.node_kills->anomalies.items().empty());
  if (none) {
    out << "None: every server exited with status 0 after SIGTERM, left no process behind and logged no "
           "error or warning besides the reports of the benchmark's own SIGKILLs.\n";
    return;
  }
  print_anomalies(out, "launches", input.launches.anomalies);
  print_anomalies(out, "band kills", input.band_kills.anomalies);
  if (input.node_kills) print_anomalies(out, "node kills", input.node_kills->anomalies);
}

}  // namespace

void print_report(std::ostream& out, const report_input& input) {
  print_header(out, input);
  print_launches(out, input.launches);
  print_kills(out, input);
  print_memory(out, input);
  print_all_anomalies(out, input);
}

}  // namespace bench
