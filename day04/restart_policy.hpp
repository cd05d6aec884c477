// Crash-loop policies: a per-slot backoff between restarts, and a restart
// intensity across the band in the manner of Erlang/OTP supervisors.
#pragma once

#include "slot_table.hpp"

#include <chrono>
#include <cstddef>
#include <deque>

namespace band {

using std::chrono::milliseconds;

// The delay before a slot's next worker starts. A worker that stayed up at
// least min_uptime restarts at once and resets the delay; one that died
// sooner waits the current delay, which then doubles up to max_delay.
class restart_backoff {
 public:
  static constexpr milliseconds initial_delay{100};
  static constexpr milliseconds max_delay{30'000};

  milliseconds next_delay(milliseconds uptime, milliseconds min_uptime);

 private:
  milliseconds delay_ = initial_delay;
};

// Counts unplanned restarts within a sliding window.
class restart_intensity {
 public:
  restart_intensity(unsigned max_restarts, milliseconds window) : max_restarts_(max_restarts), window_(window) {}

  // Records a restart at `now`. Returns false when this restart makes more
  // than max_restarts within the window: the band should give up.
  bool record(monotonic_clock::time_point now);
  std::size_t recent_count() const noexcept { return recent_.size(); }

 private:
  unsigned max_restarts_;
  milliseconds window_;
  std::deque<monotonic_clock::time_point> recent_;
};

}  // namespace band
