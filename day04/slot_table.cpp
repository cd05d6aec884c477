#include "slot_table.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace band {

slot_table::slot_table() : bytes_(sizeof(slot_record) * capacity), in_use_(capacity, false) {
  // MAP_SHARED | MAP_ANONYMOUS: after fork() the master and the workers see
  // the same pages, not copies.
  void* memory = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap of the slot table");
  records_ = static_cast<slot_record*>(memory);
  for (std::size_t record = 0; record < capacity; ++record) new (&records_[record]) slot_record();
}

std::optional<std::size_t> slot_table::allocate() {
  for (std::size_t record = 0; record < capacity; ++record) {
    if (in_use_[record]) continue;
    in_use_[record] = true;
    records_[record].heartbeat_ns.store(0, std::memory_order_relaxed);
    records_[record].stats.accepted.store(0, std::memory_order_relaxed);
    records_[record].stats.active.store(0, std::memory_order_relaxed);
    records_[record].stats.requests.store(0, std::memory_order_relaxed);
    return record;
  }
  return std::nullopt;
}

slot_table::~slot_table() { ::munmap(records_, bytes_); }

}  // namespace band
