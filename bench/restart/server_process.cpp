#include "server_process.hpp"

#include "interrupt.hpp"
#include "procfs.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <csignal>
#include <string_view>
#include <system_error>
#include <thread>

namespace bench {

namespace {

constexpr std::size_t max_startup_lines = 50;
constexpr std::size_t max_notable_lines = 20;
// How often stop() checks whether the server and its orphans are gone.
constexpr auto reap_check_interval = std::chrono::milliseconds(1);

std::system_error errno_error(const std::string& operation) {
  return std::system_error(errno, std::generic_category(), operation);
}

// Parses "... listening on 127.0.0.1:8080" or "... listening on [::1]:8080".
std::optional<listen_address> parse_listen_line(std::string_view line) {
  constexpr std::string_view marker = "listening on ";
  const auto start = line.find(marker);
  if (start == std::string_view::npos) return std::nullopt;
  auto address = line.substr(start + marker.size());
  address = address.substr(0, address.find_first_of(" \t\r"));

  const auto colon = address.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string_view host = address.substr(0, colon);
  const std::string_view port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);

  unsigned short port = 0;
  const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (error != std::errc{} || end != port_text.data() + port_text.size() || port == 0) return std::nullopt;
  return listen_address{std::string(host), port};
}

bool mentions_problem(const std::string& line) {
  std::string lower(line.size(), '\0');
  std::transform(line.begin(), line.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("killed by sigkill") != std::string::npos) return false;
  return lower.find("error") != std::string::npos || lower.find("warn") != std::string::npos;
}

}  // namespace

void become_child_subreaper() {
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) throw errno_error("prctl(PR_SET_CHILD_SUBREAPER)");
}

server_process::server_process(const std::vector<std::string>& argv, std::chrono::nanoseconds stop_grace)
    : stop_grace_(stop_grace) {
  std::vector<char*> exec_argv;
  for (const auto& argument : argv) exec_argv.push_back(const_cast<char*>(argument.c_str()));
  exec_argv.push_back(nullptr);

  int stderr_pipe[2];
  if (::pipe2(stderr_pipe, O_CLOEXEC) != 0) throw errno_error("pipe2 for the server's standard error");
  // The child writes its exec() errno here, and a successful exec() closes the pipe.
  int exec_error_pipe[2];
  if (::pipe2(exec_error_pipe, O_CLOEXEC) != 0) {
    const auto error = errno_error("pipe2 for exec errors");
    ::close(stderr_pipe[0]);
    ::close(stderr_pipe[1]);
    throw error;
  }

  const pid_t parent = ::getpid();
  fork_time_ = clock::now();
  const pid_t pid = ::fork();
  if (pid == 0) {
    // Only async-signal-safe calls between fork() and exec().
    const int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(null_fd, STDOUT_FILENO);
    ::dup2(stderr_pipe[1], STDERR_FILENO);
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) ::_exit(127);
    ::execv(exec_argv[0], exec_argv.data());
    const int exec_errno = errno;
    [[maybe_unused]] const auto written = ::write(exec_error_pipe[1], &exec_errno, sizeof exec_errno);
    ::_exit(127);
  }

  const int fork_errno = errno;
  ::close(stderr_pipe[1]);
  ::close(exec_error_pipe[1]);
  if (pid < 0) {
    ::close(stderr_pipe[0]);
    ::close(exec_error_pipe[0]);
    throw std::system_error(fork_errno, std::generic_category(), "fork for " + argv[0]);
  }
  pid_ = pid;
  stderr_fd_ = stderr_pipe[0];
  ::fcntl(stderr_fd_, F_SETFL, ::fcntl(stderr_fd_, F_GETFL) | O_NONBLOCK);

  // read() returns 0 as soon as exec() succeeds, or the child's errno when
  // it fails. The child does nothing else before either.
  int exec_errno = 0;
  ssize_t count = 0;
  do {
    count = ::read(exec_error_pipe[0], &exec_errno, sizeof exec_errno);
  } while (count < 0 && errno == EINTR);
  ::close(exec_error_pipe[0]);
  if (count == sizeof exec_errno) {
    stop();
    throw std::system_error(exec_errno, std::generic_category(), "exec " + argv[0]);
  }
}

server_process::~server_process() {
  try {
    stop();
  } catch (...) {
    // A destructor must not throw, and stop() reports problems in its result.
  }
  close_stderr();
}

std::optional<listen_address> server_process::wait_for_listen_line(clock::time_point deadline) {
  while (!listen_address_) {
    throw_if_interrupted();
    const auto now = clock::now();
    if (stderr_fd_ < 0 || now >= deadline) return std::nullopt;
    pause(deadline - now);
  }
  return listen_address_;
}

void server_process::pause(std::chrono::nanoseconds timeout) {
  const timespec wait = to_timespec(timeout);
  if (stderr_fd_ < 0) {
    ::nanosleep(&wait, nullptr);
    return;
  }
  pollfd stderr_poll{stderr_fd_, POLLIN, 0};
  if (::ppoll(&stderr_poll, 1, &wait, nullptr) > 0) read_output();
}

void server_process::read_output() {
  char buffer[4096];
  while (stderr_fd_ >= 0) {
    const ssize_t count = ::read(stderr_fd_, buffer, sizeof buffer);
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      // EAGAIN: the pipe is empty for now. Any other error ends the reading.
      if (errno != EAGAIN) close_stderr();
      return;
    }
    if (count == 0) {
      close_stderr();
      return;
    }
    partial_line_.append(buffer, static_cast<std::size_t>(count));
    std::size_t newline = 0;
    while ((newline = partial_line_.find('\n')) != std::string::npos) {
      handle_line(partial_line_.substr(0, newline));
      partial_line_.erase(0, newline + 1);
    }
  }
}

void server_process::handle_line(const std::string& line) {
  if (!listen_address_) {
    if (startup_lines_.size() < max_startup_lines) startup_lines_.push_back(line);
    listen_address_ = parse_listen_line(line);
  }
  if (mentions_problem(line)) {
    ++notable_line_count_;
    if (notable_lines_.size() < max_notable_lines) notable_lines_.push_back(line);
  }
}

void server_process::close_stderr() noexcept {
  if (stderr_fd_ >= 0) ::close(stderr_fd_);
  stderr_fd_ = -1;
}

bool server_process::try_reap() {
  if (wait_status_) return true;
  int status = 0;
  pid_t result = 0;
  do {
    result = ::waitpid(pid_, &status, WNOHANG);
  } while (result < 0 && errno == EINTR);
  if (result == pid_) wait_status_ = status;
  return wait_status_.has_value();
}

bool server_process::running() { return pid_ > 0 && !try_reap(); }

bool server_process::wait_for_exit(clock::time_point deadline) {
  while (!try_reap() && clock::now() < deadline) pause(reap_check_interval);
  return wait_status_.has_value();
}

stop_result server_process::stop() {
  if (stop_result_) return *stop_result_;
  stop_result result;
  if (pid_ <= 0) return result;

  result.exited_before_stop = try_reap();
  if (!result.exited_before_stop) {
    ::kill(pid_, SIGTERM);
    if (!wait_for_exit(clock::now() + stop_grace_)) {
      result.needed_sigkill = true;
      ::kill(pid_, SIGKILL);
      wait_for_exit(clock::now() + stop_grace_);
    }
  }
  result.reaped = wait_status_.has_value();
  result.wait_status = wait_status_.value_or(0);
  read_output();
  result.orphans_killed = kill_orphans();
  stop_result_ = result;
  return result;
}

// Kills and reaps bench-restart's remaining children: as a child subreaper
// it inherits the server's descendants once the server is gone. A zombie is
// counted too, since it was still a child when the server exited.
std::size_t server_process::kill_orphans() {
  std::size_t killed = 0;
  const auto deadline = clock::now() + stop_grace_;
  std::vector<pid_t> orphans = child_pids(::getpid());
  while (!orphans.empty() && clock::now() < deadline) {
    for (const pid_t orphan : orphans) {
      ::kill(orphan, SIGKILL);
      int status = 0;
      if (::waitpid(orphan, &status, WNOHANG) == orphan) ++killed;
    }
    std::this_thread::sleep_for(reap_check_interval);
    orphans = child_pids(::getpid());
  }
  return killed;
}

}  // namespace bench
