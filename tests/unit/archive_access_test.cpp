// Archive roles: what each role allows, who a login resolves to (everyone is admin until
// the first grant), and "own mail" decided exactly — sender, To/Cc/Bcc headers and
// envelope recipients count, an address that merely contains the clerk's does not — and
// applied to search through SearchQuery::within.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "archive/access.hpp"
#include "archive/search_index.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::archive {
namespace {

using ::testing::ElementsAre;

TEST(ArchiveRoles, WhatEachRoleAllows) {
  EXPECT_TRUE(Allows(Role::kClerk, Permission::kReadOwnMail));
  EXPECT_FALSE(Allows(Role::kClerk, Permission::kReadAllMail));
  EXPECT_FALSE(Allows(Role::kClerk, Permission::kReadAuditLog));
  EXPECT_TRUE(Allows(Role::kAuditor, Permission::kReadAllMail));
  EXPECT_TRUE(Allows(Role::kAuditor, Permission::kReadAuditLog));
  EXPECT_FALSE(Allows(Role::kAuditor, Permission::kRestoreMail));
  EXPECT_FALSE(Allows(Role::kAuditor, Permission::kChangeRetention));
  EXPECT_TRUE(Allows(Role::kRecords, Permission::kChangeRetention));
  EXPECT_FALSE(Allows(Role::kRecords, Permission::kAdminister));
  EXPECT_TRUE(Allows(Role::kAdmin, Permission::kAdminister));
  EXPECT_EQ(*ParseRole("auditor"), Role::kAuditor);
  EXPECT_FALSE(ParseRole("root").ok());
}

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = MessageStore::Open(dir_.path() / "archive");
    ASSERT_OK(store);
    store_ = std::move(*store);
  }
  int64_t Add(const std::string& headers, std::vector<std::string> envelope_to = {}) {
    const std::string raw = headers + "\r\nSubject: 公文 " + std::to_string(++n_) + "\r\n\r\nx\r\n";
    auto parsed = ParseMessage(AsBytes(raw));
    EXPECT_OK(parsed);
    Delivery d;
    d.source = "lmtp";
    d.envelope_from = "bounce@ntbt.gov.tw";
    d.recipients = std::move(envelope_to);
    auto added = store_->Add(AsBytes(raw), *parsed, d);
    EXPECT_OK(added);
    return added.ok() ? added->message : 0;
  }
  TempDir dir_;
  std::unique_ptr<MessageStore> store_;
  int n_ = 0;
};

TEST_F(AccessTest, RolesResolveAndEveryoneIsAdminUntilTheFirstGrant) {
  auto registry = AccessRegistry::Open(*store_);
  ASSERT_OK(registry);
  auto anyone = (*registry)->Resolve("zed");
  ASSERT_OK(anyone);
  EXPECT_EQ(anyone->role, Role::kAdmin);
  EXPECT_FALSE(anyone->access_control_on);
  EXPECT_FALSE((*registry)->Grant("alice", Role::kClerk, {}, "root").ok());
  EXPECT_FALSE((*registry)->Grant("alice", Role::kClerk, {"not-an-address"}, "root").ok());
  ASSERT_OK((*registry)->Grant("alice", Role::kClerk, {"Alice@NTBT.gov.tw"}, "root"));
  auto alice = (*registry)->Resolve("alice");
  ASSERT_OK(alice);
  EXPECT_EQ(alice->role, Role::kClerk);
  EXPECT_THAT(alice->addresses, ElementsAre("alice@ntbt.gov.tw"));
  EXPECT_EQ((*registry)->Resolve("zed").status().code(), StatusCode::kPermissionDenied);
  ASSERT_OK((*registry)->Grant("alice", Role::kAuditor, {}, "root"));  // replaces
  EXPECT_EQ((*registry)->Resolve("alice")->role, Role::kAuditor);
  ASSERT_OK((*registry)->Revoke("alice"));
  EXPECT_EQ((*registry)->Revoke("alice").code(), StatusCode::kNotFound);
}

TEST_F(AccessTest, OwnMailIsDecidedExactly) {
  const int64_t from = Add("From: Alice <alice@ntbt.gov.tw>\r\nTo: chief@ntbt.gov.tw");
  const int64_t cc = Add("From: chief@ntbt.gov.tw\r\nTo: x@ntbt.gov.tw\r\nCc: ALICE@ntbt.gov.tw");
  const int64_t bcc = Add("From: chief@ntbt.gov.tw\r\nTo: x@ntbt.gov.tw", {"alice@ntbt.gov.tw"});
  const int64_t lookalike = Add("From: chief@ntbt.gov.tw\r\nTo: alice@ntbt.gov.tw.example.com");
  const int64_t other = Add("From: chief@ntbt.gov.tw\r\nTo: bob@ntbt.gov.tw");
  auto index = SearchIndex::OpenForWriting(dir_.path() / "index");
  ASSERT_OK(index);
  ASSERT_OK((*index)->CatchUp(*store_, nullptr));
  const std::vector<std::string> alice = {"alice@ntbt.gov.tw"};
  auto mine = MessagesOf(*store_, **index, alice);
  ASSERT_OK(mine);
  EXPECT_THAT(*mine, ElementsAre(from, cc, bcc));
  EXPECT_FALSE(*Involves(*store_, **index, lookalike, alice));
  EXPECT_FALSE(*Involves(*store_, **index, other, alice));

  auto q = ParseSearchQuery("公文");
  ASSERT_OK(q);
  q->within = *mine;
  auto r = (*index)->Search(*q);
  ASSERT_OK(r);
  EXPECT_EQ(r->matches, 3u);
  q->limit = 1;
  r = (*index)->Search(*q);
  ASSERT_OK(r);
  EXPECT_EQ(r->matches, 3u);  // counted exactly under the restriction
  EXPECT_EQ(r->hits.size(), 1u);
  auto all = (*index)->AllMatches(*q);
  ASSERT_OK(all);
  EXPECT_THAT(*all, ElementsAre(from, cc, bcc));
}

}  // namespace
}  // namespace tessera::archive
