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
#include <thread>

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
  // Subdirectories that another walker took, by index, and their trees to come.
  std::vector<std::pair<size_t, std::future<Result<BlobId>>>> handed_off;
  std::shared_ptr<std::optional<BlobId>> tree = std::make_shared<std::optional<BlobId>>();
};

// An open directory, closed with the last listing that refers to it.
struct DirHandle {
  explicit DirHandle(int fd) : fd(fd) {}
  ~DirHandle() { ::close(fd); }
  DirHandle(const DirHandle&) = delete;
  DirHandle& operator=(const DirHandle&) = delete;
  const int fd;
};

// A directory's entries, files and subdirectories apart, each sorted by name, and the
// directory itself, open: its entries are opened and examined relative to it, which
// spares the kernel walking the whole path again for each of them.
struct Listing {
  std::vector<std::string> files, dirs;
  std::shared_ptr<DirHandle> dir;
};

// Chunks collected into one worker task: one small file per task cost more in thread
// wake-ups than in hashing and compressing it.
struct BatchedChunk {
  Bytes data;
  std::promise<Result<BlobId>> result;
};

// What one thread walking the file system keeps to itself.
struct Walk {
  Bytes read_buf;  // reused for every file: allocating it per file would cost more than reading
  std::vector<BatchedChunk> batch;
  size_t batch_bytes = 0;
  // Walked directories not yet stored, in walk order (children before their parent).
  // Storing a directory's tree right after walking it made the walk wait for its last
  // files at every directory, and left the workers idle while it walked the next.
  std::deque<PendingDir> unfinished;
  std::vector<std::string> warnings;
  SnapshotSummary summary;  // counts of what this walk saw
};

// A subdirectory handed to another walker.
struct HandOff {
  std::string path;
  Listing listing;
  std::unique_ptr<Tree> parent;
  std::promise<Result<BlobId>> result;
};

class Archiver {
 public:
  Archiver(Repository& repo, const BackupOptions& options, Progress* progress)
      : repo_(repo),
        options_(options),
        progress_(progress),
        chunker_(repo.keys().gear(), repo.config().chunker),
        slots_(static_cast<std::ptrdiff_t>(2 * repo.cpu().size() + 2)),
        helper_([this] { HelperLoop(); }) {}
  // Chunk tasks and the helper refer to this object: a run that fails part-way must not
  // leave them running after it returned. (After a successful run none is left.)
  ~Archiver() {
    {
      std::lock_guard lock(tasks_mu_);
      if (!failed_.exchange(true)) chunk_error_ = Status::Unavailable("the backup stopped");
    }
    {
      std::lock_guard lock(jobs_mu_);
      stop_ = true;
      jobs_.clear();  // never started: their waiters are gone too
    }
    jobs_cv_.notify_all();
    helper_.join();
    WaitForChunkTasks();
  }

  Result<BackupResult> Run();

 private:
  Result<BlobId> SaveVirtual(const std::string& prefix, const std::vector<std::string>& selected,
                             const Tree* parent);
  // Lists a directory: `name` in the open directory `at` (AT_FDCWD: `path` itself).
  // PermissionDenied or NotFound when it cannot be read (the caller skips it with a
  // warning).
  Result<Listing> ListDir(Walk& w, const std::string& path, int at, const std::string& name);
  // Saves a listed directory's entries and queues it to be finished later: where its
  // tree's id will be.
  Result<std::shared_ptr<std::optional<BlobId>>> SaveDir(Walk& w, const std::string& path,
                                                         const Listing& listing,
                                                         const Tree* parent);
  // Adds the node for `path` (named `name`, in the open directory `at`; AT_FDCWD: found by
  // its whole path) to `dir`.
  Status SaveEntry(Walk& w, const std::string& path, const std::string& name, int at,
                   const Tree* parent, PendingDir& dir);
  // Stores the tree of `dir` once its subdirectories are finished.
  Result<BlobId> FinishDir(Walk& w, PendingDir& dir);
  // Finishes queued directories, oldest first, until at most `keep` are left.
  Status FinishQueuedDirs(Walk& w, size_t keep);
  // Reads `fd` to its end in chunks. A regular file's `node` has its size from stat.
  Result<PendingFile> ChunkFile(Walk& w, int fd, Node node, bool regular_file);
  Result<std::vector<BlobId>> WaitChunks(Walk& w, PendingFile& f);
  Result<BlobId> FinishTree(Walk& w, std::deque<PendingFile>& pending, std::vector<Node>& done);
  void SubmitChunk(Walk& w, PendingFile& f, Bytes chunk);
  // Hands the batched chunks to a worker.
  void FlushBatch(Walk& w);
  // Does the batched chunks' work on this thread: before the walk waits for chunks, since
  // handing over the last few of a directory only to wait for them idles this thread.
  void RunBatchHere(Walk& w);
  void SaveChunks(std::vector<BatchedChunk>& batch);
  Result<BlobId> SaveChunk(const BlobId& id, Bytes chunk);
  const Node* FindParent(const Tree* parent, const std::string& name) const;
  Result<std::unique_ptr<Tree>> LoadParentSubtree(const Node* n);
  void WaitForChunkTasks();

  // Two walkers share the walk: this thread and a helper. One walk alone (listing,
  // opening and reading files, writing trees) was the critical path of a backup of many
  // small files, with the workers idle a third of the time, and while it waited for a
  // large file's shards to reach the device, nothing else was read. A walker that is
  // idle takes the next subdirectory the other one meets, whole.
  void HelperLoop();
  // Queues the directory for an idle walker, if there is one; then `listing` and
  // `parent` are moved from.
  std::optional<std::future<Result<BlobId>>> TryHandOff(const std::string& path, Listing& listing,
                                                        std::unique_ptr<Tree>& parent);
  // The tree of a handed-off directory; meanwhile this thread walks what is handed to it.
  Result<BlobId> WaitForHandOff(std::future<Result<BlobId>>& tree);
  void RunHandOff(HandOff& job);
  // Takes the first queued job and runs it; `lock` (of jobs_mu_, held, with a job queued)
  // is released meanwhile.
  void RunQueuedHandOff(std::unique_lock<std::mutex>& lock);
  // Adds a walk's counts and warnings to the run's, and clears them.
  void MergeWalk(Walk& w);

  Repository& repo_;
  const BackupOptions& options_;
  Progress* progress_;
  Chunker chunker_;
  std::counting_semaphore<1024> slots_;  // bounds batches in flight, and so memory
  std::atomic<uint64_t> new_blobs_{0}, new_bytes_{0}, stored_bytes_{0};
  std::mutex tasks_mu_;  // guards tasks_running_ and chunk_error_
  std::condition_variable tasks_done_;
  size_t tasks_running_ = 0;
  Status chunk_error_;               // the first chunk's failure; later chunks skip their work
  std::atomic<bool> failed_{false};  // chunk_error_ is set

  Walk main_walk_;
  std::mutex merged_mu_;  // guards summary_, warnings_ and spare_walks_
  SnapshotSummary summary_;
  std::vector<std::string> warnings_;
  std::vector<std::unique_ptr<Walk>> spare_walks_;

  std::mutex jobs_mu_;               // guards jobs_, idle_walkers_ and stop_
  std::condition_variable jobs_cv_;  // a job was queued or finished, or stop_ was set
  std::deque<HandOff> jobs_;
  size_t idle_walkers_ = 0;
  bool stop_ = false;
  std::thread helper_;  // last: it starts running in the constructor
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

void Archiver::HelperLoop() {
  std::unique_lock lock(jobs_mu_);
  while (true) {
    ++idle_walkers_;
    jobs_cv_.wait(lock, [this] { return stop_ || !jobs_.empty(); });
    --idle_walkers_;
    if (stop_) return;
    RunQueuedHandOff(lock);
  }
}

void Archiver::RunQueuedHandOff(std::unique_lock<std::mutex>& lock) {
  HandOff job = std::move(jobs_.front());
  jobs_.pop_front();
  lock.unlock();
  RunHandOff(job);
  lock.lock();
}

std::optional<std::future<Result<BlobId>>> Archiver::TryHandOff(const std::string& path,
                                                                Listing& listing,
                                                                std::unique_ptr<Tree>& parent) {
  std::lock_guard lock(jobs_mu_);
  if (stop_ || idle_walkers_ <= jobs_.size()) return std::nullopt;
  HandOff& job = jobs_.emplace_back(HandOff{path, std::move(listing), std::move(parent), {}});
  auto tree = job.result.get_future();
  jobs_cv_.notify_all();
  return tree;
}

Result<BlobId> Archiver::WaitForHandOff(std::future<Result<BlobId>>& tree) {
  std::unique_lock lock(jobs_mu_);
  while (tree.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    if (!jobs_.empty()) {
      RunQueuedHandOff(lock);
      continue;
    }
    ++idle_walkers_;
    jobs_cv_.wait(lock);
    --idle_walkers_;
  }
  lock.unlock();
  try {
    return tree.get();
  } catch (const std::future_error&) {  // never started: the run is being abandoned
    return Status::Unavailable("the backup stopped");
  }
}

void Archiver::RunHandOff(HandOff& job) {
  std::unique_ptr<Walk> w;
  {
    std::lock_guard lock(merged_mu_);
    if (!spare_walks_.empty()) {
      w = std::move(spare_walks_.back());
      spare_walks_.pop_back();
    }
  }
  if (!w) w = std::make_unique<Walk>();
  Result<BlobId> tree = [&]() -> Result<BlobId> {
    TESSERA_ASSIGN_OR_RETURN(auto id, SaveDir(*w, job.path, job.listing, job.parent.get()));
    TESSERA_RETURN_IF_ERROR(FinishQueuedDirs(*w, 0));
    return **id;
  }();
  if (!tree.ok()) {  // what is left of a failed walk is not needed any more
    w->unfinished.clear();
    w->batch.clear();
    w->batch_bytes = 0;
  }
  MergeWalk(*w);
  {
    std::lock_guard lock(merged_mu_);
    spare_walks_.push_back(std::move(w));
  }
  job.result.set_value(std::move(tree));
  // Under the lock, so that a waiter between its check and its wait cannot miss it.
  { std::lock_guard lock(jobs_mu_); }
  jobs_cv_.notify_all();
}

void Archiver::MergeWalk(Walk& w) {
  std::lock_guard lock(merged_mu_);
  SnapshotSummary& m = summary_;
  m.files += w.summary.files;
  m.dirs += w.summary.dirs;
  m.symlinks += w.summary.symlinks;
  m.bytes += w.summary.bytes;
  m.files_unchanged += w.summary.files_unchanged;
  m.bytes_read += w.summary.bytes_read;
  w.summary = SnapshotSummary{};
  for (std::string& warning : w.warnings) warnings_.push_back(std::move(warning));
  w.warnings.clear();
}

Result<BlobId> Archiver::SaveChunk(const BlobId& id, Bytes chunk) {
  if (failed_) {
    std::lock_guard lock(tasks_mu_);
    return chunk_error_;
  }
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

void Archiver::SubmitChunk(Walk& w, PendingFile& f, Bytes chunk) {
  // A batch holds up to 64 chunks or 512 KiB: small files travel together, a large
  // file's chunks (128 KiB and up) go in ones and twos, and memory in flight stays
  // bounded by the slots times about a maximal chunk.
  constexpr size_t kBatchBytes = 512 * 1024, kBatchChunks = 64;
  w.batch_bytes += chunk.size();
  BatchedChunk& c = w.batch.emplace_back(BatchedChunk{std::move(chunk), {}});
  f.chunks.push_back(c.result.get_future());
  if (w.batch_bytes >= kBatchBytes || w.batch.size() >= kBatchChunks) FlushBatch(w);
}

void Archiver::FlushBatch(Walk& w) {
  if (w.batch.empty()) return;
  slots_.acquire();
  {
    std::lock_guard lock(tasks_mu_);
    ++tasks_running_;
  }
  // std::function needs a copyable callable: the batch goes over in a shared_ptr, and is
  // freed when the task is done.
  auto batch = std::make_shared<std::vector<BatchedChunk>>(std::move(w.batch));
  w.batch.clear();
  w.batch_bytes = 0;
  (void)repo_.cpu().Submit([this, batch] {
    SaveChunks(*batch);
    slots_.release();
    std::lock_guard lock(tasks_mu_);
    // Notified under the lock: the waiter may destroy this object as soon as it wakes.
    --tasks_running_;
    tasks_done_.notify_all();
  });
}

void Archiver::RunBatchHere(Walk& w) {
  std::vector<BatchedChunk> batch = std::move(w.batch);
  w.batch.clear();
  w.batch_bytes = 0;
  SaveChunks(batch);
}

void Archiver::SaveChunks(std::vector<BatchedChunk>& batch) {
  // The ids first, all together: hashing is a sixth of a backup's work, and hashed two at
  // a time the chunks take two thirds of the time.
  std::vector<ByteView> chunks;
  chunks.reserve(batch.size());
  for (const BatchedChunk& c : batch) chunks.push_back(c.data);
  const std::vector<BlobId> ids = repo_.ComputeIds(chunks);
  for (size_t i = 0; i < batch.size(); ++i)
    batch[i].result.set_value(SaveChunk(ids[i], std::move(batch[i].data)));
  batch.clear();  // the chunks' memory goes now, not when the task is destroyed
}

Result<PendingFile> Archiver::ChunkFile(Walk& w, int fd, Node node, bool regular_file) {
  PendingFile f;
  const size_t max = chunker_.params().max_size;
  if (w.read_buf.empty()) w.read_buf.resize(2 * max);
  Bytes& buf = w.read_buf;
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
        const size_t wanted = buf.size() - start - have;
        ssize_t r = ::read(fd, buf.data() + start + have, wanted);
        if (r < 0) {
          if (errno == EINTR) continue;
          return Status::FromErrno("read", errno);
        }
        // A regular file read short is at its end: once it has given the size stat saw,
        // that ends it without the read that would return 0 (one call per small file).
        if (r == 0 || (regular_file && static_cast<size_t>(r) < wanted &&
                       total + static_cast<uint64_t>(r) >= node.size))
          eof = true;
        have += static_cast<size_t>(r);
        total += static_cast<uint64_t>(r);
        w.summary.bytes_read += static_cast<uint64_t>(r);
        if (progress_) progress_->Add(0, static_cast<uint64_t>(r));
      }
    }
    if (have == 0) break;
    const uint8_t* data = buf.data() + start;
    size_t cut = chunker_.Cut(data, have);
    f.node.chunk_sizes.push_back(static_cast<uint32_t>(cut));
    SubmitChunk(w, f, Bytes(data, data + cut));
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

Result<std::vector<BlobId>> Archiver::WaitChunks(Walk& w, PendingFile& f) {
  std::vector<BlobId> ids;
  ids.reserve(f.chunks.size());
  Status first;
  for (auto& c : f.chunks) {
    // A chunk may still be in the batch being collected, and waiting for the workers
    // idles this thread: it does that batch itself first.
    if (c.wait_for(std::chrono::seconds(0)) != std::future_status::ready) RunBatchHere(w);
    Result<BlobId> id = c.get();
    if (!id.ok() && first.ok()) first = id.status();
    if (id.ok()) ids.push_back(*id);
  }
  if (!first.ok()) return first;
  return ids;
}

Status Archiver::SaveEntry(Walk& w, const std::string& path, const std::string& name, int at,
                           const Tree* parent, PendingDir& dir) {
  std::vector<Node>& done = dir.done;
  const char* relative = at == AT_FDCWD ? path.c_str() : name.c_str();
  struct stat st {};
  if (::fstatat(at, relative, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    w.warnings.push_back(path + ": " + std::strerror(errno) + " (skipped)");
    return Status::Ok();
  }
  Node node = NodeFromStat(name, st);
  const Node* old = FindParent(parent, name);
  switch (node.type) {
    case NodeType::kDir: {
      TESSERA_ASSIGN_OR_RETURN(auto sub, LoadParentSubtree(old));
      auto listing = ListDir(w, path, at, name);
      if (!listing.ok()) {
        if (listing.status().code() == StatusCode::kPermissionDenied ||
            listing.status().code() == StatusCode::kNotFound) {
          w.warnings.push_back(listing.status().message() + " (skipped)");
          return Status::Ok();
        }
        return listing.status();
      }
      w.summary.dirs++;
      if (auto handed = TryHandOff(path, *listing, sub)) {
        dir.handed_off.emplace_back(done.size(), std::move(*handed));
      } else {
        TESSERA_ASSIGN_OR_RETURN(auto tree, SaveDir(w, path, *listing, sub.get()));
        dir.subdirs.emplace_back(done.size(), std::move(tree));
      }
      done.push_back(std::move(node));
      return Status::Ok();
    }
    case NodeType::kSymlink: {
      std::string target(static_cast<size_t>(std::max<off_t>(st.st_size, 0)) + 1, '\0');
      ssize_t n = ::readlinkat(at, relative, target.data(), target.size());
      while (n >= 0 && static_cast<size_t>(n) == target.size()) {  // grew since the stat
        target.resize(target.size() * 2);
        n = ::readlinkat(at, relative, target.data(), target.size());
      }
      if (n < 0) {
        w.warnings.push_back(path + ": cannot read link: " + std::strerror(errno) + " (skipped)");
        return Status::Ok();
      }
      target.resize(static_cast<size_t>(n));
      node.link_target = std::move(target);
      w.summary.symlinks++;
      done.push_back(std::move(node));
      return Status::Ok();
    }
    case NodeType::kOther:
      done.push_back(std::move(node));
      return Status::Ok();
    case NodeType::kFile:
      break;
  }
  w.summary.files++;
  w.summary.bytes += node.size;
  if (old && old->type == NodeType::kFile && old->size == node.size &&
      old->mtime_ns == node.mtime_ns && old->ctime_ns == node.ctime_ns &&
      old->inode == node.inode &&
      std::all_of(old->content.begin(), old->content.end(),
                  [&](const BlobId& id) { return repo_.Find(id).has_value(); })) {
    node.content = old->content;
    node.chunk_sizes = old->chunk_sizes;
    w.summary.files_unchanged++;
    if (progress_) progress_->Add(1, 0);
    done.push_back(std::move(node));
    return Status::Ok();
  }
  int fd = ::openat(at, relative, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::openat(at, relative, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    w.warnings.push_back(path + ": " + std::strerror(errno) + " (skipped)");
    w.summary.files--;
    w.summary.bytes -= node.size;
    return Status::Ok();
  }
  // A larger read-ahead pays for large files only; for the many small ones the call
  // would cost more than it saves.
  if (node.size >= 1024 * 1024) ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  auto f = ChunkFile(w, fd, std::move(node), true);
  ::close(fd);
  if (!f.ok()) {
    w.warnings.push_back(path + ": " + f.status().message() + " (skipped)");
    return Status::Ok();
  }
  if (progress_) progress_->Add(1, 0);
  dir.files.push_back(std::move(*f));
  return Status::Ok();
}

Result<BlobId> Archiver::FinishTree(Walk& w, std::deque<PendingFile>& pending,
                                    std::vector<Node>& done) {
  for (PendingFile& f : pending) {
    TESSERA_ASSIGN_OR_RETURN(f.node.content, WaitChunks(w, f));
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

Result<BlobId> Archiver::FinishDir(Walk& w, PendingDir& dir) {
  for (auto& [index, tree] : dir.subdirs) {
    if (!tree->has_value())  // the queue finishes children before their parent
      return Status::Internal("directory " + dir.done[index].name + " was not finished first");
    dir.done[index].subtree = **tree;
  }
  for (auto& [index, tree] : dir.handed_off) {
    TESSERA_ASSIGN_OR_RETURN(BlobId id, WaitForHandOff(tree));
    dir.done[index].subtree = id;
  }
  return FinishTree(w, dir.files, dir.done);
}

Status Archiver::FinishQueuedDirs(Walk& w, size_t keep) {
  while (w.unfinished.size() > keep) {
    PendingDir dir = std::move(w.unfinished.front());
    w.unfinished.pop_front();
    TESSERA_ASSIGN_OR_RETURN(BlobId id, FinishDir(w, dir));
    *dir.tree = id;
  }
  return Status::Ok();
}

Result<Listing> Archiver::ListDir(Walk& w, const std::string& path, int at,
                                  const std::string& name) {
  Listing listing;
  const int fd = ::openat(at, at == AT_FDCWD ? path.c_str() : name.c_str(),
                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Status::FromErrno(path, errno);
  listing.dir = std::make_shared<DirHandle>(fd);
  // The listing reads through its own descriptor; `fd` stays open for the entries.
  const int listing_fd = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  DIR* d = listing_fd < 0 ? nullptr : ::fdopendir(listing_fd);
  if (!d) {
    const int e = errno;
    if (listing_fd >= 0) ::close(listing_fd);
    return Status::FromErrno(path, e);
  }
  // The entry's type comes from the listing itself: a stat per entry here, on top of the
  // one SaveEntry makes, cost a tenth of a small-file backup's walk.
  while (true) {
    errno = 0;
    const dirent* e = ::readdir(d);
    if (!e) {
      if (errno != 0) w.warnings.push_back(path + ": listing stopped: " + std::strerror(errno));
      break;
    }
    const std::string_view name = e->d_name;
    if (name == "." || name == "..") continue;
    bool is_dir = e->d_type == DT_DIR;
    if (e->d_type == DT_UNKNOWN) {  // file systems that do not record types
      struct stat st {};
      is_dir =
          ::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    (is_dir ? listing.dirs : listing.files).emplace_back(name);
  }
  ::closedir(d);
  std::sort(listing.files.begin(), listing.files.end());
  std::sort(listing.dirs.begin(), listing.dirs.end());
  return listing;
}

Result<std::shared_ptr<std::optional<BlobId>>> Archiver::SaveDir(Walk& w, const std::string& path,
                                                                 const Listing& listing,
                                                                 const Tree* parent) {
  // Files first, subdirectories after: the workers then hash and store this directory's
  // files while the walk is below it, instead of the walk waiting for them at the end.
  PendingDir dir;
  for (const auto* names : {&listing.files, &listing.dirs}) {
    for (const std::string& name : *names) {
      if (failed_) {  // a chunk failed, or the run is being abandoned
        std::lock_guard lock(tasks_mu_);
        return chunk_error_;
      }
      std::string child = path == "/" ? "/" + name : path + "/" + name;
      if (IsExcluded(child, options_.excludes)) continue;
      TESSERA_RETURN_IF_ERROR(SaveEntry(w, child, name, listing.dir->fd, parent, dir));
    }
  }
  // Bounds the memory of queued file nodes and chunk results, not the work in flight
  // (the batch slots do that).
  constexpr size_t kMaxUnfinishedDirs = 256;
  auto tree = dir.tree;
  w.unfinished.push_back(std::move(dir));
  TESSERA_RETURN_IF_ERROR(FinishQueuedDirs(w, kMaxUnfinishedDirs));
  return tree;
}

Result<BlobId> Archiver::SaveVirtual(const std::string& prefix,
                                     const std::vector<std::string>& selected, const Tree* parent) {
  Walk& w = main_walk_;
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
      TESSERA_RETURN_IF_ERROR(SaveEntry(w, full, name, AT_FDCWD, parent, dir));
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
  TESSERA_RETURN_IF_ERROR(FinishQueuedDirs(w, 0));
  return FinishDir(w, dir);
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
    TESSERA_ASSIGN_OR_RETURN(PendingFile f, ChunkFile(main_walk_, STDIN_FILENO, node, false));
    main_walk_.summary.files = 1;
    main_walk_.summary.bytes = f.node.size;
    std::deque<PendingFile> pending;
    pending.push_back(std::move(f));
    std::vector<Node> done;
    TESSERA_ASSIGN_OR_RETURN(root, FinishTree(main_walk_, pending, done));
  } else {
    TESSERA_ASSIGN_OR_RETURN(root, SaveVirtual("/", selected, parent_root.get()));
  }
  TESSERA_RETURN_IF_ERROR(repo_.Flush());
  snap.tree = root;
  MergeWalk(main_walk_);
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
  // A run killed while writing an index object or snapshot may have left it on only some
  // stores; this run builds on it, so it must be readable from any k.
  repo.CompleteInterruptedObjects();
  Archiver archiver(repo, options, progress);
  auto result = archiver.Run();
  // Includes the stores that missed the snapshot object itself, written last.
  if (result.ok()) result->degraded_stores = repo.DegradedStores();
  Status released = lock->Release();
  if (result.ok() && !released.ok()) result->warnings.push_back("lock: " + released.message());
  return result;
}

}  // namespace tessera::vault
