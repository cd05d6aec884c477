#include "band/common/proc.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <system_error>

namespace band::common {

namespace {

// Parses the value of a line such as "Pss:    1200 kB" into bytes.
std::uint64_t parse_kilobytes(std::string_view line, std::string_view value) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  std::uint64_t kilobytes = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), kilobytes);
  if (error != std::errc{} || std::string_view(end, static_cast<std::size_t>(value.data() + value.size() - end)) != " kB" ||
      kilobytes > UINT64_MAX / 1024) {
    throw std::runtime_error("unexpected smaps_rollup line '" + std::string(line) + "'");
  }
  return kilobytes * 1024;
}

}  // namespace

memory_usage parse_smaps_rollup(std::string_view text) {
  memory_usage usage;
  bool saw_rss = false;
  bool saw_pss = false;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);

    const auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon);
    const std::string_view value = line.substr(colon + 1);
    // The first line is the address range of the rollup, with colons in the
    // device field but no known key.
    if (key == "Rss") usage.rss = parse_kilobytes(line, value), saw_rss = true;
    else if (key == "Pss") usage.pss = parse_kilobytes(line, value), saw_pss = true;
    else if (key == "Shared_Clean") usage.shared_clean = parse_kilobytes(line, value);
    else if (key == "Shared_Dirty") usage.shared_dirty = parse_kilobytes(line, value);
    else if (key == "Private_Clean") usage.private_clean = parse_kilobytes(line, value);
    else if (key == "Private_Dirty") usage.private_dirty = parse_kilobytes(line, value);
    else if (key == "Swap") usage.swap = parse_kilobytes(line, value);
  }
  if (!saw_rss || !saw_pss) throw std::runtime_error("smaps_rollup has no Rss or Pss line");
  return usage;
}

std::optional<std::string> read_proc_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ESRCH) return std::nullopt;
    throw std::system_error(errno, std::generic_category(), "open " + path);
  }
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t count = ::read(fd, buffer, sizeof buffer);
    if (count > 0) {
      text.append(buffer, static_cast<std::size_t>(count));
      continue;
    }
    if (count < 0 && errno == EINTR) continue;
    const int read_errno = errno;
    ::close(fd);
    if (count < 0) {
      if (read_errno == ESRCH) return std::nullopt;
      throw std::system_error(read_errno, std::generic_category(), "read " + path);
    }
    break;
  }
  return text;
}

std::optional<std::uint64_t> read_resident_bytes(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/statm";
  const auto text = read_proc_file(path);
  if (!text) return std::nullopt;
  // "size resident shared text lib data dt", in pages.
  const std::string_view fields = *text;
  const auto space = fields.find(' ');
  std::uint64_t pages = 0;
  if (space == std::string_view::npos ||
      std::from_chars(fields.data() + space + 1, fields.data() + fields.size(), pages).ec != std::errc{}) {
    throw std::runtime_error("unexpected content in " + path + ": '" + *text + "'");
  }
  return pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

std::optional<memory_usage> read_memory_usage(pid_t pid) {
  const auto text = read_proc_file("/proc/" + std::to_string(pid) + "/smaps_rollup");
  // A zombie's smaps_rollup is empty.
  if (!text || text->empty()) return std::nullopt;
  return parse_smaps_rollup(*text);
}

}  // namespace band::common
