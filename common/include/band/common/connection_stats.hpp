// Connection and request counters that a server keeps for its supervisor.
#pragma once

#include <atomic>
#include <cstdint>

namespace band::common {

// Counters a worker updates as it serves. They may live in memory shared
// with the master, which reads them without a system call, so each member is
// a lock-free atomic.
struct connection_stats {
  std::atomic<std::uint64_t> accepted{0};  // connections taken, in all
  std::atomic<std::int64_t> active{0};     // connections open now
  std::atomic<std::uint64_t> requests{0};  // requests answered, in all
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free);
static_assert(std::atomic<std::int64_t>::is_always_lock_free);

}  // namespace band::common
