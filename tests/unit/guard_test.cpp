// The hash-chained audit log: append-only, and an edited, removed or reordered record is
// found by Verify(); signed checkpoints kept apart show truncation and rewriting. Signed
// releases verify only as signed.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/bytes.hpp"
#include "base/files.hpp"
#include "base/sqlite.hpp"
#include "crypto/signature.hpp"
#include "guard/audit_log.hpp"
#include "guard/integrity.hpp"
#include "guard/release.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::guard {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "tessera-audit-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    auto log = AuditLog::Open(dir_);
    ASSERT_OK(log);
    ASSERT_OK((*log)->Append("alice (uid 1000)", "archive.search", "國稅局", "3 matches"));
    ASSERT_OK((*log)->Append("alice (uid 1000)", "archive.show", "17", "shown"));
    ASSERT_OK((*log)->Append("bob (uid 1001)", "archive.export", "17,18", "to /tmp/x (mbox)"));
  }
  void TearDown() override { fs::remove_all(dir_); }
  // Changes the database as someone with access to the file could, triggers and all.
  void Tamper(const std::string& sql) {
    auto db = Database::Open(dir_ / "audit.db");
    ASSERT_OK(db);
    ASSERT_OK((*db)->Exec("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete; " + sql));
  }
  std::vector<std::string> Problems() {
    auto log = AuditLog::Open(dir_);
    EXPECT_OK(log);
    auto v = (*log)->Verify();
    EXPECT_OK(v);
    return v->problems;
  }
  fs::path dir_;
};

TEST_F(AuditLogTest, AnIntactLogVerifiesAndReadsBack) {
  auto log = AuditLog::Open(dir_);
  ASSERT_OK(log);
  auto v = (*log)->Verify();
  ASSERT_OK(v);
  EXPECT_EQ(v->records, 3u);
  EXPECT_TRUE(v->problems.empty());
  EXPECT_EQ(v->head.size(), 64u);
  auto records = (*log)->Read(std::nullopt);
  ASSERT_OK(records);
  ASSERT_EQ(records->size(), 3u);
  EXPECT_EQ((*records)[0].target, "國稅局");
  EXPECT_EQ((*records)[2].actor, "bob (uid 1001)");
  EXPECT_TRUE((*log)->Read(int64_t{4102444800})->empty()) << "nothing after 2100";
}

TEST_F(AuditLogTest, RecordsCannotBeChangedThroughTheDatabase) {
  auto db = Database::Open(dir_ / "audit.db");
  ASSERT_OK(db);
  EXPECT_THAT((*db)->Exec("UPDATE audit SET target='x' WHERE seq=2").message(),
              HasSubstr("append-only"));
  EXPECT_THAT((*db)->Exec("DELETE FROM audit WHERE seq=2").message(), HasSubstr("append-only"));
}

TEST_F(AuditLogTest, AnEditedRecordIsFound) {
  Tamper("UPDATE audit SET target='18' WHERE seq=2");
  EXPECT_THAT(Problems(), ::testing::ElementsAre(HasSubstr("record 2 does not match")));
}

TEST_F(AuditLogTest, ARemovedRecordIsFound) {
  Tamper("DELETE FROM audit WHERE seq=2");
  auto problems = Problems();
  ASSERT_FALSE(problems.empty());
  EXPECT_THAT(problems[0], HasSubstr("record 2 is missing"));
}

TEST_F(AuditLogTest, ReorderedRecordsAreFound) {
  // Records 1 and 2 swap places (their contents, links and all).
  Tamper(
      "UPDATE audit SET seq=100 WHERE seq=1; UPDATE audit SET seq=1 WHERE seq=2; "
      "UPDATE audit SET seq=2 WHERE seq=100");
  EXPECT_FALSE(Problems().empty());
}

TEST_F(AuditLogTest, TheKeyFileMustBePrivate) {
  ASSERT_EQ(::chmod((dir_ / "audit.key").c_str(), 0644), 0);
  EXPECT_EQ(AuditLog::Open(dir_).status().code(), StatusCode::kPermissionDenied);
  ASSERT_EQ(::chmod((dir_ / "audit.key").c_str(), 0600), 0);
  fs::remove(dir_ / "audit.key");
  EXPECT_EQ(AuditLog::Open(dir_).status().code(), StatusCode::kFailedPrecondition)
      << "a new key would make the log unverifiable";
}

// A checkpoint kept apart, checked with the public key kept apart, shows a log cut back
// below it, a log rewritten with the HMAC key, a forged or altered checkpoint; the intact
// log passes with every checkpoint.
TEST_F(AuditLogTest, SignedCheckpointsShowTruncationRewritingAndForgery) {
  const crypto::SigningKey key = crypto::SigningKey::Generate();
  CheckpointTrust trust;
  trust.key = key.public_key();
  AuditCheckpoint kept;
  {
    auto log = AuditLog::Open(dir_);
    ASSERT_OK(log);
    auto c = (*log)->Checkpoint(key);
    ASSERT_OK(c);
    EXPECT_EQ(c->seq, 3);
    EXPECT_EQ(c->key, key.public_key().Fingerprint());
    kept = *c;
    auto round_trip = AuditCheckpoint::FromJson(c->ToJson());
    ASSERT_OK(round_trip);
    EXPECT_EQ(round_trip->SignedText(), c->SignedText());
    EXPECT_EQ(round_trip->signature, c->signature);
    ASSERT_OK((*log)->Append("alice (uid 1000)", "archive.search", "稅", "1 match"));
    auto recorded = (*log)->Checkpoints();
    ASSERT_OK(recorded);
    ASSERT_EQ(recorded->size(), 1u);
    trust.kept_apart = {kept};
    auto v = (*log)->Verify(trust);
    ASSERT_OK(v);
    EXPECT_TRUE(v->problems.empty()) << v->problems[0];
    EXPECT_EQ(v->checkpoints, 2u);
    EXPECT_EQ(v->records, 5u);  // three, the checkpoint's record, and one more
  }
  auto problems = [&](const CheckpointTrust& t) {
    auto log = AuditLog::Open(dir_);
    EXPECT_OK(log);
    auto v = (*log)->Verify(t);
    EXPECT_OK(v);
    return v->problems;
  };
  // Signed by another key: refused under the trusted one.
  const crypto::SigningKey other = crypto::SigningKey::Generate();
  AuditCheckpoint forged = kept;
  forged.key = other.public_key().Fingerprint();
  forged.signature = HexEncode(other.Sign(AsBytes(forged.SignedText())));
  CheckpointTrust with_forged{key.public_key(), {forged}};
  EXPECT_THAT(problems(with_forged), ::testing::Contains(HasSubstr("not the trusted key")));
  // Altered after signing.
  AuditCheckpoint altered = kept;
  altered.seq = 2;
  CheckpointTrust with_altered{key.public_key(), {altered}};
  EXPECT_THAT(problems(with_altered), ::testing::Contains(HasSubstr("does not verify")));

  // Records 3 and after removed, checkpoints too: a valid chain, but shorter than the
  // checkpoint kept apart.
  Tamper(
      "DROP TRIGGER audit_checkpoints_no_delete; DELETE FROM audit_checkpoints; "
      "DELETE FROM audit WHERE seq >= 3");
  EXPECT_TRUE(problems({}).empty()) << "the chain alone cannot tell";
  EXPECT_THAT(problems(trust), ::testing::Contains(HasSubstr("beyond the log's end")));

  // Rewritten with the HMAC key: a fresh log under the same key, records of its own.
  fs::remove(dir_ / "audit.db");
  fs::remove(dir_ / "audit.db-wal");
  fs::remove(dir_ / "audit.db-shm");
  {
    auto log = AuditLog::Open(dir_);
    ASSERT_OK(log);
    for (int i = 0; i < 4; ++i) ASSERT_OK((*log)->Append("mallory", "archive.search", "x", "0"));
  }
  EXPECT_TRUE(problems({}).empty()) << "the chain alone cannot tell";
  EXPECT_THAT(problems(trust), ::testing::Contains(HasSubstr("the log was rewritten")));
}

// A signed release verifies only as signed: under the trusted key, with every file
// present, unchanged, with its mode, and nothing added; an altered manifest or another
// key is refused. The manifest hash (what a registry lists) follows the manifest.
TEST(Release, SignedReleaseVerifiesAndEveryChangeIsFound) {
  TempDir dir;
  const fs::path root = dir.path() / "release";
  fs::create_directories(root / "bin");
  ASSERT_OK(WriteFileAtomic(root / "bin" / "tessera", std::string_view("program"), 0755));
  ASSERT_OK(WriteFileAtomic(root / "README", std::string_view("說明"), 0644));
  fs::create_symlink("README", root / "LIESMICH");
  const crypto::SigningKey key = crypto::SigningKey::Generate();
  auto manifest = ScanRelease(root, "1.2.3", 1796000000);
  ASSERT_OK(manifest);
  ASSERT_EQ(manifest->files.size(), 3u);
  EXPECT_EQ(manifest->files[0].path, "LIESMICH");
  EXPECT_TRUE(manifest->files[0].symlink);
  EXPECT_EQ(manifest->files[2].path, "bin/tessera");
  EXPECT_EQ(manifest->files[2].mode, 0755u);
  const SignedRelease release = SignRelease(*manifest, key);
  auto read_back = SignedRelease::FromJson(release.ToJson());
  ASSERT_OK(read_back);
  EXPECT_EQ(read_back->manifest.Sha256(), release.manifest.Sha256());

  auto problems = [&](const SignedRelease& r, const crypto::PublicKey& trusted) {
    auto check = VerifyRelease(r, trusted, root);
    EXPECT_OK(check);
    return check->problems;
  };
  EXPECT_TRUE(problems(*read_back, key.public_key()).empty());
  const crypto::SigningKey other = crypto::SigningKey::Generate();
  EXPECT_THAT(problems(*read_back, other.public_key()),
              ::testing::Contains(HasSubstr("not the trusted key")));
  SignedRelease altered = *read_back;
  altered.manifest.files[2].sha256 = std::string(64, '0');
  EXPECT_NE(altered.manifest.Sha256(), release.manifest.Sha256());
  EXPECT_THAT(problems(altered, key.public_key()),
              ::testing::Contains(HasSubstr("signature does not verify")));

  ASSERT_OK(WriteFileAtomic(root / "bin" / "tessera", std::string_view("trojan!"), 0755));
  ASSERT_EQ(::chmod((root / "README").c_str(), 0666), 0);
  ASSERT_OK(WriteFileAtomic(root / "bin" / "helper", std::string_view("x"), 0755));
  fs::remove(root / "LIESMICH");
  EXPECT_THAT(problems(*read_back, key.public_key()),
              ::testing::UnorderedElementsAre(HasSubstr("bin/tessera differs"),
                                              HasSubstr("README has mode 0666"),
                                              HasSubstr("bin/helper is not part of the release"),
                                              HasSubstr("LIESMICH is missing")));
  // A manifest cannot reach outside its directory.
  std::string escaping = release.ToJson();
  escaping.replace(escaping.find("\"bin/tessera\""), 13, "\"../../etc/x\"");
  EXPECT_EQ(SignedRelease::FromJson(escaping).status().code(), StatusCode::kCorruption);
}

// A host's own release: the program it runs must be a file of it, the release hash must be
// among the registry's when there is one, and what cannot be read is a problem, not an
// error, so that a host set to warn still starts.
TEST(Release, AnInstalledReleaseIsCheckedWithTheRunningProgramAndTheRegistry) {
  TempDir dir;
  const fs::path root = dir.path() / "release";
  fs::create_directories(root / "bin");
  ASSERT_OK(WriteFileAtomic(root / "bin" / "tessera", std::string_view("program"), 0755));
  const crypto::SigningKey key = crypto::SigningKey::Generate();
  auto manifest = ScanRelease(root, "2.0.1", 1796000000);
  ASSERT_OK(manifest);
  const SignedRelease release = SignRelease(*manifest, key);
  InstalledRelease installed{dir.path() / "r.json", root, dir.path() / "pub.pem", true};
  ASSERT_OK(WriteFileAtomic(installed.release, release.ToJson()));
  ASSERT_OK(WriteFileAtomic(installed.key, key.public_key().Pem()));
  const fs::path program = fs::canonical(root / "bin" / "tessera");
  const std::string hash = release.manifest.Sha256();

  auto ok = CheckInstalledRelease(installed, program, std::vector<std::string>{"other", hash});
  EXPECT_TRUE(ok.problems.empty()) << ::testing::PrintToString(ok.problems);
  EXPECT_EQ(ok.version, "2.0.1");
  EXPECT_EQ(ok.manifest_sha256, hash);
  EXPECT_EQ(ok.files, 1u);
  EXPECT_TRUE(CheckInstalledRelease(installed, program, std::nullopt).problems.empty())
      << "no registry: not checked against one";
  EXPECT_THAT(CheckInstalledRelease(installed, program, std::vector<std::string>{}).problems,
              ::testing::ElementsAre(HasSubstr("is not listed in the exchange registry")));
  EXPECT_THAT(CheckInstalledRelease(installed, "/usr/bin/tessera", std::nullopt).problems,
              ::testing::ElementsAre(HasSubstr("is not in the release directory")));
  ASSERT_OK(WriteFileAtomic(root / "bin" / "copy", std::string_view("program"), 0755));
  EXPECT_THAT(
      CheckInstalledRelease(installed, fs::canonical(root / "bin" / "copy"), std::nullopt).problems,
      ::testing::UnorderedElementsAre(HasSubstr("bin/copy is not part of the release"),
                                      HasSubstr("is not a file of release 2.0.1")));
  fs::remove(root / "bin" / "copy");
  installed.release = dir.path() / "missing.json";
  auto missing = CheckInstalledRelease(installed, program, std::nullopt);
  EXPECT_EQ(missing.problems.size(), 1u);
  EXPECT_EQ(missing.version, "");
}

// Exclusions cut at whole path components; every kind of change is told apart; the
// baseline's JSON round-trips and refuses what it did not write.
TEST(Integrity, ScanCompareAndReadBack) {
  TempDir dir;
  const fs::path root = dir.path() / "tree";
  fs::create_directories(root / "spool");
  fs::create_directories(root / "spool-config");
  ASSERT_OK(WriteFileAtomic(root / "spool" / "item", std::string_view("data")));
  ASSERT_OK(WriteFileAtomic(root / "spool-config" / "c", std::string_view("conf")));
  ASSERT_OK(WriteFileAtomic(root / "f", std::string_view("one")));
  fs::create_symlink("f", root / "l");
  auto before = ScanIntegrity({root}, {root / "spool"}, 100, nullptr);
  ASSERT_OK(before);
  std::vector<std::string> paths;
  for (const IntegrityEntry& e : before->entries) paths.push_back(e.path);
  const std::string r = root.string();
  EXPECT_THAT(paths, ::testing::ElementsAre(r, r + "/f", r + "/l", r + "/spool-config",
                                            r + "/spool-config/c"));
  EXPECT_EQ(before->entries[2].type, 'l');
  EXPECT_TRUE(CompareIntegrity(*before, *before).empty());

  const crypto::SigningKey key = crypto::SigningKey::Generate();
  const SignedBaseline signed_baseline = SignBaseline(*before, key);
  auto read_back = SignedBaseline::FromJson(signed_baseline.ToJson());
  ASSERT_OK(read_back);
  EXPECT_OK(VerifyBaselineSignature(*read_back, key.public_key()));
  EXPECT_EQ(read_back->baseline.CanonicalJson(), before->CanonicalJson());
  EXPECT_EQ(SignedBaseline::FromJson("{}").status().code(), StatusCode::kCorruption);
  std::string wrong_type = signed_baseline.ToJson();
  const size_t type_at = wrong_type.find("\"type\": \"f\"");
  ASSERT_NE(type_at, std::string::npos);
  wrong_type.replace(type_at, 11, "\"type\": \"x\"");
  EXPECT_EQ(SignedBaseline::FromJson(wrong_type).status().code(), StatusCode::kCorruption);

  fs::remove(root / "f");
  fs::create_directory(root / "f");  // a file became a directory
  ASSERT_OK(WriteFileAtomic(root / "spool" / "item", std::string_view("changed data")));
  fs::remove(root / "spool-config" / "c");
  auto after = ScanIntegrity({root}, {root / "spool"}, 200, nullptr);
  ASSERT_OK(after);
  std::vector<std::string> seen;
  for (const IntegrityChange& c : CompareIntegrity(*before, *after)) seen.push_back(c.ToString());
  EXPECT_THAT(seen,
              ::testing::ElementsAre(::testing::StartsWith("changed " + r + "/f: type f -> d"),
                                     "removed " + r + "/spool-config/c"));
  EXPECT_EQ(ScanIntegrity({dir.path() / "none"}, {}, 1, nullptr).status().code(),
            StatusCode::kNotFound);
}

TEST(CurrentActor, NamesTheUser) {
  EXPECT_THAT(CurrentActor(), HasSubstr("(uid " + std::to_string(::geteuid()) + ")"));
}

}  // namespace
}  // namespace tessera::guard
