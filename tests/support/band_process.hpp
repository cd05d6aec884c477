// A band-dayNN demo binary under test: started on a free loopback port and
// read through its log lines, which every day writes in one grammar.
#pragma once

#include "child_process.hpp"
#include "http_client.hpp"

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <vector>

namespace band::test {

// Parses the address of a "listening on HOST:PORT" line: "127.0.0.1:8080"
// or "[::1]:8080". Throws std::invalid_argument.
tcp::endpoint parse_listen_address(const std::string& text);

class band_process : public child_process {
 public:
  // Starts `binary` with `flags`, plus --listen 127.0.0.1:0 unless `flags`
  // has a --listen of its own, and waits for the "listening on" line.
  band_process(const std::string& binary, std::vector<std::string> flags);

  // The address from the "listening on" line, with the real port.
  const tcp::endpoint& endpoint() const noexcept { return endpoint_; }

  // GET on a new connection.
  http_response get(const std::string& target) const;

  // Waits for "worker SLOT pid PID started (generation GENERATION)" and
  // returns PID.
  pid_t wait_for_worker_start(unsigned slot, unsigned generation = 1) const;

  // Sends GET / on new connections until the response to one comes from
  // worker `pid`. Returns false when none has within default_timeout.
  bool wait_for_answer_from(pid_t pid) const;

  // Waits until the master has exactly `count` running children and
  // returns them. Throws std::runtime_error on timeout.
  std::vector<process_id> wait_for_workers(std::size_t count);

 private:
  tcp::endpoint endpoint_;
};

// The prefix of a line the master writes at `level` ("info", "warning").
std::string master_line(const std::string& level);

// Escapes a text for use inside a regular expression.
std::string regex_escape(const std::string& text);

}  // namespace band::test
