#include "base/file_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace tessera {

Result<FileLock> FileLock::Take(const std::filesystem::path& path, Wait wait,
                                const std::string& holder) {
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Status::FromErrno("cannot open " + path.string(), errno);
  int rc;
  do {
    rc = ::flock(fd, LOCK_EX | (wait == Wait::kNo ? LOCK_NB : 0));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    const int e = errno;
    ::close(fd);
    if (e == EWOULDBLOCK) return Status::FailedPrecondition(holder + " holds " + path.string());
    return Status::FromErrno("cannot lock " + path.string(), e);
  }
  return FileLock(fd);
}

FileLock::FileLock(FileLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

FileLock::~FileLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace tessera
