#include "band_log.hpp"

#include "proc.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <regex>

namespace band::test {

std::string gtest_name(std::string strategy) {
  std::replace(strategy.begin(), strategy.end(), '-', '_');
  return strategy;
}

std::string strategy_case_name(const ::testing::TestParamInfo<std::string>& info) { return gtest_name(info.param); }

void PrintTo(const invalid_flag& flag, std::ostream* out) { *out << flag.name; }

std::string invalid_flag_name(const ::testing::TestParamInfo<invalid_flag>& info) { return info.param.name; }

void expect_rejected(const std::string& binary, const invalid_flag& flag) {
  std::vector<std::string> flags{"--listen", "127.0.0.1:0", "--workers", "1"};
  flags.insert(flags.end(), flag.flags.begin(), flag.flags.end());
  child_process band(binary, flags);

  EXPECT_EQ(band.wait_exit(), exited_with(2));
  band.wait_for_output_end();
  EXPECT_THAT(band.group_members(), ::testing::IsEmpty());
  const auto lines = band.stderr_lines();
  ASSERT_THAT(lines, ::testing::SizeIs(1));
  for (const auto& part : flag.expected) EXPECT_THAT(lines.front(), ::testing::HasSubstr(part));
}

std::string worker_event(const std::string& level, unsigned slot, pid_t pid) {
  return master_line(level) + "worker " + std::to_string(slot) + " pid " + std::to_string(pid) + " ";
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

std::vector<pid_t> started_pids(const child_process& band) {
  std::vector<pid_t> pids;
  for (const auto& match : matching_lines(band, master_line("info") + R"(worker \d+ pid (\d+) started)")) {
    pids.push_back(static_cast<pid_t>(std::stol(match.groups[1])));
  }
  return pids;
}

void expect_reserved_signals_ignored(const band_process& band) {
  // A worker that responds has already set its signal dispositions.
  ASSERT_EQ(band.get("/").result_int(), 200);
  band.send_signal_to_group(SIGTTIN);
  band.send_signal_to_group(SIGTTOU);
  // A master that SIGTTIN or SIGTTOU stopped would never log this.
  band.send_signal_to_group(SIGHUP);
  band.wait_for_line(master_line("info") + "received SIGHUP; ignoring it, as reloads come on day 04$");
  const auto master = read_proc_stat(band.pid());
  ASSERT_TRUE(master.has_value());
  EXPECT_NE(master->state, 'T') << "the master is stopped";
  EXPECT_EQ(band.get("/").result_int(), 200);
}

void expect_band_gone(const band_process& band, const exit_status& expected, std::chrono::milliseconds timeout) {
  EXPECT_EQ(band.wait_exit(timeout), expected);
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
