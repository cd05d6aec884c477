// The clock every measurement uses, and conversions of its durations.
#pragma once

#include <band/common/parse.hpp>

#include <chrono>
#include <ctime>
#include <string>

namespace bench {

using clock = std::chrono::steady_clock;

inline timespec to_timespec(std::chrono::nanoseconds duration) {
  if (duration < std::chrono::nanoseconds::zero()) duration = std::chrono::nanoseconds::zero();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(duration);
  return timespec{static_cast<std::time_t>(seconds.count()), static_cast<long>((duration - seconds).count())};
}

// "5s", "250ms": a limit or a wait for messages, whole milliseconds only.
inline std::string duration_text(std::chrono::nanoseconds duration) {
  return band::common::format_duration(std::chrono::duration_cast<std::chrono::milliseconds>(duration));
}

}  // namespace bench
