// band-day01: the demo HTTP application on every core.
#include "band.hpp"

#include <band/common/demo_app.hpp>
#include <band/common/listener.hpp>
#include <band/common/logging.hpp>
#include <band/common/parse.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <cstring>
#include <iostream>
#include <memory>
#include <system_error>

namespace {

constexpr unsigned max_workers = 1024;
constexpr const char* program = "band-day01";

// Prints a one-line error and returns the exit status for a usage error.
int usage_error(const std::string& message) {
  std::cerr << program << ": " << message << "; run '" << program << " --help' for the options\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_text = "127.0.0.1:8080";
  std::string workers_text;
  std::string stop_timeout_text = "10s";
  bool demo_faults = false;

  CLI::App app{"band day 01: one process per core. Serves the demo HTTP application from one worker\n"
               "process per CPU, replaces workers that die, and stops on SIGTERM or SIGINT.",
               program};
  app.add_option("--listen", listen_text, "Address to listen on, HOST:PORT; port 0 picks a free port")
      ->default_val(listen_text);
  auto* workers_option =
      app.add_option("--workers", workers_text, "Number of worker processes (default: one per online CPU)");
  app.add_option("--stop-timeout", stop_timeout_text,
                 "How long a stop waits for workers after SIGTERM before SIGKILL (250ms, 10s, 1m)")
      ->default_val(stop_timeout_text);
  app.add_flag("--demo-faults", demo_faults, "Serve the fault endpoints /crash, /exit, /leak and /hang");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    return usage_error(error.what());
  }

  band::options options;
  try {
    options.listen = band::common::parse_endpoint(listen_text);
  } catch (const std::invalid_argument& error) {
    return usage_error(std::string("--listen: ") + error.what());
  }
  try {
    if (workers_option->count() != 0) {
      options.workers = static_cast<unsigned>(band::common::parse_count(workers_text, 1, max_workers));
    }
  } catch (const std::invalid_argument& error) {
    return usage_error(std::string("--workers: ") + error.what());
  }
  try {
    options.stop_timeout = band::common::parse_duration(stop_timeout_text);
  } catch (const std::invalid_argument& error) {
    return usage_error(std::string("--stop-timeout: ") + error.what());
  }

  band::common::setup_logging("master");
  try {
    return band::run(options, [demo_faults](band::worker& worker) {
      auto server = std::make_shared<band::common::demo_server>(
          worker.context(), worker.listen_fd(), band::common::demo_options{worker.slot(), demo_faults});
      worker.on_stop([server] { server->stop(); });
    });
  } catch (const std::system_error& error) {
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
}
