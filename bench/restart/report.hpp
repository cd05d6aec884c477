// The Markdown report of one bench-restart run.
#pragma once

#include "procfs.hpp"
#include "scenarios.hpp"

#include <optional>
#include <ostream>
#include <string>

namespace bench {

struct report_input {
  machine_info machine;
  std::string date;     // UTC, when the run started
  std::string command;  // bench-restart's own command line
  bench_options options;
  launch_series launches;
  kill_series band_kills;
  std::optional<kill_series> node_kills;  // nullopt when node is not installed
};

void print_report(std::ostream& out, const report_input& input);

}  // namespace bench
