// Wall-clock time as tessera records it: seconds (and nanoseconds) since the Unix epoch,
// shown in RFC 3339 UTC.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.hpp"

namespace tessera {

int64_t NowUnixNanos();
inline int64_t NowUnixSeconds() {
  return NowUnixNanos() / 1000000000;
}
// "2026-11-23T09:18:35Z"; with nanos != 0 and `fraction`, ".123456789" before the Z.
std::string FormatRfc3339(int64_t unix_nanos, bool fraction = false);
// Parses "2026-11-23T09:18:35Z", "2026-11-23T09:18:35.5Z", "2026-11-23 09:18:35" or
// "2026-11-23" (UTC) into Unix nanoseconds.
Result<int64_t> ParseRfc3339(const std::string& text);
// Monotonic seconds, for measuring durations.
double MonotonicSeconds();

}  // namespace tessera
