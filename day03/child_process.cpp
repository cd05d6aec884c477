#include "child_process.hpp"

#include <spdlog/spdlog.h>

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <utility>

namespace band {

namespace {

// glibc has wrappers for these two calls only from 2.36 on (Ubuntu 22.04 has
// 2.35); syscall() works with every version.
int pidfd_open(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

int pidfd_send_signal(int pidfd, int signal_number) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, signal_number, nullptr, 0));
}

}  // namespace

child_process::child_process(pid_t pid) : pid_(pid), pidfd_(pidfd_open(pid)) {
  if (pidfd_ < 0) {
    static bool warned = false;
    if (!warned) spdlog::warn("pidfd_open failed: {}; signalling workers by pid", std::strerror(errno));
    warned = true;
  }
}

child_process::child_process(child_process&& other) noexcept
    : pid_(std::exchange(other.pid_, 0)), pidfd_(std::exchange(other.pidfd_, -1)) {}

child_process& child_process::operator=(child_process&& other) noexcept {
  if (this != &other) {
    reaped();
    pid_ = std::exchange(other.pid_, 0);
    pidfd_ = std::exchange(other.pidfd_, -1);
  }
  return *this;
}

child_process::~child_process() { reaped(); }

bool child_process::signal(int signal_number) const noexcept {
  if (pid_ == 0) return false;
  if (pidfd_ >= 0) return pidfd_send_signal(pidfd_, signal_number) == 0;
  return ::kill(pid_, signal_number) == 0;
}

void child_process::reaped() noexcept {
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
  pid_ = 0;
}

}  // namespace band
