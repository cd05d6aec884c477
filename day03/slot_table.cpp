#include "slot_table.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace band {

slot_table::slot_table(std::size_t slot_count) : count_(slot_count), bytes_(sizeof(slot_record) * slot_count) {
  // MAP_SHARED | MAP_ANONYMOUS: after fork() the master and the workers see
  // the same pages, not copies.
  void* memory = ::mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::system_error(errno, std::generic_category(), "mmap of the slot table");
  records_ = static_cast<slot_record*>(memory);
  for (std::size_t slot = 0; slot < count_; ++slot) new (&records_[slot]) slot_record();
}

slot_table::~slot_table() { ::munmap(records_, bytes_); }

}  // namespace band
