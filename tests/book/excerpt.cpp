#include "excerpt.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <system_error>

namespace band::book {

namespace {

constexpr std::string_view fence = "```";
constexpr std::string_view marker_prefix = "<!-- excerpt: ";
constexpr std::string_view marker_suffix = " -->";
constexpr std::string_view elision = "// …";

std::string_view trim_end(std::string_view text) {
  const auto end = text.find_last_not_of(" \t\r\f\v");
  return end == std::string_view::npos ? std::string_view{} : text.substr(0, end + 1);
}

std::string_view trim(std::string_view text) {
  text = trim_end(text);
  const auto begin = text.find_first_not_of(" \t");
  return begin == std::string_view::npos ? std::string_view{} : text.substr(begin);
}

bool is_elision(std::string_view line) { return trim(line) == elision; }

// PATH from a marker line, or nothing when the line is not an exact marker.
std::optional<std::string> marker_path(std::string_view line) {
  line = trim_end(line);
  if (line.size() < marker_prefix.size() + marker_suffix.size()) return std::nullopt;
  if (!line.starts_with(marker_prefix) || !line.ends_with(marker_suffix)) return std::nullopt;
  const auto path = line.substr(marker_prefix.size(), line.size() - marker_prefix.size() - marker_suffix.size());
  if (path.empty() || path != trim(path)) return std::nullopt;
  return std::string(path);
}

// A line that looks meant as a marker: an HTML comment naming "excerpt" in
// any case.
bool looks_like_marker(std::string_view line) {
  std::string lower(trim(line));
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  return lower.starts_with("<!--") && lower.find("excerpt") != std::string::npos;
}

// The runs of excerpt lines between elisions, with trailing whitespace cut.
std::vector<std::vector<std::string_view>> split_at_elisions(const std::vector<std::string>& excerpt) {
  std::vector<std::vector<std::string_view>> runs(1);
  for (const auto& line : excerpt) {
    if (is_elision(line)) runs.emplace_back();
    else runs.back().push_back(trim_end(line));
  }
  std::erase_if(runs, [](const auto& run) { return run.empty(); });
  return runs;
}

// Why an excerpt that does not match fails: the first line absent from the
// file, or else the order.
std::string describe_mismatch(const std::vector<std::string>& excerpt, const std::vector<std::string>& source) {
  std::vector<std::string_view> source_lines;
  for (const auto& line : source) source_lines.push_back(trim_end(line));

  for (std::size_t index = 0; index < excerpt.size(); ++index) {
    const auto line = trim_end(excerpt[index]);
    if (is_elision(line)) continue;
    if (std::find(source_lines.begin(), source_lines.end(), line) == source_lines.end()) {
      return "line " + std::to_string(index + 1) + " of the excerpt is not in the file: " + std::string(line);
    }
  }
  return "every line of the excerpt is in the file, but not as one run in this order";
}

}  // namespace

std::vector<std::string> split_lines(std::string_view text) {
  std::vector<std::string> lines;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    lines.emplace_back(text.substr(0, newline));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  return lines;
}

parsed_chapter parse_chapter(std::string_view markdown) {
  const auto lines = split_lines(markdown);
  parsed_chapter result;

  struct marker {
    std::size_t line;
    std::string path;
  };
  std::optional<marker> pending;
  const auto report = [&result](std::size_t line, std::string message) {
    result.errors.push_back({line, std::move(message)});
  };

  for (std::size_t index = 0; index < lines.size(); ++index) {
    const std::string_view line = trim_end(lines[index]);

    if (line.starts_with(fence)) {
      const std::size_t open = index;
      std::size_t close = open + 1;
      while (close < lines.size() && trim_end(lines[close]) != fence) ++close;
      if (close == lines.size()) {
        report(open + 1, "code block is never closed");
        return result;
      }
      if (pending) {
        result.excerpts.push_back(
            {open + 1, std::move(pending->path), {lines.begin() + open + 1, lines.begin() + close}});
        pending.reset();
      }
      // Lines inside a block are code, never markers, so a chapter can show the convention itself.
      index = close;
      continue;
    }
    if (line.empty()) continue;

    if (pending) {
      report(pending->line, "excerpt marker for " + pending->path + " is not followed by a code block");
      pending.reset();
    }
    if (auto path = marker_path(line)) {
      pending = marker{index + 1, std::move(*path)};
    } else if (looks_like_marker(line)) {
      report(index + 1, "invalid excerpt marker; expected exactly <!-- excerpt: PATH -->");
    }
  }
  if (pending) report(pending->line, "excerpt marker for " + pending->path + " is not followed by a code block");
  return result;
}

bool excerpt_matches(const std::vector<std::string>& excerpt, const std::vector<std::string>& source) {
  const auto runs = split_at_elisions(excerpt);
  if (runs.empty()) return false;

  std::vector<std::string_view> source_lines;
  for (const auto& line : source) source_lines.push_back(trim_end(line));

  // Each run takes its earliest place after the one before: an earlier place
  // never leaves less room for the runs that follow.
  auto from = source_lines.begin();
  for (const auto& run : runs) {
    const auto found = std::search(from, source_lines.end(), run.begin(), run.end());
    if (found == source_lines.end()) return false;
    from = found + static_cast<std::ptrdiff_t>(run.size());
  }
  return true;
}

std::vector<std::string> check_chapter(std::string_view chapter_name, std::string_view markdown,
                                       const std::filesystem::path& root) {
  const auto chapter = parse_chapter(markdown);
  std::vector<std::string> failures;
  for (const auto& error : chapter.errors) {
    failures.push_back(std::string(chapter_name) + ":" + std::to_string(error.line) + ": " + error.message);
  }

  for (const auto& piece : chapter.excerpts) {
    const std::string where =
        std::string(chapter_name) + ":" + std::to_string(piece.line) + ": excerpt of " + piece.path;
    const std::filesystem::path path(piece.path);
    const auto escapes = std::find(path.begin(), path.end(), "..") != path.end();
    if (path.is_absolute() || escapes) {
      failures.push_back(where + ": the path must be relative to the repository root, without ..");
      continue;
    }
    std::error_code ec;
    if (!std::filesystem::is_regular_file(root / path, ec)) {
      failures.push_back(where + ": file not found under " + root.string());
      continue;
    }
    if (split_at_elisions(piece.lines).empty()) {
      failures.push_back(where + ": the excerpt has no line to check");
      continue;
    }
    std::ifstream file(root / path, std::ios::binary);
    std::ostringstream text;
    text << file.rdbuf();
    const auto source = split_lines(text.str());
    if (!excerpt_matches(piece.lines, source)) {
      failures.push_back(where + ": does not match the file; " + describe_mismatch(piece.lines, source));
    }
  }
  return failures;
}

std::vector<std::string> check_chapter_file(const std::filesystem::path& chapter, const std::filesystem::path& root) {
  const auto name = std::filesystem::relative(chapter, root).string();
  std::ifstream file(chapter, std::ios::binary);
  if (!file) return {name + ": cannot read the chapter"};
  std::ostringstream markdown;
  markdown << file.rdbuf();
  return check_chapter(name, markdown.str(), root);
}

std::vector<std::filesystem::path> list_chapters(const std::filesystem::path& root) {
  std::vector<std::filesystem::path> chapters;
  const auto book = root / "book";
  if (!std::filesystem::exists(book)) return chapters;
  for (const auto& entry : std::filesystem::directory_iterator(book)) {
    if (entry.is_regular_file() && entry.path().extension() == ".md") chapters.push_back(entry.path());
  }
  std::sort(chapters.begin(), chapters.end());
  return chapters;
}

}  // namespace band::book
