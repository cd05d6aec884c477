// Checks the book's code excerpts against the sources they quote.
//
// The convention, for every book/*.md file:
//
// - An excerpt is a fenced code block (``` with an optional language, closed
//   by a line ```) whose preceding non-blank line is exactly
//       <!-- excerpt: PATH -->
//   with PATH relative to the repository root.
// - The block's lines must appear as one contiguous run of lines in PATH.
//   Lines compare exactly, except that trailing whitespace is ignored.
// - A line `// …` alone in the block (indentation allowed) stands for any
//   number of source lines, so an excerpt can leave out the middle of a file.
//
// The check fails when PATH does not exist or the block does not match.
// Each of these would let a wrong excerpt go unchecked, so they fail too: a
// marker the checker cannot read, a marker without a code block after it, a
// block that is never closed, and a block with nothing but `// …`.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace band::book {

struct excerpt {
  std::size_t line = 0;  // line of the opening fence in the chapter, from 1
  std::string path;      // PATH as the marker writes it
  std::vector<std::string> lines;  // the block without its fences
};

// A problem in the chapter's own markup, at `line` (from 1).
struct markup_error {
  std::size_t line = 0;
  std::string message;
};

struct parsed_chapter {
  std::vector<excerpt> excerpts;
  std::vector<markup_error> errors;
};

// Splits text at '\n'. A final '\n' ends the last line and starts no other.
std::vector<std::string> split_lines(std::string_view text);

// Finds the excerpts of a chapter and the markup errors around them.
parsed_chapter parse_chapter(std::string_view markdown);

// Whether `excerpt` appears in `source` by the rules above. An excerpt with
// no line other than `// …` matches nothing.
bool excerpt_matches(const std::vector<std::string>& excerpt, const std::vector<std::string>& source);

// Checks every excerpt of a chapter against the files under `root`. Returns
// one message per failure, each starting "CHAPTER:LINE: excerpt of PATH".
std::vector<std::string> check_chapter(std::string_view chapter_name, std::string_view markdown,
                                       const std::filesystem::path& root);

// Reads the chapter file `chapter` and checks it as above, naming it by its
// path relative to `root` in the messages.
std::vector<std::string> check_chapter_file(const std::filesystem::path& chapter, const std::filesystem::path& root);

// The files book/*.md under `root`, sorted by name, or none when there is no
// book/ folder. Throws std::filesystem::filesystem_error when book/ exists
// but cannot be read, so an unreadable book never passes as an empty one.
std::vector<std::filesystem::path> list_chapters(const std::filesystem::path& root);

}  // namespace band::book
