// Least-conn's choice per connection: it reads every slot's count of active
// connections from the shared slot table and adds the hand-offs not yet
// acknowledged. The loop below mirrors balancer::choose_slot, which is
// private.
#include "slot_table.hpp"

#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

namespace {

unsigned choose_least_loaded(band::slot_table& table, const std::vector<std::int64_t>& unacknowledged,
                             unsigned next_slot) {
  const auto count = static_cast<unsigned>(table.size());
  unsigned best = 0;
  std::int64_t best_load = std::numeric_limits<std::int64_t>::max();
  for (unsigned step = 0; step < count; ++step) {
    const unsigned slot = (next_slot + step) % count;
    const std::int64_t load = table[slot].stats.active.load(std::memory_order_relaxed) + unacknowledged[slot];
    if (load < best_load) {
      best = slot;
      best_load = load;
    }
  }
  return best;
}

// Loads that differ from slot to slot, so the minimum moves about.
void fill_loads(band::slot_table& table, std::vector<std::int64_t>& unacknowledged) {
  for (std::size_t slot = 0; slot < table.size(); ++slot) {
    table[slot].stats.active.store(static_cast<std::int64_t>((slot * 7) % 13), std::memory_order_relaxed);
    unacknowledged[slot] = static_cast<std::int64_t>(slot % 3);
  }
}

// The slot table as the master reads it while no worker writes to it.
void BM_LeastConnChoose(benchmark::State& state) {
  band::slot_table table(static_cast<std::size_t>(state.range(0)));
  std::vector<std::int64_t> unacknowledged(table.size());
  fill_loads(table, unacknowledged);
  unsigned next_slot = 0;

  for (auto _ : state) {
    const unsigned slot = choose_least_loaded(table, unacknowledged, next_slot);
    benchmark::DoNotOptimize(slot);
    next_slot = (slot + 1) % static_cast<unsigned>(table.size());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LeastConnChoose)->Arg(2)->Arg(8)->Arg(64);

// The same while another thread keeps changing every slot's count, as busy
// workers do: each read may now miss the cache, because the line it reads
// was written on another core.
void BM_LeastConnChooseWhileWritten(benchmark::State& state) {
  band::slot_table table(static_cast<std::size_t>(state.range(0)));
  std::vector<std::int64_t> unacknowledged(table.size());
  fill_loads(table, unacknowledged);
  std::atomic<bool> done{false};
  std::thread writer([&] {
    while (!done.load(std::memory_order_relaxed)) {
      for (std::size_t slot = 0; slot < table.size(); ++slot) {
        table[slot].stats.active.fetch_add(1, std::memory_order_relaxed);
        table[slot].stats.active.fetch_sub(1, std::memory_order_relaxed);
      }
    }
  });
  unsigned next_slot = 0;

  for (auto _ : state) {
    const unsigned slot = choose_least_loaded(table, unacknowledged, next_slot);
    benchmark::DoNotOptimize(slot);
    next_slot = (slot + 1) % static_cast<unsigned>(table.size());
  }
  done = true;
  writer.join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_LeastConnChooseWhileWritten)->Arg(2)->Arg(64);

}  // namespace
