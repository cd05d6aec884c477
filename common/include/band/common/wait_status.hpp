// Human-readable descriptions of signals and of waitpid() statuses.
#pragma once

#include <string>

namespace band::common {

// "SIGKILL" for 9; "signal 64" for a number without a name.
std::string signal_name(int signal_number);

// Describes a status from waitpid(): "exited with status 3",
// "killed by SIGKILL", "killed by SIGABRT (core dumped)",
// "stopped by SIGSTOP", "continued".
std::string describe_wait_status(int status);

}  // namespace band::common
