// verify / repair / replace-store over a 3-of-5 vault of five directory stores: each kind
// of damage is named by store and object, repair fixes what k healthy shards allow, and
// restores stay bit-exact.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "base/files.hpp"
#include "vault/backup.hpp"
#include "vault/checker.hpp"
#include "vault/keyring.hpp"
#include "vault/repair.hpp"
#include "vault/restore.hpp"
#include "vault/vault.hpp"

namespace tessera::vault {
namespace {

namespace fs = std::filesystem;

constexpr int kN = 5, kK = 3;

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

Bytes ReadAll(const fs::path& p) {
  auto b = ReadFile(p);
  EXPECT_TRUE(b.ok()) << p << ": " << b.status().ToString();
  return b.ok() ? *b : Bytes();
}

void WriteAll(const fs::path& p, ByteView data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

// Every regular file below `a` has a byte-identical twin below `b`, and no more.
void ExpectSameTree(const fs::path& a, const fs::path& b) {
  size_t files = 0;
  for (auto& e : fs::recursive_directory_iterator(a)) {
    fs::path rel = fs::relative(e.path(), a);
    ASSERT_TRUE(fs::exists(b / rel)) << rel;
    if (!e.is_regular_file()) continue;
    ++files;
    EXPECT_TRUE(ReadAll(e.path()) == ReadAll(b / rel)) << rel << " differs";
  }
  size_t other = 0;
  for (auto& e : fs::recursive_directory_iterator(b))
    if (e.is_regular_file()) ++other;
  EXPECT_EQ(files, other);
}

const ObjectHealth* FindObject(const CheckReport& r, const std::string& name) {
  for (const ObjectHealth& o : r.damaged_objects)
    if (o.name == name) return &o;
  return nullptr;
}

const ShardProblem* FindProblem(const ObjectHealth* o, int store) {
  if (!o) return nullptr;
  for (const ShardProblem& p : o->problems)
    if (p.store == store) return &p;
  return nullptr;
}

std::string AllText(const std::vector<std::string>& lines) {
  std::string out;
  for (auto& l : lines) out += l + "\n";
  return out;
}

class VaultCheckTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() /
            ("tessera-check-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(root_);
    ctx_.home = (root_ / "home").string();
    ctx_.threads = 2;
    for (int i = 0; i < kN; ++i) urls_.push_back(Url("s" + std::to_string(i + 1)));
    MakeTree(root_ / "data");
    InitOptions o;
    o.stores = urls_;
    o.threshold = kK;
    o.pack_size = 512 * 1024;
    auto init = InitVault(ctx_, o);
    ASSERT_TRUE(init.ok()) << init.status().ToString();
    vault_id_ = init->config.vault_id;
    auto repo = Open();
    BackupOptions b;
    b.paths = {(root_ / "data").string()};
    auto backup = Backup(*repo, b, nullptr);
    ASSERT_TRUE(backup.ok()) << backup.status().ToString();
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::string Url(const std::string& dir) const { return "file://" + (root_ / dir).string(); }
  fs::path StoreDir(int i) const { return root_ / ("s" + std::to_string(i + 1)); }
  fs::path ShardFile(int store, const std::string& object) const {
    return StoreDir(store) / object;
  }

  static void MakeTree(const fs::path& dir) {
    fs::create_directories(dir / "docs" / "deep");
    fs::create_directories(dir / "empty");
    std::mt19937_64 rng(42);
    auto random_bytes = [&](size_t n) {
      Bytes b(n);
      for (auto& c : b) c = static_cast<uint8_t>(rng());
      return b;
    };
    WriteAll(dir / "big1.bin", random_bytes(2'500'000));
    WriteAll(dir / "big2.bin", random_bytes(1'200'000));
    for (int i = 0; i < 40; ++i) {
      std::string text;
      for (int j = 0; j < 50 * (i + 1); ++j) text += "公文 line " + std::to_string(i * j) + "\n";
      WriteAll(dir / "docs" / ("note-" + std::to_string(i) + ".txt"), AsBytes(text));
    }
    WriteAll(dir / "docs" / "deep" / "small.bin", random_bytes(3000));
    fs::create_symlink("big1.bin", dir / "link");
  }

  std::unique_ptr<Repository> Open(const std::vector<int>& only = {}) {
    auto repo = OpenVault(ctx_, {only});
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    return repo.ok() ? std::move(*repo) : nullptr;
  }

  CheckReport Check(bool read_data) {
    auto repo = Open();
    auto r = CheckVault(*repo, read_data, nullptr);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : CheckReport();
  }

  RepairReport Repair() {
    auto repo = Open();
    auto r = RepairVault(*repo, nullptr);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : RepairReport();
  }

  // The pack holding the first chunk of big1.bin, and another data pack.
  std::vector<std::string> DataPacks() {
    auto repo = Open();
    EXPECT_TRUE(repo->LoadIndex().ok());
    std::set<std::string> packs;
    for (const IndexEntry& e : repo->IndexEntries())
      if (e.loc.type == BlobType::kData) packs.insert(PackObjectName(e.loc.pack_id));
    return {packs.begin(), packs.end()};
  }
  std::string IndexObject() {
    for (auto& e : fs::directory_iterator(StoreDir(0) / "index"))
      return "index/" + e.path().filename().string();
    return "";
  }

  void ExpectRestoreBitExact(Repository& repo, const std::string& target) {
    auto snap = repo.FindSnapshot("latest");
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    RestoreOptions o;
    o.target = (root_ / target).string();
    auto r = Restore(repo, *snap, o, nullptr);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ExpectSameTree(root_ / "data", root_ / target / (root_ / "data").relative_path());
  }
  void ExpectRestoreBitExact(const std::string& target) {
    auto repo = Open();
    ExpectRestoreBitExact(*repo, target);
  }

  void ExpectHealthy(const CheckReport& r) {
    EXPECT_TRUE(r.Healthy());
    for (const StoreHealth& s : r.stores) {
      EXPECT_TRUE(s.reachable) << s.index << ": " << s.error;
      EXPECT_EQ(s.descriptor, DescriptorState::kOk) << s.index << ": " << s.descriptor_problem;
      EXPECT_EQ(s.ok, r.objects) << "store " << s.index;
    }
    for (const ObjectHealth& o : r.damaged_objects) ADD_FAILURE() << "problem with " << o.name;
    EXPECT_EQ(AllText(r.structural), "");
    EXPECT_EQ(r.config_problem, "");
  }

  fs::path root_;
  VaultContext ctx_;
  std::vector<std::string> urls_;
  std::string vault_id_;
};

TEST_F(VaultCheckTest, CleanVaultIsHealthy) {
  CheckReport quick = Check(false);
  ExpectHealthy(quick);
  EXPECT_GT(quick.objects, 8u);
  EXPECT_EQ(quick.snapshots, 1u);
  EXPECT_GT(quick.trees, 3u);
  CheckReport full = Check(true);
  ExpectHealthy(full);
  EXPECT_EQ(full.objects, quick.objects);
  EXPECT_GT(full.blobs_checked, 40u);
  EXPECT_EQ(full.epoch, 1);
  EXPECT_FALSE(full.Repairable());
}

TEST_F(VaultCheckTest, FlippedByteIsNamedAndRepaired) {
  const std::string pack = DataPacks().front();
  Bytes shard = ReadAll(ShardFile(1, pack));
  shard[shard.size() / 2] ^= 0x01;
  WriteAll(ShardFile(1, pack), shard);

  // Same size everywhere: only reading the data finds it.
  EXPECT_TRUE(Check(false).Healthy());
  CheckReport r = Check(true);
  EXPECT_FALSE(r.Healthy());
  EXPECT_TRUE(r.Repairable());
  const ObjectHealth* o = FindObject(r, pack);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->verdict, ObjectVerdict::kRepairable);
  EXPECT_EQ(o->healthy, 4);
  const ShardProblem* p = FindProblem(o, 1);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->state, ShardState::kDamaged);
  EXPECT_TRUE(Contains(p->reason, "fails authentication")) << p->reason;
  EXPECT_EQ(r.stores[1].damaged, 1u);
  EXPECT_EQ(r.stores[1].ok, r.objects - 1);
  EXPECT_EQ(r.damaged_objects.size(), 1u);

  RepairReport fixed = Repair();
  EXPECT_TRUE(fixed.Complete()) << AllText(fixed.unrepaired) << AllText(fixed.waiting);
  ASSERT_EQ(fixed.rebuilt.size(), 1u);
  EXPECT_EQ(fixed.rebuilt[0].name, pack);
  EXPECT_EQ(fixed.rebuilt[0].stores, std::vector<int>{1});
  EXPECT_EQ(fixed.new_epoch, 0);
  ExpectHealthy(Check(true));
  ExpectRestoreBitExact("restore");
}

TEST_F(VaultCheckTest, TruncatedShardIsNamedAndRepaired) {
  const std::string pack = DataPacks().back();
  fs::resize_file(ShardFile(2, pack), fs::file_size(ShardFile(2, pack)) / 2);
  CheckReport quick = Check(false);
  const ShardProblem* q = FindProblem(FindObject(quick, pack), 2);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(q->state, ShardState::kDamaged);
  EXPECT_TRUE(Contains(q->reason, "truncated")) << q->reason;

  CheckReport r = Check(true);
  const ShardProblem* p = FindProblem(FindObject(r, pack), 2);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(Contains(p->reason, "truncated")) << p->reason;

  RepairReport fixed = Repair();
  EXPECT_TRUE(fixed.Complete());
  EXPECT_EQ(fixed.shards_written, 1u);
  ExpectHealthy(Check(true));
  ExpectRestoreBitExact("restore");
}

TEST_F(VaultCheckTest, DeletedShardIsNamedAndRepaired) {
  const std::string index = IndexObject();
  ASSERT_FALSE(index.empty());
  fs::remove(ShardFile(3, index));
  CheckReport r = Check(false);
  const ShardProblem* p = FindProblem(FindObject(r, index), 3);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->state, ShardState::kMissing);
  EXPECT_EQ(r.stores[3].missing, 1u);
  RepairReport fixed = Repair();
  EXPECT_TRUE(fixed.Complete());
  EXPECT_TRUE(fs::exists(ShardFile(3, index)));
  ExpectHealthy(Check(true));
}

TEST_F(VaultCheckTest, ShardOfAnotherObjectIsNamed) {
  auto packs = DataPacks();
  ASSERT_GE(packs.size(), 2u);
  fs::copy_file(ShardFile(0, packs[0]), ShardFile(0, packs[1]),
                fs::copy_options::overwrite_existing);
  CheckReport r = Check(true);
  const ShardProblem* p = FindProblem(FindObject(r, packs[1]), 0);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->state, ShardState::kDamaged);
  EXPECT_TRUE(Contains(p->reason, "different object")) << p->reason;
  EXPECT_EQ(FindObject(r, packs[0]), nullptr);
  EXPECT_TRUE(Repair().Complete());
  ExpectHealthy(Check(true));
  ExpectRestoreBitExact("restore");
}

// Authentic shards whose pack does not hold the blobs the index says it holds (a pack
// sealed again under another pack's name): every shard passes its MAC, so only decoding
// the blobs, from the shards read for their own check, finds it.
TEST_F(VaultCheckTest, PackThatDoesNotHoldItsBlobsIsReported) {
  auto packs = DataPacks();
  ASSERT_GE(packs.size(), 2u);
  {
    auto repo = Open();
    ASSERT_NE(repo, nullptr);
    auto other = repo->objects().Get(packs[0]);
    ASSERT_TRUE(other.ok()) << other.status().ToString();
    auto put = repo->objects().Put(packs[1], *other, false);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
  }
  const std::string id = packs[1].substr(packs[1].rfind('/') + 1, 16);
  CheckReport quick = Check(false);
  EXPECT_EQ(AllText(quick.structural), "");
  CheckReport full = Check(true);
  EXPECT_TRUE(Contains(AllText(full.structural), "pack " + id)) << AllText(full.structural);
  EXPECT_TRUE(Contains(AllText(full.structural), "do not decode to their ids"))
      << AllText(full.structural);
  EXPECT_FALSE(full.Healthy());
}

TEST_F(VaultCheckTest, EmptiedStoreIsRebuiltWithNewKeyShares) {
  for (auto& e : fs::directory_iterator(StoreDir(4))) fs::remove_all(e.path());
  CheckReport r = Check(false);
  EXPECT_TRUE(r.stores[4].reachable);
  EXPECT_TRUE(r.stores[4].empty);
  EXPECT_EQ(r.stores[4].descriptor, DescriptorState::kMissing);
  EXPECT_EQ(r.stores[4].missing, r.objects);
  EXPECT_EQ(r.stores[4].ok, 0u);
  EXPECT_TRUE(r.Repairable());

  RepairReport fixed = Repair();
  EXPECT_TRUE(fixed.Complete()) << AllText(fixed.unrepaired);
  EXPECT_EQ(fixed.shards_written, r.objects);
  EXPECT_EQ(fixed.new_epoch, 2);
  EXPECT_EQ(fixed.descriptors_written, (std::vector<int>{0, 1, 2, 3, 4}));
  CheckReport after = Check(true);
  ExpectHealthy(after);
  EXPECT_EQ(after.epoch, 2);

  // The rebuilt store's new key share works in a disaster recovery from stores 3, 4, 5.
  auto config = LoadLocalConfig(ctx_);
  ASSERT_TRUE(config.ok());
  auto dr = OpenFromStores(*config, {2, 3, 4}, {}, nullptr, {}, 2);
  ASSERT_TRUE(dr.ok()) << dr.status().ToString();
  ExpectRestoreBitExact(**dr, "restore");
}

TEST_F(VaultCheckTest, StoreOfAnotherVaultIsNamedAndLeftAlone) {
  VaultContext other = ctx_;
  other.name = "other";
  InitOptions o;
  for (int i = 0; i < kN; ++i) o.stores.push_back(Url("o" + std::to_string(i + 1)));
  o.threshold = kK;
  auto init = InitVault(other, o);
  ASSERT_TRUE(init.ok()) << init.status().ToString();
  {
    auto repo = OpenVault(other);
    ASSERT_TRUE(repo.ok());
    BackupOptions b;
    b.paths = {(root_ / "data" / "docs").string()};
    ASSERT_TRUE(Backup(**repo, b, nullptr).ok());
  }
  // Store 3's URL now leads to the other vault's store 3.
  fs::rename(StoreDir(2), root_ / "s3.mine");
  fs::copy(root_ / "o3", StoreDir(2), fs::copy_options::recursive);
  auto files_of = [](const fs::path& dir) {
    std::map<std::string, Bytes> out;
    for (auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = ReadAll(e.path());
    return out;
  };
  const auto foreign_files = files_of(StoreDir(2));

  CheckReport r = Check(true);
  EXPECT_FALSE(r.Healthy());
  EXPECT_EQ(r.stores[2].descriptor, DescriptorState::kForeign);
  EXPECT_EQ(r.stores[2].foreign_vault_id, init->config.vault_id);
  EXPECT_FALSE(r.stores[2].Writable());
  const ShardProblem* p = FindProblem(FindObject(r, kConfigObject), 2);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(Contains(p->reason, "another vault")) << p->reason;
  // The other vault's objects are not taken for this vault's.
  for (bool read_data : {false, true})
    for (const ObjectHealth& o : Check(read_data).damaged_objects) {
      EXPECT_EQ(o.verdict, ObjectVerdict::kRepairable) << o.name;
      EXPECT_EQ(o.healthy, kN - 1) << o.name;
    }

  RepairReport rep = Repair();
  EXPECT_FALSE(rep.Complete());
  EXPECT_TRUE(Contains(AllText(rep.unrepaired), "store 3")) << AllText(rep.unrepaired);
  EXPECT_EQ(rep.shards_written, 0u);
  EXPECT_EQ(rep.new_epoch, 0);
  // Nothing of this vault was written into the other vault's store, not even a lock.
  EXPECT_TRUE(files_of(StoreDir(2)) == foreign_files);

  fs::remove_all(StoreDir(2));
  fs::rename(root_ / "s3.mine", StoreDir(2));
  ExpectHealthy(Check(true));
  ExpectRestoreBitExact("restore");
}

TEST_F(VaultCheckTest, TooManyDamagedShardsAreUnrecoverable) {
  const std::string pack = DataPacks().front();
  // n-k+1 = 3 shards gone in three different ways.
  fs::remove(ShardFile(0, pack));
  fs::resize_file(ShardFile(1, pack), 100);
  Bytes shard = ReadAll(ShardFile(4, pack));
  shard[shard.size() - 40] ^= 0x80;
  WriteAll(ShardFile(4, pack), shard);

  CheckReport r = Check(true);
  EXPECT_FALSE(r.Healthy());
  const ObjectHealth* o = FindObject(r, pack);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->verdict, ObjectVerdict::kUnrecoverable);
  EXPECT_EQ(o->healthy, 2);
  EXPECT_EQ(r.Count(ObjectVerdict::kUnrecoverable), 1u);
  // The files that lose content are named.
  EXPECT_TRUE(Contains(AllText(r.structural), ": file " + (root_ / "data").string() + "/"))
      << AllText(r.structural);
  EXPECT_TRUE(Contains(AllText(r.structural), "packs with fewer than k healthy shards"));

  RepairReport rep = Repair();
  EXPECT_FALSE(rep.unrepaired.empty());  // the CLI exits 4
  EXPECT_TRUE(Contains(AllText(rep.unrepaired), pack + ": UNRECOVERABLE"))
      << AllText(rep.unrepaired);
  EXPECT_TRUE(rep.rebuilt.empty());
  EXPECT_EQ(Check(true).Count(ObjectVerdict::kUnrecoverable), 1u);
}

TEST_F(VaultCheckTest, PackLostOnEveryStoreIsReported) {
  const std::string pack = DataPacks().front();
  for (int i = 0; i < kN; ++i) fs::remove(ShardFile(i, pack));
  CheckReport r = Check(false);
  const ObjectHealth* o = FindObject(r, pack);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->verdict, ObjectVerdict::kUnrecoverable);
  EXPECT_EQ(o->healthy, 0);
  EXPECT_EQ(o->problems.size(), static_cast<size_t>(kN));
}

TEST_F(VaultCheckTest, UnreachableStoreWaitsWhileOthersAreRepaired) {
  const std::string index = IndexObject();
  fs::remove(ShardFile(3, index));
  fs::rename(StoreDir(1), root_ / "s2.away");
  CheckReport r = Check(false);
  EXPECT_FALSE(r.stores[1].reachable);
  EXPECT_FALSE(r.stores[1].error.empty());
  EXPECT_FALSE(r.Healthy());
  EXPECT_TRUE(r.AnyUnreachable());

  RepairReport rep = Repair();
  EXPECT_TRUE(rep.unrepaired.empty()) << AllText(rep.unrepaired);  // the CLI exits 3
  EXPECT_EQ(rep.unreachable, std::vector<int>{1});
  EXPECT_FALSE(rep.waiting.empty());
  ASSERT_EQ(rep.rebuilt.size(), 1u);
  EXPECT_EQ(rep.rebuilt[0].name, index);

  fs::rename(root_ / "s2.away", StoreDir(1));
  ExpectHealthy(Check(true));
}

TEST_F(VaultCheckTest, LeftoverOfInterruptedUploadIsRemoved) {
  auto repo = Open();
  const std::string name = PackObjectName(std::string(64, 'a'));
  auto files = repo->objects().EncodeShardFiles(name, AsBytes("half-written pack"), false);
  ASSERT_TRUE(files.ok());
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(repo->objects().store(i)->Put(name, (*files)[i]).ok());
  CheckReport r = Check(true);
  const ObjectHealth* o = FindObject(r, name);
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o->verdict, ObjectVerdict::kLeftover);
  EXPECT_TRUE(r.Healthy());  // never held committed data
  RepairReport rep = Repair();
  EXPECT_EQ(rep.leftovers_removed, std::vector<std::string>{name});
  EXPECT_FALSE(fs::exists(ShardFile(0, name)));
  EXPECT_TRUE(Check(true).damaged_objects.empty());
}

TEST_F(VaultCheckTest, LockOfDeadLocalRunIsClearedButLiveLockIsHonoured) {
  auto repo = Open();
  pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  ASSERT_GT(child, 0);
  ::waitpid(child, nullptr, 0);
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  nlohmann::json dead = {{"version", 1}, {"exclusive", true},   {"host", host},
                         {"pid", child}, {"purpose", "repair"}, {"time_ns", now}};
  ASSERT_TRUE(repo->objects().Put("locks/dead", AsBytes(dead.dump()), false).ok());
  RepairReport rep = Repair();
  ASSERT_EQ(rep.locks_removed.size(), 1u);
  EXPECT_TRUE(Contains(rep.locks_removed[0], "locks/dead"));

  nlohmann::json live = dead;
  live["host"] = "another-host.example";
  ASSERT_TRUE(repo->objects().Put("locks/live", AsBytes(live.dump()), false).ok());
  auto refused = RepairVault(*repo, nullptr);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(repo->objects().Delete("locks/live").ok());
}

TEST_F(VaultCheckTest, ReplaceStoreMovesShardsAndVoidsTheOldShare) {
  const Bytes old_descriptor = ReadAll(StoreDir(1) / kDescriptorName);
  const std::string url = Url("new2");
  {
    auto repo = Open();
    auto r = ReplaceStore(*repo, ctx_, 1, url, nullptr);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_FALSE(r->resumed);
    EXPECT_EQ(r->epoch, 2);
    EXPECT_TRUE(r->lost.empty()) << AllText(r->lost);
    EXPECT_EQ(r->rebuilt + 1, r->objects);  // all but the config, which is sealed anew
  }
  auto config = LoadLocalConfig(ctx_);
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->stores[1], url);
  ExpectHealthy(Check(true));
  {
    auto repo = Open({0, 1, 2});
    ASSERT_NE(repo, nullptr);
    ExpectRestoreBitExact(*repo, "restore");
    auto sealed = repo->objects().Get(kConfigObject);
    ASSERT_TRUE(sealed.ok());
    auto parsed = ParseConfig(*sealed);
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->stores[1], url);
  }
  // The retired store's share no longer combines with the new ones.
  auto descriptor = [&](const fs::path& dir) {
    auto d = ParseDescriptor(ReadAll(dir / kDescriptorName));
    EXPECT_TRUE(d.ok());
    return *d;
  };
  auto old2 = ParseDescriptor(old_descriptor);
  ASSERT_TRUE(old2.ok());
  StoreDescriptor new1 = descriptor(StoreDir(0)), new2 = descriptor(root_ / "new2"),
                  new3 = descriptor(StoreDir(2));
  EXPECT_EQ(new2.epoch, 2);
  EXPECT_FALSE(RecoverMasterKey({*old2, new1, new3}, {}, nullptr).ok());
  auto master = RecoverMasterKey({new1, new2, new3}, {}, nullptr);
  ASSERT_TRUE(master.ok()) << master.status().ToString();
  EXPECT_TRUE(master->view().size() == kMasterKeySize);
  EXPECT_TRUE(std::equal(master->view().begin(), master->view().end(),
                         Open()->keys().master().view().begin()));
  // And the stores alone rebuild the vault on a new machine.
  VaultContext fresh = ctx_;
  fresh.home = (root_ / "home2").string();
  auto connected = ConnectVault(fresh, {{Url("s1"), url, Url("s3")}, {}});
  ASSERT_TRUE(connected.ok()) << connected.status().ToString();
  EXPECT_EQ(connected->stores[1], url);
}

TEST_F(VaultCheckTest, ReplaceStoreRefusesOccupiedLocations) {
  fs::create_directories(root_ / "occupied");
  fs::copy_file(root_ / "s1" / kDescriptorName, root_ / "occupied" / kDescriptorName);
  {
    auto repo = Open();
    auto r = ReplaceStore(*repo, ctx_, 1, Url("occupied"), nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
  }
  fs::create_directories(root_ / "junk");
  WriteAll(root_ / "junk" / "notes.txt", AsBytes("hello"));
  {
    auto repo = Open();
    auto r = ReplaceStore(*repo, ctx_, 1, Url("junk"), nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists);
    EXPECT_TRUE(Contains(r.status().message(), "not empty")) << r.status().message();
    EXPECT_FALSE(ReplaceStore(*repo, ctx_, 7, Url("x"), nullptr).ok());
    EXPECT_FALSE(ReplaceStore(*repo, ctx_, 1, Url("s3"), nullptr).ok());
  }
  EXPECT_EQ(LoadLocalConfig(ctx_)->stores[1], urls_[1]);
  ExpectHealthy(Check(false));
}

TEST_F(VaultCheckTest, ReplaceStoreContinuesAnInterruptedRun) {
  // What a run killed during step (1) leaves: some of the slot's shards on the new store.
  const std::string url = Url("new2");
  auto packs = DataPacks();
  {
    auto repo = Open();
    auto target = store::OpenStore(url);
    ASSERT_TRUE(target.ok());
    ASSERT_TRUE((*target)->Create().ok());
    for (size_t j = 0; j < 2; ++j) {
      auto files = repo->objects().RebuildShardFiles(packs[j], {1});
      ASSERT_TRUE(files.ok());
      ASSERT_TRUE((*target)->Put(packs[j], (*files)[0]).ok());
    }
    auto r = ReplaceStore(*repo, ctx_, 1, url, nullptr);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_TRUE(r->resumed);
    EXPECT_EQ(r->present, 2u);
  }
  ExpectHealthy(Check(true));
  ExpectRestoreBitExact("restore");
}

TEST_F(VaultCheckTest, PartlyReissuedSharesStillOpenTheVault) {
  auto config = LoadLocalConfig(ctx_);
  ASSERT_TRUE(config.ok());
  auto repo = Open();
  std::vector<StoreDescriptor> old;
  for (int i = 0; i < kN; ++i) {
    auto d = ParseDescriptor(ReadAll(StoreDir(i) / kDescriptorName));
    ASSERT_TRUE(d.ok());
    old.push_back(*d);
  }
  auto next = IssueKeys(*config, &repo->keys().master(), nullptr, 2);
  ASSERT_TRUE(next.ok());
  // A re-issue killed after its first write: one new share, four old ones.
  auto master = RecoverMasterKey({next->descriptors[0], old[1], old[2], old[3]}, {}, nullptr);
  ASSERT_TRUE(master.ok()) << master.status().ToString();
  // Mixed shares below k of either epoch still refuse.
  EXPECT_FALSE(
      RecoverMasterKey({next->descriptors[0], next->descriptors[1], old[2], old[3]}, {}, nullptr)
          .ok());
}

TEST_F(VaultCheckTest, CustodianVaultReissuesSharesUnderTheCustodianKey) {
  VaultContext cust = ctx_;
  cust.name = "custodians";
  InitOptions o;
  for (int i = 0; i < kN; ++i) o.stores.push_back(Url("c" + std::to_string(i + 1)));
  o.threshold = kK;
  o.custodians = 3;
  o.quorum = 2;
  auto init = InitVault(cust, o);
  ASSERT_TRUE(init.ok()) << init.status().ToString();
  for (auto& e : fs::directory_iterator(root_ / "c2")) fs::remove_all(e.path());
  auto repo = OpenVault(cust);
  ASSERT_TRUE(repo.ok());
  auto rep = RepairVault(**repo, nullptr);
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  EXPECT_TRUE(rep->Complete()) << AllText(rep->unrepaired);
  EXPECT_EQ(rep->new_epoch, 2);
  std::vector<StoreDescriptor> ds;
  for (int i : {1, 2, 4}) {
    auto d = ParseDescriptor(ReadAll(root_ / ("c" + std::to_string(i + 1)) / kDescriptorName));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->epoch, 2);
    EXPECT_TRUE(d->share.empty());
    ds.push_back(*d);
  }
  auto master = RecoverMasterKey(ds, {init->recovery_codes[0], init->recovery_codes[2]}, nullptr);
  ASSERT_TRUE(master.ok()) << master.status().ToString();
  auto check = CheckVault(**repo, true, nullptr);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->Healthy());
}

}  // namespace
}  // namespace tessera::vault
