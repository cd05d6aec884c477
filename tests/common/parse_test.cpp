#include "band/common/parse.hpp"

#include "rejects.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string_view>

namespace band::common {
namespace {

using namespace std::chrono_literals;
using testing::expect_rejected;

constexpr std::uint64_t kib = 1ULL << 10;
constexpr std::uint64_t mib = 1ULL << 20;
constexpr std::uint64_t gib = 1ULL << 30;
constexpr std::uint64_t tib = 1ULL << 40;

TEST(parse_duration, units) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("2s"), 2s);
  EXPECT_EQ(parse_duration("5m"), 5min);
  EXPECT_EQ(parse_duration("1h"), 1h);
}

TEST(parse_duration, bare_number_is_seconds) { EXPECT_EQ(parse_duration("3"), 3s); }

TEST(parse_duration, one_week_at_most) {
  EXPECT_EQ(parse_duration("168h"), 168h);
  EXPECT_EQ(parse_duration("604800000ms"), 168h);
  expect_rejected("169h", parse_duration);
  expect_rejected("604800001ms", parse_duration);
}

TEST(parse_duration, rejects_invalid) {
  for (const std::string_view text : {"0", "0ms", "-1", "1x", "", "ms", "1.5s", " 2s", "2s ", "2S", "2 s"}) {
    expect_rejected(text, parse_duration);
  }
}

TEST(parse_duration, rejects_overflow) {
  expect_rejected("99999999999h", parse_duration);
  expect_rejected("99999999999999999999999ms", parse_duration);
}

TEST(parse_count, range_edges) {
  EXPECT_EQ(parse_count("1", 1, 8), 1U);
  EXPECT_EQ(parse_count("8", 1, 8), 8U);
  EXPECT_EQ(parse_count("0", 0, 0), 0U);

  const auto parse_1_to_8 = [](std::string_view text) { return parse_count(text, 1, 8); };
  expect_rejected("0", parse_1_to_8);
  expect_rejected("9", parse_1_to_8);
}

TEST(parse_count, full_64_bit_range) {
  constexpr auto max = std::numeric_limits<std::uint64_t>::max();
  EXPECT_EQ(parse_count("18446744073709551615", 0, max), max);

  const auto parse_any = [](std::string_view text) { return parse_count(text, 0, max); };
  expect_rejected("18446744073709551616", parse_any);
}

TEST(parse_count, rejects_junk) {
  const auto parse_1_to_8 = [](std::string_view text) { return parse_count(text, 1, 8); };
  for (const std::string_view text : {"", "abc", "4x", "-1", "+1", " 4", "4 ", "0x4", "4.0", "1e1"}) {
    expect_rejected(text, parse_1_to_8);
  }
}

TEST(parse_count, message_names_range) {
  try {
    parse_count("9", 1, 8);
    FAIL() << "9 was accepted for the range 1 to 8";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("from 1 to 8"));
  }
}

TEST(parse_size, units) {
  EXPECT_EQ(parse_size("64K"), 64 * kib);
  EXPECT_EQ(parse_size("64KiB"), 64 * kib);
  EXPECT_EQ(parse_size("512M"), 512 * mib);
  EXPECT_EQ(parse_size("512MiB"), 512 * mib);
  EXPECT_EQ(parse_size("1G"), gib);
  EXPECT_EQ(parse_size("1GiB"), gib);
  EXPECT_EQ(parse_size("2T"), 2 * tib);
}

TEST(parse_size, bare_number_is_mib) { EXPECT_EQ(parse_size("100"), 100 * mib); }

TEST(parse_size, rejects_invalid) {
  for (const std::string_view text : {"0", "0K", "1X", "", "M", "-1", "1.5G", "1 G", "1KB", "1MB"}) {
    expect_rejected(text, parse_size);
  }
}

TEST(parse_size, rejects_overflow) {
  // 2^62 bytes is the largest size accepted: 4194304 TiB or 4294967296 GiB.
  EXPECT_EQ(parse_size("4194304T"), 1ULL << 62);
  EXPECT_EQ(parse_size("4294967296G"), 1ULL << 62);
  expect_rejected("4194305T", parse_size);
  expect_rejected("4294967297G", parse_size);
  expect_rejected("99999999999999999999999", parse_size);
}

TEST(format_size, units) {
  EXPECT_EQ(format_size(0), "0 bytes");
  EXPECT_EQ(format_size(512), "512 bytes");
  EXPECT_EQ(format_size(1023), "1023 bytes");
  EXPECT_EQ(format_size(kib), "1.0 KiB");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(612 * mib + 400 * kib), "612.4 MiB");
  EXPECT_EQ(format_size(gib), "1.0 GiB");
  EXPECT_EQ(format_size(tib), "1.0 TiB");
  // TiB is the largest unit.
  EXPECT_EQ(format_size(2048 * tib), "2048.0 TiB");
}

TEST(plural, adds_s_unless_one) {
  EXPECT_EQ(plural(0, "worker"), "0 workers");
  EXPECT_EQ(plural(1, "worker"), "1 worker");
  EXPECT_EQ(plural(2, "request"), "2 requests");
}

// A size that would round to 1024.0 of one unit is 1.0 of the next unit.
TEST(format_size, rounds_into_next_unit) {
  EXPECT_EQ(format_size(mib - 1), "1.0 MiB");
  EXPECT_EQ(format_size(gib - 1), "1.0 GiB");
}

TEST(format_duration, shortest_unit) {
  EXPECT_EQ(format_duration(1500ms), "1500ms");
  EXPECT_EQ(format_duration(250ms), "250ms");
  EXPECT_EQ(format_duration(2000ms), "2s");
  EXPECT_EQ(format_duration(90'000ms), "90s");
  EXPECT_EQ(format_duration(60'000ms), "1m");
  EXPECT_EQ(format_duration(3'600'000ms), "1h");
  EXPECT_EQ(format_duration(5'400'000ms), "90m");
}

TEST(format_duration, parse_round_trip) {
  for (const std::string_view text : {"250ms", "1500ms", "2s", "90s", "5m", "1h", "168h"}) {
    EXPECT_EQ(format_duration(parse_duration(text)), text);
  }
}

}  // namespace
}  // namespace band::common
