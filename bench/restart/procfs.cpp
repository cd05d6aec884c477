#include "procfs.hpp"

#include <band/common/proc.hpp>

#include <sys/utsname.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string_view>
#include <system_error>

namespace bench {

namespace {

std::string proc_path(pid_t pid, std::string_view file) {
  return "/proc/" + std::to_string(pid) + "/" + std::string(file);
}

// Reads the number after "NAME:" in a "NAME: VALUE kB" file such as
// /proc/PID/status, /proc/PID/smaps_rollup or /proc/meminfo.
std::optional<std::uint64_t> read_kib_field(const std::string& path, std::string_view name) {
  std::ifstream file(path);
  std::string line;
  while (std::getline(file, line)) {
    if (line.size() <= name.size() || line.compare(0, name.size(), name) != 0 || line[name.size()] != ':') continue;
    std::istringstream fields(line.substr(name.size() + 1));
    std::uint64_t value = 0;
    if (fields >> value) return value;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<memory_sample> read_memory(pid_t pid) {
  const auto rss_kib = read_kib_field(proc_path(pid, "status"), "VmRSS");
  const auto usage = band::common::read_memory_usage(pid);
  if (!rss_kib || !usage) return std::nullopt;
  return memory_sample{*rss_kib, usage->pss / 1024};
}

std::optional<pid_t> parent_pid(pid_t pid) {
  std::ifstream file(proc_path(pid, "stat"));
  std::string stat;
  if (!std::getline(file, stat)) return std::nullopt;
  // "PID (COMM) STATE PPID ...": COMM may contain spaces and parentheses,
  // so the fields after it start at the last ')'.
  const auto comm_end = stat.rfind(')');
  if (comm_end == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(comm_end + 1));
  std::string state;
  pid_t parent = 0;
  if (!(fields >> state >> parent)) return std::nullopt;
  return parent;
}

std::vector<pid_t> child_pids(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator(proc_path(pid, "task"), ec)) {
    std::ifstream file(task.path() / "children");
    pid_t child = 0;
    while (file >> child) children.push_back(child);
  }
  return children;
}

machine_info read_machine_info() {
  machine_info info;
  info.online_cpus = ::sysconf(_SC_NPROCESSORS_ONLN);

  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto value = line.find_first_not_of(" \t", colon + 1);
    if (value != std::string::npos) info.cpu_model = line.substr(value);
    break;
  }
  if (info.cpu_model.empty()) info.cpu_model = "unknown (no model name in /proc/cpuinfo)";

  utsname names{};
  if (::uname(&names) == 0) info.kernel_release = names.release;
  info.memory_kib = read_kib_field("/proc/meminfo", "MemTotal").value_or(0);
  std::ifstream loadavg("/proc/loadavg");
  if (!(loadavg >> info.load_average)) info.load_average = "unknown";
  return info;
}

}  // namespace bench
