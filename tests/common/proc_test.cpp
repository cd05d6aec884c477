#include "band/common/proc.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace band::common {
namespace {

constexpr std::uint64_t kib = 1024;

// Reads a file of tests/common/fixtures. BAND_PROC_FIXTURES is set by CMake.
std::string read_fixture(const std::string& name) {
  const std::string path = std::string(BAND_PROC_FIXTURES) + "/" + name;
  std::ifstream file(path);
  if (!file) throw std::runtime_error("failed to open fixture " + path);
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

// Checks that parsing `text` throws std::runtime_error whose message
// contains `expected`.
void expect_parse_error(std::string_view text, const std::string& expected) {
  SCOPED_TRACE(std::string(text));
  try {
    parse_smaps_rollup(text);
    ADD_FAILURE() << "no exception";
  } catch (const std::runtime_error& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr(expected));
  }
}

// Captured with `cat /proc/self/smaps_rollup` on Linux 6.18.
TEST(parse_smaps_rollup, linux_6_18) {
  const auto usage = parse_smaps_rollup(read_fixture("smaps_rollup-linux-6.18.txt"));
  EXPECT_EQ(usage.rss, 1772 * kib);
  EXPECT_EQ(usage.pss, 179 * kib);
  EXPECT_EQ(usage.shared_clean, 1624 * kib);
  EXPECT_EQ(usage.shared_dirty, 0u);
  EXPECT_EQ(usage.private_clean, 36 * kib);
  EXPECT_EQ(usage.private_dirty, 112 * kib);
  EXPECT_EQ(usage.swap, 0u);
  EXPECT_EQ(usage.uss(), 148 * kib);
}

// The layout of Linux 4.14 to 5.2, as the kernel's procfs-smaps_rollup
// document showed it: no Pss_Anon, Pss_File and Pss_Shmem (added in 5.3)
// and no Pss_Dirty (added in 6.0). The values are made up. SwapPss must not
// be taken for Swap.
TEST(parse_smaps_rollup, linux_4_14_layout) {
  const auto usage = parse_smaps_rollup(read_fixture("smaps_rollup-linux-4.14.txt"));
  EXPECT_EQ(usage.rss, 52340 * kib);
  EXPECT_EQ(usage.pss, 20517 * kib);
  EXPECT_EQ(usage.shared_clean, 30812 * kib);
  EXPECT_EQ(usage.shared_dirty, 4096 * kib);
  EXPECT_EQ(usage.private_clean, 1024 * kib);
  EXPECT_EQ(usage.private_dirty, 16408 * kib);
  EXPECT_EQ(usage.swap, 640 * kib);
  EXPECT_EQ(usage.uss(), 17432 * kib);
}

// The real file cut in the middle of the Pss value.
TEST(parse_smaps_rollup, truncated_value_throws) {
  expect_parse_error(read_fixture("smaps_rollup-truncated.txt"), "Pss:                 1");
}

TEST(parse_smaps_rollup, missing_pss_throws) {
  expect_parse_error(read_fixture("smaps_rollup-no-pss.txt"), "no Rss or Pss line");
}

TEST(parse_smaps_rollup, missing_rss_throws) {
  expect_parse_error("Pss:  179 kB\nPrivate_Dirty:  112 kB\n", "no Rss or Pss line");
  expect_parse_error("", "no Rss or Pss line");
}

TEST(parse_smaps_rollup, garbled_values_throw) {
  for (const std::string_view line :
       {"Private_Dirty: abc kB", "Private_Dirty: 112 MB", "Private_Dirty: -112 kB", "Private_Dirty: 112kB",
        "Private_Dirty: 112 kB extra", "Private_Dirty: 112", "Private_Dirty: 99999999999999999999999 kB"}) {
    const std::string text = "Rss: 1772 kB\nPss: 179 kB\n" + std::string(line) + "\n";
    expect_parse_error(text, std::string(line));
  }
}

TEST(parse_smaps_rollup, unknown_keys_ignored) {
  const auto usage = parse_smaps_rollup("Rss: 8 kB\nPss: 4 kB\nSome_Future_Field: 2 kB\nNo colon here\n");
  EXPECT_EQ(usage.rss, 8 * kib);
  EXPECT_EQ(usage.pss, 4 * kib);
}

TEST(read_memory_usage, own_process) {
  const auto usage = read_memory_usage(::getpid());
  ASSERT_TRUE(usage.has_value());
  EXPECT_GT(usage->rss, 0u);
  EXPECT_GT(usage->pss, 0u);
  EXPECT_LE(usage->pss, usage->rss);
  EXPECT_GT(usage->uss(), 0u);
  EXPECT_LE(usage->uss(), usage->pss);
}

// A zombie's smaps_rollup fails with ESRCH, and a reaped child's is gone.
TEST(read_memory_usage, ended_child_is_nullopt) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);

  siginfo_t info{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(child), &info, WEXITED | WNOWAIT), 0);
  EXPECT_FALSE(read_memory_usage(child).has_value()) << "zombie pid " << child;

  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  EXPECT_FALSE(read_memory_usage(child).has_value()) << "reaped pid " << child;
}

}  // namespace
}  // namespace band::common
