// The day 01 measurements, each run against real server processes:
// launch → first 200, kill -9 → first response from the replacement, and
// the master's resident memory.
#pragma once

#include "procfs.hpp"
#include "timing.hpp"

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace bench {

struct bench_options {
  std::string band_path;
  unsigned launches = 20;
  unsigned kills = 30;
  // The limit of one measurement, past which it counts as a failure. Also
  // how long a stop waits after SIGTERM before SIGKILL.
  std::chrono::nanoseconds timeout = std::chrono::seconds(5);
  // The interval between the starts of two probes.
  std::chrono::nanoseconds poll_interval = std::chrono::microseconds(200);
};

// How long the probes still open when the awaited response arrives may go
// on, so that the counts tell a late response from none. This wait is not
// part of any measured time.
inline constexpr std::chrono::seconds straggler_wait{1};

// Counts of the probe outcomes in a series, one count per connection.
struct probe_counts {
  std::size_t connections = 0;
  std::size_t refused = 0;
  std::size_t reset = 0;
  std::size_t unanswered = 0;  // closed by bench-restart while still waiting for the response
  std::size_t bad_response = 0;
  std::size_t socket_error = 0;
  std::size_t not_200 = 0;
  std::size_t from_killed_worker = 0;  // a 200 from the worker that was just sent SIGKILL
};

// Unexpected events worth a look: an exit status other than 0 after
// SIGTERM, processes left behind, log lines that mention an error. Repeats
// of one text are counted, and at most `max_items` texts are kept.
class anomaly_list {
 public:
  void add(const std::string& text);
  struct item {
    std::string text;
    std::size_t count = 1;
  };
  const std::vector<item>& items() const noexcept { return items_; }
  std::size_t dropped() const noexcept { return dropped_; }

 private:
  static constexpr std::size_t max_items = 20;
  std::vector<item> items_;
  std::size_t dropped_ = 0;
};

struct launch_series {
  std::vector<std::string> server_argv;
  unsigned workers = 0;
  unsigned attempted = 0;
  std::vector<std::chrono::nanoseconds> to_listen_line;   // fork() → `listening on` line read
  std::vector<std::chrono::nanoseconds> listen_line_to_200;  // that line → first 200 read
  std::vector<std::chrono::nanoseconds> to_first_200;     // fork() → first 200 read
  // The master's memory once all its workers are forked, one sample a launch.
  std::vector<memory_sample> master_memory;
  std::vector<std::string> failures;
  probe_counts probes;
  anomaly_list anomalies;
};

struct kill_series {
  std::vector<std::string> server_argv;
  std::vector<std::string> startup_lines;  // the server's standard error up to its listen line
  unsigned attempted = 0;
  std::vector<std::chrono::nanoseconds> kill_to_response;  // kill() → 200 from the replacement read
  std::optional<memory_sample> memory_after_startup;
  std::optional<memory_sample> memory_after_kills;
  std::vector<std::string> failures;
  std::optional<std::string> aborted;  // why the series ended before all kills
  probe_counts probes;
  anomaly_list anomalies;
};

// Launches `band --listen 127.0.0.1:0 --workers 2` options.launches times.
launch_series measure_launches(const bench_options& options);

// Starts `server_argv` (a server with one worker), then options.kills times
// sends SIGKILL to the worker and polls until a new worker responds.
kill_series measure_kills(const std::vector<std::string>& server_argv, const bench_options& options);

}  // namespace bench
