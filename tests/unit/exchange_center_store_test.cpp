// The exchange center's spool: idempotent acceptance, leases and redelivery, forwarding,
// expiry, suspensions, and what a restart keeps.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "crypto/hash.hpp"
#include "crypto/x509.hpp"
#include "exchange/bundle.hpp"
#include "exchange/center_store.hpp"
#include "exchange/envelope.hpp"

namespace tessera::exchange {
namespace {
namespace fs = std::filesystem;

class CenterStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("center-store-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    auto key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
    ASSERT_TRUE(key.ok());
    key_ = std::make_unique<crypto::PrivateKey>(*key);
    crypto::CertificateRequest req;
    req.common_name = "A15060000H";
    auto cert = crypto::IssueCertificate(req, *key_, nullptr, *key_);
    ASSERT_TRUE(cert.ok()) << cert.status().ToString();
    cert_ = std::make_unique<crypto::Certificate>(*cert);
    auto store = CenterStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }

  // An item from A15060000H with `content` as payload, written where the store wants it.
  SealedHeader Item(const std::string& id, const std::string& content, std::vector<std::string> to,
                    fs::path* payload) {
    *payload = store_->IncomingPath();
    EXPECT_TRUE(WriteFileAtomic(*payload, content).ok());
    RoutingHeader h;
    h.id = id;
    h.from = "A15060000H";
    h.to = std::move(to);
    h.created_at = 1;
    h.payload_sha256 = HexEncode(crypto::Sha256(AsBytes(content)));
    h.payload_size = content.size();
    auto der = SealHeader(h, *cert_, *key_);
    EXPECT_TRUE(der.ok()) << der.status().ToString();
    auto sealed = OpenHeader(*der, crypto::OnlySigner(*cert_));
    EXPECT_TRUE(sealed.ok()) << sealed.status().ToString();
    return *sealed;
  }
  static Result<Bytes> Receipt() { return ToBytes("receipt"); }

  fs::path dir_;
  std::unique_ptr<crypto::PrivateKey> key_;
  std::unique_ptr<crypto::Certificate> cert_;
  std::unique_ptr<CenterStore> store_;
};

TEST_F(CenterStoreTest, ResendIsRecognisedAndDifferentContentRefused) {
  fs::path payload;
  auto item = Item("doc-1", "payload one", {"B"}, &payload);
  auto first = store_->Accept(item, payload, {{"B", ""}}, Receipt);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_FALSE(first->duplicate);
  auto again = Item("doc-1", "payload one", {"B"}, &payload);
  auto second =
      store_->Accept(again, payload, {{"B", ""}}, [] { return Result<Bytes>(ToBytes("other")); });
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->duplicate);
  EXPECT_EQ(AsString(second->receipt), "receipt");  // the first receipt, not a new one
  EXPECT_EQ(second->seq, first->seq);
  auto existing = store_->FindExisting(
      "A15060000H", "doc-1", Item("doc-1", "changed", {"B"}, &payload).header.payload_sha256);
  EXPECT_EQ(existing.status().code(), StatusCode::kAlreadyExists);
}

TEST_F(CenterStoreTest, LeasedItemComesBackUntilAcknowledged) {
  fs::path payload;
  ASSERT_TRUE(store_
                  ->Accept(Item("doc-1", "x", {"B", "C"}, &payload), payload,
                           {{"B", ""}, {"C", ""}}, Receipt)
                  .ok());
  auto lease = store_->Lease("B", 100, 60);
  ASSERT_TRUE(lease.ok() && lease->has_value());
  std::ifstream in((*lease)->payload);
  std::string got((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(got, "x");
  EXPECT_FALSE(store_->Lease("B", 101, 60)->has_value()) << "leased: not given twice";
  auto again = store_->Lease("B", 161, 60);
  ASSERT_TRUE(again->has_value()) << "the lease ran out: delivered again";
  EXPECT_EQ((*again)->delivery, (*lease)->delivery);
  EXPECT_EQ(store_->Acknowledge("C", (*lease)->delivery, 162).code(), StatusCode::kNotFound);
  ASSERT_TRUE(store_->Acknowledge("B", (*lease)->delivery, 162).ok());
  EXPECT_FALSE(store_->Lease("B", 1000, 60)->has_value());
  // The payload stays while C still needs it, and goes when C has it.
  EXPECT_TRUE(fs::exists((*lease)->payload));
  auto c = store_->Lease("C", 1000, 60);
  ASSERT_TRUE(c->has_value());
  ASSERT_TRUE(store_->Acknowledge("C", (*c)->delivery, 1001).ok());
  EXPECT_FALSE(fs::exists((*lease)->payload));
  auto status = store_->StatusOf("A15060000H", "doc-1");
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(status->size(), 2u);
  EXPECT_EQ((*status)[0].state, "delivered");
  EXPECT_EQ((*status)[0].attempts, 2);
}

TEST_F(CenterStoreTest, CommittedItemsSurviveReopening) {
  fs::path payload;
  ASSERT_TRUE(
      store_->Accept(Item("doc-1", "kept", {"B"}, &payload), payload, {{"B", ""}}, Receipt).ok());
  // A payload half received by a center that died, and one a live center is receiving.
  const pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  ::waitpid(dead, nullptr, 0);
  const fs::path half = dir_ / "spool" / "incoming" / (std::to_string(dead) + "-1.part");
  ASSERT_TRUE(WriteFileAtomic(half, std::string("half received")).ok());
  const fs::path live = store_->IncomingPath();
  ASSERT_TRUE(WriteFileAtomic(live, std::string("being received")).ok());
  store_.reset();
  auto reopened = CenterStore::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  EXPECT_FALSE(fs::exists(half)) << "a payload never committed is dropped";
  EXPECT_TRUE(fs::exists(live)) << "a payload a live process is writing is left alone";
  auto lease = (*reopened)->Lease("B", 10, 60);
  ASSERT_TRUE(lease.ok() && lease->has_value());
}

TEST_F(CenterStoreTest, TwoStoresOnOneSpoolNeverHandOutTheSameIncomingPath) {
  // The center opens a second store on its spool for its background thread.
  auto second = CenterStore::Open(dir_);
  ASSERT_TRUE(second.ok());
  std::set<fs::path> seen;
  for (int i = 0; i < 50; ++i) {
    EXPECT_TRUE(seen.insert(store_->IncomingPath()).second);
    EXPECT_TRUE(seen.insert((*second)->IncomingPath()).second);
  }
}

TEST_F(CenterStoreTest, BatchedItemsAreCommittedTogether) {
  fs::path first, second;
  {
    auto batch = store_->BeginBatch();
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE(
        store_->Accept(Item("doc-1", "one", {"B"}, &first), first, {{"B", ""}}, Receipt).ok());
    ASSERT_TRUE(
        store_->Accept(Item("doc-2", "two", {"B"}, &second), second, {{"B", ""}}, Receipt).ok());
  }  // dropped uncommitted: neither item is accepted
  EXPECT_FALSE(store_->Lease("B", 10, 60)->has_value());
  {
    auto batch = store_->BeginBatch();
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE(
        store_->Accept(Item("doc-1", "one", {"B"}, &first), first, {{"B", ""}}, Receipt).ok());
    ASSERT_TRUE(
        store_->Accept(Item("doc-2", "two", {"B"}, &second), second, {{"B", ""}}, Receipt).ok());
    ASSERT_TRUE(batch->Commit().ok());
  }
  store_.reset();
  auto reopened = CenterStore::Open(dir_);
  ASSERT_TRUE(reopened.ok());
  for (int i = 0; i < 2; ++i) {
    auto lease = (*reopened)->Lease("B", 10, 60);
    ASSERT_TRUE(lease.ok() && lease->has_value()) << "item " << i;
  }
}

// Payloads move into the directory of the current hour, which a batch syncs once; the
// empty directories of past hours go at the next expiry pass, others stay.
TEST_F(CenterStoreTest, PayloadsGoToTheCurrentHoursDirectoryAndEmptyPastOnesAreRemoved) {
  fs::path payload;
  {
    auto batch = store_->BeginBatch();
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE(
        store_->Accept(Item("doc-1", "one", {"B"}, &payload), payload, {{"B", ""}}, Receipt).ok());
    ASSERT_TRUE(batch->Commit().ok());
  }
  auto lease = store_->Lease("B", NowUnixSeconds(), 60);
  ASSERT_TRUE(lease.ok() && lease->has_value());
  const fs::path directory = (*lease)->payload.parent_path();
  const std::string hour = directory.filename().string();
  ASSERT_EQ(hour.size(), 10u);
  EXPECT_EQ(hour.substr(0, 4), FormatRfc3339(NowUnixNanos()).substr(0, 4));
  auto text = ReadTextFile((*lease)->payload);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, "one");

  fs::create_directories(dir_ / "spool" / "2001010100");
  fs::create_directories(dir_ / "spool" / "2001010200");
  ASSERT_TRUE(WriteFileAtomic(dir_ / "spool" / "2001010200" / "kept", std::string_view("x")).ok());
  ASSERT_TRUE(
      store_->Expire(NowUnixSeconds(), 3600, [](const std::string&) { return false; }).ok());
  EXPECT_FALSE(fs::exists(dir_ / "spool" / "2001010100")) << "an empty past hour goes";
  EXPECT_TRUE(fs::exists(dir_ / "spool" / "2001010200" / "kept")) << "one in use stays";
  EXPECT_TRUE(fs::exists(directory)) << "the current hour stays";
}

// A delivered payload leaves the disk only after the rows saying so are committed: a batch
// rolled back keeps it (the item is leased again), a committed one hands it to its caller.
TEST_F(CenterStoreTest, ABatchReleasesDeliveredPayloadsOnlyOnceCommitted) {
  fs::path payload;
  ASSERT_TRUE(
      store_->Accept(Item("doc-1", "one", {"B"}, &payload), payload, {{"B", ""}}, Receipt).ok());
  auto lease = store_->Lease("B", 100, 60);
  ASSERT_TRUE(lease.ok() && lease->has_value());
  const fs::path stored = (*lease)->payload;
  {
    auto batch = store_->BeginBatch();
    ASSERT_TRUE(batch.ok());
    ASSERT_TRUE(store_->Acknowledge("B", (*lease)->delivery, 101).ok());
    EXPECT_TRUE(fs::exists(stored)) << "not committed yet";
  }  // rolled back
  EXPECT_TRUE(fs::exists(stored));
  auto again = store_->Lease("B", 200, 60);
  ASSERT_TRUE(again.ok() && again->has_value()) << "the acknowledgement was rolled back";
  auto batch = store_->BeginBatch();
  ASSERT_TRUE(batch.ok());
  ASSERT_TRUE(store_->Acknowledge("B", (*again)->delivery, 201).ok());
  ASSERT_TRUE(batch->Commit().ok());
  EXPECT_TRUE(fs::exists(stored)) << "the caller removes it, off the storage thread";
  const std::vector<fs::path> released = batch->TakeReleasedPayloads();
  ASSERT_EQ(released, std::vector<fs::path>{stored});
  CenterStore::RemovePayloads(released);
  EXPECT_FALSE(fs::exists(stored));
  // Outside a batch, the payload goes as soon as its rows are committed.
  ASSERT_TRUE(
      store_->Accept(Item("doc-2", "two", {"B"}, &payload), payload, {{"B", ""}}, Receipt).ok());
  auto second = store_->Lease("B", 300, 60);
  ASSERT_TRUE(second.ok() && second->has_value());
  ASSERT_TRUE(store_->Acknowledge("B", (*second)->delivery, 301).ok());
  EXPECT_FALSE(fs::exists((*second)->payload));
}

// What a crash left between a commit and the removal goes when the center starts; the
// payloads still needed, and those being received, stay.
TEST_F(CenterStoreTest, OrphanedPayloadsAreRemovedAndNeededOnesKept) {
  fs::path payload;
  ASSERT_TRUE(
      store_->Accept(Item("doc-1", "one", {"B"}, &payload), payload, {{"B", ""}}, Receipt).ok());
  auto lease = store_->Lease("B", 100, 60);
  ASSERT_TRUE(lease.ok() && lease->has_value());
  const fs::path needed = (*lease)->payload;
  const fs::path orphan = needed.parent_path() / "delivered-but-not-removed";
  const fs::path old_orphan = dir_ / "spool" / "2001010100" / "from-a-past-hour";
  fs::create_directories(old_orphan.parent_path());
  ASSERT_TRUE(WriteFileAtomic(orphan, std::string_view("x")).ok());
  ASSERT_TRUE(WriteFileAtomic(old_orphan, std::string_view("x")).ok());
  const fs::path incoming = store_->IncomingPath();
  ASSERT_TRUE(WriteFileAtomic(incoming, std::string_view("being received")).ok());
  {
    // The same spool reached another way (a relative path) keeps what its rows name.
    const fs::path cwd = fs::current_path();
    fs::current_path(dir_.parent_path());
    auto relative = CenterStore::Open(dir_.filename());
    ASSERT_TRUE(relative.ok());
    EXPECT_TRUE((*relative)->RemoveOrphanedPayloads().ok());
    fs::current_path(cwd);
    EXPECT_TRUE(fs::exists(needed));
  }
  ASSERT_TRUE(store_->RemoveOrphanedPayloads().ok());
  EXPECT_FALSE(fs::exists(orphan));
  EXPECT_FALSE(fs::exists(old_orphan));
  EXPECT_TRUE(fs::exists(needed));
  EXPECT_TRUE(fs::exists(incoming));
}

TEST_F(CenterStoreTest, ForwardsToPeersWithTheirRecipients) {
  fs::path payload;
  ASSERT_TRUE(store_
                  ->Accept(Item("doc-1", "x", {"B", "C", "D"}, &payload), payload,
                           {{"B", ""}, {"C", "center-b"}, {"D", "center-b"}}, Receipt)
                  .ok());
  auto peers = store_->PeersWithWork(10);
  ASSERT_TRUE(peers.ok());
  EXPECT_EQ(*peers, std::vector<std::string>{"center-b"});
  auto item = store_->LeaseForPeer("center-b", 10, 60);
  ASSERT_TRUE(item.ok() && item->has_value());
  EXPECT_EQ((*item)->recipients, (std::vector<std::string>{"C", "D"}));
  EXPECT_TRUE(store_->PeersWithWork(11)->empty()) << "leased for forwarding";
  EXPECT_EQ(*store_->PeersWithWork(71), std::vector<std::string>{"center-b"})
      << "lease ran out: retried";
  ASSERT_TRUE(store_->MarkForwarded("center-b", (*item)->seq, 72).ok());
  EXPECT_TRUE(store_->PeersWithWork(1000)->empty());
  EXPECT_FALSE(store_->Lease("C", 1000, 60)->has_value()) << "C is not delivered here";
}

TEST_F(CenterStoreTest, ExpiryTellsTheSenderButHoldsSuspendedRecipients) {
  fs::path payload;
  ASSERT_TRUE(store_
                  ->Accept(Item("doc-1", "x", {"B", "C"}, &payload), payload,
                           {{"B", ""}, {"C", ""}}, Receipt)
                  .ok());
  const int64_t now = NowUnixSeconds();
  auto none = store_->Expire(now, 3600, [](const std::string&) { return false; });
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty()) << "not yet due";
  auto expired = store_->Expire(now + 7200, 3600, [](const std::string& a) { return a == "C"; });
  ASSERT_TRUE(expired.ok());
  ASSERT_EQ(expired->size(), 1u);
  EXPECT_EQ((*expired)[0].recipient, "B");
  EXPECT_EQ((*expired)[0].id, "doc-1");
  EXPECT_FALSE(store_->Lease("B", now + 7200, 60)->has_value());
  EXPECT_TRUE(store_->Lease("C", now + 7200, 60)->has_value()) << "held for the suspended agency";
}

TEST_F(CenterStoreTest, LocalSuspensions) {
  EXPECT_FALSE(store_->LocalSuspension("B")->has_value());
  ASSERT_TRUE(store_->Suspend("B", {"malware", "spreading", "operator", 5}).ok());
  auto s = store_->LocalSuspension("B");
  ASSERT_TRUE(s.ok() && s->has_value());
  EXPECT_EQ((*s)->reason, "malware");
  ASSERT_TRUE(store_->Resume("B").ok());
  EXPECT_EQ(store_->Resume("B").code(), StatusCode::kNotFound);
}

TEST(Bundle, RoundTripAndDamage) {
  const fs::path dir = fs::temp_directory_path() / ("bundle-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "in");
  ASSERT_TRUE(WriteFileAtomic(dir / "in" / "letter.di", std::string("<函/>")).ok());
  ASSERT_TRUE(WriteFileAtomic(dir / "in" / "附件一.pdf", std::string(300000, 'p')).ok());
  BundleInput input{dir / "in" / "letter.di", {}, {dir / "in" / "附件一.pdf"}};
  ASSERT_TRUE(WriteBundle(input, dir / "b").ok());
  auto manifest = ExtractBundle(dir / "b", dir / "out");
  ASSERT_TRUE(manifest.ok()) << manifest.status().ToString();
  EXPECT_EQ(manifest->document, "letter.di");
  EXPECT_EQ(manifest->attachments, std::vector<std::string>{"附件一.pdf"});
  EXPECT_EQ(*ReadTextFile(dir / "out" / "附件一.pdf"), std::string(300000, 'p'));
  // A changed byte in a file is found by its hash; a cut is found by its size.
  auto bytes = *ReadFile(dir / "b");
  bytes[bytes.size() - 10] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(dir / "b2", bytes).ok());
  EXPECT_EQ(ExtractBundle(dir / "b2", dir / "out2").status().code(), StatusCode::kCorruption);
  bytes.resize(bytes.size() - 100);
  ASSERT_TRUE(WriteFileAtomic(dir / "b3", bytes).ok());
  EXPECT_EQ(ExtractBundle(dir / "b3", dir / "out3").status().code(), StatusCode::kCorruption);
  // Two files of the same name cannot be told apart by the recipient.
  fs::create_directories(dir / "in2");
  ASSERT_TRUE(WriteFileAtomic(dir / "in2" / "附件一.pdf", std::string("x")).ok());
  BundleInput twice{
      dir / "in" / "letter.di", {}, {dir / "in" / "附件一.pdf", dir / "in2" / "附件一.pdf"}};
  EXPECT_EQ(WriteBundle(twice, dir / "b4").code(), StatusCode::kInvalidArgument);
  fs::remove_all(dir);
}

TEST(Base64, KnownVectorsAndRefusals) {
  EXPECT_EQ(Base64Encode(AsBytes("")), "");
  EXPECT_EQ(Base64Encode(AsBytes("f")), "Zg==");
  EXPECT_EQ(Base64Encode(AsBytes("fo")), "Zm8=");
  EXPECT_EQ(Base64Encode(AsBytes("foo")), "Zm9v");
  EXPECT_EQ(Base64Encode(AsBytes("foobar")), "Zm9vYmFy");
  for (const char* s : {"", "f", "fo", "foo", "foob", "fooba", "foobar"})
    EXPECT_EQ(AsString(*Base64Decode(Base64Encode(AsBytes(s)))), s);
  EXPECT_FALSE(Base64Decode("Zg=").ok());
  EXPECT_FALSE(Base64Decode("Z===").ok());
  EXPECT_FALSE(Base64Decode("Zg=a").ok());
  EXPECT_FALSE(Base64Decode("Zm9v!A==").ok());
  // Non-canonical: the same bytes with the leftover bits set must not decode.
  EXPECT_FALSE(Base64Decode("Zh==").ok());
  EXPECT_FALSE(Base64Decode("Zm9=").ok());
  EXPECT_FALSE(Base64Decode("Zm9vZh==").ok());
}

TEST(ItemIds, ValidAndFresh) {
  EXPECT_TRUE(IsValidItemId("20261203T155500-9f3c"));
  EXPECT_FALSE(IsValidItemId(""));
  EXPECT_FALSE(IsValidItemId("../x"));
  EXPECT_FALSE(IsValidItemId("-x"));
  EXPECT_FALSE(IsValidItemId(std::string(129, 'a')));
  const std::string a = NewItemId(), b = NewItemId();
  EXPECT_TRUE(IsValidItemId(a)) << a;
  EXPECT_NE(a, b);
}

}  // namespace
}  // namespace tessera::exchange
