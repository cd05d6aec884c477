#include "band/common/wait_status.hpp"

#include <gtest/gtest.h>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <system_error>
#include <thread>

namespace band::common {
namespace {

using namespace std::chrono_literals;

constexpr auto wait_timeout = 10s;

// A forked child that runs `body`, then exits with status 0. The child writes
// no core file, and the destructor kills and reaps a child not yet reaped, so
// a failing test leaves no process behind.
class child_process {
 public:
  // `body` runs in the child of a process that may have threads, so it may
  // only call async-signal-safe functions.
  explicit child_process(void (*body)()) : parent_(::getpid()) {
    pid_ = ::fork();
    if (pid_ < 0) throw std::system_error(errno, std::generic_category(), "fork");
    if (pid_ > 0) return;

    // RLIMIT_CORE 0 stops a core file when core_pattern names a file. The
    // kernel ignores that limit when core_pattern pipes to a program, so
    // PR_SET_DUMPABLE 0 turns off that dump too.
    const rlimit no_core{0, 0};
    ::setrlimit(RLIMIT_CORE, &no_core);
    ::prctl(PR_SET_DUMPABLE, 0);
    // Die with the test program, even when it is killed before the destructor runs.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent_) ::_exit(127);
    body();
    ::_exit(0);
  }

  ~child_process() {
    if (reaped_) return;
    ::kill(pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }

  child_process(const child_process&) = delete;
  child_process& operator=(const child_process&) = delete;

  pid_t pid() const noexcept { return pid_; }

  // Waits for a change that waitpid `options` select (0 for an exit,
  // WUNTRACED for a stop, WCONTINUED for a continue) and returns its status,
  // or nothing after wait_timeout.
  std::optional<int> wait(int options = 0) {
    const auto deadline = std::chrono::steady_clock::now() + wait_timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      const pid_t result = ::waitpid(pid_, &status, options | WNOHANG);
      if (result == pid_) {
        if (WIFEXITED(status) || WIFSIGNALED(status)) reaped_ = true;
        return status;
      }
      if (result < 0 && errno != EINTR) return std::nullopt;
      std::this_thread::sleep_for(1ms);
    }
    return std::nullopt;
  }

 private:
  pid_t parent_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

TEST(signal_name, named) {
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(SIGTERM), "SIGTERM");
  EXPECT_EQ(signal_name(SIGABRT), "SIGABRT");
  EXPECT_EQ(signal_name(SIGCHLD), "SIGCHLD");
  EXPECT_EQ(signal_name(SIGSTOP), "SIGSTOP");
}

TEST(signal_name, realtime_without_name) {
  EXPECT_EQ(signal_name(SIGRTMIN + 1), "signal " + std::to_string(SIGRTMIN + 1));
  EXPECT_EQ(signal_name(SIGRTMAX), "signal " + std::to_string(SIGRTMAX));
}

TEST(signal_name, not_a_signal) {
  EXPECT_EQ(signal_name(0), "signal 0");
  EXPECT_EQ(signal_name(-1), "signal -1");
  EXPECT_EQ(signal_name(SIGRTMAX + 1), "signal " + std::to_string(SIGRTMAX + 1));
}

// Runs `body` in a child and describes how the child ended.
std::string describe_child_end(void (*body)()) {
  child_process child(body);
  const auto status = child.wait();
  if (!status) return "child " + std::to_string(child.pid()) + " did not end within the timeout";
  return describe_wait_status(*status);
}

TEST(describe_wait_status, exit_zero) { EXPECT_EQ(describe_child_end([] { ::_exit(0); }), "exited with status 0"); }

TEST(describe_wait_status, exit_three) { EXPECT_EQ(describe_child_end([] { ::_exit(3); }), "exited with status 3"); }

TEST(describe_wait_status, exit_255) { EXPECT_EQ(describe_child_end([] { ::_exit(255); }), "exited with status 255"); }

TEST(describe_wait_status, killed_by_sigkill) {
  EXPECT_EQ(describe_child_end([] { ::raise(SIGKILL); }), "killed by SIGKILL");
}

// The child writes no core file, so the status has no core-dump bit.
TEST(describe_wait_status, abort_without_core) {
  EXPECT_EQ(describe_child_end([] { std::abort(); }), "killed by SIGABRT");
}

TEST(describe_wait_status, core_dumped) {
  // The encoding of Linux and glibc: the signal in the low 7 bits, 0x80 for
  // a core dump. A real child writes no core file here.
  const int status = SIGABRT | 0x80;
  ASSERT_TRUE(WIFSIGNALED(status));
  ASSERT_TRUE(WCOREDUMP(status));
  EXPECT_EQ(describe_wait_status(status), "killed by SIGABRT (core dumped)");
}

TEST(describe_wait_status, stopped_and_continued) {
  child_process child([] {
    ::raise(SIGSTOP);
    for (;;) ::pause();
  });

  const auto stopped = child.wait(WUNTRACED);
  ASSERT_TRUE(stopped) << "child " << child.pid() << " did not stop";
  EXPECT_EQ(describe_wait_status(*stopped), "stopped by SIGSTOP");

  ASSERT_EQ(::kill(child.pid(), SIGCONT), 0) << std::strerror(errno);
  const auto continued = child.wait(WCONTINUED);
  ASSERT_TRUE(continued) << "child " << child.pid() << " did not continue";
  EXPECT_EQ(describe_wait_status(*continued), "continued");

  ASSERT_EQ(::kill(child.pid(), SIGKILL), 0) << std::strerror(errno);
  const auto killed = child.wait();
  ASSERT_TRUE(killed) << "child " << child.pid() << " did not end";
  EXPECT_EQ(describe_wait_status(*killed), "killed by SIGKILL");
}

}  // namespace
}  // namespace band::common
