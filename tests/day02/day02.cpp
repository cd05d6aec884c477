#include "day02.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <stdexcept>

namespace band::test {

std::string worker_line(unsigned slot, pid_t pid) {
  return R"(\[worker )" + std::to_string(slot) + " pid " + std::to_string(pid) + R"(\] )";
}

std::chrono::system_clock::time_point log_time(const std::string& line) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  int hours = 0;
  int minutes = 0;
  int seconds = 0;
  int milliseconds = 0;
  if (std::sscanf(line.c_str(), "%4d-%2u-%2u %2d:%2d:%2d.%3d", &year, &month, &day, &hours, &minutes, &seconds,
                  &milliseconds) != 7) {
    throw std::invalid_argument("no time stamp at the start of '" + line + "'");
  }
  const std::chrono::sys_days date = std::chrono::year(year) / std::chrono::month(month) / std::chrono::day(day);
  return date + std::chrono::hours(hours) + std::chrono::minutes(minutes) + std::chrono::seconds(seconds) +
         std::chrono::milliseconds(milliseconds);
}

std::chrono::milliseconds log_interval(const std::string& earlier, const std::string& later) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(log_time(later) - log_time(earlier));
}

}  // namespace band::test
