// One test per book/*.md file found when the program starts, checking its
// excerpts against the sources (the rules are in excerpt.hpp).
#include "excerpt.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <filesystem>
#include <string>

namespace band::book {
namespace {

const std::filesystem::path source_root = BAND_SOURCE_DIR;

class chapter : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(chapter, excerpts_match) {
  for (const auto& failure : check_chapter_file(GetParam(), source_root)) ADD_FAILURE() << failure;
}

// "01-one-process-per-core.md" becomes "01_one_process_per_core", as test
// names take letters, digits and '_' only.
std::string test_name(const ::testing::TestParamInfo<std::filesystem::path>& info) {
  std::string name = info.param.stem().string();
  for (char& c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

// Checks the chapters found now, because CTest may run a test list made
// before a chapter was added.
TEST(all_chapters, excerpts_match) {
  for (const auto& chapter : list_chapters(source_root)) {
    for (const auto& failure : check_chapter_file(chapter, source_root)) ADD_FAILURE() << failure;
  }
}

INSTANTIATE_TEST_SUITE_P(found, chapter, ::testing::ValuesIn(list_chapters(source_root)), test_name);
// A checkout without chapters yet is valid.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(chapter);

}  // namespace
}  // namespace band::book
