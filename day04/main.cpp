// band-day04: the demo HTTP application on every core, with health checks, a
// choice of balancing strategy, and reloads, scaling and recycling that drop
// no request.
#include "band.hpp"

#include <band/common/demo_app.hpp>
#include <band/common/listener.hpp>
#include <band/common/logging.hpp>
#include <band/common/parse.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <new>
#include <system_error>
#include <vector>

namespace {

constexpr unsigned max_restarts_limit = 1'000'000;
constexpr std::uint64_t max_request_count = 1'000'000'000'000;
constexpr const char* program = "band-day04";

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
  std::chrono::milliseconds ready_delay{0};  // before a worker reports ready
  std::string not_ready_file;                // while it exists, new workers never report ready
  std::uint64_t preload = 0;  // bytes the master touches before forking
  int exit_at_start = -1;     // status each worker exits with at start; -1: none
};

// The demo's worker function. The server starts accepting only when the
// worker reports ready: under shared and reuseport the kernel hands
// connections to whoever accepts, so a server that accepted earlier would
// serve before the master counts the worker as ready.
void start_demo_worker(band::worker& worker, const demo_flags& demo) {
  if (demo.exit_at_start >= 0) {
    spdlog::warn("demo: exiting with status {} at start as --demo-exit-at-start asks", demo.exit_at_start);
    ::_exit(demo.exit_at_start);
  }
  auto server = std::make_shared<std::unique_ptr<band::common::demo_server>>();
  worker.on_connection([server](int connection_fd) {
    if (*server) (*server)->adopt(connection_fd);
    else ::close(connection_fd);
  });
  worker.on_stop([server](std::function<void()> done) {
    if (*server) (*server)->drain(std::move(done));
    else done();
  });
  auto serve = [server, &worker, faults = demo.faults] {
    *server = std::make_unique<band::common::demo_server>(
        worker.context(), worker.listen_fd(), band::common::demo_options{worker.slot(), faults, &worker.stats(),
                                                                     [&worker] { worker.check_request_limit(); }});
    worker.ready();
  };

  if (!demo.not_ready_file.empty() && ::access(demo.not_ready_file.c_str(), F_OK) == 0) {
    spdlog::warn("demo: {} exists, so this worker never reports ready", demo.not_ready_file);
    return worker.defer_ready();
  }
  if (demo.ready_delay.count() == 0) return serve();
  worker.defer_ready();
  auto timer = std::make_shared<boost::asio::steady_timer>(worker.context(), demo.ready_delay);
  timer->async_wait([timer, serve](boost::system::error_code ec) {
    if (!ec) serve();
  });
}

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
  std::string graceful_timeout_text = "30s";
  std::string ready_timeout_text = "30s";
  std::string reload_batch_text = "1";
  std::string max_requests_text = "0";
  std::string max_requests_jitter_text = "0";
  std::string ready_delay_text;
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

  CLI::App app{"band day 04: never drop a request. Serves the demo HTTP application from one worker\n"
               "process per CPU, balanced by --balance, and restarts workers that die, leak or freeze.\n"
               "Signals: SIGTERM stops gracefully (workers finish their requests); SIGINT and SIGQUIT stop\n"
               "fast (workers close their connections); SIGHUP reloads the workers one slot at a time;\n"
               "SIGTTIN adds a worker and SIGTTOU removes one.\n"
               "Exit status: 0 after SIGTERM, SIGINT or SIGQUIT, 1 when it cannot start, 2 for a bad flag,\n"
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
  app.add_option("--graceful-timeout", graceful_timeout_text,
                 "How long a draining worker may finish its requests before SIGKILL (stop, reload, "
                 "scale-down, recycle)")
      ->default_val(graceful_timeout_text);
  app.add_option("--ready-timeout", ready_timeout_text,
                 "How long a new worker may take to report ready; in a reload, longer aborts the reload")
      ->default_val(ready_timeout_text);
  app.add_option("--reload-batch", reload_batch_text, "How many slots a reload replaces at once")
      ->default_val(reload_batch_text);
  app.add_option("--max-requests", max_requests_text,
                 "Replace a worker after this many requests, like a reload of one slot (0: never)")
      ->default_val(max_requests_text);
  app.add_option("--max-requests-jitter", max_requests_jitter_text,
                 "Add a random 0 to this many requests to each worker's --max-requests, so workers do not all "
                 "recycle at once")
      ->default_val(max_requests_jitter_text);
  app.add_option("--max-memory", max_memory_text,
                 "Restart a worker whose own memory exceeds this size, e.g. 512M or 1G; a bare number is MiB "
                 "(default: no limit)");
  app.add_option("--memory-measure", measure_text,
                 "What --max-memory measures: uss (private pages only) or pss (private plus a share of shared "
                 "pages)")
      ->default_val(measure_text);
  app.add_option("--check-interval", check_interval_text, "How often the master checks memory, heartbeats and request counts")
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
  app.add_option("--demo-ready-delay", ready_delay_text,
                 "Demo: each worker reports ready this long after it starts, e.g. 2s");
  app.add_option("--demo-not-ready-if", demo.not_ready_file,
                 "Demo: a worker that starts while this file exists never reports ready");
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
          parse_flag("--workers", workers_text, [](const std::string& t) { return parse_count(t, 1, band::max_workers); }));
    }
    options.strategy = parse_flag("--balance", balance_text, parse_balance);
    options.graceful_timeout = parse_flag("--graceful-timeout", graceful_timeout_text, parse_duration);
    options.ready_timeout = parse_flag("--ready-timeout", ready_timeout_text, parse_duration);
    options.reload_batch = static_cast<unsigned>(parse_flag(
        "--reload-batch", reload_batch_text, [](const std::string& t) { return parse_count(t, 1, band::max_workers); }));
    options.max_requests = parse_flag("--max-requests", max_requests_text,
                                      [](const std::string& t) { return parse_count(t, 0, max_request_count); });
    options.max_requests_jitter = parse_flag("--max-requests-jitter", max_requests_jitter_text,
                                             [](const std::string& t) { return parse_count(t, 0, max_request_count); });
    if (!ready_delay_text.empty()) demo.ready_delay = parse_flag("--demo-ready-delay", ready_delay_text, parse_duration);
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
  if (options.max_requests == 0 && options.max_requests_jitter != 0) {
    return usage_error("--max-requests-jitter " + max_requests_jitter_text +
                       " needs --max-requests; set a limit with --max-requests N or drop the jitter");
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
    return band::run(options, [demo](band::worker& worker) { start_demo_worker(worker, demo); });
  } catch (const std::system_error& error) {
    return report_listen_error(error);
  }
}
