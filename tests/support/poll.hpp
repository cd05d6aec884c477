// Polling with a deadline: a condition is checked at a short interval until
// it is true or the deadline passes, so that no test sleeps for a fixed time
// to wait for the program under test.
#pragma once

#include <chrono>
#include <thread>

namespace band::test {

// How long a test waits for anything the product should do promptly: a log
// line, an exit, a replaced worker. Generous, because a loaded machine or a
// sanitizer build can be many times slower than an idle one.
inline constexpr std::chrono::milliseconds default_timeout{10'000};

inline constexpr std::chrono::milliseconds poll_interval{10};

// Calls `condition` every poll_interval until it returns true or `timeout`
// has passed. Returns whether the condition held.
template <class Condition>
bool poll_until(Condition&& condition, std::chrono::milliseconds timeout = default_timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(poll_interval);
  }
}

}  // namespace band::test
