// A one-line progress display for long work. On a terminal it redraws a single line on
// stderr at most a few times a second; elsewhere it stays silent, so logs and --json
// output are not polluted.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace tessera {

class Progress {
 public:
  // `enabled` false silences it; by default it is on only when stderr is a terminal.
  explicit Progress(std::string label, bool enabled);
  explicit Progress(std::string label);
  ~Progress();  // clears the line

  void SetTotal(uint64_t items, uint64_t bytes);
  void Add(uint64_t items, uint64_t bytes);
  // Redraws if enough time has passed; safe from any thread.
  void Tick(const std::string& detail = "");
  void Finish();

  uint64_t items() const { return items_; }
  uint64_t bytes() const { return bytes_; }

  // What is done and, once SetTotal was called, what there is to do: for a reader on another
  // thread (the console's job status). Each number is read atomically, not all together.
  struct Counts {
    uint64_t items = 0, bytes = 0;
    bool totals_known = false;  // false: total_items and total_bytes mean nothing yet
    uint64_t total_items = 0, total_bytes = 0;
  };
  Counts counts() const;

 private:
  void Draw(const std::string& detail);

  std::string label_;
  bool enabled_;
  std::atomic<uint64_t> items_{0}, bytes_{0}, total_items_{0}, total_bytes_{0};
  std::atomic<bool> totals_known_{false};
  double start_;
  std::mutex mu_;  // guards last_draw_ and drawn_
  double last_draw_ = 0;
  bool drawn_ = false;
};

// "1.5 GiB", "320 KiB", "12 B".
std::string HumanBytes(uint64_t bytes);

}  // namespace tessera
