// The hand-off strategies copy every connection's descriptor from the
// master to a worker; both copies must be closed once the connection ends.
#include "day03.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace band::test {
namespace {

class Descriptors : public ::testing::TestWithParam<std::string> {};

TEST_P(Descriptors, NoneLeftAfterConnections) {
  auto band = start_day03(GetParam(), 2);
  const auto pids = first_worker_pids(band, 2);
  // Once both workers have started, the master opens nothing more until a
  // connection arrives.
  const auto before = open_descriptors(band.pid());

  const auto answers = answers_by_worker(band, 200);
  ASSERT_EQ(answers.size(), 2u) << ::testing::PrintToString(answers);

  const bool master_back = poll_until([&] { return open_descriptors(band.pid()).size() == before.size(); });
  EXPECT_TRUE(master_back) << "before: " << ::testing::PrintToString(before)
                           << "\nafter: " << ::testing::PrintToString(open_descriptors(band.pid()));
  // A worker's count of descriptors at rest is unknown to the test, because
  // it opens its own after the master logs its start, so only its
  // connections are counted.
  for (const pid_t pid : pids) {
    EXPECT_TRUE(poll_until([&] { return tcp_sockets_held(pid) == 0; }))
        << "worker pid " << pid << " still holds " << tcp_sockets_held(pid) << " connections";
  }
}

INSTANTIATE_TEST_SUITE_P(Strategies, Descriptors, ::testing::Values("round-robin", "least-conn"),
                         strategy_case_name);

}  // namespace
}  // namespace band::test
