#include "band/common/logging.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <memory>

namespace band::common {

void setup_logging(const std::string& role) {
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::logger>(role, std::move(sink));
  // %P is read at each line, so it is right in a forked child too.
  logger->set_pattern("%Y-%m-%d %H:%M:%S.%e %-7l [%n pid %P] %v");
  // Every line reaches the terminal or the pipe at once: a test or a log
  // collector reading standard error must not wait for a buffer to fill.
  logger->flush_on(spdlog::level::trace);
  spdlog::set_default_logger(std::move(logger));
}

std::string worker_role(unsigned slot) { return "worker " + std::to_string(slot); }

}  // namespace band::common
