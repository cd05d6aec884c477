// Parsers for command-line values. Each throws std::invalid_argument with a
// message that names the value and says what is expected.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace band::common {

// "250ms", "2s", "5m", "1h"; a bare number is seconds. Must be positive.
std::chrono::milliseconds parse_duration(std::string_view text);

// A whole number from `min` to `max`.
std::uint64_t parse_count(std::string_view text, std::uint64_t min, std::uint64_t max);

// A size in bytes from "512M", "512MiB", "1G", "64K" (binary units: K = 1024);
// a bare number is MiB. Must be positive.
std::uint64_t parse_size(std::string_view text);

// "612.4 MiB", "1.0 GiB", "512 bytes": a size for messages.
std::string format_size(std::uint64_t bytes);

// "1 worker", "2 workers": a count with its noun, for messages. Only for
// nouns whose plural adds an s.
std::string plural(std::uint64_t count, std::string_view noun);

// "1500ms", "2s", "5m": the shortest exact form of a duration, for messages.
std::string format_duration(std::chrono::milliseconds duration);

}  // namespace band::common
