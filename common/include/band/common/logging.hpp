// Logging set-up: one line per event on standard error, in one grammar:
//
//   2026-12-04 20:30:01.123 info    [master pid 4120] listening on 127.0.0.1:8080
//   2026-12-04 20:30:01.131 warning [master pid 4120] worker 1 pid 4122 killed by SIGKILL; replacing it
//   2026-12-04 20:30:05.412 info    [worker 1 pid 4130] received SIGTERM; stopping
//
// The bracket names who writes the line; a message about another process
// names it as "worker SLOT pid PID".
#pragma once

#include <string>

namespace band::common {

// Makes a logger named `role` ("master", "worker 3") the default one. Call it
// in the master at start and again in each worker right after fork.
void setup_logging(const std::string& role);

// "worker 3"
std::string worker_role(unsigned slot);

}  // namespace band::common
