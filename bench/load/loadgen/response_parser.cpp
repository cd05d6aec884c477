#include "response_parser.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

namespace loadgen {

namespace {

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

template <typename Number>
std::optional<Number> parse_number(std::string_view text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

parsed_response invalid(std::string_view error) {
  parsed_response result;
  result.status = parse_status::invalid;
  result.error = error;
  return result;
}

}  // namespace

parsed_response parse_response(std::string_view data) {
  const auto header_end = data.find("\r\n\r\n");
  if (header_end == std::string_view::npos) return {};

  std::string_view head = data.substr(0, header_end);
  const auto line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  // "HTTP/1.1 200 OK": the code is the three digits after the first space.
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12 || status_line[8] != ' ') {
    return invalid("the status line is not HTTP/1.x");
  }
  const auto code = parse_number<unsigned>(status_line.substr(9, 3));
  if (!code) return invalid("the status code is not a number");

  parsed_response result;
  result.code = *code;
  result.close = status_line.starts_with("HTTP/1.0");
  std::optional<std::size_t> content_length;
  head = line_end == std::string_view::npos ? std::string_view{} : head.substr(line_end + 2);
  while (!head.empty()) {
    const auto end = head.find("\r\n");
    const std::string_view line = head.substr(0, end);
    const auto colon = line.find(':');
    if (colon != std::string_view::npos) {
      const std::string_view name = line.substr(0, colon);
      const std::string_view value = trim(line.substr(colon + 1));
      if (equals_ignoring_case(name, "content-length")) {
        content_length = parse_number<std::size_t>(value);
        if (!content_length) return invalid("Content-Length is not a number");
      } else if (equals_ignoring_case(name, "x-worker-pid")) {
        result.worker_pid = parse_number<pid_t>(value).value_or(0);
      } else if (equals_ignoring_case(name, "connection")) {
        result.close = equals_ignoring_case(value, "close");
      } else if (equals_ignoring_case(name, "transfer-encoding")) {
        return invalid("Transfer-Encoding is not supported");
      }
    }
    if (end == std::string_view::npos) break;
    head.remove_prefix(end + 2);
  }
  if (!content_length) return invalid("Content-Length is missing");

  const std::size_t size = header_end + 4 + *content_length;
  if (data.size() < size) return {};
  result.status = parse_status::complete;
  result.size = size;
  return result;
}

}  // namespace loadgen
