// A worker process as the master holds it: its pid and a pidfd, so that a
// signal can only ever reach the process band started.
#pragma once

#include <sys/types.h>

namespace band {

class child_process {
 public:
  child_process() = default;
  // Opens a pidfd for `pid`, a child this process has not reaped yet (so the
  // pid cannot have been reused). On kernels without pidfd_open (before
  // Linux 5.3), signals go by pid, which is safe as long as only the master
  // reaps its children.
  explicit child_process(pid_t pid);
  child_process(child_process&& other) noexcept;
  child_process& operator=(child_process&& other) noexcept;
  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;
  ~child_process();

  pid_t pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ != 0; }

  // Sends a signal through the pidfd. Returns false when the process has
  // already exited.
  bool signal(int signal_number) const noexcept;

  // Forgets the process once waitpid() has reaped it.
  void reaped() noexcept;

 private:
  pid_t pid_ = 0;
  int pidfd_ = -1;
};

}  // namespace band
