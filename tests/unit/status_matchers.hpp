// ASSERT_OK / EXPECT_OK for Status and Result<T>: on failure they print the status, so a
// failing test says what went wrong, not just "false".
#pragma once

#include <gtest/gtest.h>

#include "base/status.hpp"

namespace tessera::testing {

inline const Status& StatusOf(const Status& s) {
  return s;
}
template <typename T>
const Status& StatusOf(const Result<T>& r) {
  return r.status();
}

}  // namespace tessera::testing

#define ASSERT_OK(expr)                                                                \
  do {                                                                                 \
    const auto& ok_value_ = (expr);                                                    \
    ASSERT_TRUE(ok_value_.ok()) << ::tessera::testing::StatusOf(ok_value_).ToString(); \
  } while (0)
#define EXPECT_OK(expr)                                                                \
  do {                                                                                 \
    const auto& ok_value_ = (expr);                                                    \
    EXPECT_TRUE(ok_value_.ok()) << ::tessera::testing::StatusOf(ok_value_).ToString(); \
  } while (0)
