// Tests of the excerpt checker itself, on small inline chapters and sources,
// so that it can be seen to fail.
#include "excerpt.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdlib.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace band::book {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using lines = std::vector<std::string>;

// A folder under the system's temporary directory, removed with all it
// contains when the object goes away.
class temporary_folder {
 public:
  temporary_folder() {
    std::string pattern = (std::filesystem::temp_directory_path() / "band-book-test-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::generic_category(), "mkdtemp");
    path_ = pattern;
  }
  ~temporary_folder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  temporary_folder(const temporary_folder&) = delete;
  temporary_folder& operator=(const temporary_folder&) = delete;

  const std::filesystem::path& path() const noexcept { return path_; }

  // Writes `text` to `relative`, creating the folders it needs.
  void write(const std::filesystem::path& relative, const std::string& text) const {
    const auto file_path = path_ / relative;
    std::filesystem::create_directories(file_path.parent_path());
    std::ofstream(file_path, std::ios::binary) << text;
  }

 private:
  std::filesystem::path path_;
};

const lines source = {
    "int add(int a, int b) {",
    "  int sum = a + b;",
    "  return sum;",
    "}",
    "",
    "int twice(int a) {",
    "  return add(a, a);",
    "}",
};

TEST(split_lines, final_newline) {
  EXPECT_THAT(split_lines("a\nb\n"), ElementsAre("a", "b"));
  EXPECT_THAT(split_lines("a\nb"), ElementsAre("a", "b"));
  EXPECT_THAT(split_lines("a\n\nb\n"), ElementsAre("a", "", "b"));
  EXPECT_TRUE(split_lines("").empty());
}

TEST(excerpt_matches, contiguous_run) {
  EXPECT_TRUE(excerpt_matches({"  int sum = a + b;", "  return sum;"}, source));
  EXPECT_TRUE(excerpt_matches(source, source));
  EXPECT_TRUE(excerpt_matches({"}", "", "int twice(int a) {"}, source));
}

TEST(excerpt_matches, changed_line) {
  EXPECT_FALSE(excerpt_matches({"  int sum = a - b;", "  return sum;"}, source));
}

TEST(excerpt_matches, gap_without_elision) {
  EXPECT_FALSE(excerpt_matches({"int add(int a, int b) {", "  return sum;"}, source));
}

TEST(excerpt_matches, wrong_order) {
  EXPECT_FALSE(excerpt_matches({"  return sum;", "  int sum = a + b;"}, source));
}

TEST(excerpt_matches, longer_than_source) {
  lines longer = source;
  longer.push_back("// one more line");
  EXPECT_FALSE(excerpt_matches(longer, source));
}

TEST(excerpt_matches, trailing_whitespace_ignored) {
  EXPECT_TRUE(excerpt_matches({"  return sum;   ", "}\t"}, source));
  EXPECT_TRUE(excerpt_matches({"  return sum;", "}"}, {"  return sum;  ", "}\r"}));
}

TEST(excerpt_matches, leading_whitespace_counts) {
  EXPECT_FALSE(excerpt_matches({"return sum;"}, source));
  EXPECT_FALSE(excerpt_matches({"    return sum;"}, source));
}

TEST(excerpt_matches, elision_skips_lines) {
  EXPECT_TRUE(excerpt_matches({"int add(int a, int b) {", "  // …", "}"}, source));
  EXPECT_TRUE(excerpt_matches({"int add(int a, int b) {", "// …", "  return add(a, a);", "}"}, source));
}

TEST(excerpt_matches, elision_skips_no_line) {
  EXPECT_TRUE(excerpt_matches({"  int sum = a + b;", "// …", "  return sum;"}, source));
}

TEST(excerpt_matches, elision_at_ends) {
  EXPECT_TRUE(excerpt_matches({"// …", "  return sum;", "// …"}, source));
}

TEST(excerpt_matches, elision_keeps_order) {
  EXPECT_FALSE(excerpt_matches({"int twice(int a) {", "// …", "int add(int a, int b) {"}, source));
}

TEST(excerpt_matches, elision_keeps_runs_whole) {
  // The run after the elision must still be contiguous.
  EXPECT_FALSE(excerpt_matches({"int add(int a, int b) {", "// …", "  return sum;", "int twice(int a) {"}, source));
}

TEST(excerpt_matches, elision_needs_own_line) {
  EXPECT_FALSE(excerpt_matches({"int add(int a, int b) {  // …", "}"}, source));
  EXPECT_FALSE(excerpt_matches({"int add(int a, int b) {", "// ...", "}"}, source));
}

TEST(excerpt_matches, nothing_to_check) {
  EXPECT_FALSE(excerpt_matches({}, source));
  EXPECT_FALSE(excerpt_matches({"// …"}, source));
}

// Matches a markup_error at `line` whose message contains `text`.
auto error_at(std::size_t line, const std::string& text) {
  return AllOf(Field(&markup_error::line, line), Field(&markup_error::message, HasSubstr(text)));
}

TEST(parse_chapter, finds_excerpt) {
  const auto chapter = parse_chapter(
      "# Day 1\n"
      "\n"
      "<!-- excerpt: day01/master.cpp -->\n"
      "\n"
      "```cpp\n"
      "void reap();\n"
      "\n"
      "```\n"
      "Text.\n");
  EXPECT_TRUE(chapter.errors.empty());
  ASSERT_EQ(chapter.excerpts.size(), 1U);
  EXPECT_EQ(chapter.excerpts[0].line, 5U);
  EXPECT_EQ(chapter.excerpts[0].path, "day01/master.cpp");
  EXPECT_THAT(chapter.excerpts[0].lines, ElementsAre("void reap();", ""));
}

TEST(parse_chapter, fence_without_language) {
  const auto chapter = parse_chapter("<!-- excerpt: a.txt -->\n```\nx\n```\n");
  EXPECT_TRUE(chapter.errors.empty());
  ASSERT_EQ(chapter.excerpts.size(), 1U);
  EXPECT_THAT(chapter.excerpts[0].lines, ElementsAre("x"));
}

TEST(parse_chapter, plain_blocks_ignored) {
  const auto chapter = parse_chapter(
      "```console\n"
      "$ make run\n"
      "```\n"
      "<!-- a comment -->\n"
      "```\n"
      "<!-- excerpt: shown/as/an/example.cpp -->\n"
      "```\n");
  EXPECT_TRUE(chapter.errors.empty());
  EXPECT_TRUE(chapter.excerpts.empty());
}

TEST(parse_chapter, marker_then_text) {
  const auto chapter = parse_chapter("<!-- excerpt: a.cpp -->\nText.\n```\nx\n```\n");
  EXPECT_THAT(chapter.excerpts, IsEmpty());
  EXPECT_THAT(chapter.errors, ElementsAre(error_at(1, "a.cpp is not followed by a code block")));
}

TEST(parse_chapter, marker_at_end) {
  const auto chapter = parse_chapter("Text.\n<!-- excerpt: a.cpp -->\n\n");
  EXPECT_THAT(chapter.errors, ElementsAre(error_at(2, "a.cpp is not followed by a code block")));
}

TEST(parse_chapter, invalid_marker) {
  for (const char* marker : {"<!--excerpt: a.cpp-->", "<!-- excerpt:a.cpp -->", "<!-- excerpt: -->",
                             "  <!-- excerpt: a.cpp -->", "<!-- Excerpt: a.cpp -->"}) {
    SCOPED_TRACE(marker);
    const auto chapter = parse_chapter(std::string(marker) + "\n```\nx\n```\n");
    EXPECT_THAT(chapter.excerpts, IsEmpty());
    EXPECT_THAT(chapter.errors, ElementsAre(error_at(1, "invalid excerpt marker")));
  }
}

TEST(parse_chapter, unclosed_block) {
  const auto chapter = parse_chapter("Text.\n<!-- excerpt: a.cpp -->\n```cpp\nx\n");
  EXPECT_THAT(chapter.excerpts, IsEmpty());
  EXPECT_THAT(chapter.errors, ElementsAre(error_at(3, "never closed")));
}

// Checks `markdown` as the chapter book/01.md of a repository that holds
// `files`, each a path and its text.
std::vector<std::string> check_with_files(const std::string& markdown,
                                          std::initializer_list<std::pair<std::string, std::string>> files = {}) {
  temporary_folder root;
  for (const auto& [path, text] : files) root.write(path, text);
  return check_chapter("book/01.md", markdown, root.path());
}

const std::pair<std::string, std::string> add_cpp = {"src/add.cpp", "int add(int a, int b) {\n  return a + b;\n}\n"};

TEST(check_chapter, match) {
  const auto failures = check_with_files(
      "<!-- excerpt: src/add.cpp -->\n"
      "```cpp\n"
      "int add(int a, int b) {\n"
      "// …\n"
      "}\n"
      "```\n",
      {add_cpp});
  EXPECT_THAT(failures, IsEmpty());
}

TEST(check_chapter, mismatch) {
  const auto failures = check_with_files(
      "Intro.\n"
      "\n"
      "<!-- excerpt: src/add.cpp -->\n"
      "```cpp\n"
      "int add(int a, int b) {\n"
      "  return a - b;\n"
      "}\n"
      "```\n",
      {add_cpp});
  EXPECT_THAT(failures, ElementsAre(AllOf(HasSubstr("book/01.md:4: excerpt of src/add.cpp"),
                                          HasSubstr("line 2 of the excerpt is not in the file:   return a - b;"))));
}

TEST(check_chapter, wrong_order) {
  const auto failures = check_with_files("<!-- excerpt: a.txt -->\n```\ntwo\none\n```\n", {{"a.txt", "one\ntwo\n"}});
  EXPECT_THAT(failures, ElementsAre(AllOf(HasSubstr("book/01.md:2: excerpt of a.txt"),
                                          HasSubstr("not as one run in this order"))));
}

TEST(check_chapter, missing_file) {
  const auto failures = check_with_files("<!-- excerpt: day99/gone.cpp -->\n```cpp\nx\n```\n");
  EXPECT_THAT(failures, ElementsAre(AllOf(HasSubstr("book/01.md:2: excerpt of day99/gone.cpp"),
                                          HasSubstr("file not found"))));
}

TEST(check_chapter, folder_is_not_file) {
  const auto failures = check_with_files("<!-- excerpt: src -->\n```cpp\nx\n```\n", {add_cpp});
  EXPECT_THAT(failures, ElementsAre(HasSubstr("file not found")));
}

TEST(check_chapter, path_outside_root) {
  for (const std::string path : {"src/../src/add.cpp", "/etc/hostname"}) {
    SCOPED_TRACE(path);
    const auto failures = check_with_files("<!-- excerpt: " + path + " -->\n```\n}\n```\n", {add_cpp});
    EXPECT_THAT(failures, ElementsAre(HasSubstr("must be relative to the repository root")));
  }
}

TEST(check_chapter, only_elision) {
  const auto failures = check_with_files("<!-- excerpt: src/add.cpp -->\n```\n// …\n```\n", {add_cpp});
  EXPECT_THAT(failures, ElementsAre(HasSubstr("no line to check")));
}

TEST(check_chapter, markup_error_located) {
  const auto failures = check_with_files("Text.\n<!-- excerpt src/add.cpp -->\n```\n}\n```\n", {add_cpp});
  EXPECT_THAT(failures, ElementsAre(HasSubstr("book/01.md:2: invalid excerpt marker")));
}

TEST(check_chapter, every_excerpt_checked) {
  const auto failures = check_with_files(
      "<!-- excerpt: a.txt -->\n```\none\n```\n"
      "<!-- excerpt: a.txt -->\n```\nthree\n```\n"
      "<!-- excerpt: b.txt -->\n```\ntwo\n```\n",
      {{"a.txt", "one\ntwo\n"}});
  EXPECT_THAT(failures, ElementsAre(HasSubstr("book/01.md:6: excerpt of a.txt"),
                                    HasSubstr("book/01.md:10: excerpt of b.txt")));
}

TEST(list_chapters, markdown_in_book_only) {
  temporary_folder root;
  root.write("book/02-b.md", "");
  root.write("book/01-a.md", "");
  root.write("book/notes.txt", "");
  root.write("book/drafts/03-c.md", "");
  root.write("README.md", "");
  EXPECT_THAT(list_chapters(root.path()), ElementsAre(root.path() / "book/01-a.md", root.path() / "book/02-b.md"));
}

TEST(list_chapters, no_book_folder) {
  temporary_folder root;
  EXPECT_TRUE(list_chapters(root.path()).empty());
}

// The same steps as the chapter tests, on a book with a stale excerpt: the
// check must fail rather than pass on a book it did not read.
TEST(list_chapters, stale_book_fails) {
  temporary_folder root;
  root.write("day01/band.cpp", "int workers = 4;\n");
  root.write("book/README.md", "# Contents\n");
  root.write("book/01-one.md", "<!-- excerpt: day01/band.cpp -->\n```cpp\nint workers = 2;\n```\n");

  std::vector<std::string> failures;
  for (const auto& chapter : list_chapters(root.path())) {
    for (auto& failure : check_chapter_file(chapter, root.path())) failures.push_back(std::move(failure));
  }
  ASSERT_EQ(failures.size(), 1U);
  EXPECT_THAT(failures[0], HasSubstr("book/01-one.md:2: excerpt of day01/band.cpp"));
}

}  // namespace
}  // namespace band::book
