// Order statistics of a series of durations.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <vector>

namespace bench {

struct summary {
  std::size_t count = 0;
  std::chrono::nanoseconds median{};  // the mean of the two middle samples when the count is even
  std::chrono::nanoseconds p90{};     // the nearest-rank 90th percentile
  std::chrono::nanoseconds min{};
  std::chrono::nanoseconds max{};
};

// Returns nullopt for an empty series.
std::optional<summary> summarize(std::vector<std::chrono::nanoseconds> samples);

}  // namespace bench
