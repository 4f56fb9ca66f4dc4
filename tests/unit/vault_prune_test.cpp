// Tests of forget and prune: the retention policy on synthetic snapshot times (hour, day,
// ISO week, month and year boundaries in UTC, keep-last, keep-within, tags, groups, the
// empty policy refused), and whole vaults over 3-of-5 file:// stores: backups of a
// changing tree, forget, prune, every remaining snapshot restored bit-exact and the stores
// smaller; prune refused while a backup's shared lock is held; prune stopped after each
// of its steps (as by kill -9) leaves every snapshot restorable and the next prune cleans up.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "crypto/random.hpp"
#include "status_matchers.hpp"
#include "vault/backup.hpp"
#include "vault/forget.hpp"
#include "vault/lock.hpp"
#include "vault/prune.hpp"
#include "vault/restore.hpp"
#include "vault/vault.hpp"

namespace tessera::vault {
namespace {

namespace fs = std::filesystem;

// ------------------------------------------------------------------ policy

int64_t T(const std::string& rfc3339) {
  return ParseRfc3339(rfc3339).value();
}

Snapshot Snap(const std::string& id, const std::string& time, std::string host = "h",
              std::vector<std::string> paths = {"/data"}, std::vector<std::string> tags = {}) {
  Snapshot s;
  s.id = id;
  s.time_ns = T(time);
  s.hostname = std::move(host);
  s.paths = std::move(paths);
  s.tags = std::move(tags);
  return s;
}

std::vector<std::string> Ids(const std::vector<Snapshot>& v) {
  std::vector<std::string> out;
  for (const Snapshot& s : v) out.push_back(s.id);
  std::sort(out.begin(), out.end());
  return out;
}

PolicyResult MustApply(const std::vector<Snapshot>& snaps, const RetentionPolicy& p,
                       int64_t now = T("2030-01-01T00:00:00Z")) {
  auto r = ApplyPolicy(snaps, p, now);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : PolicyResult{};
}

TEST(RetentionPolicy, EmptyPolicyIsRefused) {
  std::vector<Snapshot> snaps = {Snap("a", "2024-01-01T00:00:00Z")};
  RetentionPolicy p;
  EXPECT_TRUE(p.Empty());
  auto r = ApplyPolicy(snaps, p, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("every snapshot"), std::string::npos);
  // A zero count or a zero span is no rule either.
  p.last = 0;
  p.within = ParseRetentionSpan("0d").value();
  EXPECT_FALSE(ApplyPolicy(snaps, p, 0).ok());
  p.last = -2;
  EXPECT_EQ(ApplyPolicy(snaps, p, 0).status().code(), StatusCode::kInvalidArgument);
}

TEST(RetentionPolicy, KeepLast) {
  std::vector<Snapshot> snaps;
  for (int i = 0; i < 5; ++i)
    snaps.push_back(Snap("s" + std::to_string(i), "2024-03-0" + std::to_string(i + 1)));
  RetentionPolicy p;
  p.last = 2;
  PolicyResult r = MustApply(snaps, p);
  EXPECT_EQ(Ids(r.keep), (std::vector<std::string>{"s3", "s4"}));
  EXPECT_EQ(Ids(r.remove), (std::vector<std::string>{"s0", "s1", "s2"}));
  EXPECT_EQ(r.reasons["s4"], std::vector<std::string>{"last snapshot"});
  EXPECT_EQ(r.reasons["s0"], std::vector<std::string>{"not kept by any rule"});
  // Lists are oldest first.
  EXPECT_EQ(r.keep.front().id, "s3");
  p.last = -1;
  EXPECT_EQ(MustApply(snaps, p).remove.size(), 0u);
  p.last = 10;
  EXPECT_EQ(MustApply(snaps, p).keep.size(), 5u);
}

TEST(RetentionPolicy, DailyBoundariesAreUtcMidnight) {
  std::vector<Snapshot> snaps = {
      Snap("d1-early", "2024-05-01T00:00:00Z"), Snap("d1-late", "2024-05-01T23:59:59Z"),
      Snap("d2-early", "2024-05-02T00:00:00Z"), Snap("d2-noon", "2024-05-02T12:00:00Z"),
      Snap("d4", "2024-05-04T08:00:00Z"),  // no snapshot on May 3: days with one count
  };
  RetentionPolicy p;
  p.daily = 2;
  PolicyResult r = MustApply(snaps, p);
  EXPECT_EQ(Ids(r.keep), (std::vector<std::string>{"d2-noon", "d4"}));
  p.daily = 3;
  r = MustApply(snaps, p);
  EXPECT_EQ(Ids(r.keep), (std::vector<std::string>{"d1-late", "d2-noon", "d4"}));
  EXPECT_EQ(r.reasons["d1-late"], std::vector<std::string>{"daily snapshot"});
}

TEST(RetentionPolicy, HourlyBuckets) {
  std::vector<Snapshot> snaps = {
      Snap("a", "2024-05-01T10:00:00Z"), Snap("b", "2024-05-01T10:59:59Z"),
      Snap("c", "2024-05-01T11:00:00Z"), Snap("d", "2024-05-01T13:30:00Z")};
  RetentionPolicy p;
  p.hourly = 3;
  EXPECT_EQ(Ids(MustApply(snaps, p).keep), (std::vector<std::string>{"b", "c", "d"}));
}

TEST(RetentionPolicy, WeeklyUsesIsoWeeks) {
  // 2020-12-28 (Monday) .. 2021-01-03 (Sunday) is ISO week 2020-W53; 2021-01-04 starts
  // 2021-W01. 2024-12-30 (Monday) is already 2025-W01, while Sunday 2024-12-29 is 2024-W52.
  std::vector<Snapshot> snaps = {
      Snap("w53-mon", "2020-12-28T00:00:00Z"), Snap("w53-sun", "2021-01-03T23:59:59Z"),
      Snap("w01-mon", "2021-01-04T00:00:00Z"), Snap("w52-sun", "2024-12-29T23:00:00Z"),
      Snap("w01-2025", "2024-12-30T01:00:00Z")};
  RetentionPolicy p;
  p.weekly = -1;
  PolicyResult r = MustApply(snaps, p);
  EXPECT_EQ(Ids(r.keep), (std::vector<std::string>{"w01-2025", "w01-mon", "w52-sun", "w53-sun"}));
  EXPECT_EQ(Ids(r.remove), (std::vector<std::string>{"w53-mon"}));
  p.weekly = 2;
  EXPECT_EQ(Ids(MustApply(snaps, p).keep), (std::vector<std::string>{"w01-2025", "w52-sun"}));
}

TEST(RetentionPolicy, MonthlyAndYearly) {
  std::vector<Snapshot> snaps = {
      Snap("2023-12", "2023-12-31T23:59:59Z"), Snap("2024-01a", "2024-01-01T00:00:00Z"),
      Snap("2024-01b", "2024-01-31T23:59:59Z"), Snap("2024-02", "2024-02-01T00:00:00Z"),
      Snap("2024-02b", "2024-02-29T12:00:00Z")};
  RetentionPolicy p;
  p.monthly = 2;
  EXPECT_EQ(Ids(MustApply(snaps, p).keep), (std::vector<std::string>{"2024-01b", "2024-02b"}));
  p.monthly = 0;
  p.yearly = 5;
  EXPECT_EQ(Ids(MustApply(snaps, p).keep), (std::vector<std::string>{"2023-12", "2024-02b"}));
}

TEST(RetentionPolicy, CombinedRulesGiveEveryReason) {
  std::vector<Snapshot> snaps = {Snap("old", "2024-01-15T00:00:00Z"),
                                 Snap("new", "2024-02-10T00:00:00Z")};
  RetentionPolicy p;
  p.last = 1;
  p.daily = 7;
  p.monthly = 12;
  PolicyResult r = MustApply(snaps, p);
  EXPECT_EQ(r.remove.size(), 0u);
  EXPECT_EQ(r.reasons["new"],
            (std::vector<std::string>{"last snapshot", "daily snapshot", "monthly snapshot"}));
  EXPECT_EQ(r.reasons["old"], (std::vector<std::string>{"daily snapshot", "monthly snapshot"}));
}

TEST(RetentionPolicy, KeepWithinCountsFromTheNewestSnapshot) {
  std::vector<Snapshot> snaps = {
      Snap("a", "2024-01-01T00:00:00Z"), Snap("b", "2024-01-08T11:59:59Z"),
      Snap("c", "2024-01-08T12:00:00Z"), Snap("d", "2024-01-10T12:00:00Z")};
  RetentionPolicy p;
  p.within = ParseRetentionSpan("2d").value();
  // Years after the last backup, the last snapshots are still kept.
  PolicyResult r = MustApply(snaps, p, T("2030-01-01T00:00:00Z"));
  EXPECT_EQ(Ids(r.keep), (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(r.reasons["c"], std::vector<std::string>{"within 2d of the newest"});
  // A snapshot dated in the future does not push the window past now.
  snaps.push_back(Snap("future", "2025-06-01T00:00:00Z"));
  r = MustApply(snaps, p, T("2024-01-10T12:00:00Z"));
  EXPECT_EQ(Ids(r.keep), (std::vector<std::string>{"c", "d", "future"}));
}

TEST(RetentionPolicy, SpansParseAndUseTheCalendar) {
  auto s = ParseRetentionSpan("1y2m3d4h");
  ASSERT_OK(s);
  EXPECT_EQ(s->years, 1);
  EXPECT_EQ(s->months, 2);
  EXPECT_EQ(s->days, 3);
  EXPECT_EQ(s->hours, 4);
  EXPECT_EQ(s->ToString(), "1y2m3d4h");
  for (const char* bad : {"", "d", "12", "3w", "1y-2m", "5 d", "99999999d"})
    EXPECT_FALSE(ParseRetentionSpan(bad).ok()) << bad;
  auto minus = [](const char* t, const char* span) {
    return FormatRfc3339(SubtractSpan(T(t), ParseRetentionSpan(span).value()));
  };
  EXPECT_EQ(minus("2024-03-31T10:00:00Z", "1m"), "2024-03-02T10:00:00Z");  // "Feb 31"
  EXPECT_EQ(minus("2023-03-31T10:00:00Z", "1m"), "2023-03-03T10:00:00Z");
  EXPECT_EQ(minus("2024-02-29T00:00:00Z", "1y"), "2023-03-01T00:00:00Z");
  EXPECT_EQ(minus("2024-01-15T00:00:00Z", "1m15d"), "2023-11-30T00:00:00Z");
  EXPECT_EQ(minus("2024-01-01T01:00:00Z", "2h"), "2023-12-31T23:00:00Z");
  EXPECT_EQ(minus("2024-05-20T00:00:00Z", "30d"), "2024-04-20T00:00:00Z");
}

TEST(RetentionPolicy, KeepTag) {
  std::vector<Snapshot> snaps = {Snap("a", "2024-01-01", "h", {"/data"}, {"release"}),
                                 Snap("b", "2024-01-02", "h", {"/data"}, {"nightly"}),
                                 Snap("c", "2024-01-03")};
  RetentionPolicy p;
  p.tags = {"release", "audit"};
  PolicyResult r = MustApply(snaps, p);
  EXPECT_EQ(Ids(r.keep), std::vector<std::string>{"a"});
  EXPECT_EQ(r.reasons["a"], std::vector<std::string>{"tagged 'release'"});
}

TEST(RetentionPolicy, GroupsByHostAndPaths) {
  std::vector<Snapshot> snaps = {Snap("h1-a", "2024-01-01", "h1", {"/a", "/b"}),
                                 Snap("h1-b", "2024-01-02", "h1", {"/b", "/a"}),
                                 Snap("h1-c", "2024-01-03", "h1", {"/c"}),
                                 Snap("h2-a", "2024-01-01", "h2", {"/a", "/b"}),
                                 Snap("h2-b", "2023-01-01", "h2", {"/a", "/b"})};
  RetentionPolicy p;
  p.last = 1;
  PolicyResult r = MustApply(snaps, p);
  EXPECT_EQ(Ids(r.keep), (std::vector<std::string>{"h1-b", "h1-c", "h2-a"}));
  ASSERT_EQ(r.groups.size(), 3u);
  EXPECT_EQ(r.groups[0].hostname, "h1");
  EXPECT_EQ(r.groups[0].paths, (std::vector<std::string>{"/a", "/b"}));  // order does not matter
  EXPECT_EQ(Ids(r.groups[0].remove), std::vector<std::string>{"h1-a"});
  EXPECT_EQ(r.groups[2].hostname, "h2");
  EXPECT_EQ(Ids(r.groups[2].remove), std::vector<std::string>{"h2-b"});
}

// ------------------------------------------------------------------ whole vaults

uint64_t DirBytes(const fs::path& dir) {
  uint64_t total = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) total += e.file_size();
  return total;
}

// Every regular file below `dir`, by path relative to it, with its content.
std::map<std::string, std::string> ReadTree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    out[fs::relative(e.path(), dir).string()] =
        std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return out;
}

class VaultPruneTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("tessera-prune-" + crypto::RandomId().substr(0, 12));
    fs::create_directories(root_ / "src");
    vc_.home = (root_ / "home").string();
    vc_.threads = 4;
    InitOptions o;
    for (int i = 1; i <= 5; ++i)
      o.stores.push_back("file://" + (root_ / ("s" + std::to_string(i))).string());
    o.threshold = 3;
    o.pack_size = 256 * 1024;  // small packs: each holds a few of the test's files
    ASSERT_OK(InitVault(vc_, o));
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  std::unique_ptr<Repository> Open() { return OpenVault(vc_).value(); }

  uint64_t StoreBytes() {
    uint64_t total = 0;
    for (int i = 1; i <= 5; ++i) total += DirBytes(root_ / ("s" + std::to_string(i)));
    return total;
  }

  // Random (incompressible) content below the minimum chunk size: one blob per file.
  void WriteFile(int n) {
    std::string body(20000 + rng_() % 40000, '\0');
    for (char& c : body) c = static_cast<char>(rng_());
    std::ofstream(root_ / "src" / ("f" + std::to_string(n)), std::ios::binary) << body;
  }

  // The first version has 30 files; each later one rewrites 10, adds 3 and deletes 2.
  void ChangeTree(int version) {
    if (version == 0) {
      for (int i = 0; i < 30; ++i) WriteFile(i);
      next_file_ = 30;
      return;
    }
    for (int i = 0; i < 10; ++i) WriteFile(static_cast<int>(rng_() % next_file_));
    for (int i = 0; i < 3; ++i) WriteFile(next_file_++);
    for (int i = 0; i < 2; ++i)
      fs::remove(root_ / "src" / ("f" + std::to_string(rng_() % next_file_)));
  }

  // Backs up a new version of the tree and remembers what the snapshot must restore.
  void BackupVersion(Repository& repo, int version) {
    ChangeTree(version);
    BackupOptions bo;
    bo.paths = {(root_ / "src").string()};
    auto r = Backup(repo, bo, nullptr);
    ASSERT_OK(r);
    expected_[r->snapshot.id] = ReadTree(root_ / "src");
  }

  void ExpectRestores(const std::string& id) {
    auto repo = Open();
    auto snap = repo->FindSnapshot(id);
    ASSERT_OK(snap);
    fs::path target = root_ / ("restore-" + crypto::RandomId().substr(0, 8));
    RestoreOptions ro;
    ro.target = target.string();
    ASSERT_OK(Restore(*repo, *snap, ro, nullptr));
    fs::path restored = target / (root_ / "src").string().substr(1);
    EXPECT_TRUE(ReadTree(restored) == expected_.at(id)) << "snapshot " << id << " differs";
    fs::remove_all(target);
  }

  void ExpectAllRestore() {
    auto repo = Open();
    auto snaps = repo->ListSnapshots();
    ASSERT_OK(snaps);
    for (const Snapshot& s : *snaps) ExpectRestores(s.id);
  }

  // Four backups, the first two forgotten by id; returns the ids forgotten.
  std::vector<std::string> BackupFourForgetTwo() {
    auto repo = Open();
    for (int v = 0; v < 4; ++v) BackupVersion(*repo, v);
    auto snaps = repo->ListSnapshots().value();
    EXPECT_EQ(snaps.size(), 4u);
    ForgetOptions fo;
    fo.ids = {snaps[0].id, snaps[1].id.substr(0, 10)};
    auto f = Forget(*repo, fo, NowUnixNanos());
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    if (f.ok()) {
      EXPECT_EQ(f->removed, 2u);
    }
    return {snaps[0].id, snaps[1].id};
  }

  fs::path root_;
  VaultContext vc_;
  std::mt19937_64 rng_{42};
  int next_file_ = 0;
  std::map<std::string, std::map<std::string, std::string>> expected_;
};

TEST_F(VaultPruneTest, ForgetRefusesAnEmptyPolicyAndMixedArguments) {
  auto repo = Open();
  BackupVersion(*repo, 0);
  ForgetOptions fo;
  EXPECT_EQ(Forget(*repo, fo, NowUnixNanos()).status().code(), StatusCode::kInvalidArgument);
  fo.ids = {"latest"};
  fo.policy.last = 1;
  EXPECT_EQ(Forget(*repo, fo, NowUnixNanos()).status().code(), StatusCode::kInvalidArgument);
  fo.policy.last = 0;
  fo.ids = {"ffffffff"};
  EXPECT_EQ(Forget(*repo, fo, NowUnixNanos()).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(repo->ListSnapshots()->size(), 1u);
}

TEST_F(VaultPruneTest, ForgetDryRunAndKeepLast) {
  auto repo = Open();
  for (int v = 0; v < 3; ++v) BackupVersion(*repo, v);
  ForgetOptions fo;
  fo.policy.last = 1;
  fo.dry_run = true;
  auto r = Forget(*repo, fo, NowUnixNanos());
  ASSERT_OK(r);
  EXPECT_EQ(r->plan.remove.size(), 2u);
  EXPECT_EQ(r->removed, 0u);
  EXPECT_EQ(repo->ListSnapshots()->size(), 3u);
  fo.dry_run = false;
  r = Forget(*repo, fo, NowUnixNanos());
  ASSERT_OK(r);
  EXPECT_EQ(r->removed, 2u);
  auto left = repo->ListSnapshots();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ(left->front().id, r->plan.keep.front().id);
}

TEST_F(VaultPruneTest, ForgetAndPruneShrinkTheStoresAndEverySnapshotRestores) {
  BackupFourForgetTwo();
  uint64_t before = StoreBytes();
  {
    auto repo = Open();
    // A dry run changes nothing but predicts the work.
    PruneOptions dry;
    dry.dry_run = true;
    auto d = Prune(*repo, dry, nullptr);
    ASSERT_OK(d);
    EXPECT_GT(d->packs_deleted + d->packs_repacked, 0u);
    EXPECT_GT(d->store_bytes_freed, 0u);
    EXPECT_EQ(StoreBytes(), before);

    auto r = Prune(*repo, PruneOptions{}, nullptr);
    ASSERT_OK(r);
    EXPECT_EQ(r->snapshots, 2u);
    EXPECT_GT(r->blobs_removed, 0u);
    EXPECT_GT(r->packs_deleted + r->packs_repacked, 0u);
    EXPECT_EQ(r->packs_deleted, d->packs_deleted);
    EXPECT_EQ(r->packs_repacked, d->packs_repacked);
    EXPECT_EQ(r->index_objects_written, 1u);
    EXPECT_GT(r->store_bytes_freed, 0u);
    EXPECT_LT(r->store_bytes_after, r->store_bytes_before);
  }
  EXPECT_LT(StoreBytes(), before);
  ExpectAllRestore();
  {
    auto repo = Open();
    ASSERT_OK(repo->LoadIndex());
    EXPECT_EQ(repo->IndexObjects().size(), 1u);
    // A second prune finds nothing to do.
    auto again = Prune(*repo, PruneOptions{}, nullptr);
    ASSERT_OK(again);
    EXPECT_TRUE(again->nothing_to_do());
    EXPECT_EQ(again->blobs_removed, 0u);
    // Backups go on over the rewritten index, and deduplicate against it.
    BackupVersion(*repo, 4);
  }
  ExpectAllRestore();
}

TEST_F(VaultPruneTest, RepackingEverythingUnusedLeavesOnlyUsedBlobs) {
  BackupFourForgetTwo();
  auto repo = Open();
  PruneOptions po;
  po.max_unused_percent = 0;
  auto r = Prune(*repo, po, nullptr);
  ASSERT_OK(r);
  EXPECT_GT(r->packs_repacked, 0u);
  EXPECT_GT(r->packs_written, 0u);
  ExpectAllRestore();
  // Nothing unused is left: the index has exactly the used blobs.
  auto fresh = Open();
  ASSERT_OK(fresh->LoadIndex());
  EXPECT_EQ(fresh->IndexSize(), r->blobs_used);
  auto again = Prune(*fresh, po, nullptr);
  ASSERT_OK(again);
  EXPECT_TRUE(again->nothing_to_do());
}

TEST_F(VaultPruneTest, ForgettingEverySnapshotThenPruneEmptiesTheData) {
  auto repo = Open();
  BackupVersion(*repo, 0);
  ForgetOptions fo;
  fo.ids = {"latest"};
  ASSERT_OK(Forget(*repo, fo, NowUnixNanos()));
  auto r = Prune(*repo, PruneOptions{}, nullptr);
  ASSERT_OK(r);
  EXPECT_EQ(r->blobs_used, 0u);
  EXPECT_EQ(r->packs_kept, 0u);
  EXPECT_EQ(DirBytes(root_ / "s1" / "data"), 0u);
}

TEST_F(VaultPruneTest, PruneRefusesWhileABackupHoldsASharedLock) {
  BackupFourForgetTwo();
  auto repo = Open();
  uint64_t before = 0;
  {
    auto lock = VaultLock::Acquire(*repo, false, "backup");
    ASSERT_OK(lock);
    before = StoreBytes();
    auto r = Prune(*repo, PruneOptions{}, nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
    EXPECT_NE(r.status().message().find("backup"), std::string::npos);
    // A dry run changes nothing, so it may run beside a backup.
    PruneOptions dry;
    dry.dry_run = true;
    ASSERT_OK(Prune(*repo, dry, nullptr));
    EXPECT_EQ(StoreBytes(), before);
  }
  ASSERT_OK(Prune(*repo, PruneOptions{}, nullptr));
  EXPECT_LT(StoreBytes(), before);
}

TEST_F(VaultPruneTest, PruneRefusesWhenAStoreIsAway) {
  BackupFourForgetTwo();
  fs::rename(root_ / "s2", root_ / "s2.away");
  auto repo = Open();
  auto r = Prune(*repo, PruneOptions{}, nullptr);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  fs::rename(root_ / "s2.away", root_ / "s2");
  ASSERT_OK(Prune(*Open(), PruneOptions{}, nullptr));
  ExpectAllRestore();
}

TEST_F(VaultPruneTest, ATornIndexObjectIsSkippedAndCleanedUp) {
  BackupFourForgetTwo();
  {
    // A prune killed while its combined index reached only 2 of the 5 stores (fewer than
    // k): empty, and superseding every index object, so honouring it would lose all.
    auto repo = Open();
    std::vector<std::string> ids;
    std::vector<std::string> names = repo->objects().List("index/").value();
    for (const std::string& n : names) ids.push_back(n.substr(6));
    std::string name = "index/" + crypto::RandomId();
    auto files = repo->objects().EncodeShardFiles(name, SerializeIndex({}, ids), true);
    ASSERT_OK(files);
    for (int i = 0; i < 2; ++i) ASSERT_OK(repo->objects().store(i)->Put(name, (*files)[i]));
    EXPECT_TRUE(IsTornObject(repo->objects(), name));
    EXPECT_FALSE(IsTornObject(repo->objects(), "index/" + ids.front()));
  }
  ExpectAllRestore();
  {
    auto repo = Open();
    auto r = Prune(*repo, PruneOptions{}, nullptr);
    ASSERT_OK(r);
    EXPECT_EQ(r->index_leftovers, 1u);
    EXPECT_EQ(repo->objects().List("index/")->size(), 1u);
  }
  ExpectAllRestore();
}

class PruneCrashTest : public VaultPruneTest, public ::testing::WithParamInterface<PruneStep> {};

TEST_P(PruneCrashTest, StoppedAfterAStepLeavesEverySnapshotRestorableAndIsCleanedUp) {
  BackupFourForgetTwo();
  std::vector<std::string> old_index;
  {
    auto repo = Open();
    old_index = repo->objects().List("index/").value();
    // A pack no index lists, as a backup killed between pack and index leaves.
    std::string orphan = crypto::RandomId();
    ASSERT_OK(repo->objects().Put(PackObjectName(orphan), Bytes(1000, 7), false));
    PruneOptions po;
    po.max_unused_percent = 0;  // repack as much as possible: every step has work
    po.after_step = [&](PruneStep s) {
      return s == GetParam() ? Status::Internal("simulated crash") : Status::Ok();
    };
    auto r = Prune(*repo, po, nullptr);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().message(), "simulated crash");
  }
  if (GetParam() == PruneStep::kIndexWritten) {
    // Killed while deleting an old index object: its shards are left on 2 stores only,
    // fewer than k. Readers must skip it, as the combined index supersedes it.
    auto repo = Open();
    for (int i = 0; i < 3; ++i) ASSERT_OK(repo->objects().store(i)->Delete(old_index.front()));
  }
  ExpectAllRestore();
  {
    auto repo = Open();
    ASSERT_OK(repo->LoadIndex());
    auto r = Prune(*repo, PruneOptions{}, nullptr);
    ASSERT_OK(r);
    if (GetParam() == PruneStep::kIndexWritten) {
      EXPECT_GE(r->index_leftovers, old_index.size());
    }
    if (GetParam() != PruneStep::kPacksDeleted) {
      EXPECT_FALSE(r->nothing_to_do());
    }
    EXPECT_EQ(repo->objects().List("index/")->size(), 1u);
  }
  ExpectAllRestore();
  {
    auto repo = Open();
    auto r = Prune(*repo, PruneOptions{}, nullptr);
    ASSERT_OK(r);
    EXPECT_TRUE(r->nothing_to_do());
    EXPECT_EQ(r->packs_unindexed, 0u);
    EXPECT_EQ(r->index_leftovers, 0u);
    // Every pack on the stores is in the index.
    ASSERT_OK(repo->LoadIndex());
    std::set<std::string> indexed;
    for (const IndexEntry& e : repo->IndexEntries()) indexed.insert(PackObjectName(e.loc.pack_id));
    auto listed = repo->objects().List("data/");
    ASSERT_OK(listed);
    EXPECT_EQ(std::set<std::string>(listed->begin(), listed->end()), indexed);
  }
}

INSTANTIATE_TEST_SUITE_P(Steps, PruneCrashTest,
                         ::testing::Values(PruneStep::kPacksWritten, PruneStep::kIndexWritten,
                                           PruneStep::kOldIndexDeleted, PruneStep::kPacksDeleted),
                         [](const ::testing::TestParamInfo<PruneStep>& info) {
                           switch (info.param) {
                             case PruneStep::kPacksWritten:
                               return std::string("PacksWritten");
                             case PruneStep::kIndexWritten:
                               return std::string("IndexWritten");
                             case PruneStep::kOldIndexDeleted:
                               return std::string("OldIndexDeleted");
                             case PruneStep::kPacksDeleted:
                               return std::string("PacksDeleted");
                           }
                           return std::string("Unknown");
                         });

}  // namespace
}  // namespace tessera::vault
