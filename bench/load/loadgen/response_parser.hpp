// Parsing of one HTTP/1.1 response at the start of a buffer, enough for the
// servers bench/load measures: a status line, headers and a body whose size
// Content-Length gives.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace loadgen {

enum class parse_status {
  incomplete,  // more bytes are needed
  complete,
  invalid,     // see parsed_response::error
};

struct parsed_response {
  parse_status status = parse_status::incomplete;
  unsigned code = 0;           // the HTTP status code
  pid_t worker_pid = 0;        // the X-Worker-Pid header; 0 when absent or not a number
  bool close = false;          // the server closes the connection after this response
  std::size_t size = 0;        // bytes of the status line, headers and body
  std::string_view error;      // why the response is invalid
};

// Parses the response at the start of `data`. A response without
// Content-Length (chunked or ended by close) is invalid, because none of
// the measured servers sends one.
parsed_response parse_response(std::string_view data);

}  // namespace loadgen
