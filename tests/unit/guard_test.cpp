// The hash-chained audit log: append-only, and an edited, removed or reordered record is
// found by Verify().
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>

#include "base/sqlite.hpp"
#include "guard/audit_log.hpp"
#include "status_matchers.hpp"

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

TEST(CurrentActor, NamesTheUser) {
  EXPECT_THAT(CurrentActor(), HasSubstr("(uid " + std::to_string(::geteuid()) + ")"));
}

}  // namespace
}  // namespace tessera::guard
