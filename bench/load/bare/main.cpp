// bench-load-bare: a bare pre-fork HTTP server, the practical limit that
// bench/load/run measures band against. The parent binds one listening
// socket, forks the workers and then only waits: it restarts nothing and
// checks nothing. Every worker accepts from the one shared socket.
//
//   bench-load-bare [--listen HOST:PORT] [--workers N]
//
// GET / returns 200 with the body "worker SLOT pid PID" and the header
// X-Worker-Pid; any other request gets 404. The parent logs
// `listening on HOST:PORT` with the real port. SIGTERM or SIGINT stops the
// workers and exits with status 0; a worker's death stops the others and
// exits with status 1.
#include "worker.hpp"

#include <band/common/listener.hpp>
#include <band/common/logging.hpp>
#include <band/common/parse.hpp>
#include <band/common/wait_status.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <sys/prctl.h>
#include <sys/wait.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <exception>
#include <iostream>
#include <string>
#include <system_error>
#include <vector>

namespace {

constexpr const char* program = "bench-load-bare";
constexpr unsigned max_workers = 1024;
// How long the parent waits for the workers after SIGTERM before SIGKILL.
constexpr timespec stop_grace{5, 0};

sigset_t handled_signals() {
  sigset_t set;
  ::sigemptyset(&set);
  ::sigaddset(&set, SIGCHLD);
  ::sigaddset(&set, SIGTERM);
  ::sigaddset(&set, SIGINT);
  return set;
}

// Runs in the child after fork(): dies with the parent, then serves.
[[noreturn]] void run_worker(unsigned slot, const band::common::listener& listening, pid_t parent) {
  band::common::setup_logging(band::common::worker_role(slot));
  const sigset_t handled = handled_signals();
  ::sigprocmask(SIG_UNBLOCK, &handled, nullptr);
  if (::prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || ::getppid() != parent) ::_exit(1);
  try {
    bare::serve(slot, listening.local_endpoint().protocol(), listening.fd());
  } catch (const std::exception& error) {
    spdlog::error("{}", error.what());
  }
  ::_exit(1);
}

// Reaps every worker that has exited. Returns how many were reaped.
std::size_t reap_workers(std::vector<pid_t>& workers, bool stopping) {
  std::size_t reaped = 0;
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) return reaped;
    std::erase(workers, pid);
    ++reaped;
    const auto description = band::common::describe_wait_status(status);
    if (stopping) spdlog::info("worker pid {} {}", pid, description);
    else spdlog::warn("worker pid {} {}; stopping, because bench-load-bare restarts nothing", pid, description);
  }
}

// Sends SIGTERM to every worker, waits up to stop_grace, then sends SIGKILL
// to the rest and reaps them.
void stop_workers(std::vector<pid_t>& workers, const sigset_t& handled) {
  for (const pid_t pid : workers) ::kill(pid, SIGTERM);
  timespec deadline{};
  ::clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += stop_grace.tv_sec;
  while (!workers.empty()) {
    reap_workers(workers, true);
    if (workers.empty()) break;
    timespec now{};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec >= deadline.tv_sec) break;
    const timespec remaining{deadline.tv_sec - now.tv_sec, 0};
    ::sigtimedwait(&handled, nullptr, &remaining);
  }
  for (const pid_t pid : workers) {
    spdlog::warn("worker pid {} still runs {} s after SIGTERM; sending SIGKILL", pid, stop_grace.tv_sec);
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  workers.clear();
}

int run(const band::common::tcp_endpoint& endpoint, unsigned worker_count) {
  band::common::setup_logging("parent");
  auto listening = band::common::listener::open(endpoint);
  spdlog::info("listening on {}", band::common::to_string(listening.local_endpoint()));

  // Blocked before the first fork, so that no signal is lost between the
  // forks and the wait below; each worker unblocks them.
  const sigset_t handled = handled_signals();
  ::sigprocmask(SIG_BLOCK, &handled, nullptr);
  const pid_t parent = ::getpid();
  std::vector<pid_t> workers;
  for (unsigned slot = 0; slot < worker_count; ++slot) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      const int fork_errno = errno;
      stop_workers(workers, handled);
      throw std::system_error(fork_errno, std::generic_category(), "fork for worker " + std::to_string(slot));
    }
    if (pid == 0) run_worker(slot, listening, parent);
    workers.push_back(pid);
  }
  spdlog::info("started {} workers", worker_count);

  for (;;) {
    siginfo_t info{};
    if (::sigwaitinfo(&handled, &info) < 0) continue;
    if (info.si_signo == SIGCHLD) {
      if (reap_workers(workers, false) == 0) continue;
      stop_workers(workers, handled);
      return 1;
    }
    spdlog::info("received {}; stopping {} workers", band::common::signal_name(info.si_signo), workers.size());
    stop_workers(workers, handled);
    return 0;
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_text = "127.0.0.1:8080";
  std::string workers_text = std::to_string(::sysconf(_SC_NPROCESSORS_ONLN));
  CLI::App app{"A bare pre-fork HTTP server for bench/load: shared accept, no supervision.", program};
  app.add_option("--listen", listen_text, "Address to listen on, HOST:PORT; port 0 picks a free port")
      ->capture_default_str();
  app.add_option("--workers", workers_text, "Number of worker processes (default: one per online CPU)");
  CLI11_PARSE(app, argc, argv);

  band::common::tcp_endpoint endpoint;
  unsigned worker_count = 0;
  try {
    endpoint = band::common::parse_endpoint(listen_text);
  } catch (const std::invalid_argument& error) {
    std::cerr << program << ": --listen: " << error.what() << "\n";
    return 2;
  }
  try {
    worker_count = static_cast<unsigned>(band::common::parse_count(workers_text, 1, max_workers));
  } catch (const std::invalid_argument& error) {
    std::cerr << program << ": --workers: " << error.what() << "\n";
    return 2;
  }

  try {
    return run(endpoint, worker_count);
  } catch (const std::exception& error) {
    std::cerr << program << ": " << error.what() << "\n";
    return 1;
  }
}
