// What the day 03 tests share: the binary under test, its balancing
// strategies, and ways to send many requests and see which worker answered
// each.
#pragma once

#include <band_test.hpp>

#include <gtest/gtest.h>

#include <sys/types.h>

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace band::test {

// BAND_DAY03_BINARY is set by CMake to the built band-day03.
inline const std::string day03_binary = BAND_DAY03_BINARY;

// Starts band-day03 on a free loopback port with `workers` workers balanced
// by `strategy`, plus `flags`, and waits until it listens.
inline band_process start_day03(const std::string& strategy, unsigned workers, std::vector<std::string> flags = {}) {
  flags.insert(flags.begin(), {"--balance", strategy, "--workers", std::to_string(workers)});
  return band_process(day03_binary, std::move(flags));
}

// Waits for the first worker of each of the slots 0 … count-1 to start and
// returns their pids, by slot.
std::vector<pid_t> first_worker_pids(const band_process& band, unsigned count);

// Sends `count` GET / requests one after another, each on a new connection
// closed after its response, and returns how many each worker pid answered.
std::map<pid_t, unsigned> answers_by_worker(const band_process& band, unsigned count);

// Requests sent on connections of their own whose responses are read later,
// so that a test can send them while a worker is stopped.
class pending_requests {
 public:
  // Connects `count` times to `server` and sends GET `target` on each.
  pending_requests(const tcp::endpoint& server, std::size_t count, const std::string& target = "/");

  struct outcome {
    std::vector<pid_t> answered_by;   // the X-Worker-Pid of each 200 response
    std::vector<std::string> errors;  // one per request that failed
    std::size_t timed_out = 0;        // how many of the errors are timeouts
  };
  // Reads every response, each within default_timeout.
  outcome read_all();

 private:
  std::vector<std::unique_ptr<http_connection>> connections_;
};

// Gets `target` on a new connection that stays open afterwards, so that the
// worker that answered keeps counting it as an active connection.
std::pair<pid_t, std::unique_ptr<http_connection>> open_connection(const tcp::endpoint& server,
                                                                    const std::string& target = "/");

// How many sockets process `pid` has open that are not Unix domain
// sockets: in band these are TCP sockets, listening or connected. A worker
// of round-robin or least-conn has no listening socket, so there the count
// is its connections. Unix sockets are recognised by their inodes in
// /proc/net/unix, because reading /proc/net/tcp walks the kernel's whole
// TCP hash table and is too slow to poll.
std::size_t tcp_sockets_held(pid_t pid);

}  // namespace band::test
