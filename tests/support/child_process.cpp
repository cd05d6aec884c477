#include "child_process.hpp"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <filesystem>
#include <iostream>
#include <regex>
#include <stdexcept>
#include <system_error>

namespace band::test {

namespace {

// After the destructor's SIGKILL, how long to wait for the killed processes
// to close their ends of the output pipes before the reader stops anyway.
constexpr std::chrono::seconds output_drain_timeout{2};

// How often the reader thread looks at its stop flag.
constexpr int reader_poll_ms = 50;

[[noreturn]] void throw_errno(const std::string& what) {
  throw std::system_error(errno, std::generic_category(), what);
}

struct pipe_ends {
  int read = -1;
  int write = -1;
};

pipe_ends open_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) throw_errno("pipe2");
  return {fds[0], fds[1]};
}

std::string milliseconds_text(std::chrono::milliseconds duration) { return std::to_string(duration.count()) + " ms"; }

// The child's side of the fork, up to exec. Only async-signal-safe calls:
// the test program has other threads, whose locks the child may have copied
// while they were held.
[[noreturn]] void exec_child(const char* path, char* const* argv, pid_t test_pid, int null_fd, int stdout_fd,
                             int stderr_fd, int exec_error_fd) {
  ::setpgid(0, 0);
  // If the test program dies without running destructors (a ctest timeout
  // sends SIGKILL), the program under test dies with it instead of running on.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != test_pid) ::_exit(127);
  // Crashes are part of the tests, so core dumps are turned off to leave no
  // core files behind.
  rlimit no_core{0, 0};
  ::getrlimit(RLIMIT_CORE, &no_core);
  no_core.rlim_cur = 0;
  ::setrlimit(RLIMIT_CORE, &no_core);

  ::dup2(null_fd, STDIN_FILENO);
  ::dup2(stdout_fd, STDOUT_FILENO);
  ::dup2(stderr_fd, STDERR_FILENO);
  // Descriptors open in the test program (sockets, other children's pipes)
  // must not reach the program. They are marked close-on-exec rather than
  // closed, so that exec_error_fd stays open until exec succeeds.
  ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);

  // Start from default signal handling, whatever the test runner ignores
  // or blocks.
  sigset_t no_signals;
  ::sigemptyset(&no_signals);
  ::sigprocmask(SIG_SETMASK, &no_signals, nullptr);
  for (const int signal_number : {SIGINT, SIGTERM, SIGQUIT, SIGPIPE, SIGCHLD, SIGHUP}) {
    ::signal(signal_number, SIG_DFL);
  }

  ::execv(path, argv);
  const int exec_errno = errno;
  [[maybe_unused]] const auto written = ::write(exec_error_fd, &exec_errno, sizeof exec_errno);
  ::_exit(127);
}

}  // namespace

exit_status exited_with(int status) { return {false, status}; }

exit_status killed_by(int signal_number) { return {true, signal_number}; }

std::ostream& operator<<(std::ostream& out, const exit_status& status) {
  if (status.killed) return out << "killed by signal " << status.value << " (" << ::strsignal(status.value) << ")";
  return out << "exited with status " << status.value;
}

child_process::child_process(const std::string& path, const std::vector<std::string>& arguments) : path_(path) {
  std::vector<std::string> argument_storage{path};
  argument_storage.insert(argument_storage.end(), arguments.begin(), arguments.end());
  std::vector<char*> argv;
  for (auto& argument : argument_storage) argv.push_back(argument.data());
  argv.push_back(nullptr);

  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd < 0) throw_errno("open /dev/null");
  const pipe_ends out = open_pipe();
  const pipe_ends err = open_pipe();
  const pipe_ends exec_error = open_pipe();

  const pid_t test_pid = ::getpid();
  pid_ = ::fork();
  if (pid_ < 0) throw_errno("fork for " + path);
  if (pid_ == 0) exec_child(path.c_str(), argv.data(), test_pid, null_fd, out.write, err.write, exec_error.write);

  // Also set here, so that the group exists before the constructor returns
  // even when the child has not run yet. EACCES after the child's exec is
  // harmless: the child has set it itself by then.
  ::setpgid(pid_, pid_);
  for (const int fd : {null_fd, out.write, err.write, exec_error.write}) ::close(fd);
  stdout_fd_ = out.read;
  stderr_fd_ = err.read;

  // Reads 0 bytes once exec has closed the close-on-exec pipe.
  int exec_errno = 0;
  ssize_t got = 0;
  do got = ::read(exec_error.read, &exec_errno, sizeof exec_errno);
  while (got < 0 && errno == EINTR);
  ::close(exec_error.read);
  if (got > 0) {
    ::waitpid(pid_, nullptr, 0);
    ::close(stdout_fd_);
    ::close(stderr_fd_);
    throw std::system_error(exec_errno, std::generic_category(), "exec " + path);
  }

  for (const int fd : {stdout_fd_, stderr_fd_}) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  reader_ = std::thread([this] { read_output(); });
}

child_process::~child_process() {
  kill_everything();
  {
    std::unique_lock lock(mutex_);
    output_changed_.wait_for(lock, output_drain_timeout, [this] { return output_ended_; });
  }
  stop_reading_ = true;
  reader_.join();
  ::close(stdout_fd_);
  ::close(stderr_fd_);
  // An exception thrown by a wait in the test body is recorded as a failure
  // only after this destructor has run.
  if (::testing::Test::HasFailure() || std::uncaught_exceptions() > 0) print_output();
}

void child_process::kill_everything() {
  // The program is not reaped yet, so no other process can have its pid as
  // a process group id: this reaches only the group created in the
  // constructor.
  ::kill(-pid_, SIGKILL);
  for (const auto& child : seen_children_) band::test::send_signal(child, SIGKILL);
  while (::waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
  }
}

void child_process::send_signal(int signal_number) const { ::kill(pid_, signal_number); }

void child_process::send_signal_to_group(int signal_number) const { ::kill(-pid_, signal_number); }

std::vector<process_id> child_process::children() {
  auto children = running_children(pid_);
  for (const auto& child : children) {
    if (std::find(seen_children_.begin(), seen_children_.end(), child) == seen_children_.end()) {
      seen_children_.push_back(child);
    }
  }
  return children;
}

process_id child_process::child(pid_t pid) {
  for (const auto& child : children()) {
    if (child.pid == pid) return child;
  }
  throw std::runtime_error("pid " + std::to_string(pid) + " is not a running child of " + path_);
}

std::vector<process_id> child_process::group_members() const {
  auto members = running_group_members(pid_);
  std::erase_if(members, [this](const process_id& member) { return member.pid == pid_; });
  return members;
}

std::optional<exit_status> child_process::poll_exit() const {
  siginfo_t info{};
  // WNOWAIT: the program stays a zombie until the destructor reaps it.
  if (::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) {
    return std::nullopt;
  }
  if (info.si_code == CLD_EXITED) return exited_with(info.si_status);
  return killed_by(info.si_status);
}

exit_status child_process::wait_exit(std::chrono::milliseconds timeout) const {
  std::optional<exit_status> status;
  if (!poll_until([&] { return (status = poll_exit()).has_value(); }, timeout)) {
    throw std::runtime_error("timed out after " + milliseconds_text(timeout) + " waiting for " + path_ + " (pid " +
                             std::to_string(pid_) + ") to exit");
  }
  return *status;
}

std::vector<std::string> child_process::stderr_lines() const {
  std::lock_guard lock(mutex_);
  return stderr_lines_;
}

std::string child_process::stdout_text() const {
  std::lock_guard lock(mutex_);
  return stdout_text_;
}

line_match child_process::wait_for_line(const std::string& pattern, std::chrono::milliseconds timeout) const {
  const std::regex expression(pattern);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mutex_);
  std::size_t checked = 0;
  for (;;) {
    for (; checked < stderr_lines_.size(); ++checked) {
      std::smatch match;
      if (!std::regex_search(stderr_lines_[checked], match, expression)) continue;
      line_match result{stderr_lines_[checked], {}};
      for (const auto& group : match) result.groups.push_back(group.str());
      return result;
    }
    if (output_ended_) {
      throw std::runtime_error("no line of standard error matched '" + pattern + "' before " + path_ +
                               " and its children closed it");
    }
    if (output_changed_.wait_until(lock, deadline) == std::cv_status::timeout && checked == stderr_lines_.size()) {
      throw std::runtime_error("timed out after " + milliseconds_text(timeout) +
                               " waiting for a line of standard error to match '" + pattern + "'");
    }
  }
}

std::size_t child_process::count_lines(const std::string& pattern) const {
  const std::regex expression(pattern);
  std::lock_guard lock(mutex_);
  return static_cast<std::size_t>(std::count_if(stderr_lines_.begin(), stderr_lines_.end(), [&](const std::string& line) {
    return std::regex_search(line, expression);
  }));
}

void child_process::wait_for_output_end(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mutex_);
  if (!output_changed_.wait_for(lock, timeout, [this] { return output_ended_; })) {
    throw std::runtime_error("timed out after " + milliseconds_text(timeout) + " waiting for " + path_ +
                             " and its children to close standard output and error");
  }
}

void child_process::read_output() {
  pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
  char buffer[4096];
  // poll() skips a negative descriptor, so -1 marks a stream that has ended.
  while ((fds[0].fd >= 0 || fds[1].fd >= 0)) {
    const bool stopping = stop_reading_;
    if (!stopping && ::poll(fds, 2, reader_poll_ms) < 0 && errno != EINTR) break;
    bool progressed = false;
    for (int index = 0; index < 2; ++index) {
      if (fds[index].fd < 0) continue;
      const ssize_t got = ::read(fds[index].fd, buffer, sizeof buffer);
      if (got > 0) {
        store_output(index == 1, buffer, static_cast<std::size_t>(got));
        progressed = true;
      } else if (got == 0) {
        fds[index].fd = -1;
        progressed = true;
      }
    }
    // When stopping, read until nothing is left that can be read at once.
    if (stopping && !progressed) break;
  }

  std::lock_guard lock(mutex_);
  if (!stderr_partial_line_.empty()) stderr_lines_.push_back(std::move(stderr_partial_line_));
  output_ended_ = true;
  output_changed_.notify_all();
}

void child_process::store_output(bool is_stderr, const char* data, std::size_t size) {
  std::lock_guard lock(mutex_);
  if (!is_stderr) {
    stdout_text_.append(data, size);
    return;
  }
  stderr_partial_line_.append(data, size);
  std::size_t start = 0;
  for (auto end = stderr_partial_line_.find('\n'); end != std::string::npos;
       end = stderr_partial_line_.find('\n', start)) {
    stderr_lines_.push_back(stderr_partial_line_.substr(start, end - start));
    start = end + 1;
  }
  stderr_partial_line_.erase(0, start);
  output_changed_.notify_all();
}

void child_process::print_output() const {
  const auto name = std::filesystem::path(path_).filename().string();
  std::lock_guard lock(mutex_);
  std::cerr << "---- standard error of " << name << " (pid " << pid_ << ") ----\n";
  for (const auto& line : stderr_lines_) std::cerr << line << '\n';
  if (!stdout_text_.empty()) std::cerr << "---- standard output of " << name << " ----\n" << stdout_text_;
  std::cerr << "---- end of " << name << " output ----\n";
}

}  // namespace band::test
