#include "day02.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <stdexcept>

namespace band::test {

std::string worker_event(const std::string& level, unsigned slot, pid_t pid) {
  return master_line(level) + "worker " + std::to_string(slot) + " pid " + std::to_string(pid) + " ";
}

std::string worker_line(unsigned slot, pid_t pid) {
  return R"(\[worker )" + std::to_string(slot) + " pid " + std::to_string(pid) + R"(\] )";
}

std::vector<line_match> matching_lines(const child_process& band, const std::string& pattern) {
  const std::regex expression(pattern);
  std::vector<line_match> matches;
  for (const auto& line : band.stderr_lines()) {
    std::smatch match;
    if (!std::regex_search(line, match, expression)) continue;
    line_match found{line, {}};
    for (const auto& group : match) found.groups.push_back(group.str());
    matches.push_back(std::move(found));
  }
  return matches;
}

long first_line_index(const child_process& band, const std::string& pattern) {
  const std::regex expression(pattern);
  const auto lines = band.stderr_lines();
  for (std::size_t index = 0; index < lines.size(); ++index) {
    if (std::regex_search(lines[index], expression)) return static_cast<long>(index);
  }
  return -1;
}

std::chrono::system_clock::time_point log_time(const std::string& line) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  int hours = 0;
  int minutes = 0;
  int seconds = 0;
  int milliseconds = 0;
  if (std::sscanf(line.c_str(), "%4d-%2u-%2u %2d:%2d:%2d.%3d", &year, &month, &day, &hours, &minutes, &seconds,
                  &milliseconds) != 7) {
    throw std::invalid_argument("no time stamp at the start of '" + line + "'");
  }
  const std::chrono::sys_days date = std::chrono::year(year) / std::chrono::month(month) / std::chrono::day(day);
  return date + std::chrono::hours(hours) + std::chrono::minutes(minutes) + std::chrono::seconds(seconds) +
         std::chrono::milliseconds(milliseconds);
}

std::chrono::milliseconds log_interval(const std::string& earlier, const std::string& later) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(log_time(later) - log_time(earlier));
}

std::vector<pid_t> started_pids(const child_process& band) {
  std::vector<pid_t> pids;
  for (const auto& match : matching_lines(band, master_line("info") + R"(worker \d+ pid (\d+) started)")) {
    pids.push_back(static_cast<pid_t>(std::stol(match.groups[1])));
  }
  return pids;
}

void expect_band_gone(const band_process& band, const exit_status& expected) {
  EXPECT_EQ(band.wait_exit(), expected);
  // The master reaps every worker before it exits, so none may remain even
  // for a moment. A pid the kernel has given to an unrelated process since
  // is not in the master's process group, whose id cannot be reused while
  // the master is an unreaped zombie.
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
