#include "base/files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

#include "base/memory.hpp"

namespace tessera {

namespace fs = std::filesystem;

Status WriteAllAt(int fd, ByteView data, uint64_t offset, const fs::path& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t w =
        ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("cannot write " + path.string(), errno);
    }
    done += static_cast<size_t>(w);
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

Status SyncFile(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path.string(), errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("cannot sync " + path.string(), err);
  return Status::Ok();
}

namespace {

constexpr size_t kDirectBuffer = 1 << 20;

}  // namespace

Result<size_t> WriteDirectAt(int fd, ByteView data, uint64_t offset, const fs::path& path) {
  if (offset % kDirectAlign != 0) return size_t{0};
  // Memory that is aligned already goes to the device as it is; other memory through a
  // per-thread aligned buffer, one copy per block.
  const bool in_place = reinterpret_cast<uintptr_t>(data.data()) % kDirectAlign == 0;
  thread_local AlignedBuffer buffer;
  if (!in_place && buffer.size() == 0) buffer = AlignedBuffer(kDirectBuffer, kDirectAlign);
  const size_t aligned = data.size() / kDirectAlign * kDirectAlign;
  size_t done = 0;
  while (done < aligned) {
    const uint8_t* from = data.data() + done;
    size_t n = aligned - done;
    if (!in_place) {
      n = std::min(kDirectBuffer, n);
      std::memcpy(buffer.data(), from, n);
      from = buffer.data();
    }
    ssize_t w = ::pwrite(fd, from, n, static_cast<off_t>(offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EINVAL) break;  // alignment the device does not take
    if (w < 0) return Status::FromErrno("cannot write " + path.string(), errno);
    done += static_cast<size_t>(w) / kDirectAlign * kDirectAlign;
    if (static_cast<size_t>(w) % kDirectAlign != 0 || w == 0) break;  // short: finish buffered
  }
  return done;
}

namespace {
Status WriteFileAtomicImpl(const fs::path& path, ByteView data, unsigned mode, bool sync) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  fs::path dir = path.parent_path();
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000007ULL);
  // Large files (shards) bypass the page cache: copying them into it cost more CPU than
  // compressing them, and a backup's data is not read again soon. The file is fsynced
  // either way.
  bool direct = data.size() >= kDirectMinSize;
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC;
  int fd = ::open(tmp.c_str(), flags | (direct ? O_DIRECT : 0), mode);
  if (fd < 0 && direct && errno == EINVAL) {  // a file system without direct I/O
    direct = false;
    fd = ::open(tmp.c_str(), flags, mode);
  }
  if (fd < 0) return Status::FromErrno("cannot create " + tmp.string(), errno);
  Status st;
  size_t done = 0;
  if (direct) {
    Result<size_t> written = WriteDirectAt(fd, data, 0, tmp);
    if (written.ok()) done = *written;
    st = written.status();
    if (st.ok() && ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_DIRECT) != 0)
      st = Status::FromErrno("cannot write " + tmp.string(), errno);
  }
  if (st.ok()) st = WriteAllAt(fd, data.subspan(done), done, tmp);
  if (st.ok() && sync && ::fsync(fd) != 0)
    st = Status::FromErrno("cannot sync " + tmp.string(), errno);
  if (st.ok() && ::fchmod(fd, mode) != 0) st = Status::FromErrno("cannot chmod", errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = Status::FromErrno("cannot rename to " + path.string(), errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st;
  }
  return sync ? SyncDirectory(dir) : Status::Ok();
}
}  // namespace

Status WriteFileAtomic(const fs::path& path, ByteView data, unsigned mode) {
  return WriteFileAtomicImpl(path, data, mode, true);
}

Status WriteFileAtomicUnsynced(const fs::path& path, ByteView data, unsigned mode) {
  return WriteFileAtomicImpl(path, data, mode, false);
}

Status SyncFileSystem(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno("cannot open " + path.string(), errno);
  int rc = ::syncfs(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return Status::FromErrno("cannot sync the file system of " + path.string(), err);
  return Status::Ok();
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

std::string FormatMode(uint32_t mode) {
  char text[16];
  std::snprintf(text, sizeof text, "%04o", static_cast<unsigned>(mode & 07777));
  return text;
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
