// The integrity check as a daemon (a role of `tessera serve`): the baseline's paths are
// checked every `period`, and, with inotify on, within seconds of a change below a
// directory the baseline records (after the changes settle, so that an update of many
// files is checked once).
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>

#include "base/status.hpp"
#include "guard/integrity.hpp"

namespace tessera::guard {

struct IntegrityWatchOptions {
  std::filesystem::path baseline;  // signed baseline (IntegrityBaselinePath)
  std::filesystem::path key;       // its public key (IntegrityPublicKeyPath)
  std::chrono::seconds period{3600};
  bool inotify = true;
  std::chrono::milliseconds settle{2000};  // quiet time after a change before the check
};

class IntegrityWatch {
 public:
  // Reads the baseline (NotFound, saying how to record one, when there is none) and sets up
  // the inotify watches on its directories. Nothing is checked yet.
  static Result<std::unique_ptr<IntegrityWatch>> Open(IntegrityWatchOptions options);
  ~IntegrityWatch();

  // Checks until Stop(), calling `on_report` after each check (on this thread); the first
  // check comes after one period or a change. Returns OK when stopped.
  Status Run(const std::function<void(const Result<IntegrityReport>&)>& on_report);
  void Stop();  // safe from any thread

  size_t watched_directories() const;  // 0 without inotify, or when it is not available

 private:
  struct Impl;
  explicit IntegrityWatch(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tessera::guard
