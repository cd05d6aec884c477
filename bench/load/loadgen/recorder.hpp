// The counts of one load run: request numbers handed out, latencies by kind
// of request, responses and connections per worker pid, and failures.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

namespace loadgen {

using clock = std::chrono::steady_clock;

class recorder {
 public:
  // Every `100 / heavy_percent`-th request, spread evenly, is heavy, so
  // every server gets the same sequence.
  recorder(std::uint64_t max_requests, unsigned heavy_percent, clock::time_point issue_deadline);

  // Claims the next request. Returns false once max_requests have started or
  // the issue deadline has passed. `heavy` selects the path to request.
  bool start_request(bool& heavy);

  // `first_on_connection`: the first response on its connection, which
  // identifies the worker that the connection went to.
  void record_response(bool heavy, clock::duration latency, unsigned code, pid_t worker_pid,
                       bool first_on_connection);
  // A request that failed: the connection was refused, reset or closed
  // early, or the response was invalid. The first error's text is kept.
  void record_error(std::string_view error_text);
  // Open loop only: a request that was due while max-in-flight requests were open.
  void record_skipped() noexcept { ++skipped_; }

  const std::string& first_error() const noexcept { return first_error_; }

  // Prints the report, one "name value" pair a line (see main.cpp), with
  // `expected_workers` as the floor of the worker count for the spread.
  void print(std::ostream& out, unsigned expected_workers, clock::duration elapsed) const;

 private:
  std::uint64_t max_requests_;
  unsigned heavy_percent_;
  clock::time_point issue_deadline_;
  std::uint64_t started_ = 0;
  std::uint64_t errors_ = 0;
  std::uint64_t skipped_ = 0;
  std::uint64_t non_2xx_ = 0;
  std::string first_error_;
  std::vector<std::int64_t> light_ns_;
  std::vector<std::int64_t> heavy_ns_;
  struct worker_counts {
    pid_t pid = 0;
    std::uint64_t responses = 0;
    std::uint64_t connections = 0;
  };
  std::vector<worker_counts> per_worker_;  // few workers, so a linear scan is cheap
};

}  // namespace loadgen
