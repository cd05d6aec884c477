// The master signals its workers through pidfds where the kernel has
// pidfd_open (Linux 5.3 and later), so that a signal cannot reach a process
// that was given a dead worker's pid.
#include "day02.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <string>
#include <vector>

namespace band::test {
namespace {

std::size_t count_pidfds(pid_t pid) {
  const auto descriptors = open_descriptors(pid);
  return static_cast<std::size_t>(std::count_if(descriptors.begin(), descriptors.end(), [](const std::string& entry) {
    return entry.ends_with("anon_inode:[pidfd]");
  }));
}

// The master holds one pidfd per running worker and closes it when the
// worker is reaped. A worker holds none, because it closes its copies of the
// other workers' pidfds after fork().
TEST(Pidfd, OnePerRunningWorker) {
  // A short --min-uptime, so that each killed worker is replaced at once.
  auto band = start_day02({"--workers", "2", "--min-uptime", "1ms"});
  band.wait_for_workers(2);
  if (band.count_lines("pidfd_open failed") > 0) GTEST_SKIP() << "this kernel has no pidfd_open";

  for (unsigned generation = 1; generation <= 3; ++generation) {
    const pid_t pid = band.wait_for_worker_start(0, generation);
    ASSERT_TRUE(send_signal(band.child(pid), SIGKILL)) << "generation " << generation;
  }
  band.wait_for_worker_start(0, 4);

  const auto workers = band.wait_for_workers(2);
  EXPECT_EQ(count_pidfds(band.pid()), 2u);
  // A new worker holds the copies from fork() until its first steps close
  // them.
  for (const auto& worker : workers) {
    EXPECT_TRUE(poll_until([&] { return count_pidfds(worker.pid) == 0; })) << worker;
  }
}

}  // namespace
}  // namespace band::test
