#include "store/file_store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "base/files.hpp"
#include "store/names.hpp"

namespace tessera::store {

namespace fs = std::filesystem;

namespace {

bool AllDigits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Would a file below the root with relative path `a` (a directory ends with '/') hold
// names that start with `prefix`, or is it inside such a name's directory?
bool Compatible(std::string_view a, std::string_view prefix) {
  return a.starts_with(prefix) || prefix.starts_with(a);
}

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

}  // namespace

bool FileStore::IsTempFileName(std::string_view file_name) {
  // base/files.hpp WriteFileAtomic writes NAME.tmp.PID.RANDOM next to the target.
  size_t pos = file_name.rfind(".tmp.");
  if (pos == std::string_view::npos) return false;
  std::string_view rest = file_name.substr(pos + 5);
  size_t dot = rest.find('.');
  return dot != std::string_view::npos && AllDigits(rest.substr(0, dot)) &&
         AllDigits(rest.substr(dot + 1));
}

Result<std::unique_ptr<FileStore>> FileStore::Open(const std::string& url) {
  constexpr std::string_view kScheme = "file://";
  if (!url.starts_with(kScheme)) {
    return Status::InvalidArgument("not a file store URL: \"" + url +
                                   "\": expected file:///absolute/path");
  }
  std::string path = url.substr(kScheme.size());
  if (path.empty() || path.front() != '/') {
    return Status::InvalidArgument("file store URL \"" + url +
                                   "\" needs an absolute path: file:///absolute/path");
  }
  if (path.find('\0') != std::string::npos)
    return Status::InvalidArgument("file store URL contains a NUL byte");
  fs::path root = fs::path(path).lexically_normal();
  std::string s = root.string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return std::unique_ptr<FileStore>(new FileStore(fs::path(s)));
}

FileStore::FileStore(fs::path root) : root_(std::move(root)), url_("file://" + root_.string()) {}

std::string FileStore::Url() const {
  return url_;
}

Status FileStore::CheckName(const std::string& name) const {
  Status st = ValidateObjectName(name);
  if (!st.ok()) return st.WithContext("store " + url_);
  std::string_view base = std::string_view(name).substr(name.rfind('/') + 1);
  if (IsTempFileName(base)) {
    return Status::InvalidArgument("store " + url_ + ": object name \"" + name +
                                   "\" looks like a temporary file (NAME.tmp.N.N)");
  }
  return Status::Ok();
}

Status FileStore::RootGoneOr(Status st) const {
  struct stat sb {};
  if (::stat(root_.c_str(), &sb) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return Status::Unavailable("store " + url_ + ": directory does not exist");
    return Status::FromErrno("store " + url_ + ": cannot access the directory", errno);
  }
  if (!S_ISDIR(sb.st_mode)) return Status::Unavailable("store " + url_ + ": not a directory");
  return st;
}

Status FileStore::Error(const std::string& op, const std::string& name, const Status& st) const {
  return Status(st.code(), "store " + url_ + ": " + op + " \"" + name + "\": " + st.message());
}

Status FileStore::Put(const std::string& name, ByteView data) {
  return PutImpl(name, data, true);
}

Status FileStore::PutUnsynced(const std::string& name, ByteView data) {
  return PutImpl(name, data, false);
}

Status FileStore::SyncAll() {
  Status st = SyncFileSystem(root_);
  if (!st.ok()) return RootGoneOr(st);
  return st;
}

Status FileStore::PutImpl(const std::string& name, ByteView data, bool sync) {
  TESSERA_RETURN_IF_ERROR(CheckName(name));
  fs::path path = root_ / name;
  auto write = [&] {
    // Owner-only: a store's descriptor holds a key share, and nothing here is for others.
    return sync ? WriteFileAtomic(path, data, 0600) : WriteFileAtomicUnsynced(path, data, 0600);
  };
  Status st = write();
  if (st.code() == StatusCode::kNotFound) {
    // The directory for the name is missing. Only subdirectories are made here: creating
    // the root would quietly write into the mount point of a drive that is not mounted.
    TESSERA_RETURN_IF_ERROR(RootGoneOr(Status::Ok()));
    st = MakeDirs(path.parent_path(), 0700);
    if (st.ok()) st = write();
  }
  if (!st.ok()) return Error("put", name, st);
  return Status::Ok();
}

Status FileStore::PutStreamed(const std::string& name, const ObjectWriter& write, bool sync) {
  TESSERA_RETURN_IF_ERROR(CheckName(name));
  const fs::path path = root_ / name;
  // A temporary name that IsTempFileName recognises, as WriteFileAtomic makes.
  thread_local std::mt19937_64 rng{std::random_device{}()};
  fs::path tmp = path;
  tmp += ".tmp." + std::to_string(::getpid()) + "." + std::to_string(rng() % 1000000007ULL);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0 && errno == ENOENT) {
    TESSERA_RETURN_IF_ERROR(RootGoneOr(Status::Ok()));
    TESSERA_RETURN_IF_ERROR(MakeDirs(path.parent_path(), 0700));
    fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  }
  if (fd < 0) return Error("put", name, Status::FromErrno("cannot create " + tmp.string(), errno));
  uint64_t offset = 0;
  Status st = write([&](ByteView piece) -> Status {
    TESSERA_RETURN_IF_ERROR(WriteAllAt(fd, piece, offset, tmp));
    offset += piece.size();
    return Status::Ok();
  });
  if (st.ok() && sync && ::fsync(fd) != 0)
    st = Status::FromErrno("cannot sync " + tmp.string(), errno);
  ::close(fd);
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0)
    st = Status::FromErrno("cannot rename to " + path.string(), errno);
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return Error("put", name, st);
  }
  if (sync) TESSERA_RETURN_IF_ERROR(SyncDirectory(path.parent_path()));
  return Status::Ok();
}

Result<Bytes> FileStore::Get(const std::string& name) {
  TESSERA_RETURN_IF_ERROR(CheckName(name));
  fs::path path = root_ / name;
  auto not_found = [&] {
    return RootGoneOr(Status::NotFound("store " + url_ + ": object \"" + name + "\" not found"));
  };
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return not_found();
    return Error("get", name, Status::FromErrno("cannot open " + path.string(), errno));
  }
  struct stat sb {};
  if (::fstat(fd, &sb) != 0) {
    int err = errno;
    ::close(fd);
    return Error("get", name, Status::FromErrno("cannot stat " + path.string(), err));
  }
  if (!S_ISREG(sb.st_mode)) {
    ::close(fd);
    return not_found();
  }
  // Objects are replaced by rename, never written in place, so the size from fstat is the
  // size of the file this descriptor reads.
  Bytes out(static_cast<size_t>(sb.st_size));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t r = ::read(fd, out.data() + done, out.size() - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      int err = errno;
      ::close(fd);
      return Error("get", name, Status::FromErrno("cannot read " + path.string(), err));
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  ::close(fd);
  if (done != out.size()) {
    return Error("get", name,
                 Status::IOError("file " + path.string() + " shrank while being read"));
  }
  return out;
}

Result<uint64_t> FileStore::Stat(const std::string& name) {
  TESSERA_RETURN_IF_ERROR(CheckName(name));
  fs::path path = root_ / name;
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) {
    if (errno == ENOENT || errno == ENOTDIR)
      return RootGoneOr(Status::NotFound("store " + url_ + ": object \"" + name + "\" not found"));
    return Error("stat", name, Status::FromErrno("cannot stat " + path.string(), errno));
  }
  if (!S_ISREG(sb.st_mode))
    return Status::NotFound("store " + url_ + ": object \"" + name + "\" not found");
  return static_cast<uint64_t>(sb.st_size);
}

Result<std::vector<ObjectInfo>> FileStore::List(const std::string& prefix) {
  {
    Status st = ValidateListPrefix(prefix);
    if (!st.ok()) return st.WithContext("store " + url_);
  }
  std::vector<ObjectInfo> out;
  // Start at the deepest directory the prefix names in full.
  std::string start = prefix.substr(0, prefix.rfind('/') + 1);
  std::vector<std::string> pending{start};
  bool first = true;
  while (!pending.empty()) {
    std::string rel = std::move(pending.back());
    pending.pop_back();
    fs::path dir = rel.empty() ? root_ : root_ / rel;
    std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
    if (!d) {
      int err = errno;
      if (err == ENOENT || err == ENOTDIR) {
        // The start directory missing means no such names (or no root at all); a deeper
        // one was removed while we walked.
        if (first) TESSERA_RETURN_IF_ERROR(RootGoneOr(Status::Ok()));
        first = false;
        continue;
      }
      return Status::FromErrno("store " + url_ + ": cannot list " + dir.string(), err);
    }
    first = false;
    int dfd = ::dirfd(d.get());
    for (;;) {
      errno = 0;
      struct dirent* e = ::readdir(d.get());
      if (e == nullptr) {
        if (errno != 0)
          return Status::FromErrno("store " + url_ + ": cannot list " + dir.string(), errno);
        break;
      }
      std::string_view fname = e->d_name;
      if (fname == "." || fname == "..") continue;
      std::string relname = rel + std::string(fname);
      struct stat sb {};
      if (::fstatat(dfd, e->d_name, &sb, 0) != 0) continue;  // removed meanwhile
      if (S_ISDIR(sb.st_mode)) {
        if (Compatible(relname + "/", prefix)) pending.push_back(relname + "/");
      } else if (S_ISREG(sb.st_mode) && relname.starts_with(prefix) && !IsTempFileName(fname)) {
        out.push_back({std::move(relname), static_cast<uint64_t>(sb.st_size)});
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.name < b.name; });
  return out;
}

Status FileStore::Delete(const std::string& name) {
  TESSERA_RETURN_IF_ERROR(CheckName(name));
  fs::path path = root_ / name;
  // Empty parent directories stay: removing them would race with a Put creating a file in
  // them, and the fan-out directories are few.
  if (::unlink(path.c_str()) != 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR) return RootGoneOr(Status::Ok());
    if (err == EISDIR) return Status::Ok();  // a directory is not an object
    return Error("delete", name, Status::FromErrno("cannot remove " + path.string(), err));
  }
  return Status::Ok();
}

Status FileStore::Ping() {
  TESSERA_RETURN_IF_ERROR(RootGoneOr(Status::Ok()));
  if (::access(root_.c_str(), R_OK | W_OK | X_OK) != 0) {
    return Status::PermissionDenied("store " + url_ + ": no read/write permission on " +
                                    root_.string() + ": " + std::strerror(errno));
  }
  return Status::Ok();
}

Status FileStore::Create() {
  struct stat sb {};
  if (::stat(root_.c_str(), &sb) == 0 && !S_ISDIR(sb.st_mode)) {
    return Status::AlreadyExists("store " + url_ + ": " + root_.string() +
                                 " exists and is not a directory");
  }
  Status st = MakeDirs(root_, 0700);
  if (!st.ok()) return st.WithContext("store " + url_);
  return Status::Ok();
}

}  // namespace tessera::store
