// Readers for /proc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace band::common {

// A process's memory from /proc/PID/smaps_rollup, in bytes.
struct memory_usage {
  std::uint64_t rss = 0;            // resident: counts every shared page in full
  std::uint64_t pss = 0;            // proportional: each shared page divided by its sharers
  std::uint64_t shared_clean = 0;
  std::uint64_t shared_dirty = 0;
  std::uint64_t private_clean = 0;
  std::uint64_t private_dirty = 0;
  std::uint64_t swap = 0;

  // Unique set size: the pages only this process maps, which its exit would
  // free. Pages shared copy-on-write with the master are not in it.
  std::uint64_t uss() const noexcept { return private_clean + private_dirty; }
};

// Parses the text of /proc/PID/smaps_rollup. Throws std::runtime_error when
// the Rss or Pss line is missing or a value is not "N kB".
memory_usage parse_smaps_rollup(std::string_view text);

// Reads a whole file under /proc/PID. Returns nullopt when the process is
// gone: the file is missing, or the read fails with ESRCH because the process
// ended after the open. Throws std::system_error on any other failure.
std::optional<std::string> read_proc_file(const std::string& path);

// Reads the resident set size from /proc/PID/statm, in bytes: a cheap upper
// bound of both USS and PSS (about a tenth of the cost of smaps_rollup).
// Returns nullopt when the process is gone; throws std::system_error on any
// other failure.
std::optional<std::uint64_t> read_resident_bytes(pid_t pid);

// Reads /proc/PID/smaps_rollup. Returns nullopt when the process is gone or
// is a zombie (the file is then missing or empty); throws std::system_error
// on any other failure to read it.
std::optional<memory_usage> read_memory_usage(pid_t pid);

}  // namespace band::common
