// A bounded HTTP load from inside a test: many clients sending GET / on one
// Asio event loop in a thread of its own, some on keep-alive connections and
// some on a new connection per request. Every failed request is counted by
// its kind, and every response by the worker pid in its X-Worker-Pid header,
// so that a test can check which workers served before and after an event.
#pragma once

#include "day04.hpp"

#include <boost/asio/io_context.hpp>

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace band::test {

using load_clock = std::chrono::steady_clock;

struct load_options {
  unsigned keep_alive_clients = 16;      // each reuses its connection until the server closes it
  unsigned new_connection_clients = 16;  // each opens a connection per request
  // How long each client waits between two of its requests.
  std::chrono::milliseconds pause{0};
  // Bounds on the whole run: no client starts a request past either.
  std::uint64_t max_requests = 2'000'000;
  std::chrono::milliseconds max_duration{60'000};
  // Bounds each connect, write and read.
  std::chrono::milliseconds timeout = default_timeout;
};

// How a request failed.
enum class failure {
  connect,             // the connection could not be opened
  send,                // writing the request on a new connection failed
  keep_alive_closed,   // a reused keep-alive connection closed or reset before any byte of the response
  no_response,         // a new connection closed or reset before any byte of the response
  truncated,           // the connection closed or reset during the response
  timeout,             // a step took longer than load_options::timeout
  status,              // a response other than 200
  no_worker_pid,       // a 200 response without a valid X-Worker-Pid
  other,               // any other error of Asio or Beast
};
inline constexpr std::size_t failure_kinds = 9;
const char* to_string(failure kind);

// The responses of one worker. A request sent before an event may get its
// response from a worker that the event started. So the workers that served
// before an event are told apart by their first response, and those that
// served after it by their latest request.
struct worker_responses {
  std::uint64_t count = 0;
  load_clock::time_point first_response;  // when its first response arrived
  load_clock::time_point last_sent;       // when the latest request it served was sent
};

struct load_report {
  std::uint64_t responses = 0;        // 200 responses with a worker pid
  std::uint64_t new_connections = 0;  // connections opened
  std::uint64_t reused = 0;           // requests sent on a connection that had served one before
  std::array<std::uint64_t, failure_kinds> failures{};
  std::vector<std::string> failure_examples;  // the first few, with their error text
  std::map<pid_t, worker_responses> by_worker;

  std::uint64_t failed() const;
  std::uint64_t failed(failure kind) const { return failures[static_cast<std::size_t>(kind)]; }
};

// Checks that no request failed, with one check per kind of failure.
void expect_no_failures(const load_report& report);

class load_generator {
 public:
  // Starts the clients at once.
  explicit load_generator(const tcp::endpoint& server, load_options options = {});
  // Stops the load, as stop() does, unless stop() has run.
  ~load_generator();
  load_generator(const load_generator&) = delete;
  load_generator& operator=(const load_generator&) = delete;

  std::uint64_t responses() const noexcept { return responses_.load(); }
  std::uint64_t failed() const noexcept { return failed_.load(); }
  // How many responses worker `pid` has sent so far.
  std::uint64_t responses_from(pid_t pid) const;
  // Waits until `count` responses have arrived in all. Returns false
  // when `timeout` passes first, or when the load has ended.
  bool wait_for_responses(std::uint64_t count, std::chrono::milliseconds timeout = default_timeout) const;

  // Lets each client finish the request it has begun, and none start
  // another; waits for that and returns what happened.
  load_report stop();

  class client;

 private:
  friend class client;
  bool may_start_request();
  // A request sent on a connection that served one before (reused), or a
  // new connection opened.
  void record_connection(bool reused);
  void record_response(pid_t pid, load_clock::time_point sent);
  void record_failure(failure kind, const std::string& message);

  tcp::endpoint server_;
  load_options options_;
  load_clock::time_point deadline_;
  boost::asio::io_context context_;

  std::atomic<bool> stopping_{false};
  std::atomic<bool> ended_{false};
  std::atomic<std::uint64_t> started_{0};
  std::atomic<std::uint64_t> responses_{0};
  std::atomic<std::uint64_t> failed_{0};

  mutable std::mutex mutex_;  // guards report_
  load_report report_;
  std::thread thread_;
  bool joined_ = false;
};

}  // namespace band::test
