#include "base/pending_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <random>
#include <string>
#include <utility>

#include "base/files.hpp"

namespace tessera {

namespace fs = std::filesystem;

Result<PendingFile> PendingFile::Create(const fs::path& path, unsigned mode) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  fs::path tmp =
      path.parent_path() / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) +
                            "-" + std::to_string(rng() % 1000000007ULL));
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno("cannot create " + tmp.string(), errno);
  return PendingFile(path, std::move(tmp), fd);
}

PendingFile::PendingFile(PendingFile&& other) noexcept
    : path_(std::move(other.path_)),
      tmp_(std::move(other.tmp_)),
      fd_(std::exchange(other.fd_, -1)),
      written_(other.written_) {}

PendingFile& PendingFile::operator=(PendingFile&& other) noexcept {
  if (this != &other) {
    Discard();
    path_ = std::move(other.path_);
    tmp_ = std::move(other.tmp_);
    fd_ = std::exchange(other.fd_, -1);
    written_ = other.written_;
  }
  return *this;
}

PendingFile::~PendingFile() {
  Discard();
}

void PendingFile::Discard() {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(tmp_.c_str());
}

Status PendingFile::Append(ByteView data) {
  if (fd_ < 0) return Status::FailedPrecondition(path_.string() + " is no longer being written");
  TESSERA_RETURN_IF_ERROR(WriteAllAt(fd_, data, written_, tmp_));
  written_ += data.size();
  return Status::Ok();
}

Status PendingFile::Commit() {
  if (fd_ < 0) return Status::FailedPrecondition(path_.string() + " is no longer being written");
  Status st;
  if (::fsync(fd_) != 0) st = Status::FromErrno("cannot sync " + tmp_.string(), errno);
  if (st.ok() && ::rename(tmp_.c_str(), path_.c_str()) != 0)
    st = Status::FromErrno("cannot rename " + tmp_.string() + " to " + path_.string(), errno);
  if (!st.ok()) {
    Discard();
    return st;
  }
  ::close(fd_);
  fd_ = -1;
  return SyncDirectory(path_.has_parent_path() ? path_.parent_path() : fs::path("."));
}

}  // namespace tessera
