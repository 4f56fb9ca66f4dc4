// An exclusive advisory lock (flock) on a file, held for as long as the object lives and
// released by the kernel if the process dies, so a crashed holder never blocks the next.
#pragma once

#include <filesystem>

#include "base/status.hpp"

namespace tessera {

class FileLock {
 public:
  enum class Wait { kYes, kNo };
  // Creates `path` if needed and locks it. With Wait::kNo, a lock another process (or
  // another FileLock in this one) holds is FailedPrecondition, naming `holder`, the kind
  // of thing that holds it ("another exchange center").
  static Result<FileLock> Take(const std::filesystem::path& path, Wait wait,
                               const std::string& holder = "another process");
  FileLock(FileLock&& other) noexcept;
  FileLock& operator=(FileLock&&) = delete;
  FileLock(const FileLock&) = delete;
  ~FileLock();

 private:
  explicit FileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace tessera
