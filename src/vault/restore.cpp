#include "vault/restore.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "vault/lock.hpp"

namespace tessera::vault {

namespace fs = std::filesystem;

namespace {

std::string Join(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

Status Walk(Repository& repo, const BlobId& tree_id, const std::string& dir,
            std::vector<Entry>& out) {
  TESSERA_ASSIGN_OR_RETURN(Tree tree, repo.ReadTree(tree_id));
  for (Node& n : tree.nodes) {
    std::string path = Join(dir, n.name);
    std::optional<BlobId> sub = n.type == NodeType::kDir ? n.subtree : std::nullopt;
    out.push_back({path, std::move(n)});
    if (sub) TESSERA_RETURN_IF_ERROR(Walk(repo, *sub, path, out));
  }
  return Status::Ok();
}

bool Selected(const std::string& path, const std::vector<std::string>& includes) {
  if (includes.empty()) return true;
  for (const std::string& inc : includes) {
    if (path == inc) return true;
    if (inc == "/" || path.compare(0, inc.size() + 1, inc + "/") == 0) return true;  // below
    if (inc.compare(0, path.size() + 1, path + "/") == 0) return true;               // an ancestor
  }
  return false;
}

struct timespec ToTimespec(int64_t ns) {
  struct timespec ts;
  // Floor division: a time before 1970 has a negative second and a positive fraction.
  int64_t sec = ns / 1000000000, frac = ns % 1000000000;
  if (frac < 0) {
    frac += 1000000000;
    sec -= 1;
  }
  ts.tv_sec = static_cast<time_t>(sec);
  ts.tv_nsec = static_cast<long>(frac);
  return ts;
}

// A file being restored; the worker that writes its last chunk finishes it.
struct RestoredFile {
  RestoredFile(const Entry* e, std::string p, size_t chunks)
      : entry(e), path(std::move(p)), chunks_left(chunks) {}
  const Entry* entry;
  std::string path;
  std::atomic<size_t> chunks_left;
};

// Descriptors of the files one task writes to, closed when the task is done. Each file
// has one through the page cache and, for the aligned middle of large chunks, one with
// direct I/O: copying a restore into the page cache cost more CPU than decoding it.
class OpenFiles {
 public:
  // `direct_works` is shared by a restore's tasks: cleared once direct I/O is refused.
  explicit OpenFiles(std::atomic<bool>& direct_works) : direct_works_(direct_works) {}
  OpenFiles(const OpenFiles&) = delete;
  OpenFiles& operator=(const OpenFiles&) = delete;
  ~OpenFiles() {
    for (auto& [file, fds] : fds_) {
      ::close(fds.buffered);
      if (fds.direct >= 0) ::close(fds.direct);
    }
  }
  // Creates the file if needed; whatever it held before is cut off by FinishFile.
  Result<int> Get(const RestoredFile& f) {
    TESSERA_ASSIGN_OR_RETURN(Fds * fds, Find(f));
    return fds->buffered;
  }
  // Writes `data` at `offset`: the whole blocks inside it directly where the file system
  // takes direct I/O, the partial blocks at its ends (shared with the neighbouring chunks,
  // which other threads may be writing) through the page cache.
  Status Write(const RestoredFile& f, ByteView data, uint64_t offset) {
    TESSERA_ASSIGN_OR_RETURN(Fds * fds, Find(f));
    const uint64_t end = offset + data.size();
    const uint64_t first = std::min(end, (offset + kDirectAlign - 1) / kDirectAlign * kDirectAlign);
    const uint64_t last = std::max(first, end / kDirectAlign * kDirectAlign);
    uint64_t direct = 0;
    if (last - first >= kMinDirectWrite && direct_works_.load(std::memory_order_relaxed)) {
      if (fds->direct < 0) {
        fds->direct = ::open(f.path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_DIRECT);
        if (fds->direct < 0) direct_works_ = false;  // e.g. a file system without it
      }
      if (fds->direct >= 0) {
        TESSERA_ASSIGN_OR_RETURN(
            size_t n,
            WriteDirectAt(fds->direct, data.subspan(first - offset, last - first), first, f.path));
        if (n < last - first) direct_works_ = false;
        direct = n;
      }
    }
    if (direct == 0) return WriteAllAt(fds->buffered, data, offset, f.path);
    TESSERA_RETURN_IF_ERROR(WriteAllAt(fds->buffered, data.first(first - offset), offset, f.path));
    const uint64_t rest = first + direct;
    return WriteAllAt(fds->buffered, data.subspan(rest - offset), rest, f.path);
  }

 private:
  // Below this, a chunk's middle goes through the page cache with its ends.
  static constexpr uint64_t kMinDirectWrite = 64 * 1024;
  struct Fds {
    int buffered = -1, direct = -1;
  };
  Result<Fds*> Find(const RestoredFile& f) {
    auto it = fds_.find(&f);
    if (it != fds_.end()) return &it->second;
    // Created with its permission bits (as the umask lets them through), so that most
    // files need no chmod when finished; special bits come only then, after the owner.
    // The owner can write it meanwhile: other tasks open it again for their chunks.
    int fd = ::open(f.path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
                    (f.entry->node.mode & 0777) | S_IWUSR);
    if (fd < 0) return Status::FromErrno("cannot create " + f.path, errno);
    return &fds_.emplace(&f, Fds{fd, -1}).first->second;
  }
  std::atomic<bool>& direct_works_;
  std::map<const RestoredFile*, Fds> fds_;
};

class Warnings {
 public:
  void Add(std::string w) {
    std::lock_guard<std::mutex> guard(mu_);
    list_.push_back(std::move(w));
  }
  std::vector<std::string> TakeAll() {
    std::lock_guard<std::mutex> guard(mu_);
    return std::move(list_);
  }

 private:
  std::mutex mu_;
  std::vector<std::string> list_;
};

// Gives a fully written file its size (a file restored over a longer one is cut), owner
// where permitted, mode and times.
Status FinishFile(const RestoredFile& f, int fd, bool root, Warnings& warnings) {
  const Node& node = f.entry->node;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Status::FromErrno("cannot stat " + f.path, errno);
  if (static_cast<uint64_t>(st.st_size) != node.size &&
      ::ftruncate(fd, static_cast<off_t>(node.size)) != 0)
    return Status::FromErrno("cannot size " + f.path, errno);
  // Only what differs is set: three calls for each of tens of thousands of small files
  // cost more than writing them. A change of owner clears set-id bits, so the mode follows.
  const bool chown = root && (st.st_uid != node.uid || st.st_gid != node.gid);
  if (chown && ::fchown(fd, node.uid, node.gid) != 0)
    warnings.Add(f.path + ": cannot set owner: " + std::strerror(errno));
  if ((chown || (st.st_mode & 07777) != (node.mode & 07777)) &&
      ::fchmod(fd, node.mode & 07777) != 0)
    warnings.Add(f.path + ": cannot set mode: " + std::strerror(errno));
  struct timespec times[2] = {ToTimespec(node.mtime_ns), ToTimespec(node.mtime_ns)};
  if (::futimens(fd, times) != 0)
    warnings.Add(f.path + ": cannot set times: " + std::strerror(errno));
  return Status::Ok();
}

}  // namespace

Result<std::vector<Entry>> ListEntries(Repository& repo, const Snapshot& snap,
                                       const std::string& path) {
  std::vector<Entry> all;
  TESSERA_RETURN_IF_ERROR(Walk(repo, snap.tree, "/", all));
  if (path == "/" || path.empty()) return all;
  std::string p = fs::path(path).lexically_normal().string();
  if (p.size() > 1 && p.back() == '/') p.pop_back();
  std::vector<Entry> out;
  for (Entry& e : all)
    if (e.path == p || e.path.compare(0, p.size() + 1, p + "/") == 0) out.push_back(std::move(e));
  if (out.empty()) return Status::NotFound("no '" + path + "' in snapshot " + snap.id.substr(0, 8));
  return out;
}

Result<RestoreStats> Restore(Repository& repo, const Snapshot& snap, const RestoreOptions& options,
                             Progress* progress) {
  double start = MonotonicSeconds();
  if (options.target.empty()) return Status::InvalidArgument("--target is required");
  RestoreStats stats;
  // A shared lock keeps a prune from deleting packs under the restore. Holding one needs
  // k writable stores; a restore from read-only media goes on without, since reading must
  // not depend on writing.
  std::unique_ptr<VaultLock> lock;
  auto locked = VaultLock::Acquire(repo, false, "restore");
  if (locked.ok()) {
    lock = std::move(*locked);
  } else if (locked.status().code() == StatusCode::kFailedPrecondition) {
    return locked.status();
  } else {
    stats.warnings.push_back("restoring without a vault lock (" + locked.status().message() +
                             "): do not prune meanwhile");
  }
  TESSERA_RETURN_IF_ERROR(repo.LoadIndex(Repository::IndexGaps::kSkipUnreadable));
  if (size_t gaps = repo.UnreadableIndexObjects().size())
    stats.warnings.push_back(std::to_string(gaps) +
                             " index object(s) could not be read from the stores available "
                             "(written while some stores were down); this snapshot did not "
                             "need them");
  TESSERA_ASSIGN_OR_RETURN(std::vector<Entry> all, ListEntries(repo, snap));
  std::vector<Entry> entries;
  for (Entry& e : all)
    if (Selected(e.path, options.includes)) entries.push_back(std::move(e));
  for (const std::string& inc : options.includes) {
    bool found =
        std::any_of(entries.begin(), entries.end(), [&](const Entry& e) { return e.path == inc; });
    if (!found) return Status::NotFound("no '" + inc + "' in snapshot " + snap.id.substr(0, 8));
  }
  // Check that every blob is known before writing anything.
  uint64_t total_bytes = 0, total_files = 0;
  for (const Entry& e : entries) {
    if (e.node.type != NodeType::kFile) continue;
    total_files++;
    total_bytes += e.node.size;
    for (const BlobId& id : e.node.content)
      if (!repo.Find(id))
        return repo.MissingBlob(
            id, Status::Corruption("snapshot " + snap.id.substr(0, 8) + " needs blob " +
                                   ToHex(id).substr(0, 16) + " of " + e.path +
                                   " which is not in the vault's index; run `tessera vault "
                                   "verify`"));
  }
  if (progress) progress->SetTotal(total_files, total_bytes);

  fs::path target = fs::absolute(options.target).lexically_normal();
  TESSERA_RETURN_IF_ERROR(MakeDirs(target, 0700));
  auto dest = [&](const std::string& p) { return (target / p.substr(1)).string(); };

  // Directories first (owner-only until their own mode is applied at the end).
  for (const Entry& e : entries) {
    if (e.node.type != NodeType::kDir) continue;
    TESSERA_RETURN_IF_ERROR(MakeDirs(dest(e.path), 0700));
    stats.dirs++;
  }
  // Files are created, written and given their metadata by the worker that writes their
  // last chunk: on one thread, creating ~35,000 small files took most of a restore.
  struct Target {
    size_t file;
    uint64_t offset;
  };
  struct Wanted {
    BlobLocation loc;
    std::vector<Target> targets;
  };
  std::map<std::string, std::map<BlobId, Wanted>> by_pack;
  std::deque<RestoredFile> files;  // not moved once made: workers count down its entries
  for (const Entry& e : entries) {
    if (e.node.type == NodeType::kSymlink) {
      std::string p = dest(e.path);
      ::unlink(p.c_str());
      if (::symlink(e.node.link_target.c_str(), p.c_str()) != 0)
        return Status::FromErrno("cannot create symlink " + p, errno);
      stats.symlinks++;
      continue;
    }
    if (e.node.type != NodeType::kFile) continue;
    stats.files++;
    stats.bytes += e.node.size;
    files.emplace_back(&e, dest(e.path), e.node.content.size());
  }
  for (size_t index = 0; index < files.size(); ++index) {
    const Node& node = files[index].entry->node;
    uint64_t offset = 0;
    for (size_t c = 0; c < node.content.size(); ++c) {
      BlobLocation loc = *repo.Find(node.content[c]);
      Wanted& w = by_pack[loc.pack_id][node.content[c]];
      w.loc = loc;
      w.targets.push_back({index, offset});
      offset += node.chunk_sizes[c];
    }
  }
  bool root = ::geteuid() == 0;
  Warnings warnings;
  std::atomic<bool> direct_works{true};
  // Empty files have no chunk, so no worker would create them.
  for (RestoredFile& f : files) {
    if (f.chunks_left != 0) continue;
    OpenFiles one(direct_works);
    TESSERA_ASSIGN_OR_RETURN(int fd, one.Get(f));
    TESSERA_RETURN_IF_ERROR(FinishFile(f, fd, root, warnings));
    if (progress) progress->Add(1, 0);
  }

  std::atomic<uint64_t> packs_done{0};
  std::vector<std::pair<std::string, std::map<BlobId, Wanted>*>> packs;
  for (auto& [pack_id, blobs] : by_pack) packs.emplace_back(pack_id, &blobs);
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto restore_packs = [&]() -> Status {
    for (size_t i = next++; i < packs.size() && !failed; i = next++) {
      auto pack = repo.objects().Get(PackObjectName(packs[i].first));
      if (!pack.ok()) return pack.status();
      OpenFiles open(direct_works);  // a file's chunks in one pack share its descriptors
      // Two blobs at a time: their ids are checked together.
      auto& wanted_blobs = *packs[i].second;
      for (auto it = wanted_blobs.begin(); it != wanted_blobs.end();) {
        IndexEntry pair[2];
        const Wanted* wanted[2];
        size_t n = 0;
        for (; n < 2 && it != wanted_blobs.end(); ++n, ++it) {
          pair[n].id = it->first;
          pair[n].loc = it->second.loc;
          wanted[n] = &it->second;
        }
        std::vector<Result<Bytes>> blobs = repo.BlobsFromPack(*pack, {pair, n});
        for (size_t b = 0; b < n; ++b) {
          if (!blobs[b].ok()) return blobs[b].status();
          const Bytes& blob = *blobs[b];
          for (const Target& t : wanted[b]->targets) {
            RestoredFile& f = files[t.file];
            TESSERA_RETURN_IF_ERROR(open.Write(f, blob, t.offset));
            if (progress) progress->Add(0, blob.size());
            if (--f.chunks_left == 0) {
              TESSERA_ASSIGN_OR_RETURN(int fd, open.Get(f));
              TESSERA_RETURN_IF_ERROR(FinishFile(f, fd, root, warnings));
              if (progress) progress->Add(1, 0);  // a file done
            }
          }
        }
      }
      packs_done++;
    }
    return Status::Ok();
  };
  // Threads of their own, one more than the cores: direct writes wait for the device,
  // and another pack in progress keeps the cores busy meanwhile.
  const size_t thread_count = std::min(packs.size(), repo.cpu().size() + 1);
  std::vector<Status> results(thread_count);
  {
    std::vector<std::jthread> threads;
    for (size_t w = 0; w < thread_count; ++w)
      threads.emplace_back([&, w] {
        results[w] = restore_packs();
        if (!results[w].ok()) failed = true;
      });
  }
  Status first;
  for (const Status& st : results)
    if (!st.ok() && first.ok()) first = st;
  TESSERA_RETURN_IF_ERROR(first);
  stats.packs = packs_done;
  for (std::string& w : warnings.TakeAll()) stats.warnings.push_back(std::move(w));

  // Metadata of links now, of directories last and deepest first, so that writing inside
  // a directory does not change its restored times.
  auto apply = [&](const Entry& e) {
    std::string p = dest(e.path);
    if (root && ::lchown(p.c_str(), e.node.uid, e.node.gid) != 0)
      stats.warnings.push_back(p + ": cannot set owner: " + std::strerror(errno));
    if (e.node.type != NodeType::kSymlink && ::chmod(p.c_str(), e.node.mode & 07777) != 0)
      stats.warnings.push_back(p + ": cannot set mode: " + std::strerror(errno));
    struct timespec times[2] = {ToTimespec(e.node.mtime_ns), ToTimespec(e.node.mtime_ns)};
    if (::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      stats.warnings.push_back(p + ": cannot set times: " + std::strerror(errno));
  };
  for (const Entry& e : entries)
    if (e.node.type == NodeType::kSymlink) apply(e);
  for (auto it = entries.rbegin(); it != entries.rend(); ++it)
    if (it->node.type == NodeType::kDir) apply(*it);
  if (progress) progress->Finish();
  stats.seconds = MonotonicSeconds() - start;
  return stats;
}

Status Dump(Repository& repo, const Snapshot& snap, const std::string& path, std::FILE* out) {
  TESSERA_RETURN_IF_ERROR(repo.LoadIndex(Repository::IndexGaps::kSkipUnreadable));
  TESSERA_ASSIGN_OR_RETURN(std::vector<Entry> entries, ListEntries(repo, snap, path));
  const Entry& e = entries.front();
  if (e.node.type != NodeType::kFile)
    return Status::InvalidArgument(path + " is a " + NodeTypeName(e.node.type) +
                                   ", not a file; use `vault restore --include`");
  for (const BlobId& id : e.node.content) {
    TESSERA_ASSIGN_OR_RETURN(Bytes blob, repo.ReadBlob(id));
    if (std::fwrite(blob.data(), 1, blob.size(), out) != blob.size())
      return Status::IOError(std::string("cannot write output: ") + std::strerror(errno));
  }
  if (std::fflush(out) != 0)
    return Status::IOError(std::string("cannot write output: ") + std::strerror(errno));
  return Status::Ok();
}

Status VerifyRestoredFile(const Repository& repo, const std::string& file, const Node& node) {
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return Status::FromErrno(file, errno);
  struct stat st {};
  ::fstat(fd, &st);
  if (static_cast<uint64_t>(st.st_size) != node.size) {
    ::close(fd);
    return Status::Corruption(file + ": size " + std::to_string(st.st_size) + ", expected " +
                              std::to_string(node.size));
  }
  Bytes buf;
  uint64_t offset = 0;
  for (size_t c = 0; c < node.content.size(); ++c) {
    buf.resize(node.chunk_sizes[c]);
    size_t got = 0;
    while (got < buf.size()) {
      ssize_t r = ::pread(fd, buf.data() + got, buf.size() - got, static_cast<off_t>(offset + got));
      if (r <= 0) {
        if (r < 0 && errno == EINTR) continue;
        ::close(fd);
        return Status::Corruption(file + ": short read at " + std::to_string(offset + got));
      }
      got += static_cast<size_t>(r);
    }
    if (repo.ComputeId(buf) != node.content[c]) {
      ::close(fd);
      return Status::Corruption(file + ": content differs from the snapshot at byte " +
                                std::to_string(offset));
    }
    offset += buf.size();
  }
  ::close(fd);
  return Status::Ok();
}

}  // namespace tessera::vault
