#include "day04.hpp"

#include <gmock/gmock.h>

#include <algorithm>
#include <regex>

namespace band::test {

std::vector<pid_t> wait_until_ready(const band_process& band, unsigned count) {
  std::vector<pid_t> pids;
  for (unsigned slot = 0; slot < count; ++slot) {
    const pid_t pid = band.wait_for_worker_start(slot);
    band.wait_for_line(worker_event("info", slot, pid) + "ready after ");
    pids.push_back(pid);
  }
  return pids;
}

void exit_during_succession(const band_process& band, pid_t old_worker, pid_t successor) {
  EXPECT_EQ(worker_pid_of(band.get("/exit?code=3")), old_worker);
  band.wait_for_line(worker_event("warning", 0, old_worker) + "exited with status 3; its successor pid " +
                     std::to_string(successor) + " takes the slot$");
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

}  // namespace band::test
