#include "band/common/wait_status.hpp"

#include <sys/wait.h>

#include <cstring>

namespace band::common {

std::string signal_name(int signal_number) {
  // sigabbrev_np (glibc 2.32) returns "KILL" for 9, or null for numbers
  // without a name such as the real-time signals.
  if (const char* abbreviation = ::sigabbrev_np(signal_number)) return std::string("SIG") + abbreviation;
  return "signal " + std::to_string(signal_number);
}

std::string describe_wait_status(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    std::string text = "killed by " + signal_name(WTERMSIG(status));
    if (WCOREDUMP(status)) text += " (core dumped)";
    return text;
  }
  if (WIFSTOPPED(status)) return "stopped by " + signal_name(WSTOPSIG(status));
  if (WIFCONTINUED(status)) return "continued";
  return "unknown wait status " + std::to_string(status);
}

}  // namespace band::common
