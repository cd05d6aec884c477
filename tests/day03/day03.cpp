#include "day03.hpp"

#include <boost/beast/core/error.hpp>
#include <boost/system/system_error.hpp>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace band::test {

namespace {

// The inodes of every Unix domain socket, from /proc/net/unix.
std::set<std::string> unix_socket_inodes() {
  std::set<std::string> inodes;
  std::ifstream file("/proc/net/unix");
  std::string line;
  std::getline(file, line);  // the column headings
  while (std::getline(file, line)) {
    std::istringstream fields(line);
    std::string address, references, protocol, flags, type, state, inode;
    fields >> address >> references >> protocol >> flags >> type >> state >> inode;
    if (fields) inodes.insert(inode);
  }
  return inodes;
}

}  // namespace

std::vector<pid_t> first_worker_pids(const band_process& band, unsigned count) {
  std::vector<pid_t> pids;
  for (unsigned slot = 0; slot < count; ++slot) pids.push_back(band.wait_for_worker_start(slot));
  return pids;
}

std::map<pid_t, unsigned> answers_by_worker(const band_process& band, unsigned count) {
  std::map<pid_t, unsigned> answers;
  for (unsigned request = 0; request < count; ++request) ++answers[worker_pid_of(band.get("/"))];
  return answers;
}

pending_requests::pending_requests(const tcp::endpoint& server, std::size_t count, const std::string& target) {
  for (std::size_t request = 0; request < count; ++request) {
    connections_.push_back(std::make_unique<http_connection>(server));
    connections_.back()->send_get(target);
  }
}

pending_requests::outcome pending_requests::read_all() {
  outcome result;
  for (auto& connection : connections_) {
    try {
      const auto response = connection->read_response();
      if (response.result_int() == 200) {
        result.answered_by.push_back(worker_pid_of(response));
      } else {
        result.errors.push_back("status " + std::to_string(response.result_int()));
      }
    } catch (const boost::system::system_error& error) {
      result.errors.push_back(error.what());
      if (error.code() == boost::beast::error::timeout) ++result.timed_out;
    }
  }
  return result;
}

std::pair<pid_t, std::unique_ptr<http_connection>> open_connection(const tcp::endpoint& server,
                                                                    const std::string& target) {
  auto connection = std::make_unique<http_connection>(server);
  const pid_t pid = worker_pid_of(connection->get(target));
  return {pid, std::move(connection)};
}

std::size_t tcp_sockets_held(pid_t pid) {
  const auto unix_sockets = unix_socket_inodes();
  std::size_t held = 0;
  for (const auto& descriptor : open_descriptors(pid)) {
    // "7 -> socket:[123456]"
    const auto start = descriptor.find("socket:[");
    if (start == std::string::npos) continue;
    const auto inode_start = start + 8;
    const auto inode = descriptor.substr(inode_start, descriptor.find(']', inode_start) - inode_start);
    if (unix_sockets.count(inode) == 0) ++held;
  }
  return held;
}

}  // namespace band::test
