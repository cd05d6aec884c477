#include "band_process.hpp"

#include <boost/asio/ip/address.hpp>

#include <algorithm>
#include <charconv>
#include <sstream>
#include <stdexcept>

namespace band::test {

namespace {

std::vector<std::string> with_loopback_listen(std::vector<std::string> flags) {
  // Port 0, so that tests running side by side never share a port.
  if (std::find(flags.begin(), flags.end(), "--listen") == flags.end()) {
    flags.insert(flags.begin(), {"--listen", "127.0.0.1:0"});
  }
  return flags;
}

}  // namespace

tcp::endpoint parse_listen_address(const std::string& text) {
  const auto invalid = [&text](const std::string& reason) {
    return std::invalid_argument("invalid listen address '" + text + "': " + reason);
  };

  const auto colon = text.rfind(':');
  if (colon == std::string::npos) throw invalid("the port is missing");
  std::string host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  if (ec) throw invalid("the host is not an IP address");

  const std::string port_text = text.substr(colon + 1);
  unsigned port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  const bool whole_text = end == port_text.data() + port_text.size();
  if (error != std::errc{} || !whole_text || port == 0 || port > 65535) throw invalid("the port is not from 1 to 65535");
  return {address, static_cast<unsigned short>(port)};
}

band_process::band_process(const std::string& binary, std::vector<std::string> flags)
    : child_process(binary, with_loopback_listen(std::move(flags))) {
  endpoint_ = parse_listen_address(wait_for_line(master_line("info") + R"(listening on (\S+)$)").groups[1]);
}

http_response band_process::get(const std::string& target) const { return http_get(endpoint_, target); }

pid_t band_process::wait_for_worker_start(unsigned slot, unsigned generation) const {
  const auto match = wait_for_line(master_line("info") + "worker " + std::to_string(slot) +
                                   R"( pid (\d+) started \(generation )" + std::to_string(generation) + R"(\)$)");
  return static_cast<pid_t>(std::stol(match.groups[1]));
}

bool band_process::wait_for_answer_from(pid_t pid) const {
  return poll_until([&] { return worker_pid_of(get("/")) == pid; });
}

std::vector<process_id> band_process::wait_for_workers(std::size_t count) {
  std::vector<process_id> workers;
  if (!poll_until([&] { return (workers = children()).size() == count; })) {
    std::ostringstream message;
    message << "the master has " << workers.size() << " children, not " << count << ", after "
            << default_timeout.count() << " ms";
    throw std::runtime_error(message.str());
  }
  return workers;
}

std::string master_line(const std::string& level) { return regex_escape(level) + R"( +\[master pid \d+\] )"; }

std::string regex_escape(const std::string& text) {
  static const std::string special = R"(\^$.|?*+()[]{}/)";
  std::string escaped;
  for (const char c : text) {
    if (special.find(c) != std::string::npos) escaped += '\\';
    escaped += c;
  }
  return escaped;
}

}  // namespace band::test
