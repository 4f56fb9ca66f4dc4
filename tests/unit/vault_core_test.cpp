// Tests of the vault core: content-defined chunking, the sharded object layer (k-of-n
// round trips from every subset, damaged, swapped and foreign shards), whole backups
// restored bit-exact from every k-subset of stores, confidentiality below k, incremental
// backups, degraded writes, bad input, custodians and concurrent writers.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/memory.hpp"
#include "base/thread_pool.hpp"
#include "crypto/random.hpp"
#include "status_matchers.hpp"
#include "store/faulty_store.hpp"
#include "store/object_store.hpp"
#include "vault/backup.hpp"
#include "vault/chunker.hpp"
#include "vault/compression.hpp"
#include "vault/config.hpp"
#include "vault/keyring.hpp"
#include "vault/keys.hpp"
#include "vault/lock.hpp"
#include "vault/model.hpp"
#include "vault/repository.hpp"
#include "vault/restore.hpp"
#include "vault/sharded_store.hpp"
#include "vault/vault.hpp"

namespace tessera::vault {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// ------------------------------------------------------------------ helpers

// Gives every directory below `p` (and `p`) owner rwx, so that read-only directories made
// by a test do not stop the clean-up when the tests do not run as root.
void MakeWritable(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(p, ec))) return;
  fs::permissions(p, fs::perms::owner_all, fs::perm_options::add, ec);
  for (const auto& e : fs::directory_iterator(p, ec)) MakeWritable(e.path());
}

void RemoveTree(const fs::path& p) {
  MakeWritable(p);
  std::error_code ec;
  fs::remove_all(p, ec);
}

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "vault") {
    std::random_device rd;
    path_ = fs::temp_directory_path() /
            ("tessera-" + tag + "-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(path_);
  }
  ~TempDir() { RemoveTree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Bytes RandomData(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  Bytes out(n);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v = rng();
    std::memcpy(out.data() + i, &v, 8);
  }
  for (; i < n; ++i) out[i] = static_cast<uint8_t>(rng());
  return out;
}

// Compressible text of about `n` bytes in which `marker` appears on every line.
std::string TextWith(const std::string& marker, size_t n) {
  std::string out;
  for (int line = 0; out.size() < n; ++line)
    out +=
        "line " + std::to_string(line) + ": the quarterly figures " + marker + " stay between us\n";
  return out;
}

void WriteBytes(const fs::path& p, ByteView data) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  f.close();
  if (!f) ADD_FAILURE() << "cannot write " << p;
}
void WriteText(const fs::path& p, const std::string& text) {
  WriteBytes(p, AsBytes(text));
}

Bytes Slurp(const fs::path& p) {
  auto r = ReadFile(p);
  if (!r.ok()) {
    ADD_FAILURE() << r.status().ToString();
    return {};
  }
  return std::move(r).value();
}

bool ContainsBytes(const Bytes& hay, ByteView needle) {
  if (needle.empty()) return true;
  return std::search(hay.begin(), hay.end(),
                     std::boyer_moore_horspool_searcher(needle.begin(), needle.end())) != hay.end();
}

void SetTimes(const fs::path& p, int64_t sec, long nsec) {
  struct timespec ts[2] = {{static_cast<time_t>(sec), nsec}, {static_cast<time_t>(sec), nsec}};
  if (::utimensat(AT_FDCWD, p.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0)
    ADD_FAILURE() << "utimensat " << p << ": " << std::strerror(errno);
}

int64_t MtimeNs(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

std::string Octal(unsigned v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", v);
  return buf;
}

std::set<std::string> DirNames(const fs::path& p) {
  std::set<std::string> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(p, ec)) out.insert(e.path().filename().string());
  if (ec) ADD_FAILURE() << "cannot list " << p << ": " << ec.message();
  return out;
}

// Compares `a` (the original) with `b` (its restored copy) entry by entry: type, permission
// bits, mtime to the nanosecond, content, symlink targets, and no entry missing or extra.
void CompareEntry(const fs::path& a, const fs::path& b, const std::string& rel,
                  std::vector<std::string>& diffs) {
  struct stat sa {};
  struct stat sb {};
  if (::lstat(a.c_str(), &sa) != 0) {
    diffs.push_back(rel + ": extra entry in the restored tree");
    return;
  }
  if (::lstat(b.c_str(), &sb) != 0) {
    diffs.push_back(rel + ": not restored");
    return;
  }
  if ((sa.st_mode & S_IFMT) != (sb.st_mode & S_IFMT)) {
    diffs.push_back(rel + ": type differs");
    return;
  }
  if (!S_ISLNK(sa.st_mode) && (sa.st_mode & 07777) != (sb.st_mode & 07777))
    diffs.push_back(rel + ": mode " + Octal(sa.st_mode & 07777) + " restored as " +
                    Octal(sb.st_mode & 07777));
  if (S_ISREG(sa.st_mode)) {
    if (sa.st_size != sb.st_size)
      diffs.push_back(rel + ": size " + std::to_string(sa.st_size) + " restored as " +
                      std::to_string(sb.st_size));
    else if (Slurp(a) != Slurp(b))
      diffs.push_back(rel + ": content differs");
  } else if (S_ISLNK(sa.st_mode)) {
    if (fs::read_symlink(a) != fs::read_symlink(b))
      diffs.push_back(rel + ": link target " + fs::read_symlink(a).string() + " restored as " +
                      fs::read_symlink(b).string());
  } else if (S_ISDIR(sa.st_mode)) {
    std::set<std::string> names = DirNames(a);
    std::set<std::string> restored = DirNames(b);
    names.insert(restored.begin(), restored.end());
    for (const std::string& n : names) CompareEntry(a / n, b / n, rel + "/" + n, diffs);
  }
  if (MtimeNs(sa) != MtimeNs(sb))
    diffs.push_back(rel + ": mtime " + std::to_string(MtimeNs(sa)) + " restored as " +
                    std::to_string(MtimeNs(sb)));
}

std::string JoinLines(const std::vector<std::string>& v, size_t max = 30) {
  std::string out;
  for (size_t i = 0; i < v.size() && i < max; ++i) out += "\n  " + v[i];
  if (v.size() > max) out += "\n  ... and " + std::to_string(v.size() - max) + " more";
  return out;
}

// Every regular file below `root` (relative path to content).
std::map<std::string, Bytes> FilesBelow(const fs::path& root) {
  std::map<std::string, Bytes> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) out[fs::relative(it->path(), root).string()] = Slurp(it->path());
  }
  return out;
}
std::set<std::string> FileNamesBelow(const fs::path& root) {
  std::set<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file()) out.insert(fs::relative(it->path(), root).string());
  }
  return out;
}

// An in-memory ObjectStore whose objects a test can read and replace byte for byte.
class MemStore : public store::ObjectStore {
 public:
  explicit MemStore(std::string url) : url_(std::move(url)) {}
  std::string Url() const override { return url_; }
  Status Put(const std::string& name, ByteView data) override {
    std::lock_guard lock(mu_);
    objects_[name] = Bytes(data.begin(), data.end());
    return Status::Ok();
  }
  Result<Bytes> Get(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(name);
    if (it == objects_.end()) return Status::NotFound(url_ + ": " + name + " not found");
    return it->second;
  }
  Result<uint64_t> Stat(const std::string& name) override {
    std::lock_guard lock(mu_);
    auto it = objects_.find(name);
    if (it == objects_.end()) return Status::NotFound(url_ + ": " + name + " not found");
    return static_cast<uint64_t>(it->second.size());
  }
  Result<std::vector<store::ObjectInfo>> List(const std::string& prefix) override {
    std::lock_guard lock(mu_);
    std::vector<store::ObjectInfo> out;
    for (auto it = objects_.lower_bound(prefix); it != objects_.end(); ++it) {
      if (!it->first.starts_with(prefix)) break;
      out.push_back({it->first, it->second.size()});
    }
    return out;
  }
  Status Delete(const std::string& name) override {
    std::lock_guard lock(mu_);
    objects_.erase(name);
    return Status::Ok();
  }
  Status Ping() override { return Status::Ok(); }
  Status Create() override { return Status::Ok(); }

  Bytes Raw(const std::string& name) {
    std::lock_guard lock(mu_);
    return objects_.at(name);
  }
  void Set(const std::string& name, Bytes data) {
    std::lock_guard lock(mu_);
    objects_[name] = std::move(data);
  }

 private:
  std::string url_;
  std::mutex mu_;
  std::map<std::string, Bytes> objects_;
};

// A vault over file:// stores in a temporary directory, with its local state there too.
class VaultEnv {
 public:
  explicit VaultEnv(const std::string& tag = "vault") : tmp_(tag) {
    ctx.home = (tmp_.path() / "home").string();
    ctx.threads = 2;
  }
  fs::path root() const { return tmp_.path(); }
  fs::path StoreDir(int i) const { return tmp_.path() / ("store" + std::to_string(i)); }
  fs::path Source(const std::string& name = "src") const { return tmp_.path() / name; }

  Status Init(int k, int n, InitOptions options = {}) {
    urls.clear();
    for (int i = 0; i < n; ++i) urls.push_back("file://" + StoreDir(i).string());
    options.stores = urls;
    options.threshold = k;
    auto r = InitVault(ctx, options);
    if (!r.ok()) return r.status();
    init = std::move(*r);
    return Status::Ok();
  }
  Result<std::unique_ptr<Repository>> Open(std::vector<int> only = {}) const {
    return OpenVault(ctx, OpenOptions{std::move(only)});
  }
  SecretBytes Master() const {
    auto key = ReadKeyFile(ctx.KeyPath(), init.config.vault_id, ctx.passphrase);
    EXPECT_TRUE(key.ok()) << key.status().ToString();
    return key.ok() ? key->master : SecretBytes();
  }
  StoreDescriptor Descriptor(int i) const {
    auto d = ParseDescriptor(Slurp(StoreDir(i) / kDescriptorName));
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? *d : StoreDescriptor{};
  }
  // A VaultContext for the same vault name in another (fresh) home.
  VaultContext OtherHome(const std::string& name) const {
    VaultContext c = ctx;
    c.home = (tmp_.path() / name).string();
    return c;
  }

  VaultContext ctx;
  std::vector<std::string> urls;
  InitResult init;

 private:
  TempDir tmp_;
};

Result<BackupResult> BackupPaths(Repository& repo, std::vector<std::string> paths,
                                 BackupOptions options = {}) {
  options.paths = std::move(paths);
  return Backup(repo, options, nullptr);
}

// Backs `src` up once through a repository opened (and closed again) for it; returns the
// new snapshot's id.
Result<std::string> BackupOnce(const VaultEnv& env, const fs::path& src) {
  TESSERA_ASSIGN_OR_RETURN(auto repo, env.Open());
  TESSERA_ASSIGN_OR_RETURN(BackupResult r, BackupPaths(*repo, {src.string()}));
  return r.snapshot.id;
}

// Restores snapshot `id` into `target` (removed afterwards) and lists how the restored
// copy of `source` differs from it. Restore warnings count as differences.
std::vector<std::string> RestoreAndCompare(Repository& repo, const std::string& id,
                                           const fs::path& source, const fs::path& target) {
  auto snap = repo.FindSnapshot(id);
  if (!snap.ok()) return {"FindSnapshot: " + snap.status().ToString()};
  RestoreOptions ro;
  ro.target = target.string();
  auto stats = Restore(repo, *snap, ro, nullptr);
  if (!stats.ok()) {
    RemoveTree(target);
    return {"Restore: " + stats.status().ToString()};
  }
  std::vector<std::string> diffs;
  for (const std::string& w : stats->warnings) diffs.push_back("restore warning: " + w);
  CompareEntry(source, target / source.relative_path(), source.filename().string(), diffs);
  RemoveTree(target);
  return diffs;
}

// Expects snapshot ID of REPO to restore into DIR as an exact copy of SRC.
#define EXPECT_RESTORES_IDENTICAL(repo, id, src, dir)                                     \
  do {                                                                                    \
    const std::vector<std::string> restore_diffs = RestoreAndCompare(repo, id, src, dir); \
    EXPECT_TRUE(restore_diffs.empty()) << JoinLines(restore_diffs);                       \
  } while (0)

size_t CountSnapshots(const VaultEnv& env) {
  auto repo = env.Open();
  EXPECT_TRUE(repo.ok()) << repo.status().ToString();
  if (!repo.ok()) return 0;
  auto snaps = (*repo)->ListSnapshots();
  EXPECT_TRUE(snaps.ok()) << snaps.status().ToString();
  return snaps.ok() ? snaps->size() : 0;
}

// A small tree of a few MiB: a directory of files, one nested.
void MakeSmallTree(const fs::path& root, uint64_t seed, size_t files = 6, size_t size = 300000) {
  fs::create_directories(root / "sub");
  for (size_t i = 0; i < files; ++i)
    WriteBytes(root / ("file" + std::to_string(i) + ".bin"), RandomData(size + i, seed + i));
  WriteText(root / "sub" / "note.txt", TextWith("small tree " + std::to_string(seed), 20000));
}

// ------------------------------------------------------------------ chunker

std::vector<size_t> ChunkSizes(const Chunker& chunker, ByteView data) {
  std::vector<size_t> sizes;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t n = chunker.Cut(data.data() + pos, data.size() - pos);
    if (n == 0 || n > data.size() - pos) {
      ADD_FAILURE() << "Cut returned " << n << " with " << data.size() - pos << " bytes left";
      break;
    }
    sizes.push_back(n);
    pos += n;
  }
  return sizes;
}

std::vector<size_t> Offsets(const std::vector<size_t>& sizes) {
  std::vector<size_t> out;
  size_t pos = 0;
  for (size_t s : sizes) {
    out.push_back(pos);
    pos += s;
  }
  return out;
}

uint64_t ChunkHash(ByteView data, size_t offset, size_t size) {
  return std::hash<std::string_view>{}(AsString(data.subspan(offset, size)));
}

const ChunkerParams kSmallChunks{16 * 1024, 64 * 1024, 256 * 1024};

TEST(Chunker, DeterministicAndWithinBounds) {
  const SecretBytes master(RandomData(kMasterKeySize, 1));
  VaultKeys keys(master);
  VaultKeys same_keys(master);
  const Bytes data = RandomData(20 * 1024 * 1024, 2);
  for (const ChunkerParams& p : {ChunkerParams{}, kSmallChunks}) {
    SCOPED_TRACE("min " + std::to_string(p.min_size) + " avg " + std::to_string(p.avg_size));
    Chunker chunker(keys.gear(), p);
    std::vector<size_t> sizes = ChunkSizes(chunker, data);
    EXPECT_EQ(sizes, ChunkSizes(chunker, data));
    EXPECT_EQ(sizes, ChunkSizes(Chunker(same_keys.gear(), p), data));
    ASSERT_FALSE(sizes.empty());
    size_t total = 0, at_max = 0;
    for (size_t i = 0; i < sizes.size(); ++i) {
      total += sizes[i];
      EXPECT_LE(sizes[i], p.max_size) << "chunk " << i;
      if (i + 1 < sizes.size()) {
        EXPECT_GE(sizes[i], p.min_size) << "chunk " << i;
      }
      if (sizes[i] == p.max_size) at_max++;
    }
    EXPECT_EQ(total, data.size());
    // Cuts come from the content, not from the size limit.
    EXPECT_LE(at_max * 10, sizes.size()) << at_max << " of " << sizes.size() << " chunks at max";
    double mean = static_cast<double>(total) / static_cast<double>(sizes.size());
    EXPECT_GE(mean, static_cast<double>(p.min_size));
    EXPECT_LE(mean, 2.0 * static_cast<double>(p.avg_size));
    // Cut only looks ahead: chunking a suffix that starts at a boundary gives the same rest.
    std::vector<size_t> offsets = Offsets(sizes);
    size_t from = offsets[offsets.size() / 2];
    std::vector<size_t> tail = ChunkSizes(chunker, ByteView(data).subspan(from));
    EXPECT_TRUE(
        std::equal(tail.begin(), tail.end(), sizes.begin() + offsets.size() / 2, sizes.end()));
  }
}

TEST(Chunker, ShortAndUniformInputs) {
  const SecretBytes master(RandomData(kMasterKeySize, 3));
  VaultKeys keys(master);
  Chunker chunker(keys.gear(), ChunkerParams{});
  const ChunkerParams& p = chunker.params();
  Bytes data = RandomData(p.max_size * 2, 4);
  // Up to min_size, the input is one chunk.
  for (size_t len : {size_t{1}, size_t{4095}, p.min_size - 1, p.min_size})
    EXPECT_EQ(chunker.Cut(data.data(), len), len) << len;
  EXPECT_EQ(chunker.Cut(data.data(), p.min_size + 1), p.min_size + 1);
  // Never more than max_size, whatever follows.
  EXPECT_LE(chunker.Cut(data.data(), data.size()), p.max_size);
  // Uniform data has no content to cut at: chunks of max_size, deterministically.
  Bytes zeros(20 * 1024 * 1024, 0);
  std::vector<size_t> sizes = ChunkSizes(chunker, zeros);
  for (size_t s : sizes) EXPECT_LE(s, p.max_size);
  EXPECT_EQ(sizes, ChunkSizes(chunker, zeros));
}

// Inserts (or with negative `delta` deletes) bytes at `pos` and checks that every chunk of
// the result that is not a chunk of the original lies within max_size of the edit, and that
// only a few chunks changed.
void CheckLocalEdit(const Chunker& chunker, const Bytes& original, size_t pos, long delta,
                    size_t max_changed) {
  SCOPED_TRACE("edit at " + std::to_string(pos) + " of " + std::to_string(delta) + " bytes");
  Bytes edited = original;
  if (delta > 0) {
    Bytes ins = RandomData(static_cast<size_t>(delta), pos);
    edited.insert(edited.begin() + static_cast<long>(pos), ins.begin(), ins.end());
  } else {
    edited.erase(edited.begin() + static_cast<long>(pos),
                 edited.begin() + static_cast<long>(pos) - delta);
  }
  std::vector<size_t> old_sizes = ChunkSizes(chunker, original);
  std::vector<size_t> old_offsets = Offsets(old_sizes);
  std::unordered_multiset<uint64_t> old_ids;
  for (size_t i = 0; i < old_sizes.size(); ++i)
    old_ids.insert(ChunkHash(original, old_offsets[i], old_sizes[i]));
  std::vector<size_t> sizes = ChunkSizes(chunker, edited);
  std::vector<size_t> offsets = Offsets(sizes);
  const size_t max = chunker.params().max_size;
  const size_t lo = pos > max ? pos - max : 0;
  const size_t hi = pos + static_cast<size_t>(std::max(delta, 0L)) + max;
  size_t changed = 0;
  for (size_t i = 0; i < sizes.size(); ++i) {
    if (old_ids.count(ChunkHash(edited, offsets[i], sizes[i]))) continue;
    ++changed;
    EXPECT_TRUE(offsets[i] + sizes[i] > lo && offsets[i] < hi)
        << "chunk [" << offsets[i] << ", " << offsets[i] + sizes[i]
        << ") changed far from the edit";
  }
  EXPECT_GE(changed, 1u);
  EXPECT_LE(changed, max_changed) << "of " << sizes.size() << " chunks";
  EXPECT_LE(changed * 2, sizes.size()) << "most chunks must stay the same";
  EXPECT_GE(sizes.size(), 10u);
}

TEST(Chunker, InsertionChangesOnlyNearbyChunks) {
  const SecretBytes master(RandomData(kMasterKeySize, 5));
  VaultKeys keys(master);
  const Bytes data = RandomData(20 * 1024 * 1024, 6);
  const size_t middle = data.size() / 2 + 12345;
  {
    Chunker chunker(keys.gear(), ChunkerParams{});
    // A small edit changes the one chunk it falls in (or two); a large insertion its own
    // chunk and a few after it until the cuts fall together again (at most 4 in 40 trials).
    CheckLocalEdit(chunker, data, middle, 1, 2);
    CheckLocalEdit(chunker, data, middle, 100 * 1024, 6);
    CheckLocalEdit(chunker, data, middle, -1000, 2);
  }
  {
    Chunker chunker(keys.gear(), kSmallChunks);
    CheckLocalEdit(chunker, data, middle, 1, 2);
    CheckLocalEdit(chunker, data, middle, 7, 2);
    CheckLocalEdit(chunker, data, 1000, 5000, 4);
    CheckLocalEdit(chunker, data, data.size() - 5000, -3000, 4);
  }
}

TEST(Chunker, BoundariesDependOnTheKey) {
  const SecretBytes master1(RandomData(kMasterKeySize, 7));
  const SecretBytes master2(RandomData(kMasterKeySize, 8));
  VaultKeys k1(master1), k2(master2);
  EXPECT_NE(k1.gear(), k2.gear());
  const Bytes data = RandomData(20 * 1024 * 1024, 9);
  for (const ChunkerParams& p : {ChunkerParams{}, kSmallChunks}) {
    std::vector<size_t> s1 = ChunkSizes(Chunker(k1.gear(), p), data);
    std::vector<size_t> s2 = ChunkSizes(Chunker(k2.gear(), p), data);
    EXPECT_NE(s1, s2);
    std::vector<size_t> o1 = Offsets(s1), o2 = Offsets(s2);
    std::set<size_t> a(o1.begin() + 1, o1.end()), b(o2.begin() + 1, o2.end());
    size_t common = 0;
    for (size_t x : a) common += b.count(x);
    EXPECT_LE(common * 4, std::min(a.size(), b.size()))
        << common << " common boundaries of " << a.size() << " and " << b.size();
  }
}

// ------------------------------------------------------------------ sharded store

// A ShardedStore's surroundings: keys, vault id, io pool and n in-memory stores.
class ShardRig {
 public:
  ShardRig(int k, int n, Bytes vault_id = crypto::RandomBytes(kVaultIdSize))
      : k_(k),
        n_(n),
        vault_id_(std::move(vault_id)),
        master_(crypto::RandomBytes(kMasterKeySize)),
        keys_(master_),
        io_(4) {
    for (int i = 0; i < n; ++i)
      mem_.push_back(std::make_shared<MemStore>("mem://" + std::to_string(i)));
  }
  // Over the stores whose bit is set in `mask`; the others are null.
  std::unique_ptr<ShardedStore> Open(uint32_t mask = ~0u, int min_write = 0) {
    std::vector<std::shared_ptr<store::ObjectStore>> s(static_cast<size_t>(n_));
    for (int i = 0; i < n_; ++i)
      if ((mask >> i) & 1u) s[static_cast<size_t>(i)] = mem_[static_cast<size_t>(i)];
    return OpenWith(std::move(s), min_write);
  }
  std::unique_ptr<ShardedStore> OpenWith(std::vector<std::shared_ptr<store::ObjectStore>> s,
                                         int min_write = 0) {
    return std::make_unique<ShardedStore>(vault_id_, k_, n_, min_write > 0 ? min_write : n_,
                                          std::move(s), keys_, io_);
  }
  MemStore& mem(int i) { return *mem_[static_cast<size_t>(i)]; }
  std::shared_ptr<MemStore> shared(int i) { return mem_[static_cast<size_t>(i)]; }
  const Bytes& vault_id() const { return vault_id_; }
  const VaultKeys& keys() const { return keys_; }

 private:
  int k_, n_;
  Bytes vault_id_;
  SecretBytes master_;
  VaultKeys keys_;
  ThreadPool io_;
  std::vector<std::shared_ptr<MemStore>> mem_;
};

uint64_t Binomial(int n, int k) {
  uint64_t r = 1;
  for (int i = 1; i <= k; ++i) r = r * static_cast<uint64_t>(n - k + i) / static_cast<uint64_t>(i);
  return r;
}

TEST(ShardedStore, RoundTripFromEveryKSubset) {
  const std::vector<std::pair<int, int>> geometries = {{1, 1}, {1, 3}, {2, 3},
                                                       {3, 5}, {5, 8}, {10, 16}};
  for (auto [k, n] : geometries) {
    SCOPED_TRACE(std::to_string(k) + "-of-" + std::to_string(n));
    ShardRig rig(k, n);
    auto all = rig.Open();
    const std::string text = TextWith("shard text", 300000);
    const std::map<std::string, std::pair<Bytes, bool>> objects = {
        {"empty", {Bytes{}, true}},
        {"one", {Bytes{0x42}, false}},
        {"small", {RandomData(5000, static_cast<uint64_t>(k * 100 + n)), true}},
        {"odd/size", {RandomData(4096 * static_cast<size_t>(k) + 3, 7), false}},
        {"text", {ToBytes(text), true}},
        {"data/ab/big", {RandomData(1 << 20, 9), false}},
    };
    for (const auto& [name, obj] : objects) {
      auto put = all->Put(name, obj.first, obj.second);
      ASSERT_OK(put);
      EXPECT_TRUE(put->failed_stores.empty());
      for (int i = 0; i < n; ++i) {
        auto shard = rig.mem(i).Get(name);
        ASSERT_OK(shard);
        EXPECT_OK(all->CheckShard(name, *shard, i));
      }
      auto got = all->Get(name);
      ASSERT_OK(got);
      EXPECT_TRUE(*got == obj.first) << name;
    }
    // The compressible object is stored compressed: every shard is smaller than text / k.
    EXPECT_LT(rig.mem(0).Raw("text").size(), text.size() / static_cast<size_t>(k) / 2);

    const uint32_t last_k = ((1u << k) - 1) << (n - k);  // parity-heavy: only the last k stores
    const uint64_t subsets = Binomial(n, k);
    const uint64_t big_stride = std::max<uint64_t>(1, subsets / 12);
    uint64_t seen = 0, short_seen = 0;
    const uint64_t short_stride = std::max<uint64_t>(1, Binomial(n, k - 1) / 200);
    for (uint32_t mask = 0; mask < (1u << n); ++mask) {
      int bits = std::popcount(mask);
      if (bits == k) {
        auto s = rig.Open(mask);
        bool big = seen % big_stride == 0 || mask == last_k;
        for (const auto& [name, obj] : objects) {
          if (!big && name != "empty" && name != "one" && name != "small") continue;
          auto got = s->Get(name);
          ASSERT_TRUE(got.ok()) << got.status().ToString() << " stores mask " << mask;
          ASSERT_TRUE(*got == obj.first) << name << " from stores mask " << mask;
        }
        ++seen;
      } else if (bits == k - 1 && short_seen++ % short_stride == 0) {
        auto s = rig.Open(mask);
        auto got = s->Get("small");
        EXPECT_FALSE(got.ok()) << "read with only " << bits << " stores, mask " << mask;
        EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().ToString();
      }
    }
    EXPECT_EQ(seen, subsets);
    // An object no store has is NotFound, with all stores or k of them.
    EXPECT_EQ(all->Get("missing").status().code(), StatusCode::kNotFound);
    EXPECT_EQ(rig.Open((1u << k) - 1)->Get("missing").status().code(), StatusCode::kNotFound);
  }
}

TEST(ShardedStore, DamagedShardsAreSkipped) {
  ShardRig rig(3, 5);
  auto s = rig.Open();
  const Bytes data = RandomData(100000, 1);
  ASSERT_OK(s->Put("index/obj", data, false));
  std::vector<Bytes> pristine;
  for (int i = 0; i < 5; ++i) pristine.push_back(rig.mem(i).Raw("index/obj"));
  const size_t size = pristine[0].size();
  // One damaged byte in any shard, anywhere in the file (version, geometry, vault id, name
  // hash, lengths, reserved, nonce, payload, MAC): the shard is refused and the object
  // still reads.
  for (int i = 0; i < 5; ++i) {
    for (size_t pos :
         {size_t{4}, size_t{6}, size_t{9}, size_t{30}, size_t{41}, size_t{49}, size_t{53},
          size_t{57}, size_t{71}, kShardHeaderSize + 7, size / 2, size - 1}) {
      Bytes bad = pristine[static_cast<size_t>(i)];
      bad[pos] ^= 0x01;
      rig.mem(i).Set("index/obj", bad);
      auto check = s->CheckShard("index/obj", bad, i);
      EXPECT_FALSE(check.ok()) << "store " << i << " byte " << pos;
      auto got = s->Get("index/obj");
      ASSERT_TRUE(got.ok()) << got.status().ToString() << " store " << i << " byte " << pos;
      EXPECT_TRUE(*got == data);
    }
    rig.mem(i).Set("index/obj", pristine[static_cast<size_t>(i)]);
  }
  EXPECT_THAT(s->CheckShard("index/obj", Bytes(pristine[0].begin(), pristine[0].end() - 1), 0)
                  .status()
                  .message(),
              HasSubstr("truncated"));
  Bytes flipped = pristine[2];
  flipped[size / 2] ^= 0x80;
  EXPECT_THAT(s->CheckShard("index/obj", flipped, 2).status().message(),
              HasSubstr("authentication"));
  // n-k damaged shards (any two) are tolerated; n-k+1 are not, and nothing wrong comes back.
  for (uint32_t mask = 0; mask < 32; ++mask) {
    int bad = std::popcount(mask);
    if (bad < 2 || bad > 3) continue;
    for (int i = 0; i < 5; ++i) {
      Bytes b = pristine[static_cast<size_t>(i)];
      if ((mask >> i) & 1u) b[kShardHeaderSize + static_cast<size_t>(i) * 13] ^= 0x10;
      rig.mem(i).Set("index/obj", b);
    }
    auto got = rig.Open()->Get("index/obj");
    if (bad == 2) {
      ASSERT_TRUE(got.ok()) << got.status().ToString() << " damaged mask " << mask;
      EXPECT_TRUE(*got == data);
    } else {
      EXPECT_FALSE(got.ok()) << "damaged mask " << mask;
      EXPECT_TRUE(got.status().code() == StatusCode::kCorruption ||
                  got.status().code() == StatusCode::kUnavailable)
          << got.status().ToString();
    }
  }
  for (int i = 0; i < 5; ++i) rig.mem(i).Set("index/obj", pristine[static_cast<size_t>(i)]);
  // A disk that returns a bad byte on every read (FaultyStore) is survived the same way.
  std::vector<std::shared_ptr<store::ObjectStore>> stores;
  std::shared_ptr<store::FaultyStore> faulty;
  for (int i = 0; i < 5; ++i) {
    if (i == 1) {
      faulty = std::make_shared<store::FaultyStore>(rig.shared(i));
      faulty->SetCorruptGets(true);
      stores.push_back(faulty);
    } else {
      stores.push_back(rig.shared(i));
    }
  }
  auto with_bad_disk = rig.OpenWith(stores);
  auto got = with_bad_disk->Get("index/obj");
  ASSERT_OK(got);
  EXPECT_TRUE(*got == data);
  EXPECT_GE(faulty->counts().injected_failures, 1u);
  EXPECT_TRUE(with_bad_disk->DownStores().empty());
}

// A shard file in format version 1 (56-byte header, HMAC-SHA-256 over header, object name
// and payload), made from a current file's payload the way tessera 0.1 wrote it.
Bytes FormatOneShard(const VaultKeys& keys, const std::string& name, ByteView current) {
  Bytes file(current.begin(), current.begin() + kShardHeaderSizeV1);
  file[4] = 1;
  ByteView payload = current.subspan(kShardHeaderSize, current.size() - kShardOverhead);
  file.insert(file.end(), payload.begin(), payload.end());
  Bytes mac =
      keys.shard_mac_v1().Mac({ByteView(file).first(kShardHeaderSizeV1), AsBytes(name), payload});
  file.insert(file.end(), mac.begin(), mac.end());
  return file;
}

TEST(ShardedStore, ReadsFormatOneShards) {
  ShardRig rig(3, 5);
  auto s = rig.Open();
  const Bytes data = RandomData(70001, 4);
  ASSERT_OK(s->Put("index/old", data, true));
  std::vector<Bytes> old_files;
  for (int i = 0; i < 5; ++i) {
    Bytes current = rig.mem(i).Raw("index/old");
    ASSERT_EQ(current[4], kShardVersion);
    old_files.push_back(FormatOneShard(rig.keys(), "index/old", current));
    EXPECT_EQ(old_files.back().size(), current.size());
  }
  // Stores 0 and 3 hold format-1 shards, the others format 2: any k of them decode.
  for (int i : {0, 3}) rig.mem(i).Set("index/old", old_files[static_cast<size_t>(i)]);
  for (uint32_t mask : {0b00111u, 0b01001u | 0b00010u, 0b11000u | 0b00001u, 0b11111u}) {
    auto got = rig.Open(mask)->Get("index/old");
    ASSERT_TRUE(got.ok()) << got.status().ToString() << " mask " << mask;
    EXPECT_TRUE(*got == data);
  }
  auto check = s->CheckShard("index/old", old_files[0], 0);
  ASSERT_OK(check);
  EXPECT_EQ(check->version, 1);
  // Format 1 is authenticated as before: a flipped payload byte or MAC byte is refused.
  for (size_t pos : {size_t{60}, old_files[0].size() - 1}) {
    Bytes bad = old_files[0];
    bad[pos] ^= 0x04;
    EXPECT_THAT(s->CheckShard("index/old", bad, 0).status().message(), HasSubstr("authentication"));
  }
  // A format-1 shard relabelled as format 2 (or the reverse) does not authenticate.
  Bytes relabelled = old_files[0];
  relabelled[4] = 2;
  EXPECT_FALSE(s->CheckShard("index/old", relabelled, 0).ok());
  // Rebuilding a shard writes the current format, and it agrees with the old ones.
  auto rebuilt = s->RebuildShardFiles("index/old", {1});
  ASSERT_OK(rebuilt);
  EXPECT_EQ((*rebuilt)[0][4], kShardVersion);
  rig.mem(1).Set("index/old", (*rebuilt)[0]);
  auto mixed = rig.Open(0b01011u)->Get("index/old");
  ASSERT_OK(mixed);
  EXPECT_TRUE(*mixed == data);
}

TEST(ShardedStore, EveryShardFileHasItsOwnNonce) {
  ShardRig rig(2, 4);
  auto s = rig.Open();
  const Bytes data = RandomData(1000, 5);
  std::set<Bytes> nonces;
  for (int round = 0; round < 3; ++round) {
    ASSERT_OK(s->Put("locks/same-name", data, false));
    for (int i = 0; i < 4; ++i) {
      Bytes f = rig.mem(i).Raw("locks/same-name");
      nonces.insert(Bytes(f.begin() + kShardHeaderSizeV1, f.begin() + kShardHeaderSize));
    }
  }
  // The same object rewritten under the same name never reuses a shard key.
  EXPECT_EQ(nonces.size(), 12u);
}

// Shard files are built in memory that is not zeroed first: every byte must be one the
// format defines, never left-over heap contents.
TEST(ShardedStore, EveryByteOfAShardFileIsDefined) {
  ShardRig rig(3, 5);
  auto s = rig.Open();
  auto rs = erasure::ReedSolomon::Create(3, 5).value();
  for (size_t size : {size_t{2}, size_t{1001}, size_t{3 << 20} + 7}) {  // sealed: not k-divisible
    SCOPED_TRACE(size);
    {
      // Leaves the free heap full of a marker for the encoder's buffer to come from (the
      // small sizes do; large buffers are fresh zeroed pages from the kernel).
      std::vector<Bytes> poison;
      for (int i = 0; i < 64; ++i) poison.emplace_back(32 * 1024, 0xA5);
      asm volatile("" : : "r"(poison.data()) : "memory");  // keeps the fill
    }
    const std::string name = "data/ab/obj" + std::to_string(size);
    auto files = s->EncodeShardFiles(name, RandomData(size, 9), false);
    ASSERT_OK(files);
    ASSERT_EQ(files->size(), 5u);
    uint64_t sealed_size = 0;
    size_t shard_size = 0;
    erasure::ReedSolomon::ShardViews payloads(5);
    for (size_t i = 0; i < 5; ++i) {
      ByteView f = (*files)[i];
      auto h = s->CheckShard(name, f, static_cast<int>(i));
      ASSERT_OK(h);
      sealed_size = h->sealed_size;
      shard_size = h->shard_size;
      EXPECT_EQ(GetU32(f.data() + 52), 0u);  // the reserved header field
      payloads[i] = f.subspan(kShardHeaderSize, shard_size);
    }
    // The last data shard's padding is zeros, and the parity is exactly what the data
    // shards code to.
    const size_t used = static_cast<size_t>(sealed_size) - 2 * shard_size;
    EXPECT_TRUE(std::all_of(payloads[2]->begin() + static_cast<std::ptrdiff_t>(used),
                            payloads[2]->end(), [](uint8_t b) { return b == 0; }));
    erasure::ReedSolomon::ShardViews data_only = {payloads[0], payloads[1], payloads[2],
                                                  std::nullopt, std::nullopt};
    auto parity = rs.Reconstruct(data_only, {3, 4});
    ASSERT_OK(parity);
    for (size_t p = 0; p < 2; ++p)
      EXPECT_TRUE(std::equal((*parity)[p].begin(), (*parity)[p].end(), payloads[3 + p]->begin(),
                             payloads[3 + p]->end()));
  }
}

TEST(ShardedStore, SwappedObjectIsDetected) {
  ShardRig rig(3, 5);
  auto s = rig.Open();
  const std::string a = "snapshots/aaaa", b = "snapshots/bbbb";
  const Bytes da = RandomData(50000, 1), db = RandomData(50000, 2);
  ASSERT_OK(s->Put(a, da, true));
  ASSERT_OK(s->Put(b, db, true));
  // Store 0 holds A's shard under B's name (same size, so only the name tells).
  rig.mem(0).Set(b, rig.mem(0).Raw(a));
  auto check = s->CheckShard(b, rig.mem(0).Raw(b), 0);
  ASSERT_FALSE(check.ok());
  EXPECT_EQ(check.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(check.status().message(), HasSubstr("different object"));
  auto got = s->Get(b);
  ASSERT_OK(got);
  EXPECT_TRUE(*got == db);
  // Every store swapped: B must never read back as A.
  for (int i = 0; i < 5; ++i) rig.mem(i).Set(b, rig.mem(i).Raw(a));
  got = rig.Open()->Get(b);
  EXPECT_FALSE(got.ok());
  if (got.ok()) {
    EXPECT_FALSE(*got == da) << "object B read back with the content of A";
  }
  // A shard moved to another slot is named as such.
  auto slot = s->CheckShard(a, rig.mem(1).Raw(a), 0);
  ASSERT_FALSE(slot.ok());
  EXPECT_THAT(slot.status().message(), HasSubstr("slot"));
}

TEST(ShardedStore, ShardOfAnotherVaultIsDetected) {
  ShardRig ours(3, 5), theirs(3, 5);
  const Bytes mine = RandomData(40000, 1), other = RandomData(40000, 2);
  ASSERT_OK(ours.Open()->Put("config", mine, true));
  ASSERT_OK(theirs.Open()->Put("config", other, true));
  auto s = ours.Open();
  ours.mem(2).Set("config", theirs.mem(2).Raw("config"));
  auto check = s->CheckShard("config", ours.mem(2).Raw("config"), 2);
  ASSERT_FALSE(check.ok());
  EXPECT_THAT(check.status().message(), HasSubstr("another vault"));
  auto got = s->Get("config");
  ASSERT_OK(got);
  EXPECT_TRUE(*got == mine);
  // A vault with the same id but another key (a forged shard) fails authentication.
  ShardRig forger(3, 5, ours.vault_id());
  ASSERT_OK(forger.Open()->Put("config", other, true));
  auto forged = s->CheckShard("config", forger.mem(3).Raw("config"), 3);
  ASSERT_FALSE(forged.ok());
  EXPECT_THAT(forged.status().message(), HasSubstr("authentication"));
  // All shards foreign: an error, never the other vault's data.
  for (int i = 0; i < 5; ++i) ours.mem(i).Set("config", theirs.mem(i).Raw("config"));
  got = ours.Open()->Get("config");
  EXPECT_FALSE(got.ok());
  if (got.ok()) {
    EXPECT_FALSE(*got == other);
  }
}

TEST(ShardedStore, WritesNeedMinWriteStores) {
  ShardRig rig(3, 5);
  const Bytes data = RandomData(30000, 3);
  // min_write 4: one store missing is a degraded write, two are a failed one.
  auto one_missing = rig.Open(0b11101, 4)->Put("a", data, true);
  ASSERT_OK(one_missing);
  EXPECT_EQ(one_missing->failed_stores, std::vector<int>{1});
  EXPECT_FALSE(rig.mem(1).Stat("a").ok());
  auto two_missing = rig.Open(0b11100, 4)->Put("b", data, true);
  ASSERT_FALSE(two_missing.ok());
  EXPECT_EQ(two_missing.status().code(), StatusCode::kUnavailable);
  // An unreachable store is marked down after its first failure and not asked again.
  std::vector<std::shared_ptr<store::ObjectStore>> stores;
  auto faulty = std::make_shared<store::FaultyStore>(rig.shared(3));
  for (int i = 0; i < 5; ++i)
    stores.push_back(i == 3 ? std::shared_ptr<store::ObjectStore>(faulty) : rig.shared(i));
  faulty->SetUnreachable(true);
  auto s = rig.OpenWith(stores, 4);
  auto first = s->Put("c", data, true);
  ASSERT_OK(first);
  EXPECT_EQ(first->failed_stores, std::vector<int>{3});
  EXPECT_TRUE(s->IsDown(3));
  ASSERT_EQ(s->DownStores().size(), 1u);
  EXPECT_EQ(s->DownStores()[0].first, 3);
  auto second = s->Put("d", data, true);
  ASSERT_OK(second);
  EXPECT_EQ(second->failed_stores, std::vector<int>{3});
  EXPECT_EQ(faulty->counts().put, 1u);
  auto got = s->Get("d");
  ASSERT_OK(got);
  EXPECT_TRUE(*got == data);
}

// ------------------------------------------------------------------ split backups

// A tree with every kind of entry and metadata a restore must reproduce.
void MakeRichTree(const fs::path& root, size_t big_size) {
  const size_t min_chunk = ChunkerParams{}.min_size;
  fs::create_directories(root / "nested/a/b/c");
  fs::create_directories(root / "nested/a/b/empty");
  fs::create_directories(root / "empty_dir");
  fs::create_directories(root / "目录 二");
  fs::create_directories(root / "ro_dir");
  fs::create_directories(root / "private_dir");
  WriteBytes(root / "zero.bin", {});
  WriteBytes(root / "min_chunk.bin", RandomData(min_chunk, 11));
  WriteBytes(root / "min_chunk_plus_one.bin", RandomData(min_chunk + 1, 12));
  WriteBytes(root / "big.bin", RandomData(big_size, 13));
  WriteText(root / "with space.txt", "a file name with spaces\n");
  WriteText(root / "例如 公文.txt", "公文内容：第一条，第二条。\n");
  WriteText(root / "目录 二" / "文件.md", "# 标题\n正文\n");
  WriteText(root / "nested/a/b/c/deep.txt", TextWith("deep", 70000));
  WriteText(root / "exec.sh", "#!/bin/sh\necho hello\n");
  WriteText(root / "private.txt", "only me\n");
  WriteText(root / "readonly.txt", "do not touch\n");
  WriteText(root / "group.txt", "group readable\n");
  WriteText(root / "ro_dir/inside.txt", "inside a read-only directory\n");
  WriteText(root / "private_dir/secret.txt", "secret\n");
  fs::create_symlink("nested/a/b/c/deep.txt", root / "link_rel");
  fs::create_symlink("/etc/hostname", root / "link_abs");
  fs::create_symlink("does/not/exist", root / "dangling");
  fs::create_directory_symlink("nested", root / "link_dir");
  fs::create_symlink("例如 公文.txt", root / "链接 to 公文");
  // Names in Big5 (公文, 函): bytes that are not UTF-8, as on an old Windows share.
  const std::string big5_dir = "\xA4\xBD\xA4\xE5", big5_file = "\xA8\xE7.txt";
  fs::create_directories(root / big5_dir);
  WriteText(root / big5_dir / big5_file, "Big5 name\n");
  fs::create_symlink(big5_dir + "/" + big5_file, root / ("to " + big5_file));
  auto mode = [&](const char* rel, fs::perms p) { fs::permissions(root / rel, p); };
  mode("exec.sh", static_cast<fs::perms>(0755));
  mode("private.txt", static_cast<fs::perms>(0600));
  mode("readonly.txt", static_cast<fs::perms>(0444));
  mode("group.txt", static_cast<fs::perms>(0640));
  mode("empty_dir", static_cast<fs::perms>(0700));
  mode("private_dir", static_cast<fs::perms>(0750));
  mode("nested/a", static_cast<fs::perms>(0711));
  mode("ro_dir", static_cast<fs::perms>(0555));
  // Distinct times with nanoseconds on everything, the root last.
  std::vector<fs::path> all;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it)
    all.push_back(it->path());
  std::sort(all.begin(), all.end());
  int64_t i = 0;
  for (const fs::path& p : all) {
    SetTimes(p, 1500000000 + i * 1000, static_cast<long>((123456789 + i * 7919) % 1000000000));
    ++i;
  }
  SetTimes(root, 1700000000, 987654321);
}

struct TreeCounts {
  uint64_t files = 0, dirs = 0, symlinks = 0, bytes = 0;
};
TreeCounts CountTree(const fs::path& root) {
  TreeCounts c;
  c.dirs = 1;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->is_symlink()) {
      c.symlinks++;
    } else if (it->is_directory()) {
      c.dirs++;
    } else if (it->is_regular_file()) {
      c.files++;
      c.bytes += it->file_size();
    }
  }
  return c;
}

TEST(VaultSplit, EveryThreeOfFiveStoresRestoreBitExact) {
  VaultEnv env("split");
  ASSERT_OK(env.Init(3, 5));
  const fs::path src = env.Source();
  MakeRichTree(src, 30 * 1024 * 1024);
  std::string id;
  {
    auto repo = env.Open();
    ASSERT_OK(repo);
    auto r = BackupPaths(**repo, {src.string()});
    ASSERT_OK(r);
    EXPECT_TRUE(r->warnings.empty()) << JoinLines(r->warnings);
    EXPECT_TRUE(r->snapshot.degraded_stores.empty());
    TreeCounts c = CountTree(src);
    EXPECT_EQ(r->snapshot.summary.files, c.files);
    EXPECT_EQ(r->snapshot.summary.dirs, c.dirs);
    EXPECT_EQ(r->snapshot.summary.symlinks, c.symlinks);
    EXPECT_EQ(r->snapshot.summary.bytes, c.bytes);
    EXPECT_EQ(r->snapshot.paths, std::vector<std::string>{src.string()});
    id = r->snapshot.id;
  }
  int subsets = 0;
  for (int a = 0; a < 5; ++a)
    for (int b = a + 1; b < 5; ++b)
      for (int c = b + 1; c < 5; ++c) {
        SCOPED_TRACE("stores " + std::to_string(a + 1) + "," + std::to_string(b + 1) + "," +
                     std::to_string(c + 1));
        auto repo = env.Open({a, b, c});
        ASSERT_OK(repo);
        EXPECT_RESTORES_IDENTICAL(**repo, id, src, env.root() / "restore");
        ++subsets;
      }
  EXPECT_EQ(subsets, 10);
  // Two stores really gone (directories moved away), all five configured.
  fs::rename(env.StoreDir(1), env.root() / "gone1");
  fs::rename(env.StoreDir(3), env.root() / "gone3");
  {
    auto repo = env.Open();
    ASSERT_OK(repo);
    EXPECT_RESTORES_IDENTICAL(**repo, id, src, env.root() / "restore");
    // One file through Dump as well.
    auto snap = (*repo)->FindSnapshot(id);
    ASSERT_OK(snap);
    std::FILE* out = std::tmpfile();
    ASSERT_NE(out, nullptr);
    EXPECT_OK(Dump(**repo, *snap, (src / "例如 公文.txt").string(), out));
    std::rewind(out);
    std::string dumped;
    char buf[256];
    size_t got;
    while ((got = std::fread(buf, 1, sizeof buf, out)) > 0) dumped.append(buf, got);
    std::fclose(out);
    EXPECT_EQ(dumped, "公文内容：第一条，第二条。\n");
  }
  // Three gone: fewer than k, no restore.
  fs::rename(env.StoreDir(0), env.root() / "gone0");
  {
    auto repo = env.Open();
    ASSERT_OK(repo);
    auto snap = (*repo)->FindSnapshot(id);
    EXPECT_FALSE(
        snap.ok() &&
        Restore(**repo, *snap, RestoreOptions{(env.root() / "r2").string(), {}}, nullptr).ok());
  }
  auto too_few = env.Open({0, 2});
  ASSERT_FALSE(too_few.ok());
  EXPECT_EQ(too_few.status().code(), StatusCode::kInvalidArgument);
}

// Files dated before 1970 (mtime < 0 with a fraction of a second) keep their time too.
// A share's folder named in Big5, backed up by its own path: the snapshot keeps the path's
// bytes, and a second backup finds it again as the parent.
TEST(VaultSplit, SourcePathThatIsNotUtf8) {
  VaultEnv env("big5");
  ASSERT_OK(env.Init(2, 3));
  const fs::path src = env.Source("\xA4\xBD\xA4\xE5");
  MakeSmallTree(src, 9, 3, 20000);
  auto repo = env.Open();
  ASSERT_OK(repo);
  auto first = BackupPaths(**repo, {src.string()});
  ASSERT_OK(first);
  auto again = BackupPaths(**repo, {src.string()});
  ASSERT_OK(again);
  EXPECT_EQ(again->snapshot.parent, first->snapshot.id);
  EXPECT_EQ(again->snapshot.summary.files_unchanged, again->snapshot.summary.files);
  auto reopened = env.Open();
  ASSERT_OK(reopened);
  auto snap = (*reopened)->FindSnapshot(first->snapshot.id);
  ASSERT_OK(snap);
  EXPECT_EQ(snap->paths, std::vector<std::string>{src.string()});
  EXPECT_RESTORES_IDENTICAL(**reopened, first->snapshot.id, src, env.root() / "restore");
}

// Two walkers share a backup's walk, handing whole subdirectories to each other: however
// the work fell, the snapshot must be the same, its counts complete, and it must restore.
TEST(VaultSplit, WalkSharedBetweenTwoWalkersGivesTheSameSnapshot) {
  VaultEnv env("walkers");
  ASSERT_OK(env.Init(2, 3));
  const fs::path src = env.Source();
  uint64_t files = 0, dirs = 1, bytes = 0;
  for (int a = 0; a < 12; ++a) {
    for (int b = 0; b < 6; ++b) {
      const fs::path d = src / ("d" + std::to_string(a)) / ("e" + std::to_string(b));
      fs::create_directories(d);
      for (int f = 0; f < 1 + (a * 7 + b) % 9; ++f) {
        std::string text = TextWith("walk " + std::to_string(a * 100 + b * 10 + f), 500 + f * 900);
        WriteText(d / ("f" + std::to_string(f) + ".txt"), text);
        ++files;
        bytes += text.size();
      }
    }
    dirs += 7;
  }
  auto repo = env.Open();
  ASSERT_OK(repo);
  BackupOptions force;
  force.no_parent = true;
  std::vector<Snapshot> snaps;
  for (int run = 0; run < 3; ++run) {
    auto r = BackupPaths(**repo, {src.string()}, force);
    ASSERT_OK(r);
    EXPECT_TRUE(r->warnings.empty()) << JoinLines(r->warnings);
    const SnapshotSummary& m = r->snapshot.summary;
    EXPECT_EQ(m.files, files);
    EXPECT_EQ(m.dirs, dirs);
    EXPECT_EQ(m.bytes, bytes);
    EXPECT_EQ(m.bytes_read, bytes);
    snaps.push_back(r->snapshot);
  }
  // The source's own tree, not the root's: the directories above it (/tmp) change as
  // other tests run.
  auto source_tree = [&](const Snapshot& snap) -> std::optional<BlobId> {
    std::optional<BlobId> id = snap.tree;
    for (const fs::path& part : src.relative_path()) {
      auto tree = (*repo)->ReadTree(*id);
      if (!tree.ok()) return std::nullopt;
      id.reset();
      for (const Node& n : tree->nodes)
        if (n.name == part.string()) id = n.subtree;
      if (!id) return std::nullopt;
    }
    return id;
  };
  const std::optional<BlobId> first = source_tree(snaps[0]);
  ASSERT_TRUE(first.has_value());
  for (const Snapshot& snap : snaps) {
    EXPECT_EQ(source_tree(snap), first);
    EXPECT_RESTORES_IDENTICAL(**repo, snap.id, src, env.root() / "restore");
  }
}

// kill -9 while an index object or snapshot is being written can leave it on some stores
// only: readable, and built upon by the next backup, but not from every choice of k. The
// next backup completes it, so that any k stores restore again.
TEST(VaultSplit, NextBackupCompletesObjectsAKilledRunLeftOnSomeStores) {
  VaultEnv env("complete");
  ASSERT_OK(env.Init(3, 5));
  const fs::path src = env.Source();
  MakeSmallTree(src, 12, 3, 200000);
  auto first = BackupOnce(env, src);
  ASSERT_OK(first);
  // Store 1 (0-based) loses every index object and snapshot, as if the writes to it were
  // the ones cut off.
  std::vector<fs::path> removed;
  for (const char* dir : {"index", "snapshots"})
    for (const auto& e : fs::recursive_directory_iterator(env.StoreDir(1) / dir))
      if (e.is_regular_file()) removed.push_back(e.path());
  ASSERT_FALSE(removed.empty());
  for (const fs::path& p : removed) fs::remove(p);
  {  // Stores 1, 2 and 3 cannot read them now.
    auto repo = env.Open({1, 2, 3});
    ASSERT_OK(repo);
    EXPECT_FALSE((*repo)->LoadIndex().ok());
  }
  auto second = BackupOnce(env, src);
  ASSERT_OK(second);
  for (const fs::path& p : removed) EXPECT_TRUE(fs::exists(p)) << p;
  auto repo = env.Open({1, 2, 3});
  ASSERT_OK(repo);
  ASSERT_OK((*repo)->LoadIndex());
  EXPECT_RESTORES_IDENTICAL(**repo, *first, src, env.root() / "restore");
}

TEST(VaultSplit, PreEpochMtimeIsRestored) {
  VaultEnv env("epoch");
  ASSERT_OK(env.Init(2, 3));
  const fs::path src = env.Source();
  fs::create_directories(src);
  WriteText(src / "old.txt", "written before the epoch\n");
  WriteText(src / "epoch.txt", "at the epoch\n");
  SetTimes(src / "old.txt", -2, 500000000);  // 1969-12-31T23:59:58.5Z
  SetTimes(src / "epoch.txt", 0, 0);
  SetTimes(src, 1600000000, 1);
  auto repo = env.Open();
  ASSERT_OK(repo);
  auto r = BackupPaths(**repo, {src.string()});
  ASSERT_OK(r);
  EXPECT_RESTORES_IDENTICAL(**repo, r->snapshot.id, src, env.root() / "restore");
}

// Restoring over an earlier, since changed restore puts every file back as it was: longer
// files are cut, modes and times reset. A file made of one chunk repeated gets every copy.
TEST(VaultSplit, RestoreOverAChangedCopyRepairsIt) {
  VaultEnv env("overwrite");
  ASSERT_OK(env.Init(2, 3));
  const fs::path src = env.Source();
  MakeRichTree(src, 20 * 1024 * 1024);
  Bytes block = RandomData(ChunkerParams{}.max_size, 21);
  Bytes repeated;
  for (int i = 0; i < 4; ++i) repeated.insert(repeated.end(), block.begin(), block.end());
  WriteBytes(src / "repeated.bin", repeated);
  SetTimes(src / "repeated.bin", 1600000000, 5);
  SetTimes(src, 1700000000, 987654321);
  auto repo = env.Open();
  ASSERT_OK(repo);
  auto r = BackupPaths(**repo, {src.string()});
  ASSERT_OK(r);
  const fs::path target = env.root() / "restore";
  RestoreOptions ro;
  ro.target = target.string();
  ASSERT_OK(Restore(**repo, r->snapshot, ro, nullptr));
  const fs::path copy = target / src.relative_path();
  fs::permissions(copy / "readonly.txt", static_cast<fs::perms>(0644));
  WriteText(copy / "readonly.txt", std::string(100000, 'x'));
  WriteBytes(copy / "big.bin", RandomData(21 * 1024 * 1024, 99));
  WriteText(copy / "zero.bin", "no longer empty");
  fs::permissions(copy / "exec.sh", static_cast<fs::perms>(0600));
  auto stats = Restore(**repo, r->snapshot, ro, nullptr);
  ASSERT_OK(stats);
  EXPECT_TRUE(stats->warnings.empty()) << JoinLines(stats->warnings);
  std::vector<std::string> diffs;
  CompareEntry(src, copy, src.filename().string(), diffs);
  EXPECT_TRUE(diffs.empty()) << JoinLines(diffs);
}

// ------------------------------------------------------------------ confidentiality

TEST(VaultConfidentiality, FewerThanKStoresRevealNothing) {
  VaultEnv env("conf");
  ASSERT_OK(env.Init(3, 5));
  const std::string marker = "ZEBRA-CANARY-7731";
  const std::string name_marker = "QUOKKA-NAME-4409";
  const fs::path src = env.Source("confidential-" + name_marker);
  fs::create_directories(src / ("dir-" + name_marker));
  WriteText(src / ("notes-" + name_marker + ".txt"), TextWith(marker, 200000));
  WriteText(src / "例如 公文.txt", TextWith(marker + " 公文", 50000));
  WriteText(src / ("dir-" + name_marker) / "inner.txt", "x " + marker + " y\n");
  const Bytes random_file = RandomData(3 * 1024 * 1024, 77);
  WriteBytes(src / "random.bin", random_file);
  {
    auto repo = env.Open();
    ASSERT_OK(repo);
    ASSERT_OK(BackupPaths(**repo, {src.string()}));
  }
  const SecretBytes master = env.Master();
  std::vector<StoreDescriptor> d;
  for (int i = 0; i < 5; ++i) d.push_back(env.Descriptor(i));
  // Any two descriptors (even with one repeated) do not give the key; any three do.
  for (int a = 0; a < 5; ++a)
    for (int b = a + 1; b < 5; ++b) {
      auto two = RecoverMasterKey({d[a], d[b]}, {}, nullptr);
      ASSERT_FALSE(two.ok()) << a << "," << b;
      EXPECT_EQ(two.status().code(), StatusCode::kFailedPrecondition);
      EXPECT_FALSE(RecoverMasterKey({d[a], d[b], d[b]}, {}, nullptr).ok());
      for (int c = b + 1; c < 5; ++c) {
        auto three = RecoverMasterKey({d[c], d[a], d[b]}, {}, nullptr);
        ASSERT_OK(three);
        EXPECT_TRUE(*three == master);
      }
    }
  // A descriptor whose share was altered does not combine to a wrong key silently.
  StoreDescriptor altered = d[1];
  altered.share[0] ^= 1;
  auto wrong = RecoverMasterKey({d[0], altered, d[2]}, {}, nullptr);
  EXPECT_FALSE(wrong.ok());
  // No single store's bytes hold a name, a distinctive plaintext, the key or a piece of a
  // file.
  std::vector<std::pair<std::string, Bytes>> needles = {
      {"content marker", ToBytes(marker)},
      {"file name marker", ToBytes(name_marker)},
      {"Chinese file name", ToBytes("公文")},
      {"source path", ToBytes(src.parent_path().string())},
      {"master key", Bytes(master.view().begin(), master.view().end())},
      {"master key hex", ToBytes(HexEncode(master.view()))},
      {"64 bytes of a file", Bytes(random_file.begin() + 1000000, random_file.begin() + 1000064)},
  };
  for (int i = 0; i < 5; ++i) {
    std::map<std::string, Bytes> files = FilesBelow(env.StoreDir(i));
    EXPECT_GT(files.size(), 4u);
    for (const auto& [name, content] : files) {
      for (const auto& [what, needle] : needles) {
        EXPECT_FALSE(ContainsBytes(content, needle))
            << "store " << i + 1 << " file " << name << " contains the " << what;
        EXPECT_FALSE(ContainsBytes(ToBytes(name), needle))
            << "store " << i + 1 << " object name " << name << " contains the " << what;
      }
    }
  }
}

// ------------------------------------------------------------------ incremental

TEST(VaultIncremental, SecondBackupStoresOnlyTheChanges) {
  VaultEnv env("incr");
  ASSERT_OK(env.Init(2, 3));
  const fs::path src = env.Source();
  std::vector<fs::path> files;
  for (int d = 0; d < 8; ++d) {
    fs::create_directories(src / ("d" + std::to_string(d)));
    for (int f = 0; f < 20; ++f) {
      fs::path p = src / ("d" + std::to_string(d)) / ("f" + std::to_string(f) + ".bin");
      WriteBytes(p, RandomData(128 * 1024, static_cast<uint64_t>(1000 + d * 20 + f)));
      files.push_back(p);
    }
  }
  fs::create_directories(src / "large");
  for (int i = 0; i < 8; ++i) {
    fs::path p = src / "large" / ("L" + std::to_string(i) + ".bin");
    WriteBytes(p, RandomData(2 * 1024 * 1024, static_cast<uint64_t>(5000 + i)));
    files.push_back(p);
  }
  fs::create_directories(src / "dup");
  const Bytes dup = RandomData(2 * 1024 * 1024, 6000);
  WriteBytes(src / "dup" / "one.bin", dup);
  WriteBytes(src / "dup" / "two.bin", dup);
  const uint64_t total_files = files.size() + 2;
  ASSERT_EQ(total_files, 170u);
  const uint64_t total_bytes = 160 * 128 * 1024 + 10 * 2 * 1024 * 1024;

  auto repo = env.Open();
  ASSERT_OK(repo);
  auto first = BackupPaths(**repo, {src.string()});
  ASSERT_OK(first);
  const SnapshotSummary& s1 = first->snapshot.summary;
  EXPECT_EQ(s1.files, total_files);
  EXPECT_EQ(s1.bytes, total_bytes);
  EXPECT_EQ(s1.bytes_read, total_bytes);
  EXPECT_EQ(s1.files_unchanged, 0u);
  EXPECT_EQ(s1.new_bytes, total_bytes - dup.size()) << "the duplicate file is stored once";
  EXPECT_TRUE(first->snapshot.parent.empty());

  // Change 9 of 170 files (about 5%): appends, same-size edits in the middle, a big file.
  struct Change {
    fs::path path;
    bool append;
    size_t offset, length;
  };
  const std::vector<Change> changes = {
      {src / "d0/f3.bin", true, 0, 10000},     {src / "d1/f7.bin", true, 0, 1},
      {src / "d2/f11.bin", true, 0, 70000},    {src / "d3/f15.bin", true, 0, 4096},
      {src / "d4/f2.bin", false, 50000, 100},  {src / "d5/f9.bin", false, 0, 1},
      {src / "d6/f13.bin", false, 131071, 1},  {src / "large/L2.bin", false, 1 << 20, 4096},
      {src / "large/L5.bin", true, 0, 300000},
  };
  uint64_t changed_bytes = 0;
  for (const Change& c : changes) {
    Bytes extra = RandomData(c.length, c.offset + c.length);
    std::fstream f(c.path, std::ios::in | std::ios::out | std::ios::binary);
    if (c.append)
      f.seekp(0, std::ios::end);
    else
      f.seekp(static_cast<std::streamoff>(c.offset));
    f.write(reinterpret_cast<const char*>(extra.data()),
            static_cast<std::streamsize>(extra.size()));
    f.close();
    ASSERT_TRUE(f.good()) << c.path;
    changed_bytes += fs::file_size(c.path);
  }
  const uint64_t appended = 10000 + 1 + 70000 + 4096 + 300000;

  auto second = BackupPaths(**repo, {src.string()});
  ASSERT_OK(second);
  const SnapshotSummary& s2 = second->snapshot.summary;
  EXPECT_EQ(second->snapshot.parent, first->snapshot.id);
  EXPECT_EQ(s2.files, total_files);
  EXPECT_EQ(s2.bytes, total_bytes + appended);
  EXPECT_EQ(s2.files_unchanged, total_files - changes.size());
  EXPECT_EQ(s2.bytes_read, changed_bytes) << "only the changed files are read";
  EXPECT_LE(s2.new_bytes, s2.bytes_read) << "new chunks can only come from files read";
  EXPECT_LE(s2.new_bytes, 2 * changed_bytes + 4 * 1024 * 1024);
  EXPECT_GE(s2.new_bytes, 7u * 128 * 1024) << "every changed small file is a new chunk";
  EXPECT_GE(s2.new_blobs, changes.size());

  // A copy of a stored file is read but adds nothing; the rest is not read at all.
  fs::copy_file(src / "large/L0.bin", src / "large/L0-copy.bin");
  auto third = BackupPaths(**repo, {src.string()});
  ASSERT_OK(third);
  EXPECT_EQ(third->snapshot.summary.files_unchanged, total_files);
  EXPECT_EQ(third->snapshot.summary.bytes_read, 2u * 1024 * 1024);
  EXPECT_EQ(third->snapshot.summary.new_bytes, 0u);
  EXPECT_EQ(third->snapshot.summary.new_blobs, 0u);

  // --force reads everything and still stores nothing new.
  BackupOptions force;
  force.no_parent = true;
  auto fourth = BackupPaths(**repo, {src.string()}, force);
  ASSERT_OK(fourth);
  EXPECT_EQ(fourth->snapshot.summary.bytes_read, fourth->snapshot.summary.bytes);
  EXPECT_EQ(fourth->snapshot.summary.files_unchanged, 0u);
  EXPECT_EQ(fourth->snapshot.summary.new_bytes, 0u);

  // The incremental snapshot is complete, not just the changes.
  auto fresh = env.Open();
  ASSERT_OK(fresh);
  EXPECT_RESTORES_IDENTICAL(**fresh, third->snapshot.id, src, env.root() / "restore");
}

// ------------------------------------------------------------------ degraded writes

struct FaultyVault {
  std::vector<std::shared_ptr<store::FaultyStore>> faulty;
  std::unique_ptr<Repository> repo;
};

FaultyVault OpenFaulty(const VaultEnv& env) {
  FaultyVault v;
  auto config = LoadLocalConfig(env.ctx);
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  if (!config.ok()) return v;
  std::vector<std::shared_ptr<store::ObjectStore>> stores;
  for (const std::string& url : config->stores) {
    auto s = store::OpenStore(url);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return v;
    auto f =
        std::make_shared<store::FaultyStore>(std::shared_ptr<store::ObjectStore>(std::move(*s)));
    v.faulty.push_back(f);
    stores.push_back(f);
  }
  v.repo = std::make_unique<Repository>(*config, env.Master(), stores, 2);
  return v;
}

TEST(VaultDegraded, OneStoreDownIsADegradedBackup) {
  VaultEnv env("degr");
  ASSERT_OK(env.Init(3, 5));  // min_write defaults to k+1 = 4
  EXPECT_EQ(env.init.config.min_write, 4);
  const fs::path src = env.Source();
  MakeSmallTree(src, 1, 8, 400000);
  FaultyVault v = OpenFaulty(env);
  ASSERT_TRUE(v.repo);
  const std::set<std::string> store1_before = FileNamesBelow(env.StoreDir(1));
  v.faulty[1]->SetUnreachable(true);
  auto r = BackupPaths(*v.repo, {src.string()});
  ASSERT_OK(r);
  EXPECT_EQ(r->snapshot.degraded_stores, std::vector<int>{1});
  EXPECT_EQ(FileNamesBelow(env.StoreDir(1)), store1_before) << "store 2 was unreachable";
  EXPECT_GT(v.faulty[1]->counts().injected_failures, 0u);
  // The saved snapshot says so too, and the backup restores with store 2 still missing.
  auto repo = env.Open();
  ASSERT_OK(repo);
  auto snap = (*repo)->FindSnapshot(r->snapshot.id);
  ASSERT_OK(snap);
  EXPECT_EQ(snap->degraded_stores, std::vector<int>{1});
  EXPECT_TRUE(RestoreAndCompare(**repo, r->snapshot.id, src, env.root() / "restore").empty());
  for (std::vector<int> only : {std::vector<int>{0, 2, 3}, std::vector<int>{2, 3, 4}}) {
    auto sub = env.Open(only);
    ASSERT_OK(sub);
    EXPECT_RESTORES_IDENTICAL(**sub, r->snapshot.id, src, env.root() / "restore");
  }
}

TEST(VaultDegraded, BelowMinWriteFailsAndLosesNothing) {
  VaultEnv env("below");
  InitOptions o;
  o.pack_size = 1024 * 1024;  // many packs, so a failure can come part-way through
  ASSERT_OK(env.Init(3, 5, o));
  const fs::path src = env.Source();
  MakeSmallTree(src, 2, 6, 300000);
  auto backed_up = BackupOnce(env, src);
  ASSERT_OK(backed_up);
  const std::string good_id = *backed_up;
  const fs::path src2 = env.Source("src2");
  fs::create_directories(src2);
  for (int i = 0; i < 40; ++i)
    WriteBytes(src2 / ("f" + std::to_string(i)),
               RandomData(300000, static_cast<uint64_t>(100 + i)));
  // Three (and also two: exactly k reachable) of five unreachable, with min_write 4.
  for (int down : {3, 2}) {
    SCOPED_TRACE(std::to_string(down) + " stores unreachable");
    FaultyVault v = OpenFaulty(env);
    ASSERT_TRUE(v.repo);
    for (int i = 0; i < down; ++i) v.faulty[static_cast<size_t>(4 - i)]->SetUnreachable(true);
    auto r = BackupPaths(*v.repo, {src2.string()});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  }
  // Stores that start failing part-way through the run (after a few writes).
  {
    FaultyVault v = OpenFaulty(env);
    ASSERT_TRUE(v.repo);
    v.faulty[3]->FailPutsAfter(6);
    v.faulty[4]->FailPutsAfter(6);
    auto r = BackupPaths(*v.repo, {src2.string()});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
    // Give anything the failed run left running the time to finish before it is torn down.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_EQ(CountSnapshots(env), 1u) << "a failed backup must not leave a snapshot";
  // What was committed before is intact, from all stores and from k of them.
  for (std::vector<int> only :
       {std::vector<int>{}, std::vector<int>{0, 1, 2}, std::vector<int>{2, 3, 4}}) {
    SCOPED_TRACE("restore from " + std::to_string(only.size()) + " stores starting at " +
                 std::to_string(only.empty() ? 0 : only[0] + 1));
    auto repo = env.Open(only);
    ASSERT_OK(repo);
    // The failed run may have committed index objects on exactly min_write stores before
    // it gave up; some choices of k cannot read them, and the restore says so.
    std::vector<std::string> diffs =
        RestoreAndCompare(**repo, good_id, src, env.root() / "restore");
    std::erase_if(diffs, [](const std::string& d) {
      return d.find("restore warning: ") == 0 &&
             d.find("index object(s) could not be read") != std::string::npos;
    });
    EXPECT_TRUE(diffs.empty()) << JoinLines(diffs);
  }
  // With the stores back, the next backup completes and restores.
  auto repo = env.Open();
  ASSERT_OK(repo);
  auto r = BackupPaths(**repo, {src2.string()});
  ASSERT_OK(r);
  EXPECT_TRUE(r->snapshot.degraded_stores.empty());
  EXPECT_RESTORES_IDENTICAL(**repo, r->snapshot.id, src2, env.root() / "restore");
}

TEST(VaultDegraded, AnOlderSnapshotRestoresFromAnyKStoresAfterADegradedBackup) {
  VaultEnv env("gaps");
  ASSERT_OK(env.Init(3, 5));  // min_write 4
  const fs::path src = env.Source();
  MakeSmallTree(src, 1, 6, 200000);
  auto good_id = BackupOnce(env, src);
  ASSERT_OK(good_id);
  const fs::path src2 = env.Source("src2");
  MakeSmallTree(src2, 1, 6, 210000);
  std::string degraded_id;
  {
    FaultyVault v = OpenFaulty(env);
    ASSERT_TRUE(v.repo);
    v.faulty[3]->SetUnreachable(true);
    auto r = BackupPaths(*v.repo, {src2.string()});
    ASSERT_OK(r);
    EXPECT_EQ(r->snapshot.degraded_stores, std::vector<int>{3});
    degraded_id = r->snapshot.id;
  }
  // Stores 3, 4 and 5 (0-based 2..4): the degraded run's objects have two shards there.
  auto sub = env.Open({2, 3, 4});
  ASSERT_OK(sub);
  std::vector<std::string> diffs = RestoreAndCompare(**sub, *good_id, src, env.root() / "restore");
  ASSERT_EQ(diffs.size(), 1u) << JoinLines(diffs);
  EXPECT_NE(diffs[0].find("index object(s) could not be read"), std::string::npos) << diffs[0];
  EXPECT_FALSE((*sub)->UnreadableIndexObjects().empty());
  // The degraded snapshot itself needs the store that missed it back, and says so.
  std::vector<std::string> later =
      RestoreAndCompare(**sub, degraded_id, src2, env.root() / "restore");
  ASSERT_EQ(later.size(), 1u) << JoinLines(later);
  EXPECT_NE(later[0].find("Unavailable"), std::string::npos) << later[0];
  // From the stores it was written to, it restores.
  auto written = env.Open({0, 1, 4});
  ASSERT_OK(written);
  EXPECT_RESTORES_IDENTICAL(**written, degraded_id, src2, env.root() / "restore");
}

// Delays every Put of a pack shard, like a slow uplink: the shards of the first pack
// seen (on any of the stores sharing `first`) take `fast`, all later ones `slow`.
class SlowStore : public store::ObjectStore {
 public:
  struct First {
    std::mutex mu;
    std::string name;
  };
  SlowStore(std::shared_ptr<store::ObjectStore> inner, std::shared_ptr<First> first,
            std::chrono::milliseconds fast, std::chrono::milliseconds slow)
      : inner_(std::move(inner)), first_(std::move(first)), fast_(fast), slow_(slow) {}
  std::string Url() const override { return inner_->Url(); }
  Status Put(const std::string& name, ByteView data) override {
    if (name.starts_with("data/")) {
      bool is_first;
      {
        std::lock_guard lock(first_->mu);
        if (first_->name.empty()) first_->name = name;
        is_first = first_->name == name;
      }
      std::this_thread::sleep_for(is_first ? fast_ : slow_);
    }
    return inner_->Put(name, data);
  }
  Result<Bytes> Get(const std::string& name) override { return inner_->Get(name); }
  Result<uint64_t> Stat(const std::string& name) override { return inner_->Stat(name); }
  Result<std::vector<store::ObjectInfo>> List(const std::string& prefix) override {
    return inner_->List(prefix);
  }
  Status Delete(const std::string& name) override { return inner_->Delete(name); }
  Status Ping() override { return inner_->Ping(); }
  Status Create() override { return inner_->Create(); }

 private:
  std::shared_ptr<store::ObjectStore> inner_;
  std::shared_ptr<First> first_;
  std::chrono::milliseconds fast_, slow_;
};

// A backup that fails while chunks of an earlier file are still being packed must not
// leave that work running after Backup() returned: the chunk tasks refer to the Archiver
// on Backup()'s stack. Staged so: every chunk fills a pack and waits for an upload slot;
// the first upload fails after 200 ms (3 of 5 stores refuse, min_write 4), later ones
// take 1 s. Chunks of a.bin still wait for a slot when the error surfaces and the backup
// returns; they must neither upload afterwards nor touch the Archiver. Under ASan
// (detect_stack_use_after_return=1) a use after return shows here.
TEST(VaultDegraded, FailedBackupLeavesNoWorkBehind) {
  VaultEnv env("abandon");
  InitOptions o;
  o.pack_size = 64 * 1024;  // every chunk fills a pack and starts an upload
  ASSERT_OK(env.Init(3, 5, o));
  const fs::path src = env.Source();
  fs::create_directories(src / "b");
  WriteBytes(src / "a.bin", RandomData(6 * 1024 * 1024, 31));
  WriteBytes(src / "b" / "x.bin", RandomData(100000, 32));
  WriteBytes(src / "b" / "y.bin", RandomData(100000, 33));
  auto config = LoadLocalConfig(env.ctx);
  ASSERT_OK(config);
  auto first = std::make_shared<SlowStore::First>();
  std::vector<std::shared_ptr<store::ObjectStore>> stores;
  std::vector<std::shared_ptr<store::FaultyStore>> refusing;
  for (int i = 0; i < 5; ++i) {
    auto s = store::OpenStore(env.urls[static_cast<size_t>(i)]);
    ASSERT_OK(s);
    std::shared_ptr<store::ObjectStore> inner(std::move(*s));
    if (i < 2) {
      stores.push_back(std::make_shared<SlowStore>(inner, first, std::chrono::milliseconds(200),
                                                   std::chrono::milliseconds(1000)));
    } else {
      auto f = std::make_shared<store::FaultyStore>(inner);
      f->FailPutsAfter(1);  // the lock goes through, every pack fails: 2 < min_write 4
      stores.push_back(f);
      refusing.push_back(f);
    }
  }
  {
    Repository repo(*config, env.Master(), stores, 2);
    auto r = BackupPaths(repo, {src.string()});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
    // Anything the failed run left behind runs now, while the repository still exists. The
    // uploads started before Backup() returned have made their calls within 500 ms; a new
    // upload after that comes from a chunk task that outlived the backup.
    auto puts = [&] {
      uint64_t n = 0;
      for (auto& f : refusing) n += f->counts().put;
      return n;
    };
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    const uint64_t settled = puts();
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    EXPECT_EQ(puts(), settled) << "the failed backup went on uploading after it returned";
  }
  EXPECT_EQ(CountSnapshots(env), 0u);
}

// A run cut short while it wrote an object's shards (kill -9, power loss, a store failing
// mid-write) leaves that object on fewer than k stores. Such an object was never committed
// (its write did not complete), so the vault must go on working around it: listing,
// restoring and backing up. Simulated exactly: the object's shard 1 is on store 1, the
// other stores never got theirs. The last case is a failed write that reached exactly k
// stores (1-3), below min_write: readable with all stores, but not from stores 3-5, which
// must still restore what was committed.
TEST(VaultDegraded, ObjectsLeftOnFewerThanKStoresDoNotBreakTheVault) {
  struct Case {
    std::string prefix;
    std::vector<int> written, restore_from;
  };
  for (const Case& c : {Case{"index/", {0}, {}}, Case{"snapshots/", {0}, {}},
                        Case{"locks/", {0}, {}}, Case{"index/", {0, 1, 2}, {2, 3, 4}}}) {
    const std::string& prefix = c.prefix;
    SCOPED_TRACE("a partial object below " + prefix + " on " + std::to_string(c.written.size()) +
                 " stores, read from " +
                 (c.restore_from.empty() ? "all" : std::to_string(c.restore_from.size())));
    VaultEnv env("partial");
    ASSERT_OK(env.Init(3, 5));
    const fs::path src = env.Source();
    MakeSmallTree(src, 7, 3, 200000);
    std::string id;
    {
      auto repo = env.Open();
      ASSERT_OK(repo);
      auto r = BackupPaths(**repo, {src.string()});
      ASSERT_OK(r);
      id = r->snapshot.id;
      Bytes body;
      if (prefix == "index/") {
        body = SerializeIndex({}, {});
      } else if (prefix == "snapshots/") {
        Snapshot s = r->snapshot;
        body = SerializeSnapshot(s);
      } else {
        body = ToBytes(R"({"version":1,"exclusive":false,"host":"h","pid":1,"purpose":"backup",)"
                       R"("time_ns":)" +
                       std::to_string(r->snapshot.time_ns) + "}");
      }
      const std::string name = prefix + crypto::RandomId();
      auto files = (*repo)->objects().EncodeShardFiles(name, body, true);
      ASSERT_OK(files);
      for (int i : c.written)
        ASSERT_OK((*repo)->objects().store(i)->Put(name, (*files)[static_cast<size_t>(i)]));
    }
    auto repo = env.Open(c.restore_from);
    ASSERT_OK(repo);
    auto snaps = (*repo)->ListSnapshots();
    EXPECT_OK(snaps);
    EXPECT_RESTORES_IDENTICAL(**repo, id, src, env.root() / "restore");
    if (!c.restore_from.empty()) continue;  // too few stores for min_write: no backup
    WriteText(src / "new.txt", "after the interrupted run\n");
    auto next = BackupPaths(**repo, {src.string()});
    EXPECT_OK(next);
  }
}

// ------------------------------------------------------------------ compression

TEST(Compression, CompressesWhatPaysAndSkipsWhatDoesNot) {
  // Random data: stored raw.
  EXPECT_FALSE(CompressIfWorthwhile(RandomData(1024 * 1024, 7)));
  // Text: compressed, and it decompresses to the same bytes.
  std::string text;
  while (text.size() < 1024 * 1024)
    text += "公文 archive line " + std::to_string(text.size()) + "\n";
  auto out = CompressIfWorthwhile(AsBytes(text));
  ASSERT_TRUE(out);
  EXPECT_LT(out->size(), text.size() / 2);
  auto back = Decompress(*out, text.size());
  ASSERT_OK(back);
  EXPECT_EQ(AsString(*back), text);
  // A chunk of a disk image: a random extent first, zeros after it. Judging by the first
  // bytes alone would store it raw.
  Bytes mixed = RandomData(300 * 1024, 8);
  mixed.resize(1024 * 1024, 0);
  out = CompressIfWorthwhile(mixed);
  ASSERT_TRUE(out);
  EXPECT_LT(out->size(), 400u * 1024);
  // A declared size above the limit is refused, not allocated.
  EXPECT_EQ(Decompress(*out, 1000).status().code(), StatusCode::kCorruption);
  // Bytes that look busy but use a quarter of the values (6 bits of 8): the samples'
  // entropy does not pass them for random, and zstd gets its ~25 %.
  Bytes six_bits = RandomData(1024 * 1024, 9);
  for (uint8_t& b : six_bits) b &= 0x3F;
  out = CompressIfWorthwhile(six_bits);
  ASSERT_TRUE(out);
  EXPECT_LT(out->size(), six_bits.size() * 85 / 100);
}

// ------------------------------------------------------------------ bad input

TEST(VaultBadInput, KeyFileOfAnotherVault) {
  VaultEnv a("keya"), b("keyb");
  ASSERT_OK(a.Init(2, 3));
  ASSERT_OK(b.Init(2, 3));
  fs::copy_file(b.ctx.KeyPath(), a.ctx.KeyPath(), fs::copy_options::overwrite_existing);
  auto repo = a.Open();
  ASSERT_FALSE(repo.ok());
  EXPECT_THAT(repo.status().message(), HasSubstr("another vault"));
  EXPECT_THAT(repo.status().message(), HasSubstr(a.ctx.KeyPath()));
}

// A key file that names this vault but holds another key (one hex digit changed): no
// command may write data under that key, which nobody could ever decrypt.
TEST(VaultBadInput, WrongKeyForThisVaultIsRefused) {
  VaultEnv env("wrongkey");
  ASSERT_OK(env.Init(2, 3));
  const fs::path src = env.Source();
  MakeSmallTree(src, 3, 2, 100000);
  const std::set<std::string> before = FileNamesBelow(env.StoreDir(0));
  const SecretBytes real = env.Master();
  {
    auto j = nlohmann::json::parse(AsString(Slurp(env.ctx.KeyPath())));
    std::string key = j["key"].get<std::string>();
    key[0] = key[0] == '0' ? '1' : '0';
    j["key"] = key;
    ASSERT_OK(WriteFileAtomic(env.ctx.KeyPath(), j.dump(2), 0600));
  }
  auto repo = env.Open();
  if (repo.ok()) {
    auto r = BackupPaths(**repo, {src.string()});
    EXPECT_FALSE(r.ok()) << "a backup under a wrong key succeeded (snapshot "
                         << (r.ok() ? r->snapshot.id.substr(0, 8) : "") << ")";
    if (!r.ok()) {
      EXPECT_THAT(r.status().message(), HasSubstr("key"));
    }
  } else {
    EXPECT_THAT(repo.status().message(), HasSubstr("key"));
  }
  // Nothing readable by the real key was committed, and nothing unreadable either.
  std::set<std::string> after = FileNamesBelow(env.StoreDir(0));
  std::vector<std::string> added;
  std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                      std::back_inserter(added));
  EXPECT_TRUE(added.empty()) << "objects written under the wrong key:" << JoinLines(added);
  // With the real key back, the vault is fine.
  ASSERT_OK(
      WriteKeyFile(env.ctx.KeyPath(), env.init.config.vault_id, real, SecretBytes(), std::nullopt));
  auto good = env.Open();
  ASSERT_OK(good);
  auto snaps = (*good)->ListSnapshots();
  EXPECT_OK(snaps);
}

TEST(VaultBadInput, CorruptLocalConfig) {
  VaultEnv env("badcfg");
  ASSERT_OK(env.Init(2, 3));
  const Bytes good_bytes = Slurp(env.ctx.ConfigPath());
  const std::string good(AsString(good_bytes));
  const std::vector<std::string> damaged = {
      "",
      "{",
      "\x01\x02 binary junk \xff",
      good.substr(0, good.size() / 2),
      "{\"format\": \"tessera-vault-config\", \"version\": 1}",
      "[1, 2, 3]",
  };
  for (const std::string& text : damaged) {
    ASSERT_OK(WriteFileAtomic(env.ctx.ConfigPath(), text, 0600));
    auto repo = env.Open();
    ASSERT_FALSE(repo.ok()) << "opened with vault.json = '" << text << "'";
    EXPECT_EQ(repo.status().code(), StatusCode::kCorruption) << repo.status().ToString();
    EXPECT_THAT(repo.status().message(), HasSubstr(env.ctx.ConfigPath()));
  }
  // Valid JSON with an impossible geometry (k > n).
  auto j = nlohmann::json::parse(good);
  j["k"] = 7;
  ASSERT_OK(WriteFileAtomic(env.ctx.ConfigPath(), j.dump(), 0600));
  auto repo = env.Open();
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(repo.status().message(), HasSubstr(env.ctx.ConfigPath()));
  // Numbers that are not integers of the field's range (found by tests/fuzz).
  for (const char* bad : {"3.5", "1e300", "-1", "4294967296"}) {
    auto k = nlohmann::json::parse(good);
    k["pack_size"] = nlohmann::json::parse(bad);
    ASSERT_OK(WriteFileAtomic(env.ctx.ConfigPath(), k.dump(), 0600));
    auto odd = env.Open();
    ASSERT_FALSE(odd.ok()) << "opened with pack_size " << bad;
    EXPECT_EQ(odd.status().code(), StatusCode::kCorruption) << odd.status().ToString();
  }
  // Missing altogether: NotFound that says how to set one up.
  fs::remove(env.ctx.ConfigPath());
  repo = env.Open();
  ASSERT_FALSE(repo.ok());
  EXPECT_EQ(repo.status().code(), StatusCode::kNotFound);
  EXPECT_THAT(repo.status().message(), HasSubstr("connect"));
}

// Trees as earlier versions wrote them (through nlohmann::json): the writer must give the
// same bytes, or unchanged directories would be stored again after an upgrade.
Bytes TreeAsNlohmannWrites(const Tree& tree) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const Node& n : tree.nodes) {
    nlohmann::json j = {{"name", n.name},         {"type", NodeTypeName(n.type)},
                        {"mode", n.mode},         {"uid", n.uid},
                        {"gid", n.gid},           {"mtime_ns", n.mtime_ns},
                        {"ctime_ns", n.ctime_ns}, {"inode", n.inode},
                        {"device", n.device}};
    if (!n.user.empty()) j["user"] = n.user;
    if (!n.group.empty()) j["group"] = n.group;
    if (n.type == NodeType::kFile) {
      j["size"] = n.size;
      nlohmann::json content = nlohmann::json::array();
      for (const BlobId& id : n.content) content.push_back(ToHex(id));
      j["content"] = std::move(content);
      j["chunk_sizes"] = n.chunk_sizes;
    }
    if (n.subtree) j["subtree"] = ToHex(*n.subtree);
    if (n.type == NodeType::kSymlink) j["link_target"] = n.link_target;
    nodes.push_back(std::move(j));
  }
  std::string s = nlohmann::json{{"version", 1}, {"nodes", std::move(nodes)}}.dump();
  return Bytes(s.begin(), s.end());
}

TEST(VaultFormat, TreesAreWrittenAsEarlierVersionsWroteThem) {
  std::mt19937_64 rng(20261203);
  // Every character JSON escapes, some it does not (0x7F, '/'), and multi-byte text.
  const std::vector<std::string> pieces = {
      "a",    "公文", "\"",   "\\", "/",         "\b", "\f", "\n", "\r", "\t", std::string(1, '\0'),
      "\x01", "\x1f", "\x7f", "😀",  "e\xCC\x81", " "};
  auto text = [&](size_t max) {
    std::string t;
    for (size_t i = rng() % (max + 1); i > 0; --i) t += pieces[rng() % pieces.size()];
    return t;
  };
  for (int round = 0; round < 200; ++round) {
    Tree t;
    for (size_t i = rng() % 6; i > 0; --i) {
      Node n;
      n.name = "n" + text(4);
      n.type = static_cast<NodeType>(rng() % 4);
      n.mode = static_cast<uint32_t>(rng());
      n.uid = static_cast<uint32_t>(rng());
      n.gid = static_cast<uint32_t>(rng());
      n.user = text(2);
      n.group = text(2);
      n.mtime_ns = static_cast<int64_t>(rng());  // negative ones too
      n.ctime_ns = static_cast<int64_t>(rng());
      n.inode = rng();
      n.device = rng();
      if (n.type == NodeType::kFile) {
        n.size = rng();
        for (size_t c = rng() % 4; c > 0; --c) {
          BlobId id{};
          for (auto& b : id) b = static_cast<uint8_t>(rng());
          n.content.push_back(id);
          n.chunk_sizes.push_back(static_cast<uint32_t>(rng()));
        }
      }
      if (n.type == NodeType::kDir || rng() % 4 == 0) n.subtree = BlobId{static_cast<uint8_t>(i)};
      if (n.type == NodeType::kSymlink) n.link_target = text(5);
      t.nodes.push_back(std::move(n));
    }
    ASSERT_EQ(AsString(SerializeTree(t)), AsString(TreeAsNlohmannWrites(t))) << "round " << round;
  }
}

TEST(VaultFormat, NamesThatAreNotUtf8AreKeptExactly) {
  Tree t;
  Node file;
  file.name = "\xA4\xBD\xA4\xE5.txt";  // 公文 in Big5
  file.user = "\xB1\x69";              // a Big5 user name
  file.group = "ok";
  file.content = {BlobId{1}};
  file.chunk_sizes = {7};
  Node link;
  link.name = "link";
  link.type = NodeType::kSymlink;
  link.link_target = "../\xA8\xE7/\xFF";
  link.group = "\xC0\xAF";  // an overlong '/', never valid
  t.nodes = {file, link};
  const Bytes stored = SerializeTree(t);
  // Still JSON text: the names shown with U+FFFD, their bytes alongside.
  const auto j = nlohmann::json::parse(AsString(stored));
  EXPECT_EQ(j["nodes"][0]["name"], "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD.txt");
  EXPECT_EQ(j["nodes"][0]["name_bytes"], "a4bda4e52e747874");
  EXPECT_FALSE(j["nodes"][0].contains("group_bytes"));
  auto back = ParseTree(stored);
  ASSERT_OK(back);
  ASSERT_EQ(back->nodes.size(), 2u);
  EXPECT_EQ(back->nodes[0].name, file.name);
  EXPECT_EQ(back->nodes[0].user, file.user);
  EXPECT_EQ(back->nodes[0].group, "ok");
  EXPECT_EQ(back->nodes[1].link_target, link.link_target);
  EXPECT_EQ(back->nodes[1].group, link.group);
  EXPECT_EQ(SerializeTree(*back), stored);
  // The exact bytes are checked like any name: no '/' smuggled in through them.
  auto bad = j;
  bad["nodes"][0]["name_bytes"] = HexEncode(AsBytes("a/b"));
  auto refused = ParseTree(AsBytes(bad.dump()));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kCorruption);
  bad["nodes"][0]["name_bytes"] = "not hex";
  EXPECT_EQ(ParseTree(AsBytes(bad.dump())).status().code(), StatusCode::kCorruption);

  Snapshot snap;
  snap.paths = {"/srv/share/\xA4\xBD\xA4\xE5", "/srv/ok"};
  snap.hostname = "host\xFF";
  auto parsed = ParseSnapshot(SerializeSnapshot(snap), std::string(64, 'a'));
  ASSERT_OK(parsed);
  EXPECT_EQ(parsed->paths, snap.paths);
  EXPECT_EQ(parsed->hostname, "host\xEF\xBF\xBD");  // a label: shown, not kept exactly
}

// The input tests/fuzz/vault_parse_fuzz found: a float where an integer belongs was
// converted with undefined behaviour; now every such tree is refused as corrupt.
TEST(VaultBadInput, TreeWithNumbersOutOfTheirRange) {
  Tree t;
  Node n;
  n.name = "a.txt";
  n.mode = 0100644;
  n.content = {BlobId{}};
  n.chunk_sizes = {10};
  t.nodes = {n};
  const auto good = nlohmann::json::parse(AsString(SerializeTree(t)));
  ASSERT_OK(ParseTree(AsBytes(good.dump())));
  struct Damage {
    const char* field;
    const char* value;
  };
  for (const Damage& d : {Damage{"mode", "1687220200000000.23456789"}, Damage{"mode", "-1"},
                          Damage{"uid", "4294967296"}, Damage{"size", "-5"},
                          Damage{"mtime_ns", "1e30"}, Damage{"chunk_sizes", "[10.5]"}}) {
    auto j = good;
    j["nodes"][0][d.field] = nlohmann::json::parse(d.value);
    auto tree = ParseTree(AsBytes(j.dump()));
    ASSERT_FALSE(tree.ok()) << d.field << " = " << d.value;
    EXPECT_EQ(tree.status().code(), StatusCode::kCorruption);
    EXPECT_THAT(tree.status().message(), HasSubstr(d.field));
  }
}

TEST(VaultBadInput, BackupOfMissingPathWritesNothing) {
  VaultEnv env("missing");
  ASSERT_OK(env.Init(2, 3));
  const fs::path src = env.Source();
  MakeSmallTree(src, 4, 2, 50000);
  auto repo = env.Open();
  ASSERT_OK(repo);
  ASSERT_OK(BackupPaths(**repo, {src.string()}));
  std::vector<std::set<std::string>> before;
  for (int i = 0; i < 3; ++i) before.push_back(FileNamesBelow(env.StoreDir(i)));
  const std::string missing = (env.root() / "no such dir").string();
  for (const std::vector<std::string>& paths :
       {std::vector<std::string>{missing}, std::vector<std::string>{src.string(), missing}}) {
    auto r = BackupPaths(**repo, paths);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kNotFound) << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr("no such dir"));
  }
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(FileNamesBelow(env.StoreDir(i)), before[static_cast<size_t>(i)]) << "store " << i;
  EXPECT_EQ(CountSnapshots(env), 1u);
}

TEST(VaultInit, ChunkSizeIsChosenAtInit) {
  const Bytes big = RandomData(24 << 20, 77);
  size_t blobs_default = 0, blobs_large = 0;
  for (size_t avg_kib : {size_t{0}, size_t{1024}}) {
    SCOPED_TRACE(avg_kib);
    VaultEnv env("chunks");
    InitOptions o;
    o.chunk_avg = avg_kib * 1024;
    ASSERT_OK(env.Init(2, 3, o));
    auto repo = env.Open();
    ASSERT_OK(repo);
    const ChunkerParams p = (*repo)->config().chunker;
    const size_t avg = avg_kib ? avg_kib * 1024 : ChunkerParams{}.avg_size;
    EXPECT_EQ(p.avg_size, avg);
    EXPECT_EQ(p.min_size, avg / 2);
    EXPECT_EQ(p.max_size, 8 * avg);
    fs::create_directories(env.Source());
    WriteBytes(env.Source() / "big.bin", big);
    auto r = BackupPaths(**repo, {env.Source().string()});
    ASSERT_OK(r);
    (avg_kib ? blobs_large : blobs_default) = r->snapshot.summary.new_blobs;
    EXPECT_RESTORES_IDENTICAL(**repo, r->snapshot.id, env.Source(), env.root() / "restore");
  }
  // 24 MiB in ~256 KiB chunks against ~1 MiB chunks (plus one tree blob each).
  EXPECT_GT(blobs_default, 2 * blobs_large);
  EXPECT_GE(blobs_large, 10u);

  VaultEnv bad("chunks-bad");
  for (size_t wrong : {size_t{100 * 1024}, size_t{32 * 1024}, size_t{16 << 20}}) {
    InitOptions o;
    o.chunk_avg = wrong;
    Status st = bad.Init(2, 3, o);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << wrong;
    EXPECT_THAT(st.message(), HasSubstr("power of two"));
    EXPECT_FALSE(fs::exists(bad.ctx.ConfigPath()));
    EXPECT_FALSE(fs::exists(bad.StoreDir(0)));
  }
}

TEST(VaultBadInput, InitOnAStoreThatHoldsAVault) {
  VaultEnv a("inita"), b("initb");
  ASSERT_OK(a.Init(2, 3));
  const fs::path src = a.Source();
  MakeSmallTree(src, 5, 2, 50000);
  auto backed_up = BackupOnce(a, src);
  ASSERT_OK(backed_up);
  const std::string id = *backed_up;
  const std::map<std::string, Bytes> a1_before = FilesBelow(a.StoreDir(1));
  InitOptions o;
  o.stores = {"file://" + b.StoreDir(0).string(), a.urls[1], "file://" + b.StoreDir(2).string()};
  o.threshold = 2;
  auto r = InitVault(b.ctx, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  EXPECT_THAT(r.status().message(), HasSubstr(a.urls[1]));
  EXPECT_FALSE(fs::exists(b.ctx.ConfigPath()));
  EXPECT_FALSE(fs::exists(b.ctx.KeyPath()));
  EXPECT_FALSE(fs::exists(b.StoreDir(0) / kDescriptorName));
  EXPECT_TRUE(FileNamesBelow(b.StoreDir(0)).empty());
  EXPECT_TRUE(FilesBelow(a.StoreDir(1)) == a1_before) << "init touched the other vault's store";
  // The same vault name twice in one home.
  InitOptions again;
  again.stores = {"file://" + (a.root() / "x0").string(), "file://" + (a.root() / "x1").string()};
  again.threshold = 1;
  auto twice = InitVault(a.ctx, again);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.status().code(), StatusCode::kAlreadyExists);
  // The first vault still works.
  auto repo = a.Open();
  ASSERT_OK(repo);
  EXPECT_RESTORES_IDENTICAL(**repo, id, src, a.root() / "restore");
}

TEST(VaultBadInput, ConnectWithAStoreOfAnotherVault) {
  VaultEnv a("conna"), b("connb");
  ASSERT_OK(a.Init(3, 5));
  ASSERT_OK(b.Init(3, 5));
  const std::vector<std::vector<std::string>> mixes = {
      {a.urls[0], a.urls[1], b.urls[2]},
      {a.urls[0], a.urls[1], a.urls[2], b.urls[3]},
      {b.urls[4], a.urls[0], a.urls[1], a.urls[2]},
  };
  int n = 0;
  for (const auto& stores : mixes) {
    VaultContext c = a.OtherHome("mixed" + std::to_string(n++));
    auto r = ConnectVault(c, ConnectOptions{stores, {}});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    EXPECT_THAT(r.status().message(), HasSubstr("different vaults"));
    EXPECT_FALSE(fs::exists(c.ConfigPath()));
    EXPECT_FALSE(fs::exists(c.KeyPath()));
  }
  // Fewer than k distinct stores (one given twice).
  VaultContext c = a.OtherHome("short");
  auto r = ConnectVault(c, ConnectOptions{{a.urls[0], a.urls[0], a.urls[1]}, {}});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  EXPECT_FALSE(fs::exists(c.ConfigPath()));
  // A location that holds no vault at all.
  auto none = ConnectVault(c, ConnectOptions{{"file://" + (a.root() / "nothing").string()}, {}});
  ASSERT_FALSE(none.ok());
}

TEST(VaultBadInput, ConnectFromExactlyKStoresReproducesTheVault) {
  VaultEnv env("connk");
  InitOptions o;
  o.pack_size = 2 * 1024 * 1024;
  ASSERT_OK(env.Init(3, 5, o));
  const fs::path src = env.Source();
  MakeRichTree(src, 3 * 1024 * 1024);
  auto backed_up = BackupOnce(env, src);
  ASSERT_OK(backed_up);
  const std::string id = *backed_up;
  VaultContext c = env.OtherHome("newmachine");
  auto connected = ConnectVault(c, ConnectOptions{{env.urls[4], env.urls[1], env.urls[2]}, {}});
  ASSERT_OK(connected);
  const VaultConfig& want = env.init.config;
  EXPECT_EQ(connected->vault_id, want.vault_id);
  EXPECT_EQ(connected->k, 3);
  EXPECT_EQ(connected->n, 5);
  EXPECT_EQ(connected->min_write, want.min_write);
  EXPECT_EQ(connected->stores, want.stores);
  EXPECT_EQ(connected->pack_size, want.pack_size);
  EXPECT_EQ(connected->chunker.min_size, want.chunker.min_size);
  EXPECT_EQ(connected->created_ns, want.created_ns);
  auto local = LoadLocalConfig(c);
  ASSERT_OK(local);
  EXPECT_EQ(SerializeConfig(*local), SerializeConfig(want));
  auto key = ReadKeyFile(c.KeyPath(), want.vault_id, std::nullopt);
  ASSERT_OK(key);
  EXPECT_TRUE(key->master == env.Master());
  struct stat st {};
  ASSERT_EQ(::stat(c.KeyPath().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  for (std::vector<int> only : {std::vector<int>{}, std::vector<int>{1, 2, 4}}) {
    auto repo = OpenVault(c, OpenOptions{only});
    ASSERT_OK(repo);
    EXPECT_RESTORES_IDENTICAL(**repo, id, src, env.root() / "restore");
  }
  auto again = ConnectVault(c, ConnectOptions{{env.urls[0], env.urls[1], env.urls[2]}, {}});
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  // Fewer than k stores: nothing set up.
  VaultContext c2 = env.OtherHome("toofew");
  auto two = ConnectVault(c2, ConnectOptions{{env.urls[0], env.urls[3]}, {}});
  ASSERT_FALSE(two.ok());
  EXPECT_EQ(two.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_FALSE(fs::exists(c2.ConfigPath()));
}

// ------------------------------------------------------------------ custodians, passphrase

std::string Mistype(std::string code) {
  for (char& ch : code) {
    if (ch == '-') continue;
    ch = ch == 'A' ? 'B' : 'A';
    break;
  }
  return code;
}

TEST(VaultCustodians, QuorumOfCodesIsNeeded) {
  VaultEnv env("cust");
  InitOptions o;
  o.custodians = 3;
  o.quorum = 2;
  ASSERT_OK(env.Init(2, 3, o));
  const std::vector<std::string>& codes = env.init.recovery_codes;
  ASSERT_EQ(codes.size(), 3u);
  EXPECT_EQ(std::set<std::string>(codes.begin(), codes.end()).size(), 3u);
  for (int i = 0; i < 3; ++i) {
    StoreDescriptor d = env.Descriptor(i);
    EXPECT_TRUE(d.share.empty()) << "a plain share next to custodians";
    EXPECT_FALSE(d.wrapped_share.empty());
    EXPECT_EQ(d.custodians, 3);
    EXPECT_EQ(d.quorum, 2);
  }
  // All the stores without codes do not give the key.
  auto no_codes =
      RecoverMasterKey({env.Descriptor(0), env.Descriptor(1), env.Descriptor(2)}, {}, nullptr);
  ASSERT_FALSE(no_codes.ok());
  EXPECT_EQ(no_codes.status().code(), StatusCode::kFailedPrecondition);

  const fs::path src = env.Source();
  MakeSmallTree(src, 6, 2, 80000);
  auto backed_up = BackupOnce(env, src);
  ASSERT_OK(backed_up);
  const std::string id = *backed_up;
  const std::vector<std::string> two_stores = {env.urls[0], env.urls[2]};
  int home = 0;
  auto connect = [&](std::vector<std::string> cs) {
    VaultContext c = env.OtherHome("c" + std::to_string(home++));
    auto r = ConnectVault(c, ConnectOptions{two_stores, std::move(cs)});
    if (!r.ok()) {
      EXPECT_FALSE(fs::exists(c.ConfigPath())) << "a failed connect left a config";
    }
    return std::make_pair(c, r);
  };
  {
    auto [c, r] = connect({codes[1]});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition) << r.status().ToString();
  }
  {
    auto [c, r] = connect({});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  }
  {
    auto [c, r] = connect({Mistype(codes[0]), codes[1]});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
  }
  {
    // Two neighbouring characters swapped.
    std::string swapped = codes[2];
    for (size_t p = 0; p + 1 < swapped.size(); ++p) {
      if (swapped[p] != '-' && swapped[p + 1] != '-' && swapped[p] != swapped[p + 1]) {
        std::swap(swapped[p], swapped[p + 1]);
        break;
      }
    }
    if (swapped != codes[2]) {
      auto [c, r] = connect({codes[0], swapped});
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().ToString();
    }
  }
  {
    auto [c, r] = connect({codes[0], codes[0]});
    EXPECT_FALSE(r.ok()) << "one custodian's code given twice counted as two";
  }
  {
    VaultEnv other("custother");
    InitOptions oo;
    oo.custodians = 3;
    oo.quorum = 2;
    ASSERT_OK(other.Init(2, 3, oo));
    auto [c, r] = connect({other.init.recovery_codes[0], other.init.recovery_codes[1]});
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().message(), HasSubstr("another vault"));
  }
  // Any two codes (in any order, with k stores) work; the key is the vault's.
  const SecretBytes master = env.Master();
  for (auto pair : {std::pair{0, 1}, std::pair{2, 0}, std::pair{1, 2}}) {
    auto [c, r] =
        connect({codes[static_cast<size_t>(pair.first)], codes[static_cast<size_t>(pair.second)]});
    ASSERT_OK(r);
    auto key = ReadKeyFile(c.KeyPath(), r->vault_id, std::nullopt);
    ASSERT_OK(key);
    EXPECT_TRUE(key->master == master);
    if (pair.first == 2) {
      auto repo = OpenVault(c);
      ASSERT_OK(repo);
      EXPECT_RESTORES_IDENTICAL(**repo, id, src, env.root() / "restore");
    }
  }
  auto [c, all] = connect({codes[0], codes[1], codes[2]});
  EXPECT_OK(all);
}

TEST(VaultCustodians, PassphraseProtectedKeyFile) {
  VaultEnv env("pass");
  env.ctx.passphrase = "correct horse battery staple";
  InitOptions o;
  o.protect_with_passphrase = true;
  ASSERT_OK(env.Init(2, 3, o));
  const Bytes key_bytes = Slurp(env.ctx.KeyPath());
  const std::string text(AsString(key_bytes));
  auto j = nlohmann::json::parse(text);
  EXPECT_EQ(j.value("protection", ""), "scrypt");
  EXPECT_FALSE(j.contains("key"));
  const SecretBytes master = env.Master();
  EXPECT_EQ(text.find(HexEncode(master.view())), std::string::npos);

  VaultContext wrong = env.ctx;
  wrong.passphrase = "correct horse battery stapler";
  auto r = OpenVault(wrong);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();

  VaultContext none = env.ctx;
  none.passphrase.reset();
  r = OpenVault(none);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kPermissionDenied) << r.status().ToString();
  EXPECT_THAT(r.status().message(), HasSubstr("TESSERA_PASSPHRASE"));

  EXPECT_OK(OpenVault(env.ctx));

  // --passphrase without a passphrase is refused before anything is written.
  VaultEnv empty("passempty");
  InitOptions eo;
  eo.protect_with_passphrase = true;
  Status st = empty.Init(2, 3, eo);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
}

// ------------------------------------------------------------------ concurrency

TEST(VaultConcurrency, TwoWritersAtOnce) {
  VaultEnv env("conc");
  InitOptions o;
  o.pack_size = 2 * 1024 * 1024;
  ASSERT_OK(env.Init(2, 3, o));
  const fs::path a = env.Source("a"), b = env.Source("b");
  // Partly the same content, so both writers race to add the same blobs.
  const Bytes shared = RandomData(6 * 1024 * 1024, 42);
  MakeSmallTree(a, 10, 10, 400000);
  MakeSmallTree(b, 20, 10, 400000);
  WriteBytes(a / "shared.bin", shared);
  WriteBytes(b / "shared.bin", shared);
  for (int round = 0; round < 2; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    if (round == 1) {
      WriteBytes(a / "round1.bin", RandomData(1500000, 501));
      WriteBytes(b / "round1.bin", RandomData(1500000, 501));
    }
    auto ra = env.Open();
    auto rb = env.Open();
    ASSERT_OK(ra);
    ASSERT_OK(rb);
    std::optional<Result<BackupResult>> res_a, res_b;
    std::thread ta([&] { res_a.emplace(BackupPaths(**ra, {a.string()})); });
    std::thread tb([&] { res_b.emplace(BackupPaths(**rb, {b.string()})); });
    ta.join();
    tb.join();
    ASSERT_OK(*res_a);
    ASSERT_OK(*res_b);
    EXPECT_NE((*res_a)->snapshot.id, (*res_b)->snapshot.id);
    auto repo = env.Open();
    ASSERT_OK(repo);
    for (const auto& [id, src] :
         {std::pair{(*res_a)->snapshot.id, a}, std::pair{(*res_b)->snapshot.id, b}}) {
      EXPECT_RESTORES_IDENTICAL(**repo, id, src, env.root() / "restore");
    }
  }
  EXPECT_EQ(CountSnapshots(env), 4u);
  // The same tree from two writers at once.
  auto ra = env.Open();
  auto rb = env.Open();
  ASSERT_OK(ra);
  ASSERT_OK(rb);
  std::optional<Result<BackupResult>> res_a, res_b;
  BackupOptions force;
  force.no_parent = true;
  std::thread ta([&] { res_a.emplace(BackupPaths(**ra, {a.string()}, force)); });
  std::thread tb([&] { res_b.emplace(BackupPaths(**rb, {a.string()}, force)); });
  ta.join();
  tb.join();
  ASSERT_OK(*res_a);
  ASSERT_OK(*res_b);
  auto repo = env.Open();
  ASSERT_OK(repo);
  for (const std::string& id : {(*res_a)->snapshot.id, (*res_b)->snapshot.id}) {
    EXPECT_RESTORES_IDENTICAL(**repo, id, a, env.root() / "restore");
  }
}

// An exclusive lock left by a run on this machine that was killed (its process is gone)
// does not hold back the next backup; one of a live process, or of another host, does.
TEST(VaultConcurrency, LockOfAKilledLocalRunIsIgnored) {
  VaultEnv env("deadlock");
  ASSERT_OK(env.Init(2, 3));
  const fs::path src = env.Source();
  MakeSmallTree(src, 3, 2, 10000);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  auto lock_body = [](const std::string& host, int64_t pid) {
    nlohmann::json j = {{"version", 1}, {"exclusive", true},  {"host", host},
                        {"pid", pid},   {"purpose", "prune"}, {"time_ns", NowUnixNanos()}};
    return ToBytes(j.dump());
  };
  auto repo = env.Open();
  ASSERT_OK(repo);
  auto& objects = (*repo)->objects();
  // Held by a live process (this one's parent) on another host: the backup must wait.
  ASSERT_OK(objects.Put("locks/other-host", lock_body("elsewhere", ::getppid()), false));
  auto blocked = BackupPaths(**repo, {src.string()});
  ASSERT_FALSE(blocked.ok());
  EXPECT_EQ(blocked.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(blocked.status().message(), HasSubstr("elsewhere"));
  ASSERT_OK(objects.Delete("locks/other-host"));
  // Held by a live process here: the same.
  ASSERT_OK(objects.Put("locks/live", lock_body(HostName(), ::getppid()), false));
  EXPECT_FALSE(BackupPaths(**repo, {src.string()}).ok());
  ASSERT_OK(objects.Delete("locks/live"));
  // Held by the child that has exited: ignored and removed.
  ASSERT_OK(objects.Put("locks/dead", lock_body(HostName(), child), false));
  auto r = BackupPaths(**repo, {src.string()});
  ASSERT_OK(r);
  auto left = objects.List("locks/");
  ASSERT_OK(left);
  EXPECT_TRUE(left->empty()) << left->size() << " lock objects left";
}

}  // namespace
}  // namespace tessera::vault
