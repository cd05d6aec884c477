// Descriptors for the unit tests of the hand-off and the balancer, which run
// in the test process with no child.
#pragma once

#include "handoff.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <utility>

namespace band::test {

// A descriptor closed by the destructor.
class unique_fd {
 public:
  unique_fd() = default;
  explicit unique_fd(int fd) noexcept : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~unique_fd() { reset(); }

  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// A worker channel from band::make_channel: the master's end and the
// worker's.
struct channel_ends {
  unique_fd master;
  unique_fd worker;
};

inline channel_ends open_channel() {
  int ends[2];
  make_channel(ends);
  return {unique_fd(ends[0]), unique_fd(ends[1])};
}

inline bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

}  // namespace band::test
