#include "recorder.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>

namespace loadgen {

namespace {

// Reserved up front so that recording never reallocates in a short run.
constexpr std::uint64_t max_reserved_samples = 1 << 20;

// The nearest-rank percentile of sorted samples, in microseconds.
double percentile_us(const std::vector<std::int64_t>& sorted, double fraction) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return static_cast<double>(sorted[rank - 1]) / 1000.0;
}

void print_latencies(std::ostream& out, const char* kind, std::vector<std::int64_t> samples) {
  std::sort(samples.begin(), samples.end());
  char line[160];
  std::snprintf(line, sizeof line, "%s_count %zu\n%s_p50_us %.1f\n%s_p99_us %.1f\n%s_max_us %.1f\n", kind,
                samples.size(), kind, percentile_us(samples, 0.50), kind, percentile_us(samples, 0.99), kind,
                percentile_us(samples, 1.0));
  out << line;
}

// Prints PREFIXmax_share (the busiest worker's share of the counts) and
// PREFIXcv (the coefficient of variation of the counts). A worker that got
// nothing has no pid to count, so each worker missing from `counts` up to
// `expected_workers` is counted as 0.
void print_spread(std::ostream& out, const char* prefix, std::vector<std::uint64_t> counts,
                  unsigned expected_workers) {
  std::uint64_t total = 0;
  for (const auto count : counts) total += count;
  if (counts.size() < expected_workers) counts.resize(expected_workers, 0);
  double max_share = 0;
  double cv = 0;
  if (total > 0) {
    const double mean = static_cast<double>(total) / static_cast<double>(counts.size());
    double variance = 0;
    for (const auto count : counts) variance += (static_cast<double>(count) - mean) * (static_cast<double>(count) - mean);
    variance /= static_cast<double>(counts.size());
    cv = std::sqrt(variance) / mean;
    max_share = static_cast<double>(*std::max_element(counts.begin(), counts.end())) / static_cast<double>(total);
  }
  char line[160];
  std::snprintf(line, sizeof line, "%smax_share %.4f\n%scv %.4f\n", prefix, max_share, prefix, cv);
  out << line;
}

}  // namespace

recorder::recorder(std::uint64_t max_requests, unsigned heavy_percent, clock::time_point issue_deadline)
    : max_requests_(max_requests), heavy_percent_(heavy_percent), issue_deadline_(issue_deadline) {
  const auto reserved = std::min(max_requests, max_reserved_samples);
  light_ns_.reserve(reserved);
  heavy_ns_.reserve(reserved * heavy_percent / 100 + 1);
}

bool recorder::start_request(bool& heavy) {
  if (started_ >= max_requests_ || clock::now() >= issue_deadline_) return false;
  // Request i is heavy when floor((i + 1) * p / 100) steps past floor(i * p / 100).
  heavy = (started_ + 1) * heavy_percent_ / 100 != started_ * heavy_percent_ / 100;
  ++started_;
  return true;
}

void recorder::record_response(bool heavy, clock::duration latency, unsigned code, pid_t worker_pid,
                               bool first_on_connection) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(latency).count();
  (heavy ? heavy_ns_ : light_ns_).push_back(ns);
  if (code < 200 || code > 299) ++non_2xx_;
  auto worker = std::find_if(per_worker_.begin(), per_worker_.end(),
                             [worker_pid](const worker_counts& counts) { return counts.pid == worker_pid; });
  if (worker == per_worker_.end()) worker = per_worker_.insert(per_worker_.end(), worker_counts{worker_pid, 0, 0});
  ++worker->responses;
  if (first_on_connection) ++worker->connections;
}

void recorder::record_error(std::string_view error_text) {
  if (errors_++ == 0) first_error_ = error_text;
}

void recorder::print(std::ostream& out, unsigned expected_workers, clock::duration elapsed) const {
  const std::uint64_t responses = light_ns_.size() + heavy_ns_.size();
  const double seconds = std::chrono::duration<double>(elapsed).count();
  out << "requests_started " << started_ << "\n";
  out << "responses " << responses << "\n";
  out << "errors " << errors_ << "\n";
  out << "unfinished " << started_ - responses - errors_ - skipped_ << "\n";
  out << "skipped " << skipped_ << "\n";
  out << "non_2xx " << non_2xx_ << "\n";
  char line[160];
  std::snprintf(line, sizeof line, "elapsed_s %.3f\nresponses_per_s %.1f\n", seconds,
                seconds > 0 ? static_cast<double>(responses) / seconds : 0.0);
  out << line;
  print_latencies(out, "light", light_ns_);
  print_latencies(out, "heavy", heavy_ns_);

  auto workers = per_worker_;
  std::sort(workers.begin(), workers.end(),
            [](const worker_counts& a, const worker_counts& b) { return a.responses > b.responses; });
  std::vector<std::uint64_t> responses_by_worker;
  std::vector<std::uint64_t> connections_by_worker;
  for (const auto& worker : workers) {
    responses_by_worker.push_back(worker.responses);
    connections_by_worker.push_back(worker.connections);
  }
  out << "workers_seen " << workers.size() << "\n";
  print_spread(out, "", responses_by_worker, expected_workers);
  print_spread(out, "connection_", connections_by_worker, expected_workers);
  for (const auto& worker : workers) {
    out << "worker " << worker.pid << " " << worker.responses << " " << worker.connections << "\n";
  }
}

}  // namespace loadgen
