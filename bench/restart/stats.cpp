#include "stats.hpp"

#include <algorithm>

namespace bench {

std::optional<summary> summarize(std::vector<std::chrono::nanoseconds> samples) {
  if (samples.empty()) return std::nullopt;
  std::sort(samples.begin(), samples.end());
  const std::size_t count = samples.size();

  summary result;
  result.count = count;
  result.min = samples.front();
  result.max = samples.back();
  result.median = count % 2 == 1 ? samples[count / 2] : (samples[count / 2 - 1] + samples[count / 2]) / 2;
  // Nearest rank: the smallest sample with at least 90% of the series at or
  // below it, rank ceil(0.9 * count).
  const std::size_t rank = (count * 9 + 9) / 10;
  result.p90 = samples[rank - 1];
  return result;
}

}  // namespace bench
