// bench-load-bare-on-dayNN: the bare server's HTTP handling, supervised by
// band's library of day NN instead of bench-load-bare's parent. Compared
// with bench-load-bare, it measures what band's supervision costs on the
// request path; compared with band-dayNN, what the demo application's HTTP
// handling (Boost.Beast) costs.
//
//   bench-load-bare-on-dayNN [--listen HOST:PORT] [--workers N] [--balance STRATEGY]
#include "worker.hpp"

#include <band.hpp>
#include <master.hpp>
#include <band/common/listener.hpp>
#include <band/common/logging.hpp>
#include <band/common/parse.hpp>

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>
#include <memory>
#include <string>

namespace {

band::balance parse_balance(const std::string& text) {
  for (const auto strategy :
       {band::balance::shared, band::balance::reuseport, band::balance::round_robin, band::balance::least_conn}) {
    if (text == band::to_string(strategy)) return strategy;
  }
  throw std::invalid_argument("invalid value '" + text + "': expected shared, reuseport, round-robin or least-conn");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string program = BAND_BARE_ON_BAND_NAME;
  std::string listen_text = "127.0.0.1:8080";
  std::string workers_text;
  std::string balance_text = band::to_string(band::options{}.strategy);
  CLI::App app{program + ": the bare benchmark server's HTTP handling, supervised by band"};
  app.add_option("--listen", listen_text, "Address to listen on, HOST:PORT")->default_val(listen_text);
  app.add_option("--workers", workers_text, "Number of worker processes (default: one per online CPU)");
  app.add_option("--balance", balance_text, "shared, reuseport, round-robin or least-conn")
      ->default_val(balance_text);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& help) {
    return app.exit(help);
  } catch (const CLI::ParseError& error) {
    std::cerr << program << ": " << error.what() << '\n';
    return 2;
  }

  band::options options;
  const char* flag = "--listen";  // the flag being parsed, for the error message
  try {
    options.listen = band::common::parse_endpoint(listen_text);
    flag = "--workers";
    if (!workers_text.empty()) {
      options.workers = static_cast<unsigned>(band::common::parse_count(workers_text, 1, 1024));
    }
    flag = "--balance";
    options.strategy = parse_balance(balance_text);
  } catch (const std::exception& error) {
    std::cerr << program << ": " << flag << ": " << error.what() << '\n';
    return 2;
  }

  band::common::setup_logging("master");
  try {
    const auto protocol = options.listen.protocol();
    return band::run(options, [protocol](band::worker& worker) {
      auto server = std::make_shared<bare::server>(worker.context(), worker.slot(), protocol, worker.listen_fd(),
                                                    &worker.stats());
      worker.on_connection([server](int connection_fd) { server->adopt(connection_fd); });
    });
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << '\n';
    return 1;
  }
}
