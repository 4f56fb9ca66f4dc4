#include "base/clock.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace tessera {

int64_t NowUnixNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double MonotonicSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string FormatRfc3339(int64_t unix_nanos, bool fraction) {
  int64_t secs = unix_nanos / 1000000000;
  int64_t nanos = unix_nanos % 1000000000;
  if (nanos < 0) {
    nanos += 1000000000;
    secs -= 1;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm {};
  gmtime_r(&t, &tm);
  char buf[64];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (fraction && nanos != 0) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(nanos));
    out += frac;
  }
  return out + "Z";
}

Result<int64_t> ParseRfc3339(const std::string& text) {
  struct tm tm {};
  int y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  int consumed = 0;
  char sep = 0;
  int n = std::sscanf(text.c_str(), "%4d-%2d-%2d%n", &y, &mo, &d, &consumed);
  if (n < 3) return Status::InvalidArgument("not a date: '" + text + "' (expected YYYY-MM-DD)");
  int64_t nanos = 0;
  size_t pos = static_cast<size_t>(consumed);
  if (pos < text.size()) {
    sep = text[pos];
    if (sep != 'T' && sep != ' ')
      return Status::InvalidArgument("not a time: '" + text + "' (expected YYYY-MM-DDTHH:MM:SSZ)");
    int c2 = 0;
    if (std::sscanf(text.c_str() + pos + 1, "%2d:%2d:%2d%n", &h, &mi, &s, &c2) < 3)
      return Status::InvalidArgument("not a time: '" + text + "'");
    pos += 1 + static_cast<size_t>(c2);
    if (pos < text.size() && text[pos] == '.') {
      ++pos;
      int64_t scale = 100000000;
      while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
        nanos += (text[pos] - '0') * scale;
        scale /= 10;
        ++pos;
      }
    }
    if (pos < text.size() && text[pos] == 'Z') ++pos;
    if (pos != text.size())
      return Status::InvalidArgument("unexpected text after time in '" + text + "' (use UTC)");
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    return Status::InvalidArgument("date out of range: '" + text + "'");
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000000000 + nanos;
}

}  // namespace tessera
