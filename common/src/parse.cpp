#include "band/common/parse.hpp"

#include <charconv>
#include <cstdio>
#include <iterator>
#include <stdexcept>
#include <string>

namespace band::common {

namespace {

struct number_and_unit {
  std::uint64_t number;
  std::string_view unit;
};

// Splits "250ms" into 250 and "ms"; throws when no digits lead the text.
number_and_unit split_number(std::string_view text, std::string_view expected) {
  std::uint64_t number = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error == std::errc::result_out_of_range) {
    throw std::invalid_argument("invalid value '" + std::string(text) + "': the number is too large");
  }
  if (error != std::errc{}) {
    throw std::invalid_argument("invalid value '" + std::string(text) + "': expected " + std::string(expected));
  }
  return {number, text.substr(static_cast<std::size_t>(end - text.data()))};
}

}  // namespace

std::chrono::milliseconds parse_duration(std::string_view text) {
  constexpr std::string_view expected = "a positive duration such as 250ms, 2s, 5m or 1h";
  const auto [number, unit] = split_number(text, expected);

  std::uint64_t milliseconds_per_unit = 0;
  if (unit == "ms") milliseconds_per_unit = 1;
  else if (unit.empty() || unit == "s") milliseconds_per_unit = 1000;
  else if (unit == "m") milliseconds_per_unit = 60'000;
  else if (unit == "h") milliseconds_per_unit = 3'600'000;
  else throw std::invalid_argument("invalid duration '" + std::string(text) + "': expected " + std::string(expected));

  // A week is far beyond any timeout band uses, and keeps the product in range.
  constexpr std::uint64_t max_milliseconds = 7ULL * 24 * 3'600'000;
  if (number == 0 || number > max_milliseconds / milliseconds_per_unit) {
    throw std::invalid_argument("invalid duration '" + std::string(text) + "': expected " + std::string(expected) +
                                ", at most one week");
  }
  return std::chrono::milliseconds(number * milliseconds_per_unit);
}

std::uint64_t parse_count(std::string_view text, std::uint64_t min, std::uint64_t max) {
  const std::string expected = "a whole number from " + std::to_string(min) + " to " + std::to_string(max);
  const auto [number, rest] = split_number(text, expected);
  if (!rest.empty() || number < min || number > max) {
    throw std::invalid_argument("invalid value '" + std::string(text) + "': expected " + expected);
  }
  return number;
}

std::uint64_t parse_size(std::string_view text) {
  constexpr std::string_view expected = "a positive size such as 64K, 512M or 1G (a bare number is MiB)";
  const auto [number, unit] = split_number(text, expected);

  std::uint64_t bytes_per_unit = 0;
  if (unit == "K" || unit == "k" || unit == "KiB") bytes_per_unit = 1ULL << 10;
  else if (unit.empty() || unit == "M" || unit == "m" || unit == "MiB") bytes_per_unit = 1ULL << 20;
  else if (unit == "G" || unit == "g" || unit == "GiB") bytes_per_unit = 1ULL << 30;
  else if (unit == "T" || unit == "t" || unit == "TiB") bytes_per_unit = 1ULL << 40;
  else throw std::invalid_argument("invalid size '" + std::string(text) + "': expected " + std::string(expected));

  if (number == 0 || number > (1ULL << 62) / bytes_per_unit) {
    throw std::invalid_argument("invalid size '" + std::string(text) + "': expected " + std::string(expected));
  }
  return number * bytes_per_unit;
}

std::string format_size(std::uint64_t bytes) {
  constexpr const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double value = static_cast<double>(bytes) / 1024;
  std::size_t unit = 0;
  // 1023.95 and above would print as "1024.0" of the smaller unit.
  while (value >= 1023.95 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
  return text;
}

std::string plural(std::uint64_t count, std::string_view noun) {
  return std::to_string(count) + " " + std::string(noun) + (count == 1 ? "" : "s");
}

std::string format_duration(std::chrono::milliseconds duration) {
  const auto milliseconds = duration.count();
  if (milliseconds % 3'600'000 == 0 && milliseconds != 0) return std::to_string(milliseconds / 3'600'000) + "h";
  if (milliseconds % 60'000 == 0 && milliseconds != 0) return std::to_string(milliseconds / 60'000) + "m";
  if (milliseconds % 1000 == 0 && milliseconds != 0) return std::to_string(milliseconds / 1000) + "s";
  return std::to_string(milliseconds) + "ms";
}

}  // namespace band::common
