// Stopping bench-restart early. SIGINT and SIGTERM only set a flag. The
// measurement loops check it and throw, so the destructors still stop and
// reap every process the benchmark started.
#pragma once

#include <stdexcept>

namespace bench {

class interrupted_error : public std::runtime_error {
 public:
  interrupted_error() : std::runtime_error("interrupted by SIGINT or SIGTERM") {}
};

// Installs the SIGINT and SIGTERM handlers without SA_RESTART, so a blocked
// wait returns EINTR and its loop checks the flag at once.
void install_interrupt_handlers();

// Throws interrupted_error once SIGINT or SIGTERM has arrived.
void throw_if_interrupted();

}  // namespace bench
