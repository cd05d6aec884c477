#include "proc.hpp"

#include "band/common/proc.hpp"

#include <signal.h>
#include <algorithm>
#include <filesystem>
#include <sstream>

namespace band::test {

namespace {

bool is_number(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The processes in /proc, zombies left out, for which `keep` returns true.
template <class Predicate>
std::vector<process_id> running_processes(Predicate keep) {
  std::vector<process_id> found;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ignored)) {
    const std::string name = entry.path().filename().string();
    if (!is_number(name)) continue;
    // The process may end between the listing and this read.
    const auto stat = read_proc_stat(static_cast<pid_t>(std::stol(name)));
    if (stat && stat->state != 'Z' && keep(*stat)) found.push_back({stat->pid, stat->start_time});
  }
  std::sort(found.begin(), found.end(), [](const process_id& a, const process_id& b) { return a.pid < b.pid; });
  return found;
}

}  // namespace

std::optional<proc_stat> read_proc_stat(pid_t pid) {
  // Read with read(2): a process that ends between the open and the read
  // makes it fail with ESRCH, which libstdc++'s filebuf reports by throwing.
  const auto file = common::read_proc_file("/proc/" + std::to_string(pid) + "/stat");
  if (!file) return std::nullopt;
  const std::string& text = *file;
  // The command name is in parentheses and may itself contain spaces and
  // parentheses, so the fields start after the last ')'.
  const auto name_end = text.rfind(')');
  if (name_end == std::string::npos) return std::nullopt;

  proc_stat stat;
  stat.pid = pid;
  std::istringstream fields(text.substr(name_end + 1));
  fields >> stat.state >> stat.parent >> stat.process_group;
  // Fields 6 to 21 (session … itrealvalue) come before field 22, starttime.
  std::string skipped;
  for (int field = 6; field <= 21; ++field) fields >> skipped;
  fields >> stat.start_time;
  if (!fields) return std::nullopt;
  return stat;
}

std::ostream& operator<<(std::ostream& out, const process_id& process) { return out << "pid " << process.pid; }

bool is_running(const process_id& process) {
  const auto stat = read_proc_stat(process.pid);
  return stat && stat->start_time == process.start_time && stat->state != 'Z';
}

bool send_signal(const process_id& process, int signal_number) {
  return is_running(process) && ::kill(process.pid, signal_number) == 0;
}

std::vector<process_id> running_children(pid_t parent) {
  return running_processes([parent](const proc_stat& stat) { return stat.parent == parent; });
}

std::vector<process_id> running_group_members(pid_t group) {
  return running_processes([group](const proc_stat& stat) { return stat.process_group == group; });
}

std::vector<pid_t> pids_of(const std::vector<process_id>& processes) {
  std::vector<pid_t> pids;
  for (const auto& process : processes) pids.push_back(process.pid);
  return pids;
}

std::vector<std::string> open_descriptors(pid_t pid) {
  std::vector<std::pair<int, std::string>> descriptors;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ignored)) {
    const std::string name = entry.path().filename().string();
    if (!is_number(name)) continue;
    std::error_code read_error;
    const auto target = std::filesystem::read_symlink(entry.path(), read_error);
    descriptors.emplace_back(std::stoi(name), read_error ? "?" : target.string());
  }
  std::sort(descriptors.begin(), descriptors.end());

  std::vector<std::string> lines;
  for (const auto& [fd, target] : descriptors) lines.push_back(std::to_string(fd) + " -> " + target);
  return lines;
}

}  // namespace band::test
