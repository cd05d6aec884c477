// Unit tests of the crash-loop policies, without real children.
#include "restart_policy.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace band {
namespace {

using namespace std::chrono_literals;

constexpr milliseconds min_uptime = 1s;
constexpr milliseconds quick_death = 10ms;

TEST(RestartBackoff, DoublesFromFirstDelay) {
  restart_backoff backoff;
  EXPECT_EQ(backoff.next_delay(quick_death, min_uptime), 100ms);
  EXPECT_EQ(backoff.next_delay(quick_death, min_uptime), 200ms);
  EXPECT_EQ(backoff.next_delay(quick_death, min_uptime), 400ms);
  EXPECT_EQ(backoff.next_delay(quick_death, min_uptime), 800ms);
  EXPECT_EQ(backoff.next_delay(quick_death, min_uptime), 1600ms);
}

TEST(RestartBackoff, CapsAtMaxDelay) {
  restart_backoff backoff;
  milliseconds expected = 100ms;
  // 100 ms doubled nine times is 51.2 s, past the 30 s cap.
  for (int death = 1; death <= 12; ++death) {
    EXPECT_EQ(backoff.next_delay(quick_death, min_uptime), expected) << "death " << death;
    expected = std::min(expected * 2, milliseconds(30s));
  }
  EXPECT_EQ(restart_backoff::max_delay, 30s);
  EXPECT_EQ(backoff.next_delay(quick_death, min_uptime), 30s);
}

TEST(RestartBackoff, LongUptimeResets) {
  restart_backoff backoff;
  for (int death = 1; death <= 5; ++death) backoff.next_delay(quick_death, min_uptime);

  EXPECT_EQ(backoff.next_delay(5s, min_uptime), 0ms);
  EXPECT_EQ(backoff.next_delay(quick_death, min_uptime), 100ms);
  EXPECT_EQ(backoff.next_delay(quick_death, min_uptime), 200ms);
}

TEST(RestartBackoff, ExactMinUptimeResets) {
  restart_backoff backoff;
  backoff.next_delay(quick_death, min_uptime);
  EXPECT_EQ(backoff.next_delay(min_uptime, min_uptime), 0ms);
  EXPECT_EQ(backoff.next_delay(min_uptime - 1ms, min_uptime), 100ms);
}

TEST(RestartBackoff, FirstLongUptimeIsImmediate) {
  restart_backoff backoff;
  EXPECT_EQ(backoff.next_delay(2s, min_uptime), 0ms);
  EXPECT_EQ(backoff.next_delay(2s, min_uptime), 0ms);
}

const monotonic_clock::time_point start{1h};

TEST(RestartIntensity, AllowsMaxInWindow) {
  restart_intensity intensity(3, 10s);
  EXPECT_TRUE(intensity.record(start));
  EXPECT_TRUE(intensity.record(start + 1s));
  EXPECT_TRUE(intensity.record(start + 2s));
  EXPECT_FALSE(intensity.record(start + 3s));
  EXPECT_EQ(intensity.recent_count(), 4u);
}

TEST(RestartIntensity, OldRecordsDropOut) {
  restart_intensity intensity(3, 10s);
  for (const auto offset : {0s, 1s, 2s}) ASSERT_TRUE(intensity.record(start + offset)) << offset.count() << " s";

  // 11 s after the first restart, that one is out of the window. The one at
  // 1 s is exactly 10 s old and still in.
  EXPECT_TRUE(intensity.record(start + 11s));
  EXPECT_EQ(intensity.recent_count(), 3u);
  EXPECT_FALSE(intensity.record(start + 11s));
}

TEST(RestartIntensity, SpacedRestartsNeverFail) {
  restart_intensity intensity(1, 10s);
  for (int restart = 0; restart < 20; ++restart) {
    EXPECT_TRUE(intensity.record(start + restart * 10'001ms)) << "restart " << restart;
    EXPECT_EQ(intensity.recent_count(), 1u);
  }
}

TEST(RestartIntensity, ZeroMaxFailsFirst) {
  restart_intensity intensity(0, 10s);
  EXPECT_FALSE(intensity.record(start));
}

}  // namespace
}  // namespace band
