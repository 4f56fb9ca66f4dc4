#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "vault/backup.hpp"
#include "vault/drill.hpp"
#include "vault/vault.hpp"

namespace tessera::vault {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

void WriteText(const fs::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

std::string ReadAll(const fs::path& p) {
  auto t = ReadTextFile(p);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : "";
}

std::vector<int> Indices(const std::vector<DrillStore>& stores) {
  std::vector<int> out;
  for (auto& s : stores) out.push_back(s.index);
  return out;
}

class DrillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    root_ = fs::temp_directory_path() /
            ("tessera-drill-test-" + std::to_string(::getpid()) + "-" + std::to_string(rd()));
    fs::create_directories(root_);
    ctx_.home = (root_ / "home").string();
    ctx_.threads = 2;
  }
  void TearDown() override {
    // Restored or backed-up read-only directories must be made writable to be removed.
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->symlink_status().type() == fs::file_type::directory)
        fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
    fs::remove_all(root_, ec);
  }

  fs::path Store(int i) const { return root_ / ("cloud" + std::to_string(i + 1)); }

  InitResult Init(int custodians = 0, int quorum = 0) {
    InitOptions o;
    for (int i = 0; i < 5; ++i) o.stores.push_back("file://" + Store(i).string());
    o.threshold = 3;
    o.custodians = custodians;
    o.quorum = quorum;
    auto r = InitVault(ctx_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : InitResult{};
  }

  // A tree with files of several sizes, an empty directory, a read-only directory, a file
  // of mode 0600, symlinks (one dangling) and a name that HTML must not take for markup.
  void MakeTree(const std::string& top = "data") {
    data_ = root_ / top;
    fs::create_directories(data_ / "docs" / "empty");
    fs::create_directories(data_ / "ro");
    std::mt19937 rng(7);
    for (int i = 0; i < 12; ++i) {
      std::string text;
      for (int j = 0; j < 200 + i * 300; ++j) text += "第" + std::to_string(j) + "號 公文 ";
      WriteText(data_ / "docs" / ("doc-" + std::to_string(i) + ".txt"), text);
    }
    std::string big(300 * 1024, '\0');
    for (char& c : big) c = static_cast<char>(rng());
    WriteText(data_ / "big.bin", big);
    WriteText(data_ / "<script>alert(1)<.txt", "markup in a name");
    WriteText(data_ / "docs" / "secret.txt", "only me");
    fs::permissions(data_ / "docs" / "secret.txt", fs::perms::owner_read | fs::perms::owner_write);
    WriteText(data_ / "ro" / "inside.txt", "in a read-only directory");
    fs::permissions(data_ / "ro", fs::perms::owner_read | fs::perms::owner_exec);
    fs::create_symlink("docs/doc-1.txt", data_ / "link");
    fs::create_symlink("nowhere/at/all", data_ / "dangling");
  }

  Snapshot Backup() {
    auto repo = OpenVault(ctx_);
    EXPECT_TRUE(repo.ok()) << repo.status().ToString();
    BackupOptions o;
    o.paths = {data_.string()};
    auto r = vault::Backup(**repo, o, nullptr);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->snapshot : Snapshot{};
  }

  DrillReport Drill(DrillOptions o = {}) {
    auto r = RunDrill(ctx_, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : DrillReport{};
  }

  // Flips a byte in the middle of every shard of every pack on store `i`.
  int CorruptPacks(int i) {
    int n = 0;
    for (auto& e : fs::recursive_directory_iterator(Store(i) / "data")) {
      if (!e.is_regular_file()) continue;
      auto data = ReadFile(e.path());
      EXPECT_TRUE(data.ok());
      (*data)[data->size() / 2] ^= 0x5a;
      EXPECT_TRUE(WriteFileAtomic(e.path(), ByteView(*data)).ok());
      ++n;
    }
    return n;
  }

  fs::path root_, data_;
  VaultContext ctx_;
};

TEST_F(DrillTest, PassesVerifiesEverythingAndIsListed) {
  Init();
  MakeTree();
  Snapshot snap = Backup();
  DrillReport r = Drill();
  ASSERT_TRUE(r.passed) << r.reason;
  EXPECT_EQ(r.failure_count, 0u);
  EXPECT_EQ(r.snapshot_id, snap.id);
  EXPECT_EQ(r.snapshot_time_ns, snap.time_ns);
  EXPECT_EQ(Indices(r.stores_used), (std::vector<int>{0, 1, 2}));
  EXPECT_TRUE(r.stores_lost.empty());
  EXPECT_EQ(r.files, snap.summary.files);
  EXPECT_EQ(r.files_verified, r.files);
  EXPECT_EQ(r.bytes_verified, snap.summary.bytes);
  EXPECT_EQ(r.symlinks_verified, 2u);
  EXPECT_EQ(r.dirs_verified, r.dirs);
  EXPECT_GE(r.files, 16u);
  ASSERT_TRUE(r.rpo_seconds.has_value());
  EXPECT_GE(*r.rpo_seconds, 0);
  ASSERT_TRUE(r.rto_seconds.has_value());
  EXPECT_GT(*r.rto_seconds, 0);
  std::vector<std::string> phases;
  for (auto& p : r.phases) phases.push_back(p.name);
  EXPECT_EQ(phases, (std::vector<std::string>{"select", "open", "find", "restore", "verify"}));
  EXPECT_THAT(r.key_source, HasSubstr("stores 1, 2, 3"));
  EXPECT_FALSE(r.hostname.empty());
  EXPECT_FALSE(r.operator_name.empty());
  EXPECT_FALSE(r.tessera_version.empty());
  // Recorded in the vault and on this machine; the scratch tree (with its read-only
  // directory) is gone.
  EXPECT_TRUE(r.recorded_in_vault) << r.vault_record_error;
  EXPECT_TRUE(fs::exists(r.json_path));
  EXPECT_TRUE(fs::exists(r.html_path));
  EXPECT_FALSE(fs::exists(r.scratch));
  EXPECT_EQ(fs::path(r.json_path).parent_path(), fs::path(ctx_.home) / "drills");
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(fs::exists(Store(i) / "drills" / r.id)) << i;
  std::string html = ReadAll(r.html_path);
  EXPECT_THAT(html, HasSubstr("還原演練報告"));
  EXPECT_THAT(html, HasSubstr("Restore drill report"));
  EXPECT_THAT(html, HasSubstr("通過 / PASS"));

  auto repo = OpenVault(ctx_);
  ASSERT_TRUE(repo.ok());
  auto h = ListDrills(**repo);
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  ASSERT_EQ(h->reports.size(), 1u);
  const DrillReport& listed = h->reports[0];
  EXPECT_EQ(listed.id, r.id);
  EXPECT_TRUE(listed.passed);
  EXPECT_EQ(listed.files, r.files);
  EXPECT_EQ(listed.files_verified, r.files_verified);
  EXPECT_EQ(listed.bytes, r.bytes);
  EXPECT_EQ(listed.rpo_seconds, r.rpo_seconds);
  EXPECT_EQ(Indices(listed.stores_used), (std::vector<int>{0, 1, 2}));
  int year = LocalYear(NowUnixNanos());
  ASSERT_EQ(h->per_year.count(year), 1u);
  EXPECT_EQ(h->per_year.at(year).passed, 1);
  EXPECT_EQ(h->per_year.at(year).failed, 0);
  EXPECT_TRUE(h->unreadable.empty());
}

TEST_F(DrillTest, LosingStoresOneAndTwoUsesThreeFourFive) {
  Init();
  MakeTree();
  Backup();
  DrillOptions o;
  o.lose = {0, 1};
  DrillReport r = Drill(o);
  ASSERT_TRUE(r.passed) << r.reason;
  EXPECT_EQ(Indices(r.stores_used), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(Indices(r.stores_lost), (std::vector<int>{0, 1}));
  EXPECT_EQ(r.stores_used[0].url, "file://" + Store(2).string());
}

TEST_F(DrillTest, ExplicitStoresAreUsed) {
  Init();
  MakeTree();
  Backup();
  DrillOptions o;
  o.use = {0, 2, 4};
  DrillReport r = Drill(o);
  ASSERT_TRUE(r.passed) << r.reason;
  EXPECT_EQ(Indices(r.stores_used), (std::vector<int>{0, 2, 4}));
}

TEST_F(DrillTest, LosingThreeOfFiveFailsWithAReasonAndARecord) {
  Init();
  MakeTree();
  Backup();
  DrillOptions o;
  o.lose = {0, 1, 2};
  DrillReport r = Drill(o);
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.reason, HasSubstr("needs 3 of its 5"));
  EXPECT_THAT(r.reason, HasSubstr("treated as lost: 1, 2, 3"));
  EXPECT_TRUE(r.stores_used.empty());
  ASSERT_FALSE(r.failures.empty());
  EXPECT_EQ(r.failures[0].phase, "select");
  EXPECT_FALSE(r.rto_seconds.has_value());
  EXPECT_FALSE(r.rpo_seconds.has_value());
  EXPECT_TRUE(r.recorded_in_vault) << r.vault_record_error;
  EXPECT_THAT(ReadAll(r.html_path), HasSubstr("未通過 / FAIL"));

  Drill();  // and one that passes
  auto repo = OpenVault(ctx_);
  ASSERT_TRUE(repo.ok());
  auto h = ListDrills(**repo);
  ASSERT_TRUE(h.ok());
  ASSERT_EQ(h->reports.size(), 2u);
  EXPECT_FALSE(h->reports[0].passed);
  EXPECT_TRUE(h->reports[1].passed);
  const DrillYear& y = h->per_year.at(LocalYear(NowUnixNanos()));
  EXPECT_EQ(y.passed, 1);
  EXPECT_EQ(y.failed, 1);
  std::string page = DrillHistoryHtml(*h, r.vault_id);
  EXPECT_THAT(page, HasSubstr("年度成功演練次數"));
  EXPECT_THAT(page, HasSubstr(" #1"));
}

TEST_F(DrillTest, UnreachableStoresAreSkippedAndNamedWhenTooFewAnswer) {
  Init();
  MakeTree();
  Backup();
  fs::rename(Store(3), root_ / "away");  // store 4 goes down for real
  DrillOptions o;
  o.lose = {0};
  DrillReport r = Drill(o);
  ASSERT_TRUE(r.passed) << r.reason;
  EXPECT_EQ(Indices(r.stores_used), (std::vector<int>{1, 2, 4}));
  EXPECT_EQ(Indices(r.stores_unreachable), (std::vector<int>{3}));
  // The report reached 4 of the 5 stores, enough for a write.
  EXPECT_TRUE(r.recorded_in_vault) << r.vault_record_error;

  o.lose = {0, 1};
  r = Drill(o);
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.reason, HasSubstr("only 2 store(s)"));
  EXPECT_THAT(r.reason, HasSubstr("store 4 is unreachable"));
}

TEST_F(DrillTest, CorruptShardOnAUsedStoreFailsAndNamesIt) {
  Init();
  MakeTree();
  Backup();
  ASSERT_GT(CorruptPacks(0), 0);
  DrillOptions o;
  o.use = {0, 1, 2};
  DrillReport r = Drill(o);
  EXPECT_FALSE(r.passed);
  ASSERT_FALSE(r.failures.empty());
  EXPECT_EQ(r.failures[0].phase, "restore");
  EXPECT_THAT(r.reason, HasSubstr("store 1"));
  EXPECT_THAT(r.reason, HasSubstr("data/"));  // the pack object
  EXPECT_FALSE(r.rto_seconds.has_value());
  EXPECT_TRUE(r.rpo_seconds.has_value());  // the snapshot was found
  EXPECT_FALSE(fs::exists(r.scratch));

  // Without the damaged store the same vault passes.
  o.use.clear();
  o.lose = {0};
  r = Drill(o);
  EXPECT_TRUE(r.passed) << r.reason;
  EXPECT_EQ(Indices(r.stores_used), (std::vector<int>{1, 2, 3}));
}

TEST_F(DrillTest, RestoreNeverNeedsTheLocalKeyFile) {
  Init();
  MakeTree();
  Backup();
  ASSERT_TRUE(fs::remove(ctx_.KeyPath()));
  DrillReport r = Drill();
  // The recovery came from the stores alone...
  EXPECT_TRUE(r.passed) << r.reason;
  EXPECT_EQ(r.files_verified, r.files);
  // ...but recording in the vault needs the key, so the report stays here and says so.
  EXPECT_FALSE(r.recorded_in_vault);
  EXPECT_FALSE(r.vault_record_error.empty());
  bool said = false;
  for (auto& n : r.notes) said |= n.find("kept only on this machine") != std::string::npos;
  EXPECT_TRUE(said);
  ASSERT_TRUE(fs::exists(r.json_path));
  auto local = DrillReportFromJson(nlohmann::json::parse(ReadAll(r.json_path)));
  ASSERT_TRUE(local.ok()) << local.status().ToString();
  EXPECT_TRUE(local->passed);
  EXPECT_FALSE(local->recorded_in_vault);
  EXPECT_THAT(ReadAll(r.html_path), HasSubstr("僅本機"));
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(fs::exists(Store(i) / "drills" / r.id));
}

TEST_F(DrillTest, CustodianVaultNeedsTheQuorumOfCodes) {
  InitResult init = Init(3, 2);
  ASSERT_EQ(init.recovery_codes.size(), 3u);
  MakeTree();
  Backup();

  DrillOptions two;
  two.recovery_codes = {init.recovery_codes[0], init.recovery_codes[2]};
  DrillReport r = Drill(two);
  EXPECT_TRUE(r.passed) << r.reason;
  EXPECT_FALSE(r.custodian_key_from_key_file);
  EXPECT_THAT(r.key_source, HasSubstr("2 custodian recovery code(s)"));

  DrillOptions one;
  one.recovery_codes = {init.recovery_codes[1]};
  r = Drill(one);
  EXPECT_FALSE(r.passed);
  ASSERT_FALSE(r.failures.empty());
  EXPECT_EQ(r.failures[0].phase, "open");
  EXPECT_THAT(r.reason, HasSubstr("recovery codes from 2 of its 3 custodians"));

  // No codes: the key file's custodian key stands in, and the report says so.
  r = Drill();
  EXPECT_TRUE(r.passed) << r.reason;
  EXPECT_TRUE(r.custodian_key_from_key_file);
  ASSERT_FALSE(r.notes.empty());
  EXPECT_THAT(r.notes[0], HasSubstr("stood in"));

  // With two codes, no key file is needed at all.
  ASSERT_TRUE(fs::remove(ctx_.KeyPath()));
  r = Drill(two);
  EXPECT_TRUE(r.passed) << r.reason;
  r = Drill();
  EXPECT_FALSE(r.passed);
  EXPECT_THAT(r.reason, HasSubstr("could not stand in"));
}

TEST_F(DrillTest, HtmlEscapesNamesFromTheVault) {
  Init();
  MakeTree("evil<script>alert(1)<");
  Backup();
  DrillReport r = Drill();
  ASSERT_TRUE(r.passed) << r.reason;
  std::string html = ReadAll(r.html_path);
  EXPECT_THAT(html, HasSubstr("evil&lt;script&gt;alert(1)&lt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));

  // A failure naming such a file, with quotes and ampersands in the reason.
  r.passed = false;
  r.reason = "x & y";
  r.failure_count = 1;
  r.failures = {{"verify", "/d/<script>alert(\"x\")</script>.txt", "it's <b>bad</b> & \"odd\""}};
  html = DrillReportHtml(r);
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("<b>bad")));
  EXPECT_THAT(html, HasSubstr("/d/&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;.txt"));
  EXPECT_THAT(html, HasSubstr("it&#39;s &lt;b&gt;bad&lt;/b&gt; &amp; &quot;odd&quot;"));
  EXPECT_EQ(HtmlEscape("<a href='x'>&</a>"), "&lt;a href=&#39;x&#39;&gt;&amp;&lt;/a&gt;");
}

TEST_F(DrillTest, ReportSurvivesJson) {
  Init();
  MakeTree();
  Backup();
  DrillOptions o;
  o.lose = {4};
  DrillReport r = Drill(o);
  auto back = DrillReportFromJson(DrillReportToJson(r));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->id, r.id);
  EXPECT_EQ(back->passed, r.passed);
  EXPECT_EQ(back->started_ns, r.started_ns);
  EXPECT_EQ(back->snapshot_id, r.snapshot_id);
  EXPECT_EQ(Indices(back->stores_used), Indices(r.stores_used));
  EXPECT_EQ(Indices(back->stores_lost), (std::vector<int>{4}));
  EXPECT_EQ(back->rto_seconds, r.rto_seconds);
  EXPECT_EQ(back->rpo_seconds, r.rpo_seconds);
  EXPECT_EQ(back->phases.size(), r.phases.size());
  EXPECT_EQ(DrillReportToJson(*back), DrillReportToJson(r));
  EXPECT_FALSE(DrillReportFromJson(nlohmann::json::object()).ok());
  EXPECT_FALSE(DrillReportFromJson(nlohmann::json::parse("[1,2]")).ok());
}

TEST_F(DrillTest, ScratchIsKeptOnRequestAndMustBeEmpty) {
  Init();
  MakeTree();
  Backup();
  DrillOptions o;
  o.scratch = (root_ / "restore-here").string();
  o.keep = true;
  DrillReport r = Drill(o);
  ASSERT_TRUE(r.passed) << r.reason;
  EXPECT_TRUE(r.scratch_kept);
  fs::path restored = fs::path(o.scratch) / data_.relative_path();
  EXPECT_EQ(ReadAll(restored / "docs" / "secret.txt"), "only me");
  EXPECT_EQ(fs::read_symlink(restored / "link"), "docs/doc-1.txt");
  EXPECT_TRUE(fs::is_directory(restored / "docs" / "empty"));

  auto again = RunDrill(ctx_, o);  // not empty any more
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kInvalidArgument);

  // An existing empty directory is used and left in place, emptied.
  fs::path empty = root_ / "empty-scratch";
  fs::create_directories(empty);
  DrillOptions e;
  e.scratch = empty.string();
  r = Drill(e);
  EXPECT_TRUE(r.passed) << r.reason;
  EXPECT_TRUE(fs::is_directory(empty));
  EXPECT_TRUE(fs::is_empty(empty));
}

TEST_F(DrillTest, BadStoreChoicesAreUsageErrors) {
  Init();
  MakeTree();
  Backup();
  DrillOptions o;
  o.lose = {5};
  EXPECT_EQ(RunDrill(ctx_, o).status().code(), StatusCode::kInvalidArgument);
  o.lose = {1};
  o.use = {1, 2, 3};
  EXPECT_EQ(RunDrill(ctx_, o).status().code(), StatusCode::kInvalidArgument);
  VaultContext other = ctx_;
  other.name = "nothing-here";
  EXPECT_EQ(RunDrill(other, {}).status().code(), StatusCode::kNotFound);
}

TEST_F(DrillTest, MissingSnapshotFailsTheDrill) {
  Init();
  MakeTree();
  Backup();
  DrillOptions o;
  o.snapshot = "ffffffff";
  DrillReport r = Drill(o);
  EXPECT_FALSE(r.passed);
  ASSERT_FALSE(r.failures.empty());
  EXPECT_EQ(r.failures[0].phase, "find");
  EXPECT_THAT(r.reason, HasSubstr("ffffffff"));
}

}  // namespace
}  // namespace tessera::vault
