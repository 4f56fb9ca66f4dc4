// A file written a piece at a time that appears under its name whole or not at all.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string_view>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera {

// A file that appears whole or not at all, for writers that produce it a piece at a time
// and may find only at the end that it must not appear (a message read from the archive
// whose last piece or SHA-256 does not check out): it is written under a hidden temporary
// name in its directory, and Commit() fsyncs it, renames it to `path` and fsyncs the
// directory. Dropped without Commit() (an error on the way), the temporary file is removed.
class PendingFile {
 public:
  static Result<PendingFile> Create(const std::filesystem::path& path, unsigned mode = 0600);
  PendingFile(PendingFile&& other) noexcept;
  PendingFile& operator=(PendingFile&& other) noexcept;
  PendingFile(const PendingFile&) = delete;
  PendingFile& operator=(const PendingFile&) = delete;
  ~PendingFile();

  // Appends `data` to what was written so far.
  Status Append(ByteView data);
  Status Append(std::string_view data) { return Append(AsBytes(data)); }
  // The descriptor, for writers that write to it themselves (Append's position then no
  // longer applies: use one or the other).
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temporary() const { return tmp_; }
  // Makes the file durable under its name; after an error the temporary file is gone.
  Status Commit();

 private:
  PendingFile(std::filesystem::path path, std::filesystem::path tmp, int fd)
      : path_(std::move(path)), tmp_(std::move(tmp)), fd_(fd) {}
  void Discard();

  std::filesystem::path path_, tmp_;
  int fd_ = -1;
  uint64_t written_ = 0;
};

}  // namespace tessera
