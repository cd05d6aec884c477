// A check shared by the parser tests: invalid input must be rejected with a
// message that quotes it.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace band::common::testing {

// Checks that `parse(text)` throws std::invalid_argument whose message names
// the value as 'text'.
template <class Parse>
void expect_rejected(std::string_view text, Parse parse) {
  SCOPED_TRACE("input '" + std::string(text) + "'");
  try {
    parse(text);
    ADD_FAILURE() << "no exception for '" << text << "'";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("'" + std::string(text) + "'"));
  }
}

}  // namespace band::common::testing
