#include "day04.hpp"

#include <gmock/gmock.h>

#include <algorithm>
#include <regex>

namespace band::test {

std::string strategy_case_name(const ::testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::string worker_event(const std::string& level, unsigned slot, pid_t pid) {
  return master_line(level) + "worker " + std::to_string(slot) + " pid " + std::to_string(pid) + " ";
}

std::vector<pid_t> wait_until_ready(const band_process& band, unsigned count) {
  std::vector<pid_t> pids;
  for (unsigned slot = 0; slot < count; ++slot) {
    const pid_t pid = band.wait_for_worker_start(slot);
    band.wait_for_line(worker_event("info", slot, pid) + "ready after ");
    pids.push_back(pid);
  }
  return pids;
}

std::vector<std::string> wait_for_nth_line(const child_process& band, const std::string& pattern, std::size_t count) {
  if (!poll_until([&] { return band.count_lines(pattern) >= count; })) {
    throw std::runtime_error("timed out waiting for " + std::to_string(count) + " lines to match '" + pattern + "'");
  }
  const std::regex expression(pattern);
  const auto lines = band.stderr_lines();
  std::size_t seen = 0;
  for (const auto& line : lines) {
    std::smatch match;
    if (!std::regex_search(line, match, expression) || ++seen < count) continue;
    std::vector<std::string> groups;
    for (const auto& group : match) groups.push_back(group.str());
    return groups;
  }
  throw std::logic_error("lines of standard error went missing");
}

long line_index(const child_process& band, const std::string& pattern) {
  const std::regex expression(pattern);
  const auto lines = band.stderr_lines();
  for (std::size_t index = 0; index < lines.size(); ++index) {
    if (std::regex_search(lines[index], expression)) return static_cast<long>(index);
  }
  return -1;
}

std::vector<pid_t> started_pids(const child_process& band) {
  const std::regex expression(master_line("info") + R"(worker \d+ pid (\d+) started)");
  std::vector<pid_t> pids;
  for (const auto& line : band.stderr_lines()) {
    std::smatch match;
    if (std::regex_search(line, match, expression)) pids.push_back(static_cast<pid_t>(std::stol(match[1].str())));
  }
  return pids;
}

void expect_band_gone(const band_process& band, const exit_status& expected, std::chrono::milliseconds timeout) {
  EXPECT_EQ(band.wait_exit(timeout), expected);
  // The master reaps every worker before it exits. A pid the kernel has
  // given to an unrelated process since is not in the master's process
  // group, whose id cannot be reused while the master is an unreaped zombie.
  EXPECT_THAT(band.group_members(), ::testing::IsEmpty());
  const auto pids = started_pids(band);
  EXPECT_FALSE(pids.empty());
  for (const pid_t pid : pids) {
    const auto stat = read_proc_stat(pid);
    if (!stat || stat->state == 'Z') continue;
    EXPECT_NE(stat->process_group, band.pid()) << "worker pid " << pid << " still runs";
  }
}

}  // namespace band::test
