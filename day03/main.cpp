// band-day03: the demo HTTP application on every core, with health checks and
// a choice of balancing strategy.
#include "band.hpp"

#include <band/common/demo_app.hpp>
#include <band/common/listener.hpp>
#include <band/common/logging.hpp>
#include <band/common/parse.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <new>
#include <system_error>
#include <vector>

namespace {

constexpr unsigned max_workers = 1024;
constexpr unsigned max_restarts_limit = 1'000'000;
constexpr const char* program = "band-day03";

// Prints a one-line error and returns the exit status for a usage error.
int usage_error(const std::string& message) {
  std::cerr << program << ": " << message << "; run '" << program << " --help' for the options\n";
  return 2;
}

// Parses one flag's value with `parse`, or throws std::invalid_argument whose
// message names the flag.
template <typename Parse>
auto parse_flag(const char* flag, const std::string& text, Parse parse) {
  try {
    return parse(text);
  } catch (const std::invalid_argument& error) {
    throw std::invalid_argument(std::string(flag) + ": " + error.what());
  }
}

band::balance parse_balance(const std::string& text) {
  if (text == "shared") return band::balance::shared;
  if (text == "reuseport") return band::balance::reuseport;
  if (text == "round-robin") return band::balance::round_robin;
  if (text == "least-conn") return band::balance::least_conn;
  throw std::invalid_argument("invalid value '" + text + "': expected shared, reuseport, round-robin or least-conn");
}

struct demo_flags {
  bool faults = false;
  std::uint64_t preload = 0;  // bytes the master touches before forking
  int exit_at_start = -1;     // status each worker exits with at start; -1: none
};

int report_listen_error(const std::system_error& error) {
  std::string hint;
  if (error.code() == std::errc::address_in_use) {
    hint = "; stop the process that holds the port or choose another one with --listen";
  } else if (error.code() == std::errc::permission_denied) {
    hint = "; ports below 1024 need root or CAP_NET_BIND_SERVICE, so choose a higher one with --listen";
  } else if (error.code() == std::errc::address_not_available) {
    hint = "; the address is not one of this machine's, so choose another one with --listen";
  }
  std::cerr << program << ": " << error.what() << hint << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_text = "127.0.0.1:8080";
  std::string workers_text;
  std::string balance_text = "least-conn";
  std::string stop_timeout_text = "10s";
  std::string max_memory_text;
  std::string measure_text = "uss";
  std::string check_interval_text = "1s";
  std::string heartbeat_timeout_text = "30s";
  std::string kill_timeout_text = "5s";
  std::string min_uptime_text = "1s";
  std::string max_restarts_text = "10";
  std::string restart_window_text = "2m";
  std::string preload_text;
  std::string exit_at_start_text;
  demo_flags demo;

  CLI::App app{"band day 03: who gets the connection. Serves the demo HTTP application from one worker\n"
               "process per CPU, balanced by --balance, restarts workers that die, leak or freeze, and stops\n"
               "on SIGTERM or SIGINT.\n"
               "Exit status: 0 after SIGTERM or SIGINT, 1 when it cannot start, 2 for a bad flag,\n"
               "3 when workers died more than --max-restarts times within --restart-window,\n"
               "78 when a worker exited with 78 to report a configuration error.\n"
               "Durations take ms, s, m or h (a bare number is seconds); sizes take K, M or G (binary).",
               program};
  app.add_option("--listen", listen_text, "Address to listen on, HOST:PORT; port 0 picks a free port")
      ->default_val(listen_text);
  auto* workers_option =
      app.add_option("--workers", workers_text, "Number of worker processes (default: one per online CPU)");
  app.add_option("--balance", balance_text,
                 "How connections reach workers: shared (one socket, the kernel picks), reuseport (one "
                 "SO_REUSEPORT socket per worker), round-robin or least-conn (the master accepts and passes "
                 "each connection on)")
      ->default_val(balance_text);
  app.add_option("--stop-timeout", stop_timeout_text,
                 "How long a stop waits for the workers after SIGTERM before SIGKILL")
      ->default_val(stop_timeout_text);
  app.add_option("--max-memory", max_memory_text,
                 "Restart a worker whose own memory exceeds this size, e.g. 512M or 1G; a bare number is MiB "
                 "(default: no limit)");
  app.add_option("--memory-measure", measure_text,
                 "What --max-memory measures: uss (private pages only) or pss (private plus a share of shared "
                 "pages)")
      ->default_val(measure_text);
  app.add_option("--check-interval", check_interval_text, "How often the master checks memory and heartbeats")
      ->default_val(check_interval_text);
  app.add_option("--heartbeat-timeout", heartbeat_timeout_text,
                 "Send SIGABRT, then SIGKILL, to a worker whose event loop has not turned for this long")
      ->default_val(heartbeat_timeout_text);
  app.add_option("--kill-timeout", kill_timeout_text,
                 "How long a worker restarted by a health check may take to exit before SIGKILL")
      ->default_val(kill_timeout_text);
  app.add_option("--min-uptime", min_uptime_text,
                 "A worker that ran this long restarts at once; one that died sooner waits a backoff "
                 "(100ms, doubling up to 30s)")
      ->default_val(min_uptime_text);
  app.add_option("--max-restarts", max_restarts_text,
                 "Stop the band (exit status 3) after more than this many unplanned restarts within "
                 "--restart-window")
      ->default_val(max_restarts_text);
  app.add_option("--restart-window", restart_window_text, "The window --max-restarts counts in")
      ->default_val(restart_window_text);
  app.add_flag("--demo-faults", demo.faults, "Serve the fault endpoints /crash, /exit, /leak and /hang");
  app.add_option("--demo-preload", preload_text,
                 "Demo: the master allocates and touches this much memory before forking, e.g. 256M");
  app.add_option("--demo-exit-at-start", exit_at_start_text,
                 "Demo: every worker exits with this status (0-255) as it starts, to show the backoff");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    return usage_error(error.what());
  }

  band::options options;
  try {
    using namespace band::common;
    options.listen = parse_flag("--listen", listen_text, parse_endpoint);
    if (workers_option->count() != 0) {
      options.workers = static_cast<unsigned>(
          parse_flag("--workers", workers_text, [](const std::string& t) { return parse_count(t, 1, max_workers); }));
    }
    options.strategy = parse_flag("--balance", balance_text, parse_balance);
    options.stop_timeout = parse_flag("--stop-timeout", stop_timeout_text, parse_duration);
    if (!max_memory_text.empty()) options.max_memory = parse_flag("--max-memory", max_memory_text, parse_size);
    if (measure_text == "uss") options.measure = band::memory_measure::uss;
    else if (measure_text == "pss") options.measure = band::memory_measure::pss;
    else throw std::invalid_argument("--memory-measure: invalid value '" + measure_text + "': expected uss or pss");
    options.check_interval = parse_flag("--check-interval", check_interval_text, parse_duration);
    options.heartbeat_timeout = parse_flag("--heartbeat-timeout", heartbeat_timeout_text, parse_duration);
    options.kill_timeout = parse_flag("--kill-timeout", kill_timeout_text, parse_duration);
    options.min_uptime = parse_flag("--min-uptime", min_uptime_text, parse_duration);
    options.max_restarts = static_cast<unsigned>(parse_flag(
        "--max-restarts", max_restarts_text, [](const std::string& t) { return parse_count(t, 0, max_restarts_limit); }));
    options.restart_window = parse_flag("--restart-window", restart_window_text, parse_duration);
    if (!preload_text.empty()) demo.preload = parse_flag("--demo-preload", preload_text, parse_size);
    if (!exit_at_start_text.empty()) {
      demo.exit_at_start = static_cast<int>(parse_flag("--demo-exit-at-start", exit_at_start_text,
                                                       [](const std::string& t) { return parse_count(t, 0, 255); }));
    }
  } catch (const std::invalid_argument& error) {
    return usage_error(error.what());
  }
  // A check only sees a stale heartbeat at its own pace, so a timeout no
  // longer than the interval could not be honoured.
  if (options.heartbeat_timeout <= options.check_interval) {
    return usage_error("--heartbeat-timeout " + heartbeat_timeout_text + " must be longer than --check-interval " +
                       check_interval_text + "; raise the timeout or shorten the interval");
  }

  band::common::setup_logging("master");

  // Pages the master touched before fork() are shared copy-on-write with
  // every worker: a memory limit on private memory must not count them.
  std::vector<char> preloaded;
  try {
    preloaded.resize(demo.preload);
  } catch (const std::bad_alloc&) {
    std::cerr << program << ": --demo-preload: cannot allocate " << band::common::format_size(demo.preload)
              << "; choose a size that fits in memory\n";
    return 1;
  }
  if (!preloaded.empty()) {
    std::memset(preloaded.data(), 0x5a, preloaded.size());
    spdlog::info("demo: touched {} before forking", band::common::format_size(demo.preload));
  }

  try {
    return band::run(options, [demo](band::worker& worker) {
      if (demo.exit_at_start >= 0) {
        spdlog::warn("demo: exiting with status {} at start as --demo-exit-at-start asks", demo.exit_at_start);
        ::_exit(demo.exit_at_start);
      }
      auto server = std::make_shared<band::common::demo_server>(
          worker.context(), worker.listen_fd(), band::common::demo_options{worker.slot(), demo.faults, &worker.stats()});
      worker.on_connection([server](int connection_fd) { server->adopt(connection_fd); });
      worker.on_stop([server] { server->stop(); });
    });
  } catch (const std::system_error& error) {
    return report_listen_error(error);
  }
}
