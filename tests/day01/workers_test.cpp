#include "day01.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

namespace band::test {
namespace {

using ::testing::Contains;

TEST(Workers, StartsRequestedCount) {
  auto band = start_day01({"--workers", "3"});
  std::vector<pid_t> logged;
  for (unsigned slot = 0; slot < 3; ++slot) logged.push_back(band.wait_for_worker_start(slot));

  const auto children = pids_of(band.wait_for_workers(3));
  for (const pid_t pid : logged) EXPECT_THAT(children, Contains(pid));
  EXPECT_EQ(band.count_lines(R"(started \(generation)"), 3u);
}

TEST(Workers, DefaultIsOnlineCpus) {
  const auto cpus = static_cast<unsigned>(::sysconf(_SC_NPROCESSORS_ONLN));
  auto band = start_day01({});
  band.wait_for_line(master_line("info") + "starting " + std::to_string(cpus) + " workers$");
  band.wait_for_worker_start(cpus - 1);

  EXPECT_EQ(band.wait_for_workers(cpus).size(), cpus);
}

}  // namespace
}  // namespace band::test
