#include "base/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "base/clock.hpp"

namespace tessera {

std::string HumanBytes(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  if (u == 0)
    std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[u]);
  return buf;
}

Progress::Progress(std::string label, bool enabled)
    : label_(std::move(label)), enabled_(enabled), start_(MonotonicSeconds()) {}
Progress::Progress(std::string label) : Progress(std::move(label), ::isatty(2) == 1) {}
Progress::~Progress() {
  Finish();
}

void Progress::SetTotal(uint64_t items, uint64_t bytes) {
  total_items_ = items;
  total_bytes_ = bytes;
  totals_known_ = true;
}

Progress::Counts Progress::counts() const {
  Counts c;
  c.items = items_;
  c.bytes = bytes_;
  c.totals_known = totals_known_;
  c.total_items = total_items_;
  c.total_bytes = total_bytes_;
  return c;
}

void Progress::Add(uint64_t items, uint64_t bytes) {
  items_ += items;
  bytes_ += bytes;
  Tick();
}

void Progress::Tick(const std::string& detail) {
  if (!enabled_) return;
  double now = MonotonicSeconds();
  std::lock_guard lock(mu_);
  if (now - last_draw_ < 0.2) return;
  last_draw_ = now;
  Draw(detail);
}

void Progress::Draw(const std::string& detail) {
  double elapsed = MonotonicSeconds() - start_;
  double rate = elapsed > 0 ? static_cast<double>(bytes_) / elapsed : 0;
  std::string line = label_ + ": " + std::to_string(items_.load());
  if (total_items_ > 0) line += "/" + std::to_string(total_items_.load());
  line += " items, " + HumanBytes(bytes_);
  if (total_bytes_ > 0) {
    line += "/" + HumanBytes(total_bytes_);
    line += " (" + std::to_string(bytes_ * 100 / total_bytes_) + "%)";
  }
  line += ", " + HumanBytes(static_cast<uint64_t>(rate)) + "/s";
  if (!detail.empty()) line += "  " + detail;
  if (line.size() > 120) line.resize(120);
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::Finish() {
  if (!enabled_) return;
  std::lock_guard lock(mu_);
  if (drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

}  // namespace tessera
