// bench-restart: day 01's restart figures, measured on the real band binary
// and, as a reference, on Node's cluster module. Prints a Markdown report.
#include "interrupt.hpp"
#include "report.hpp"
#include "scenarios.hpp"
#include "server_process.hpp"

#include <band/common/parse.hpp>

#include <CLI/CLI.hpp>

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

constexpr const char* program = "bench-restart";

// Finds `name` the way a shell does: a name with a slash as it is, else the
// first executable file of that name in a PATH directory.
std::optional<std::string> find_executable(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (::access(name.c_str(), X_OK) == 0) return name;
    return std::nullopt;
  }
  const char* path = std::getenv("PATH");
  std::istringstream directories(path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin");
  std::string directory;
  while (std::getline(directories, directory, ':')) {
    if (directory.empty()) continue;
    const auto candidate = std::filesystem::path(directory) / name;
    if (std::filesystem::is_regular_file(candidate) && ::access(candidate.c_str(), X_OK) == 0) {
      return candidate.string();
    }
  }
  return std::nullopt;
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  ::gmtime_r(&now, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M UTC", &utc);
  return text;
}

std::string command_line(int argc, char** argv) {
  std::string text;
  for (int i = 0; i < argc; ++i) {
    if (i > 0) text += ' ';
    text += argv[i];
  }
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  bench::bench_options options;
  options.band_path = BENCH_DEFAULT_BAND;
  std::string node_name = "node";
  std::string node_script = BENCH_NODE_CLUSTER_SCRIPT;
  std::string timeout_text = "5s";
  unsigned poll_interval_us = 200;

  CLI::App app{"Measures how fast band starts and replaces a killed worker, and the master's memory.\n"
               "Starts the servers on 127.0.0.1 with free ports and prints a Markdown report on standard output.",
               program};
  app.add_option("--band", options.band_path, "Path of the band binary to measure")->default_val(options.band_path);
  app.add_option("--launches", options.launches, "Number of launches to time")
      ->default_val(options.launches)
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--kills", options.kills, "Number of worker kills to time, for band and for node each")
      ->default_val(options.kills)
      ->check(CLI::Range(1u, 1000u));
  app.add_option("--timeout", timeout_text,
                 "Limit of one measurement, after which it counts as failed (250ms, 5s). Also the wait "
                 "after SIGTERM before SIGKILL when a server stops")
      ->default_val(timeout_text);
  app.add_option("--poll-interval-us", poll_interval_us, "Interval between the starts of two probes, in microseconds")
      ->default_val(poll_interval_us)
      ->check(CLI::Range(10u, 1'000'000u));
  app.add_option("--node", node_name, "Node.js executable for the reference figures, a path or a name in PATH")
      ->default_val(node_name);
  app.add_option("--node-script", node_script, "The Node.js cluster server to measure")->default_val(node_script);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::cerr << program << ": " << error.what() << "; run '" << program << " --help' for the options\n";
    return 2;
  }
  try {
    options.timeout = band::common::parse_duration(timeout_text);
  } catch (const std::invalid_argument& error) {
    std::cerr << program << ": --timeout: " << error.what() << "\n";
    return 2;
  }
  options.poll_interval = std::chrono::microseconds(poll_interval_us);
  if (::access(options.band_path.c_str(), X_OK) != 0) {
    std::cerr << program << ": --band: '" << options.band_path
              << "' is not an executable file; build it with 'make build' or name another with --band\n";
    return 2;
  }

  try {
    bench::install_interrupt_handlers();
    bench::become_child_subreaper();

    bench::report_input report;
    report.machine = bench::read_machine_info();
    report.date = utc_now();
    report.command = command_line(argc, argv);
    report.options = options;
    report.launches = bench::measure_launches(options);
    report.band_kills =
        bench::measure_kills({options.band_path, "--listen", "127.0.0.1:0", "--workers", "1"}, options);
    if (const auto node = find_executable(node_name)) {
      report.node_kills =
          bench::measure_kills({*node, node_script, "--listen", "127.0.0.1:0", "--workers", "1"}, options);
    }
    bench::print_report(std::cout, report);
  } catch (const bench::interrupted_error& error) {
    std::cerr << program << ": " << error.what() << "; every server it started has been stopped\n";
    return 130;
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << "\n";
    return 1;
  }
  return 0;
}
