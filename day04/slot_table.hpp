// The slot table: records in memory shared by the master and every worker,
// created before the first fork. Each worker process writes its own record;
// the master reads all of them without a system call. A reload runs an old
// and a new worker for one slot at once, so records belong to processes, not
// slots: the master hands a free one to each worker it forks.
#pragma once

#include <band/common/connection_stats.hpp>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace band {

// Each record has its own cache line, so two workers updating their counters
// do not slow each other down (false sharing).
struct alignas(64) slot_record {
  // When the worker's event loop last turned: nanoseconds on the monotonic
  // clock (steady_clock, CLOCK_MONOTONIC), which is one clock for every
  // process on the machine and never steps when the wall clock is set.
  std::atomic<std::int64_t> heartbeat_ns{0};
  // The worker's connections and requests; least-conn reads `active`.
  common::connection_stats stats;
};

// Atomics in memory shared between processes must not fall back to a lock
// that lives in one process's address space.
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

class slot_table {
 public:
  // Room for twice the most workers band runs, so that every slot can have
  // its replacement starting while the old worker drains.
  static constexpr std::size_t capacity = 2 * 1024;

  slot_table();
  ~slot_table();
  slot_table(const slot_table&) = delete;
  slot_table& operator=(const slot_table&) = delete;

  slot_record& operator[](std::size_t record) noexcept { return records_[record]; }

  // Takes a free record and resets it. Returns nullopt when all are in use.
  std::optional<std::size_t> allocate();
  void release(std::size_t record) noexcept { in_use_[record] = false; }

 private:
  slot_record* records_ = nullptr;
  std::size_t bytes_ = 0;
  std::vector<bool> in_use_;  // in the master's own memory
};

using monotonic_clock = std::chrono::steady_clock;

inline std::int64_t to_heartbeat(monotonic_clock::time_point time) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(time.time_since_epoch()).count();
}

inline monotonic_clock::time_point from_heartbeat(std::int64_t nanoseconds) {
  return monotonic_clock::time_point(std::chrono::nanoseconds(nanoseconds));
}

}  // namespace band
