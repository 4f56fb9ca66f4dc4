#include "vault/backup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <future>
#include <map>
#include <mutex>
#include <optional>
#include <semaphore>
#include <set>

#include "base/clock.hpp"
#include "vault/chunker.hpp"
#include "vault/lock.hpp"

namespace tessera::vault {

namespace fs = std::filesystem;

bool IsExcluded(const std::string& path, const std::vector<std::string>& globs) {
  std::string name = fs::path(path).filename().string();
  for (const std::string& g : globs) {
    const std::string& subject = g.find('/') == std::string::npos ? name : path;
    if (::fnmatch(g.c_str(), subject.c_str(), 0) == 0) return true;
  }
  return false;
}

namespace {

// Names are looked up once per id: NSS lookups per file would dominate small-file backups.
std::string UserName(uid_t uid) {
  thread_local std::map<uid_t, std::string> cache;
  auto it = cache.find(uid);
  if (it != cache.end()) return it->second;
  struct passwd pw {};
  struct passwd* out = nullptr;
  char buf[1024];
  std::string name;
  if (::getpwuid_r(uid, &pw, buf, sizeof buf, &out) == 0 && out) name = out->pw_name;
  return cache[uid] = name;
}
std::string GroupName(gid_t gid) {
  thread_local std::map<gid_t, std::string> cache;
  auto it = cache.find(gid);
  if (it != cache.end()) return it->second;
  struct group gr {};
  struct group* out = nullptr;
  char buf[1024];
  std::string name;
  if (::getgrgid_r(gid, &gr, buf, sizeof buf, &out) == 0 && out) name = out->gr_name;
  return cache[gid] = name;
}

int64_t Nanos(const struct timespec& ts) {
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

Node NodeFromStat(const std::string& name, const struct stat& st) {
  Node n;
  n.name = name;
  if (S_ISREG(st.st_mode))
    n.type = NodeType::kFile;
  else if (S_ISDIR(st.st_mode))
    n.type = NodeType::kDir;
  else if (S_ISLNK(st.st_mode))
    n.type = NodeType::kSymlink;
  else
    n.type = NodeType::kOther;
  n.mode = st.st_mode;
  n.uid = st.st_uid;
  n.gid = st.st_gid;
  n.user = UserName(st.st_uid);
  n.group = GroupName(st.st_gid);
  n.mtime_ns = Nanos(st.st_mtim);
  n.ctime_ns = Nanos(st.st_ctim);
  n.inode = st.st_ino;
  n.device = st.st_dev;
  if (n.type == NodeType::kFile) n.size = static_cast<uint64_t>(st.st_size);
  return n;
}

// A file whose chunks are still being hashed and packed by the workers.
struct PendingFile {
  Node node;
  std::vector<std::future<Result<BlobId>>> chunks;
};

// A directory whose tree waits for its files' chunks and its subdirectories' trees.
struct PendingDir {
  std::deque<PendingFile> files;
  std::vector<Node> done;
  // Subdirectories among `done`, by index, and where their trees' ids will be.
  std::vector<std::pair<size_t, std::shared_ptr<std::optional<BlobId>>>> subdirs;
  std::shared_ptr<std::optional<BlobId>> tree = std::make_shared<std::optional<BlobId>>();
};

class Archiver {
 public:
  Archiver(Repository& repo, const BackupOptions& options, Progress* progress)
      : repo_(repo),
        options_(options),
        progress_(progress),
        chunker_(repo.keys().gear(), repo.config().chunker),
        slots_(static_cast<std::ptrdiff_t>(2 * repo.cpu().size() + 2)) {}
  // Chunk tasks refer to this object: a run that fails part-way must not leave them
  // running after it returned. (After a successful run none is left.)
  ~Archiver() {
    {
      std::lock_guard lock(tasks_mu_);
      if (!failed_.exchange(true)) chunk_error_ = Status::Unavailable("the backup stopped");
    }
    WaitForChunkTasks();
  }

  Result<BackupResult> Run();

 private:
  Result<BlobId> SaveVirtual(const std::string& prefix, const std::vector<std::string>& selected,
                             const Tree* parent);
  // Walks a directory and queues it to be finished later: where its tree's id will be.
  Result<std::shared_ptr<std::optional<BlobId>>> SaveDir(const std::string& path,
                                                         const Tree* parent);
  // Adds the node for `path` (named `name`) to `dir`.
  Status SaveEntry(const std::string& path, const std::string& name, const Tree* parent,
                   PendingDir& dir);
  // Stores the tree of `dir`, whose subdirectories are finished.
  Result<BlobId> FinishDir(PendingDir& dir);
  // Finishes queued directories, oldest first, until at most `keep` are left.
  Status FinishQueuedDirs(size_t keep);
  Result<PendingFile> ChunkFile(int fd, Node node);
  Result<std::vector<BlobId>> WaitChunks(PendingFile& f);
  Result<BlobId> FinishTree(std::deque<PendingFile>& pending, std::vector<Node>& done);
  void SubmitChunk(PendingFile& f, Bytes chunk);
  // Hands the batched chunks to a worker.
  void FlushBatch();
  // Does the batched chunks' work on this thread: before the walk waits for chunks, since
  // handing over the last few of a directory only to wait for them idles this thread.
  void RunBatchHere();
  Result<BlobId> SaveChunk(Bytes chunk);
  const Node* FindParent(const Tree* parent, const std::string& name) const;
  Result<std::unique_ptr<Tree>> LoadParentSubtree(const Node* n);
  void WaitForChunkTasks();

  Repository& repo_;
  const BackupOptions& options_;
  Progress* progress_;
  Chunker chunker_;
  std::counting_semaphore<1024> slots_;  // bounds batches in flight, and so memory
  // Chunks collected into one worker task: one small file per task cost more in thread
  // wake-ups than in hashing and compressing it.
  struct BatchedChunk {
    Bytes data;
    std::promise<Result<BlobId>> result;
  };
  std::vector<BatchedChunk> batch_;
  size_t batch_bytes_ = 0;
  void SaveChunks(std::vector<BatchedChunk>& batch);
  SnapshotSummary summary_;
  std::atomic<uint64_t> new_blobs_{0}, new_bytes_{0}, stored_bytes_{0};
  std::vector<std::string> warnings_;
  // Walked directories not yet stored, in walk order (children before their parent).
  // Storing a directory's tree right after walking it made the walk wait for its last
  // files at every directory, and left the workers idle while it walked the next.
  std::deque<PendingDir> unfinished_;
  std::mutex tasks_mu_;  // guards tasks_running_ and chunk_error_
  std::condition_variable tasks_done_;
  size_t tasks_running_ = 0;
  Status chunk_error_;               // the first chunk's failure; later chunks skip their work
  std::atomic<bool> failed_{false};  // chunk_error_ is set
  Bytes read_buf_;  // reused for every file: allocating it per file would cost more than reading
};

const Node* Archiver::FindParent(const Tree* parent, const std::string& name) const {
  if (!parent) return nullptr;
  auto it = std::lower_bound(parent->nodes.begin(), parent->nodes.end(), name,
                             [](const Node& n, const std::string& s) { return n.name < s; });
  if (it == parent->nodes.end() || it->name != name) return nullptr;
  return &*it;
}

Result<std::unique_ptr<Tree>> Archiver::LoadParentSubtree(const Node* n) {
  if (!n || n->type != NodeType::kDir || !n->subtree) return std::unique_ptr<Tree>();
  auto tree = repo_.ReadTree(*n->subtree);
  // A parent that cannot be read only costs re-reading files.
  if (!tree.ok()) return std::unique_ptr<Tree>();
  return std::make_unique<Tree>(std::move(*tree));
}

void Archiver::WaitForChunkTasks() {
  std::unique_lock lock(tasks_mu_);
  tasks_done_.wait(lock, [this] { return tasks_running_ == 0; });
}

Result<BlobId> Archiver::SaveChunk(Bytes chunk) {
  if (failed_) {
    std::lock_guard lock(tasks_mu_);
    return chunk_error_;
  }
  BlobId id = repo_.ComputeId(chunk);
  uint64_t stored = 0;
  auto added = repo_.AddBlob(BlobType::kData, id, chunk, &stored);
  if (!added.ok()) {
    std::lock_guard lock(tasks_mu_);
    if (!failed_.exchange(true)) chunk_error_ = added.status();
    return added.status();
  }
  if (*added) {
    new_blobs_++;
    new_bytes_ += chunk.size();
    stored_bytes_ += stored;
  }
  return id;
}

void Archiver::SubmitChunk(PendingFile& f, Bytes chunk) {
  // A batch holds up to 64 chunks or 512 KiB: small files travel together, a large
  // file's chunks (128 KiB and up) go in ones and twos, and memory in flight stays
  // bounded by the slots times about a maximal chunk.
  constexpr size_t kBatchBytes = 512 * 1024, kBatchChunks = 64;
  batch_bytes_ += chunk.size();
  BatchedChunk& c = batch_.emplace_back(BatchedChunk{std::move(chunk), {}});
  f.chunks.push_back(c.result.get_future());
  if (batch_bytes_ >= kBatchBytes || batch_.size() >= kBatchChunks) FlushBatch();
}

void Archiver::FlushBatch() {
  if (batch_.empty()) return;
  slots_.acquire();
  {
    std::lock_guard lock(tasks_mu_);
    ++tasks_running_;
  }
  // std::function needs a copyable callable: the batch goes over in a shared_ptr, and is
  // freed when the task is done.
  auto batch = std::make_shared<std::vector<BatchedChunk>>(std::move(batch_));
  batch_.clear();
  batch_bytes_ = 0;
  (void)repo_.cpu().Submit([this, batch] {
    SaveChunks(*batch);
    slots_.release();
    std::lock_guard lock(tasks_mu_);
    // Notified under the lock: the waiter may destroy this object as soon as it wakes.
    --tasks_running_;
    tasks_done_.notify_all();
  });
}

void Archiver::RunBatchHere() {
  std::vector<BatchedChunk> batch = std::move(batch_);
  batch_.clear();
  batch_bytes_ = 0;
  SaveChunks(batch);
}

void Archiver::SaveChunks(std::vector<BatchedChunk>& batch) {
  for (BatchedChunk& c : batch) c.result.set_value(SaveChunk(std::move(c.data)));
  batch.clear();  // the chunks' memory goes now, not when the task is destroyed
}

Result<PendingFile> Archiver::ChunkFile(int fd, Node node) {
  PendingFile f;
  const size_t max = chunker_.params().max_size;
  if (read_buf_.empty()) read_buf_.resize(2 * max);
  Bytes& buf = read_buf_;
  // Unconsumed bytes are buf[start, start + have). They move to the front only when less
  // than one maximal chunk fits behind them, so each byte is moved at most once.
  size_t start = 0, have = 0;
  bool eof = false;
  uint64_t total = 0;
  while (true) {
    if (!eof && have < max) {
      if (start + max > buf.size()) {
        std::memmove(buf.data(), buf.data() + start, have);
        start = 0;
      }
      while (!eof && start + have < buf.size()) {
        ssize_t r = ::read(fd, buf.data() + start + have, buf.size() - start - have);
        if (r < 0) {
          if (errno == EINTR) continue;
          return Status::FromErrno("read", errno);
        }
        if (r == 0) eof = true;
        have += static_cast<size_t>(r);
        total += static_cast<uint64_t>(r);
        summary_.bytes_read += static_cast<uint64_t>(r);
        if (progress_) progress_->Add(0, static_cast<uint64_t>(r));
      }
    }
    if (have == 0) break;
    const uint8_t* data = buf.data() + start;
    size_t cut = chunker_.Cut(data, have);
    f.node.chunk_sizes.push_back(static_cast<uint32_t>(cut));
    SubmitChunk(f, Bytes(data, data + cut));
    start += cut;
    have -= cut;
  }
  // The size actually read is what the chunks describe, even if the file changed
  // between stat and read.
  node.size = total;
  node.chunk_sizes = std::move(f.node.chunk_sizes);
  f.node = std::move(node);
  return f;
}

Result<std::vector<BlobId>> Archiver::WaitChunks(PendingFile& f) {
  std::vector<BlobId> ids;
  ids.reserve(f.chunks.size());
  Status first;
  for (auto& c : f.chunks) {
    // A chunk may still be in the batch being collected, and waiting for the workers
    // idles this thread: it does that batch itself first.
    if (c.wait_for(std::chrono::seconds(0)) != std::future_status::ready) RunBatchHere();
    Result<BlobId> id = c.get();
    if (!id.ok() && first.ok()) first = id.status();
    if (id.ok()) ids.push_back(*id);
  }
  if (!first.ok()) return first;
  return ids;
}

Status Archiver::SaveEntry(const std::string& path, const std::string& name, const Tree* parent,
                           PendingDir& dir) {
  std::vector<Node>& done = dir.done;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    warnings_.push_back(path + ": " + std::strerror(errno) + " (skipped)");
    return Status::Ok();
  }
  Node node = NodeFromStat(name, st);
  const Node* old = FindParent(parent, name);
  switch (node.type) {
    case NodeType::kDir: {
      TESSERA_ASSIGN_OR_RETURN(auto sub, LoadParentSubtree(old));
      auto tree = SaveDir(path, sub.get());
      if (!tree.ok()) {
        if (tree.status().code() == StatusCode::kPermissionDenied ||
            tree.status().code() == StatusCode::kNotFound) {
          warnings_.push_back(tree.status().message() + " (skipped)");
          return Status::Ok();
        }
        return tree.status();
      }
      summary_.dirs++;
      dir.subdirs.emplace_back(done.size(), std::move(*tree));
      done.push_back(std::move(node));
      return Status::Ok();
    }
    case NodeType::kSymlink: {
      std::error_code ec;
      node.link_target = fs::read_symlink(path, ec).string();
      if (ec) {
        warnings_.push_back(path + ": cannot read link: " + ec.message() + " (skipped)");
        return Status::Ok();
      }
      summary_.symlinks++;
      done.push_back(std::move(node));
      return Status::Ok();
    }
    case NodeType::kOther:
      done.push_back(std::move(node));
      return Status::Ok();
    case NodeType::kFile:
      break;
  }
  summary_.files++;
  summary_.bytes += node.size;
  if (old && old->type == NodeType::kFile && old->size == node.size &&
      old->mtime_ns == node.mtime_ns && old->ctime_ns == node.ctime_ns &&
      old->inode == node.inode &&
      std::all_of(old->content.begin(), old->content.end(),
                  [&](const BlobId& id) { return repo_.Find(id).has_value(); })) {
    node.content = old->content;
    node.chunk_sizes = old->chunk_sizes;
    summary_.files_unchanged++;
    if (progress_) progress_->Add(1, 0);
    done.push_back(std::move(node));
    return Status::Ok();
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    warnings_.push_back(path + ": " + std::strerror(errno) + " (skipped)");
    summary_.files--;
    summary_.bytes -= node.size;
    return Status::Ok();
  }
  // A larger read-ahead pays for large files only; for the many small ones the call
  // would cost more than it saves.
  if (node.size >= 1024 * 1024) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto f = ChunkFile(fd, std::move(node));
  ::close(fd);
  if (!f.ok()) {
    warnings_.push_back(path + ": " + f.status().message() + " (skipped)");
    return Status::Ok();
  }
  if (progress_) progress_->Add(1, 0);
  dir.files.push_back(std::move(*f));
  return Status::Ok();
}

Result<BlobId> Archiver::FinishTree(std::deque<PendingFile>& pending, std::vector<Node>& done) {
  for (PendingFile& f : pending) {
    TESSERA_ASSIGN_OR_RETURN(f.node.content, WaitChunks(f));
    done.push_back(std::move(f.node));
  }
  pending.clear();
  Tree tree;
  tree.nodes = std::move(done);
  std::sort(tree.nodes.begin(), tree.nodes.end(),
            [](const Node& a, const Node& b) { return a.name < b.name; });
  uint64_t stored = 0;
  TESSERA_ASSIGN_OR_RETURN(BlobId id, repo_.SaveTree(tree, &stored));
  stored_bytes_ += stored;
  return id;
}

Result<BlobId> Archiver::FinishDir(PendingDir& dir) {
  for (auto& [index, tree] : dir.subdirs) {
    if (!tree->has_value())  // the queue finishes children before their parent
      return Status::Internal("directory " + dir.done[index].name + " was not finished first");
    dir.done[index].subtree = **tree;
  }
  return FinishTree(dir.files, dir.done);
}

Status Archiver::FinishQueuedDirs(size_t keep) {
  while (unfinished_.size() > keep) {
    PendingDir dir = std::move(unfinished_.front());
    unfinished_.pop_front();
    TESSERA_ASSIGN_OR_RETURN(BlobId id, FinishDir(dir));
    *dir.tree = id;
  }
  return Status::Ok();
}

Result<std::shared_ptr<std::optional<BlobId>>> Archiver::SaveDir(const std::string& path,
                                                                 const Tree* parent) {
  // Files first, subdirectories after: the workers then hash and store this directory's
  // files while the walk is below it, instead of the walk waiting for them at the end.
  std::vector<std::string> files, dirs;
  DIR* listing = ::opendir(path.c_str());
  if (!listing) return Status::FromErrno(path, errno);
  // The entry's type comes from the listing itself: a stat per entry here, on top of the
  // one SaveEntry makes, cost a tenth of a small-file backup's walk.
  while (true) {
    errno = 0;
    const dirent* e = ::readdir(listing);
    if (!e) {
      if (errno != 0) warnings_.push_back(path + ": listing stopped: " + std::strerror(errno));
      break;
    }
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {  // file systems that do not record types
      struct stat st {};
      is_dir = ::fstatat(::dirfd(listing), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(st.st_mode);
    }
    (is_dir ? dirs : files).emplace_back(name);
  }
  ::closedir(listing);
  std::sort(files.begin(), files.end());
  std::sort(dirs.begin(), dirs.end());
  PendingDir dir;
  for (const auto* names : {&files, &dirs}) {
    for (const std::string& name : *names) {
      std::string child = path == "/" ? "/" + name : path + "/" + name;
      if (IsExcluded(child, options_.excludes)) continue;
      TESSERA_RETURN_IF_ERROR(SaveEntry(child, name, parent, dir));
    }
  }
  // Bounds the memory of queued file nodes and chunk results, not the work in flight
  // (the batch slots do that).
  constexpr size_t kMaxUnfinishedDirs = 256;
  auto tree = dir.tree;
  unfinished_.push_back(std::move(dir));
  TESSERA_RETURN_IF_ERROR(FinishQueuedDirs(kMaxUnfinishedDirs));
  return tree;
}

Result<BlobId> Archiver::SaveVirtual(const std::string& prefix,
                                     const std::vector<std::string>& selected, const Tree* parent) {
  // Group the selected paths below `prefix` by their next component.
  std::map<std::string, std::vector<std::string>> children;
  for (const std::string& p : selected) {
    std::string rest = p.substr(prefix.size());
    if (!rest.empty() && rest[0] == '/') rest = rest.substr(1);
    std::string first = rest.substr(0, rest.find('/'));
    children[first].push_back(p);
  }
  PendingDir dir;
  for (auto& [name, paths] : children) {
    std::string full = prefix == "/" ? "/" + name : prefix + "/" + name;
    bool whole = std::find(paths.begin(), paths.end(), full) != paths.end();
    if (whole) {
      TESSERA_RETURN_IF_ERROR(SaveEntry(full, name, parent, dir));
      continue;
    }
    // An ancestor of what was asked for: only the selected part is saved.
    struct stat st {};
    if (::lstat(full.c_str(), &st) != 0) return Status::FromErrno(full, errno);
    Node node = NodeFromStat(name, st);
    const Node* old = FindParent(parent, name);
    TESSERA_ASSIGN_OR_RETURN(auto sub, LoadParentSubtree(old));
    TESSERA_ASSIGN_OR_RETURN(BlobId id, SaveVirtual(full, paths, sub.get()));
    node.subtree = id;
    dir.done.push_back(std::move(node));
  }
  // Everything queued is below this directory (or below an earlier sibling).
  TESSERA_RETURN_IF_ERROR(FinishQueuedDirs(0));
  return FinishDir(dir);
}

Result<BackupResult> Archiver::Run() {
  double start = MonotonicSeconds();
  Snapshot snap;
  snap.time_ns = NowUnixNanos();
  snap.hostname = HostName();
  snap.username = UserName(::getuid());
  snap.tags = options_.tags;

  std::vector<std::string> selected;
  if (options_.from_stdin) {
    if (options_.stdin_name.empty() || options_.stdin_name.find('/') != std::string::npos)
      return Status::InvalidArgument("--stdin-name must be a plain file name");
    snap.paths = {"/" + options_.stdin_name};
  } else {
    if (options_.paths.empty()) return Status::InvalidArgument("nothing to back up: give a path");
    for (const std::string& p : options_.paths) {
      std::string abs = fs::absolute(p).lexically_normal().string();
      if (abs.size() > 1 && abs.back() == '/') abs.pop_back();
      struct stat st {};
      if (::lstat(abs.c_str(), &st) != 0)
        return Status::NotFound("cannot back up " + p + ": " + std::strerror(errno));
      selected.push_back(abs);
    }
    std::sort(selected.begin(), selected.end());
    selected.erase(std::unique(selected.begin(), selected.end()), selected.end());
    // Drop paths inside another selected path: the ancestor covers them.
    std::vector<std::string> kept;
    for (const std::string& p : selected) {
      bool inside = std::any_of(kept.begin(), kept.end(), [&](const std::string& a) {
        return a == "/" || p.compare(0, a.size() + 1, a + "/") == 0;
      });
      if (!inside) kept.push_back(p);
    }
    selected = kept;
    snap.paths = selected;
  }

  // The parent: the latest snapshot of the same host and paths, unless told otherwise.
  std::unique_ptr<Tree> parent_root;
  if (!options_.no_parent && !options_.from_stdin) {
    std::optional<Snapshot> parent;
    if (!options_.parent.empty()) {
      TESSERA_ASSIGN_OR_RETURN(Snapshot p, repo_.FindSnapshot(options_.parent));
      parent = p;
    } else {
      TESSERA_ASSIGN_OR_RETURN(std::vector<Snapshot> all, repo_.ListSnapshots());
      for (auto it = all.rbegin(); it != all.rend(); ++it)
        if (it->hostname == snap.hostname && it->paths == snap.paths) {
          parent = *it;
          break;
        }
    }
    if (parent) {
      snap.parent = parent->id;
      auto tree = repo_.ReadTree(parent->tree);
      if (tree.ok()) parent_root = std::make_unique<Tree>(std::move(*tree));
    }
  }

  BlobId root{};
  if (options_.from_stdin) {
    Node node;
    node.name = options_.stdin_name;
    node.type = NodeType::kFile;
    node.mode = S_IFREG | 0644;
    node.uid = ::getuid();
    node.gid = ::getgid();
    node.mtime_ns = node.ctime_ns = snap.time_ns;
    TESSERA_ASSIGN_OR_RETURN(PendingFile f, ChunkFile(STDIN_FILENO, node));
    summary_.files = 1;
    summary_.bytes = f.node.size;
    std::deque<PendingFile> pending;
    pending.push_back(std::move(f));
    std::vector<Node> done;
    TESSERA_ASSIGN_OR_RETURN(root, FinishTree(pending, done));
  } else {
    TESSERA_ASSIGN_OR_RETURN(root, SaveVirtual("/", selected, parent_root.get()));
  }
  TESSERA_RETURN_IF_ERROR(repo_.Flush());
  snap.tree = root;
  summary_.new_blobs = new_blobs_;
  summary_.new_bytes = new_bytes_;
  summary_.stored_bytes = stored_bytes_;
  summary_.seconds = MonotonicSeconds() - start;
  snap.summary = summary_;
  snap.degraded_stores = repo_.DegradedStores();
  TESSERA_RETURN_IF_ERROR(repo_.SaveSnapshot(snap));
  return BackupResult{snap, warnings_, {}};
}

}  // namespace

Result<BackupResult> Backup(Repository& repo, const BackupOptions& options, Progress* progress) {
  // Lock first, then read the index: a prune finishing in between could otherwise delete
  // blobs this backup would take as already stored.
  TESSERA_ASSIGN_OR_RETURN(auto lock, VaultLock::Acquire(repo, false, "backup"));
  Status loaded = repo.LoadIndex();
  if (!loaded.ok()) return loaded;
  Archiver archiver(repo, options, progress);
  auto result = archiver.Run();
  // Includes the stores that missed the snapshot object itself, written last.
  if (result.ok()) result->degraded_stores = repo.DegradedStores();
  Status released = lock->Release();
  if (result.ok() && !released.ok()) result->warnings.push_back("lock: " + released.message());
  return result;
}

}  // namespace tessera::vault
