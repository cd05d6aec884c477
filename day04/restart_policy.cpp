#include "restart_policy.hpp"

#include <algorithm>

namespace band {

milliseconds restart_backoff::next_delay(milliseconds uptime, milliseconds min_uptime) {
  if (uptime >= min_uptime) {
    delay_ = initial_delay;
    return milliseconds::zero();
  }
  const milliseconds delay = delay_;
  delay_ = std::min(delay_ * 2, max_delay);
  return delay;
}

bool restart_intensity::record(monotonic_clock::time_point now) {
  recent_.push_back(now);
  while (!recent_.empty() && now - recent_.front() > window_) recent_.pop_front();
  return recent_.size() <= max_restarts_;
}

}  // namespace band
