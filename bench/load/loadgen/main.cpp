// bench-load-gen: the load generator of bench/load for the figures wrk
// cannot give: latency split by path, and how the responses spread over
// the workers (the X-Worker-Pid header of each response).
//
//   bench-load-gen --target 127.0.0.1:PORT [--connections N] [--close]
//                  [--rate R] [--duration D] [--heavy-percent P] ...
//   bench-load-gen --free-port
//
// Prints one "name value" pair a line on standard output:
//   - requests_started, responses, errors, unfinished (cut by the end of
//     the run), skipped (open loop, over --max-in-flight), non_2xx,
//     elapsed_s and responses_per_s;
//   - light_ and heavy_ count, p50_us, p99_us and max_us (nearest-rank
//     percentiles);
//   - workers_seen, max_share (the busiest worker's share of the
//     responses) and cv (the coefficient of variation of the per-worker
//     counts, with workers never seen counted as 0);
//   - connection_max_share and connection_cv, the same for connections,
//     each counted for the worker of its first response;
//   - one line "worker PID RESPONSES CONNECTIONS" for each worker, busiest
//     first.
// Only loopback targets are accepted: this is a benchmark of local servers.
#include "client.hpp"
#include "recorder.hpp"

#include <band/common/listener.hpp>
#include <band/common/parse.hpp>

#include <CLI/CLI.hpp>

#include <boost/asio/io_context.hpp>

#include <exception>
#include <iostream>
#include <string>

namespace {

constexpr const char* program = "bench-load-gen";
constexpr auto max_duration = std::chrono::seconds(60);

struct settings {
  boost::asio::ip::tcp::endpoint target;
  std::size_t connections = 64;
  bool close = false;
  double rate = 0;  // requests per second; 0: closed loop
  std::size_t max_in_flight = 1024;
  std::chrono::milliseconds duration{10'000};
  std::chrono::milliseconds drain{1'000};
  std::uint64_t max_requests = 5'000'000;
  unsigned workers = 1;
  std::string path = "/";
  std::string heavy_path = "/work?ms=20";
  unsigned heavy_percent = 0;
};

// Binds 127.0.0.1:0, prints the port the kernel chose, and closes it.
int print_free_port() {
  const auto probe = band::common::listener::open(band::common::parse_endpoint("127.0.0.1:0"));
  std::cout << probe.local_endpoint().port() << "\n";
  return 0;
}

int run(const settings& options) {
  const auto start = loadgen::clock::now();
  loadgen::recorder results(options.max_requests, options.heavy_percent, start + options.duration - options.drain);
  const bool close = options.close || options.rate > 0;
  const auto requests = loadgen::build_requests(options.target, options.path, options.heavy_path, close);
  {
    boost::asio::io_context context(1);
    if (options.rate > 0) {
      loadgen::start_open_loop(context, options.target, requests, options.rate, options.max_in_flight, results);
    } else {
      loadgen::start_closed_loop(context, options.target, requests, close, options.connections, results);
    }
    context.run_until(start + options.duration);
  }
  results.print(std::cout, options.workers, loadgen::clock::now() - start);
  if (!results.first_error().empty()) std::cerr << program << ": first error: " << results.first_error() << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  settings options;
  bool free_port = false;
  std::string target_text;
  std::string duration_text = "10s";
  std::string drain_text = "1s";

  CLI::App app{"Sends HTTP load to a local server and reports latency by path and the spread over its workers.",
               program};
  app.add_flag("--free-port", free_port, "Print a free TCP port on 127.0.0.1 and exit");
  app.add_option("--target", target_text, "The server, HOST:PORT, on 127.0.0.0/8 or [::1]");
  app.add_option("--connections", options.connections, "Closed loop: number of concurrent connections")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000));
  app.add_flag("--close", options.close, "Closed loop: open a new connection for each request");
  app.add_option("--rate", options.rate, "Open loop: requests per second, each on a new connection")
      ->check(CLI::Range(0.1, 1'000'000.0));
  app.add_option("--max-in-flight", options.max_in_flight, "Open loop: requests open at once before one is skipped")
      ->capture_default_str()
      ->check(CLI::Range(1, 10'000));
  app.add_option("--duration", duration_text, "The whole run, up to 60s")->capture_default_str();
  app.add_option("--drain", drain_text, "The end of the run in which no new request starts")->capture_default_str();
  app.add_option("--max-requests", options.max_requests, "Requests to start at most")
      ->capture_default_str()
      ->check(CLI::Range(std::uint64_t{1}, std::uint64_t{100'000'000}));
  app.add_option("--workers", options.workers, "Worker count of the server, counted in the spread when unseen")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  app.add_option("--path", options.path, "Path of the light requests")->capture_default_str();
  app.add_option("--heavy-path", options.heavy_path, "Path of the heavy requests")->capture_default_str();
  app.add_option("--heavy-percent", options.heavy_percent, "Percentage of heavy requests, spread evenly")
      ->capture_default_str()
      ->check(CLI::Range(0, 100));
  CLI11_PARSE(app, argc, argv);

  try {
    if (free_port) return print_free_port();
    if (target_text.empty()) {
      std::cerr << program << ": --target is missing; give the server as HOST:PORT\n";
      return 2;
    }
    options.target = band::common::parse_endpoint(target_text);
    if (!options.target.address().is_loopback()) {
      std::cerr << program << ": --target: '" << target_text << "' is not a loopback address; use 127.0.0.0/8 or [::1]\n";
      return 2;
    }
    options.duration = band::common::parse_duration(duration_text);
    options.drain = band::common::parse_duration(drain_text);
    if (options.duration > max_duration) {
      std::cerr << program << ": --duration: '" << duration_text << "' is over the maximum of 60s\n";
      return 2;
    }
    if (options.drain >= options.duration) {
      std::cerr << program << ": --drain: '" << drain_text << "' must be shorter than --duration\n";
      return 2;
    }
    return run(options);
  } catch (const std::invalid_argument& error) {
    std::cerr << program << ": " << error.what() << "\n";
    return 2;
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << "\n";
    return 1;
  }
}
