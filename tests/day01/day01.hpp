// What every day 01 test needs: the harness and the binary under test.
#pragma once

#include <band_test.hpp>

#include <string>
#include <utility>
#include <vector>

namespace band::test {

// BAND_DAY01_BINARY is set by CMake to the built band-day01.
inline const std::string day01_binary = BAND_DAY01_BINARY;

// Starts band-day01 on a free loopback port and waits until it listens.
inline band_process start_day01(std::vector<std::string> flags) {
  return band_process(day01_binary, std::move(flags));
}

}  // namespace band::test
