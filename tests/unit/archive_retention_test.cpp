// Retention: classes parse, the longest matching rule wins, holds suspend expiry, and mail
// leaves the archive only through a proposed, second-person-approved, purged batch — which
// removes the object, the records and the index document, keeps the destruction list,
// and leaves a chain that still verifies (and detects a deletion behind its back).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "archive/retention.hpp"
#include "archive/search_index.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::archive {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kNow = 1764547200;  // 2025-12-01

TEST(RetentionClass, ParsesTheClassesOfTheRules) {
  EXPECT_EQ(*ParseRetentionClass("permanent"), kPermanent);
  EXPECT_EQ(*ParseRetentionClass("永久"), kPermanent);
  EXPECT_EQ(*ParseRetentionClass("30"), 30);
  EXPECT_EQ(*ParseRetentionClass("10年"), 10);
  EXPECT_EQ(*ParseRetentionClass("5y"), 5);
  EXPECT_EQ(*ParseRetentionClass("1"), 1);
  EXPECT_FALSE(ParseRetentionClass("7").ok());  // not a class of the rules
  EXPECT_FALSE(ParseRetentionClass("").ok());
  EXPECT_EQ(RetentionClassName(3), "3 years");
  EXPECT_EQ(RetentionClassName(kPermanent), "permanent");
}

TEST(RetentionClass, YearsAreCalendarYears) {
  EXPECT_EQ(AddYears(1704067200, 1), 1735689600);  // 2024-01-01 → 2025-01-01 (leap year)
  EXPECT_EQ(AddYears(1709164800, 1), 1740700800);  // 2024-02-29 → 2025-02-28
  EXPECT_EQ(AddYears(1704067200, 10), 2019686400);
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = MessageStore::Open(dir_.path() / "archive");
    ASSERT_OK(store);
    store_ = std::move(*store);
    auto index = SearchIndex::OpenForWriting(dir_.path() / "index");
    ASSERT_OK(index);
    index_ = std::move(*index);
    auto retention = Retention::Open(*store_, *index_);
    ASSERT_OK(retention);
    retention_ = std::move(*retention);
  }
  // A message dated `date` (RFC 5322), delivered to `recipients` into `folder`.
  int64_t Add(const std::string& from, const std::string& subject, const std::string& date,
              std::vector<std::string> recipients = {}, const std::string& folder = "") {
    const std::string raw = "From: " + from + "\r\nTo: office@ntbt.gov.tw\r\nSubject: " + subject +
                            "\r\nDate: " + date + "\r\n\r\n" + subject + "\r\n";
    auto parsed = ParseMessage(AsBytes(raw));
    EXPECT_OK(parsed);
    Delivery d;
    d.source = "test";
    d.folder = folder;
    d.envelope_from = from;
    d.recipients = std::move(recipients);
    d.received_at = kNow;
    auto added = store_->Add(AsBytes(raw), *parsed, d);
    EXPECT_OK(added);
    return added.ok() ? added->message : 0;
  }
  void CatchUp() { ASSERT_OK(index_->CatchUp(*store_, nullptr)); }
  MessageRetention Of(int64_t id) {
    auto r = retention_->Evaluate({id});
    EXPECT_OK(r);
    EXPECT_EQ(r->size(), 1u);
    return r->empty() ? MessageRetention{} : r->front();
  }
  std::set<int64_t> Search(const std::string& query) {
    auto q = ParseSearchQuery(query);
    EXPECT_OK(q);
    auto ids = index_->AllMatches(*q);
    EXPECT_OK(ids);
    return std::set<int64_t>(ids->begin(), ids->end());
  }
  Criterion By(const std::string& kind, const std::string& pattern) { return {kind, pattern, {}}; }

  TempDir dir_;
  std::unique_ptr<MessageStore> store_;
  std::unique_ptr<SearchIndex> index_;
  std::unique_ptr<Retention> retention_;
};

TEST_F(RetentionTest, TheLongestMatchingRuleWinsAndTheDefaultIsPermanent) {
  const int64_t tax = Add("chief@ntbt.gov.tw", "國稅局 年度預算", "Mon, 1 Jan 2018 09:00:00 +0800",
                          {"staff@ntbt.gov.tw"}, "公文/2018");
  const int64_t memo =
      Add("clerk@ntbt.gov.tw", "lunch", "Mon, 1 Jan 2018 09:00:00 +0800", {"all@ntbt.gov.tw"});
  const int64_t outside = Add("news@example.com", "newsletter", "Mon, 1 Jan 2018 09:00:00 +0800",
                              {"secret-bcc@ntbt.gov.tw"});
  CatchUp();
  EXPECT_EQ(Of(memo).years, kPermanent);  // nothing is ever due without a decision
  EXPECT_EQ(Of(memo).assigned_by, "default");
  EXPECT_FALSE(Of(memo).expires.has_value());

  ASSERT_OK(retention_->AddRule(By("sender", "*@ntbt.gov.tw"), 3, "alice"));
  ASSERT_OK(retention_->AddRule(By("query", "國稅局"), 10, "alice"));
  ASSERT_OK(retention_->AddRule(By("folder", "公文/*"), 5, "alice"));
  ASSERT_OK(retention_->AddRule(By("recipient", "secret-bcc@*"), 1, "alice"));
  ASSERT_OK(retention_->SetDefaultClass(30));
  EXPECT_EQ(Of(tax).years, 10);  // 3 by sender, 5 by folder, 10 by query: the longest
  EXPECT_THAT(Of(tax).assigned_by, HasSubstr("query 國稅局"));
  EXPECT_EQ(*Of(tax).expires, AddYears(1514768400, 10));
  EXPECT_EQ(Of(memo).years, 3);
  EXPECT_EQ(Of(outside).years, 1);  // by an envelope (Bcc) recipient
  ASSERT_OK(retention_->AddRule(By("recipient", "OFFICE@ntbt.gov.tw"), kPermanent, "alice"));
  EXPECT_EQ(Of(memo).years, kPermanent);  // by a To header, case aside: permanent beats all

  EXPECT_FALSE(retention_->AddRule(By("colour", "red"), 3, "alice").ok());
  EXPECT_FALSE(retention_->AddRule(By("query", "after:yesterday"), 3, "alice").ok());
  EXPECT_FALSE(retention_->AddRule({"messages", "", {tax}}, 3, "alice").ok());
}

TEST_F(RetentionTest, EvaluationRefusesAnIndexThatIsBehind) {
  Add("a@ntbt.gov.tw", "one", "Mon, 1 Jan 2018 09:00:00 +0800");
  auto r = retention_->Evaluate();
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("index is behind"));
  CatchUp();
  EXPECT_OK(retention_->Evaluate());
}

TEST_F(RetentionTest, DestructionNeedsASecondPersonAndSparesHeldMail) {
  const int64_t old_a = Add("a@ntbt.gov.tw", "old a", "Mon, 1 Jan 2018 09:00:00 +0800");
  const int64_t old_b = Add("b@ntbt.gov.tw", "old b 郵件", "Mon, 1 Jan 2018 09:00:00 +0800");
  const int64_t old_c = Add("c@ntbt.gov.tw", "old c", "Mon, 1 Jan 2018 09:00:00 +0800");
  const int64_t recent = Add("a@ntbt.gov.tw", "recent", "Mon, 1 Sep 2025 09:00:00 +0800");
  CatchUp();
  ASSERT_OK(retention_->AddRule(By("sender", "*@ntbt.gov.tw"), 5, "alice"));
  auto hold = retention_->AddHold("case 114-1", By("sender", "b@ntbt.gov.tw"), "inquiry", "carol");
  ASSERT_OK(hold);

  auto batch = retention_->Propose(kNow, "alice", "yearly review");
  ASSERT_OK(batch);
  std::vector<int64_t> listed;
  for (const auto& i : batch->items) listed.push_back(i.message);
  EXPECT_THAT(listed, ElementsAre(old_a, old_c));  // not held b, not recent
  EXPECT_EQ(batch->state, "proposed");
  // Listed messages are not listed again while the batch is open.
  EXPECT_EQ(retention_->Propose(kNow, "alice", "").status().code(),
            StatusCode::kFailedPrecondition);

  // Nothing is destroyed without a second person's approval.
  EXPECT_EQ(retention_->Purge(batch->id, kNow, "alice").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(retention_->Approve(batch->id, "alice").code(), StatusCode::kPermissionDenied);
  ASSERT_OK(retention_->Approve(batch->id, "bob"));

  // A hold placed after approval still saves the message at purge.
  ASSERT_OK(retention_->AddHold("case 114-2", {"messages", "", {old_c}}, "new inquiry", "carol"));
  auto purged = retention_->Purge(batch->id, kNow, "bob");
  ASSERT_OK(purged);
  EXPECT_EQ(purged->destroyed, 1u);
  EXPECT_EQ(purged->kept, 1u);

  // Gone: object, records, index document; the others are all there.
  EXPECT_EQ(store_->Find(old_a).status().code(), StatusCode::kNotFound);
  EXPECT_THAT(*store_->Deliveries(old_a), IsEmpty());
  EXPECT_OK(store_->Raw(old_c));
  EXPECT_OK(store_->Raw(old_b));
  EXPECT_OK(store_->Raw(recent));
  EXPECT_TRUE(Search("old").count(old_a));  // until the index catches up
  CatchUp();
  EXPECT_EQ(Search("old"), (std::set<int64_t>{old_b, old_c}));
  int objects = 0;
  for (const auto& e : fs::recursive_directory_iterator(dir_.path() / "archive" / "messages"))
    if (e.is_regular_file()) objects++;
  EXPECT_EQ(objects, 3);

  // The destruction list stays, saying what became of each entry.
  auto after = retention_->Batch(batch->id);
  ASSERT_OK(after);
  EXPECT_EQ(after->state, "purged");
  EXPECT_EQ(after->approved_by, "bob");
  ASSERT_EQ(after->items.size(), 2u);
  EXPECT_EQ(after->items[0].subject, "old a");
  EXPECT_EQ(after->items[0].outcome, "destroyed");
  EXPECT_THAT(after->items[1].outcome, HasSubstr("legal hold"));

  // The chain accounts for the destruction.
  auto verified = store_->Verify(true);
  ASSERT_OK(verified);
  EXPECT_THAT(verified->problems, IsEmpty());

  // Released holds no longer keep mail.
  auto holds = retention_->Holds(false);
  ASSERT_OK(holds);
  EXPECT_EQ(holds->size(), 2u);
  for (const auto& h : *holds) ASSERT_OK(retention_->ReleaseHold(h.id, "carol"));
  EXPECT_EQ(retention_->ReleaseHold((*holds)[0].id, "carol").code(), StatusCode::kNotFound);
  auto next = retention_->Propose(kNow, "alice", "");
  ASSERT_OK(next);
  EXPECT_EQ(next->items.size(), 2u);  // b and c
  ASSERT_OK(retention_->Reject(next->id, "bob", "keep for the audit"));
  EXPECT_EQ(retention_->Purge(next->id, kNow, "bob").status().code(),
            StatusCode::kFailedPrecondition);
  EXPECT_OK(store_->Raw(old_b));
}

TEST_F(RetentionTest, ALongerClassAddedAfterApprovalKeepsTheMessage) {
  const int64_t id = Add("a@ntbt.gov.tw", "budget 預算", "Mon, 1 Jan 2018 09:00:00 +0800");
  CatchUp();
  ASSERT_OK(retention_->AddRule(By("sender", "a@ntbt.gov.tw"), 1, "alice"));
  auto batch = retention_->Propose(kNow, "alice", "");
  ASSERT_OK(batch);
  ASSERT_OK(retention_->Approve(batch->id, "bob"));
  ASSERT_OK(retention_->AddRule(By("query", "預算"), 30, "alice"));
  auto purged = retention_->Purge(batch->id, kNow, "bob");
  ASSERT_OK(purged);
  EXPECT_EQ(purged->destroyed, 0u);
  EXPECT_OK(store_->Raw(id));
  auto after = retention_->Batch(batch->id);
  ASSERT_OK(after);
  EXPECT_THAT(after->items[0].outcome, HasSubstr("30 years"));
}

TEST_F(RetentionTest, VerifyDetectsADeletionThatNoBatchRecorded) {
  const int64_t a = Add("a@ntbt.gov.tw", "a", "Mon, 1 Jan 2018 09:00:00 +0800");
  const int64_t b = Add("b@ntbt.gov.tw", "b", "Mon, 1 Jan 2018 09:00:00 +0800");
  CatchUp();
  ASSERT_OK(store_->Destroy(a, 1));
  auto ok = store_->Verify(false);
  ASSERT_OK(ok);
  EXPECT_THAT(ok->problems, IsEmpty());
  // Deleted behind the archive's back: no tombstone.
  ASSERT_OK(store_->database().Exec("DELETE FROM deliveries WHERE message=" + std::to_string(b) +
                                    "; DELETE FROM messages WHERE id=" + std::to_string(b)));
  auto bad = store_->Verify(false);
  ASSERT_OK(bad);
  EXPECT_THAT(bad->problems,
              ::testing::Contains(HasSubstr("message " + std::to_string(b) + " was removed")));
  // A forged destruction record without its link in the chain.
  ASSERT_OK(store_->database().Exec(
      "INSERT INTO destroyed_messages(message, sha256, size, batch, destroyed_at, deliveries) "
      "VALUES(" +
      std::to_string(b) + ", x'00', 1, 1, 0, '[]')"));
  auto forged = store_->Verify(false);
  ASSERT_OK(forged);
  EXPECT_THAT(forged->problems, ::testing::Contains(HasSubstr("not in the chain")));
}

TEST_F(RetentionTest, BytesArchivedAgainAfterDestructionAreKept) {
  const int64_t a = Add("a@ntbt.gov.tw", "again", "Mon, 1 Jan 2018 09:00:00 +0800");
  ASSERT_OK(store_->Destroy(a, 1));
  const int64_t again = Add("a@ntbt.gov.tw", "again", "Mon, 1 Jan 2018 09:00:00 +0800");
  EXPECT_NE(again, a);
  auto destroyed = store_->FindDestroyed(a);
  ASSERT_OK(destroyed);
  ASSERT_TRUE(destroyed->has_value());
  // A purge run again (finishing after a crash) must not delete the new copy's object.
  ASSERT_OK(store_->RemoveDestroyedObject(**destroyed));
  EXPECT_OK(store_->Raw(again));
  auto verified = store_->Verify(true);
  ASSERT_OK(verified);
  EXPECT_THAT(verified->problems, IsEmpty());
}

}  // namespace
}  // namespace tessera::archive
