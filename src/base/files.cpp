#include "base/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

namespace tessera {

namespace fs = std::filesystem;

static Status WriteAll(int fd, const uint8_t* p, size_t n, const fs::path& path) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("cannot write " + path.string(), errno);
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::Ok();
}

Status SyncDirectory(const fs::path& dir) {
  int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open directory " + dir.string(), errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("cannot sync directory " + dir.string(), err);
  return Status::Ok();
}

Status WriteFileAtomic(const fs::path& path, ByteView data, unsigned mode) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  fs::path dir = path.parent_path();
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000007ULL);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) return Status::FromErrno("cannot create " + tmp.string(), errno);
  Status st = WriteAll(fd, data.data(), data.size(), tmp);
  if (st.ok() && ::fsync(fd) != 0) st = Status::FromErrno("cannot sync " + tmp.string(), errno);
  if (st.ok() && ::fchmod(fd, mode) != 0) st = Status::FromErrno("cannot chmod", errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = Status::FromErrno("cannot rename to " + path.string(), errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return SyncDirectory(dir);
}

Status WriteFileAtomic(const fs::path& path, std::string_view data, unsigned mode) {
  return WriteFileAtomic(path, AsBytes(data), mode);
}

Result<Bytes> ReadFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path.string(), errno);
  Bytes out;
  struct stat st {};
  if (::fstat(fd, &st) == 0 && st.st_size > 0) out.reserve(static_cast<size_t>(st.st_size));
  uint8_t buf[1 << 16];
  for (;;) {
    ssize_t r = ::read(fd, buf, sizeof buf);
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Status::FromErrno("cannot read " + path.string(), err);
    }
    if (r == 0) break;
    out.insert(out.end(), buf, buf + r);
  }
  ::close(fd);
  return out;
}

Result<std::string> ReadTextFile(const fs::path& path) {
  TESSERA_ASSIGN_OR_RETURN(Bytes b, ReadFile(path));
  return std::string(b.begin(), b.end());
}

Status MakeDirs(const fs::path& path, unsigned mode) {
  if (path.empty()) return Status::Ok();
  std::error_code ec;
  if (fs::is_directory(path, ec)) return Status::Ok();
  if (path.has_parent_path() && path.parent_path() != path) {
    TESSERA_RETURN_IF_ERROR(MakeDirs(path.parent_path(), mode));
  }
  if (::mkdir(path.c_str(), mode) != 0 && errno != EEXIST)
    return Status::FromErrno("cannot create directory " + path.string(), errno);
  return Status::Ok();
}

}  // namespace tessera
