// Offline volumes (archive/volume): export a date range to signed tar files, verify them
// and import them into another archive; damage of every kind is found and named, and a
// damaged volume is refused.
#include "archive/volume.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "base/files.hpp"
#include "crypto/hash.hpp"
#include "piece_messages.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::archive {
namespace {

namespace fs = std::filesystem;
using ::testing::AllOf;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr int64_t kJan1 = 1704067200;  // 2024-01-01T00:00:00Z
constexpr int64_t kDay = 86400;

// RFC 5322 date of Unix seconds, in UTC.
std::string MailDate(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

std::string LocalDate(int64_t t) {
  const std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  ::localtime_r(&tt, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y%m%d", &tm);
  return buf;
}

std::string Message(const std::string& subject, std::optional<int64_t> date,
                    const std::string& body = "內容") {
  return "From: 鄭 <cheng@ntbt.gov.tw>\r\nTo: staff@ntbt.gov.tw\r\nSubject: " + subject +
         "\r\nMessage-ID: <" + subject + "@ntbt.gov.tw>\r\n" +
         (date ? "Date: " + MailDate(*date) + "\r\n" : std::string()) +
         "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n";
}

// A Big5 message as old Outlook sent it: raw 8-bit bytes in the header and body.
std::string Big5Message() {
  return "From: cheng@ntbt.gov.tw\r\nSubject: \xb0\xea\xb5\x7c\xa7\xbd\r\nDate: " +
         MailDate(kJan1 + 3600) +
         "\r\nMessage-ID: <big5@ntbt.gov.tw>\r\nContent-Type: text/plain; charset=big5\r\n\r\n"
         "\xbd\xd0\xa7\xb9\xa6\xa8\r\n";
}

Delivery ADelivery(const std::string& folder, std::vector<std::string> recipients,
                   int64_t received_at = kJan1 + 7200) {
  Delivery d;
  d.source = "lmtp";
  d.origin = "127.0.0.1";
  d.folder = folder;
  d.envelope_from = "cheng@ntbt.gov.tw";
  d.recipients = std::move(recipients);
  d.received_at = received_at;
  return d;
}

Result<AddOutcome> AddText(MessageStore& store, const std::string& raw, const Delivery& d) {
  auto parsed = ParseMessage(AsBytes(raw));
  if (!parsed.ok()) return parsed.status();
  return store.Add(AsBytes(raw), *parsed, d);
}

std::unique_ptr<MessageStore> OpenStore(const fs::path& dir) {
  auto store = MessageStore::Open(dir);
  EXPECT_OK(store);
  return store.ok() ? std::move(*store) : nullptr;
}

struct Exported {
  VolumePlan plan;
  VolumeExportReport report;
};

Result<Exported> Export(MessageStore& store, const crypto::SigningKey& key, const fs::path& dir,
                        std::optional<int64_t> after, int64_t before,
                        uint64_t volume_size = kDefaultVolumeSize) {
  VolumeExportOptions options;
  options.after = after;
  options.before = before;
  options.volume_size = volume_size;
  Exported out;
  TESSERA_ASSIGN_OR_RETURN(out.plan, PlanVolumes(store, options));
  TESSERA_ASSIGN_OR_RETURN(out.report, WriteVolumes(store, out.plan, options, key, dir, nullptr));
  return out;
}

std::vector<std::string> AllProblems(const VolumeSetReport& r) {
  std::vector<std::string> out = r.problems;
  for (const auto& v : r.volumes)
    for (const auto& p : v.problems) out.push_back(v.path.filename().string() + ": " + p);
  return out;
}

// A tar's members as (name, bytes), and a tar made from such a list, with libarchive.
using Members = std::vector<std::pair<std::string, std::string>>;

Members ReadTar(const fs::path& path) {
  Members out;
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_filename(a, path.c_str(), 10240), ARCHIVE_OK);
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string data(static_cast<size_t>(archive_entry_size(e)), '\0');
    if (!data.empty()) archive_read_data(a, data.data(), data.size());
    out.emplace_back(archive_entry_pathname(e), std::move(data));
  }
  archive_read_free(a);
  return out;
}

void WriteTar(const fs::path& path, const Members& members) {
  struct archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& [name, data] : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, data.data(), data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteAll(const fs::path& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

// Replaces the one occurrence of `from` in the file by `to` (same length), in place.
void Patch(const fs::path& path, const std::string& from, const std::string& to) {
  ASSERT_EQ(from.size(), to.size());
  std::string data = ReadAll(path);
  const size_t at = data.find(from);
  ASSERT_NE(at, std::string::npos) << from;
  ASSERT_EQ(data.find(from, at + 1), std::string::npos) << from << " is not unique";
  data.replace(at, from.size(), to);
  WriteAll(path, data);
}

// An archive of four messages in January 2024 (one Big5, one delivered twice with Bcc
// recipients) and one in February.
class ArchiveVolume : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(source_.path() / "archive");
    ASSERT_TRUE(store_);
    ASSERT_OK(AddText(*store_, Message("公文一", kJan1 + 10),
                      ADelivery("INBOX", {"staff@ntbt.gov.tw", "secret-bcc@ntbt.gov.tw"})));
    ASSERT_OK(AddText(*store_, Message("公文一", kJan1 + 10),
                      ADelivery("Sent", {"chief@ntbt.gov.tw"}, kJan1 + 9000)));
    ASSERT_OK(store_->Add(AsBytes(Big5Message()), *ParseMessage(AsBytes(Big5Message())),
                          ADelivery("INBOX", {"staff@ntbt.gov.tw"})));
    ASSERT_OK(AddText(*store_, Message("公文二", kJan1 + 5 * kDay, "第二號內容"),
                      ADelivery("", {"a@x"})));
    ASSERT_OK(AddText(*store_, Message("公文三", kJan1 + 31 * kDay), ADelivery("", {"b@x"})));
  }

  fs::path Volumes() const { return work_.path() / "volumes"; }

  TempDir source_, work_;
  std::unique_ptr<MessageStore> store_;
  crypto::SigningKey key_ = crypto::SigningKey::Generate();
};

TEST_F(ArchiveVolume, RoundTripKeepsTheBytesAndEveryDelivery) {
  auto exported = Export(*store_, key_, Volumes(), kJan1, kJan1 + 31 * kDay);
  ASSERT_OK(exported);
  EXPECT_EQ(exported->report.messages, 3u);  // February is outside the range
  ASSERT_EQ(exported->report.files.size(), 1u);
  EXPECT_EQ(exported->report.fingerprint, key_.public_key().Fingerprint());
  EXPECT_TRUE(fs::exists(Volumes() / kVolumePublicKeyFile));
  // Named by the local dates of its first and last message.
  EXPECT_EQ(
      exported->report.files[0].path.filename().string(),
      "tessera-volume-" + LocalDate(kJan1 + 10) + "-" + LocalDate(kJan1 + 5 * kDay) + "-001.tar");

  const crypto::PublicKey pub = key_.public_key();
  auto verified = VerifyVolumes(Volumes(), &pub, nullptr);
  ASSERT_OK(verified);
  EXPECT_TRUE(verified->ok()) << ::testing::PrintToString(AllProblems(*verified));
  EXPECT_TRUE(verified->key_trusted);
  EXPECT_EQ(verified->messages(), 3u);

  TempDir target;
  auto fresh = OpenStore(target.path() / "archive");
  ASSERT_TRUE(fresh);
  auto imported = ImportVolumes(*fresh, Volumes(), nullptr, nullptr, nullptr);
  ASSERT_OK(imported);
  EXPECT_EQ(imported->imported, 3u);
  EXPECT_EQ(imported->duplicates, 0u);
  EXPECT_EQ(imported->deliveries, 4u);
  EXPECT_EQ(imported->volumes_imported, 1u);
  EXPECT_EQ(fresh->MessageCount(), 3u);

  // Every message exported comes back byte for byte with all its deliveries.
  for (const auto& volume : exported->plan.volumes) {
    for (const VolumeMessage& m : volume) {
      auto original = store_->Raw(m.id);
      ASSERT_OK(original);
      auto id = fresh->FindBySha256(m.sha256);
      ASSERT_OK(id);
      ASSERT_TRUE(id->has_value()) << m.subject;
      auto copy = fresh->Raw(**id);
      ASSERT_OK(copy);
      EXPECT_EQ(*copy, *original);
      auto before = store_->Deliveries(m.id);
      auto after = fresh->Deliveries(**id);
      ASSERT_OK(before);
      ASSERT_OK(after);
      ASSERT_EQ(after->size(), before->size());
      for (size_t i = 0; i < before->size(); ++i) {
        const Delivery &a = (*before)[i].delivery, &b = (*after)[i].delivery;
        EXPECT_EQ(b.source, a.source);
        EXPECT_EQ(b.origin, a.origin);
        EXPECT_EQ(b.folder, a.folder);
        EXPECT_EQ(b.envelope_from, a.envelope_from);
        EXPECT_EQ(b.recipients, a.recipients);
        EXPECT_EQ(b.received_at, a.received_at);
      }
      auto stored = fresh->Find(**id);
      ASSERT_OK(stored);
      EXPECT_EQ(stored->date, m.date);
      EXPECT_EQ(stored->subject, m.subject);
    }
  }
  // The Bcc recipient and the second folder made it.
  auto first = fresh->FindBySha256(crypto::Sha256(AsBytes(Message("公文一", kJan1 + 10))));
  ASSERT_OK(first);
  ASSERT_TRUE(first->has_value());
  auto deliveries = fresh->Deliveries(**first);
  ASSERT_OK(deliveries);
  ASSERT_EQ(deliveries->size(), 2u);
  EXPECT_THAT((*deliveries)[0].delivery.recipients, Contains("secret-bcc@ntbt.gov.tw"));
  EXPECT_EQ((*deliveries)[1].delivery.folder, "Sent");
  auto verify = fresh->Verify(true);
  ASSERT_OK(verify);
  EXPECT_THAT(verify->problems, IsEmpty());

  // Imported again: every message a duplicate, no delivery recorded twice.
  auto again = ImportVolumes(*fresh, Volumes(), nullptr, nullptr, nullptr);
  ASSERT_OK(again);
  EXPECT_EQ(again->imported, 0u);
  EXPECT_EQ(again->duplicates, 3u);
  EXPECT_EQ(again->deliveries, 0u);
  EXPECT_EQ(fresh->MessageCount(), 3u);
}

TEST_F(ArchiveVolume, ImportIntoTheArchiveThatWroteThemAddsNothing) {
  ASSERT_OK(Export(*store_, key_, Volumes(), std::nullopt, kJan1 + 60 * kDay));
  auto imported = ImportVolumes(*store_, Volumes(), nullptr, nullptr, nullptr);
  ASSERT_OK(imported);
  EXPECT_EQ(imported->imported, 0u);
  EXPECT_EQ(imported->duplicates, 4u);
  EXPECT_EQ(imported->deliveries, 0u);
  EXPECT_EQ(store_->MessageCount(), 4u);
}

TEST_F(ArchiveVolume, TheRangeIsTheDateHeaderAfterInclusiveBeforeExclusive) {
  // Exactly at --after is in; exactly at --before is out.
  auto exported = Export(*store_, key_, Volumes(), kJan1 + 10, kJan1 + 5 * kDay);
  ASSERT_OK(exported);
  ASSERT_EQ(exported->plan.volumes.size(), 1u);
  std::vector<std::string> subjects;
  for (const auto& m : exported->plan.volumes[0]) subjects.push_back(m.subject);
  EXPECT_THAT(subjects, ::testing::ElementsAre("公文一", "國稅局"));  // oldest first

  VolumeExportOptions options;
  options.after = kJan1 + 11;  // one second after the first message: it is left out
  options.before = kJan1 + 5 * kDay + 1;
  auto plan = PlanVolumes(*store_, options);
  ASSERT_OK(plan);
  EXPECT_EQ(plan->messages, 2u);  // the Big5 one and 公文二
  options.after = options.before;
  EXPECT_EQ(PlanVolumes(*store_, options).status().code(), StatusCode::kInvalidArgument);

  // Without a Date header, the time it was first archived counts.
  ASSERT_OK(AddText(*store_, Message("undated", std::nullopt), ADelivery("", {"c@x"})));
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  options.after.reset();
  options.before = now - kDay;
  auto old = PlanVolumes(*store_, options);
  ASSERT_OK(old);
  EXPECT_EQ(old->messages, 4u);
  options.after = now - kDay;
  options.before = now + kDay;
  auto recent = PlanVolumes(*store_, options);
  ASSERT_OK(recent);
  ASSERT_EQ(recent->messages, 1u);
  EXPECT_EQ(recent->volumes[0][0].subject, "undated");
}

TEST_F(ArchiveVolume, NothingInTheRangeGivesAnEmptyPlan) {
  VolumeExportOptions options;
  options.before = kJan1;
  auto plan = PlanVolumes(*store_, options);
  ASSERT_OK(plan);
  EXPECT_EQ(plan->messages, 0u);
  EXPECT_THAT(plan->volumes, IsEmpty());
}

TEST_F(ArchiveVolume, VolumesAreSplitBySizeAndTheSetIsCheckedWhole) {
  // Twelve messages of 20 KiB: two fit in a 64 KiB volume with its manifest.
  for (int i = 0; i < 12; ++i)
    ASSERT_OK(AddText(*store_,
                      Message("bulk" + std::to_string(i), kJan1 + 40 * kDay + i,
                              std::string(20 * 1024, static_cast<char>('a' + i))),
                      ADelivery("", {"d@x"})));
  const uint64_t limit = 64 * 1024;
  auto exported = Export(*store_, key_, Volumes(), kJan1 + 40 * kDay, kJan1 + 41 * kDay, limit);
  ASSERT_OK(exported);
  const auto& files = exported->report.files;
  ASSERT_GE(files.size(), 4u);
  uint64_t messages = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_LE(files[i].size, limit) << files[i].path;
    EXPECT_EQ(fs::file_size(files[i].path), files[i].size);
    EXPECT_EQ(files[i].number, static_cast<int>(i + 1));
    EXPECT_THAT(files[i].path.filename().string(),
                HasSubstr("-" + std::string(i < 9 ? "00" : "0") + std::to_string(i + 1) + ".tar"));
    messages += files[i].messages;
  }
  EXPECT_EQ(messages, 12u);
  // Full volumes: a bigger limit would not need as many.
  EXPECT_GE(files[0].size, limit / 2);

  auto verified = VerifyVolumes(Volumes(), nullptr, nullptr);
  ASSERT_OK(verified);
  EXPECT_TRUE(verified->ok()) << ::testing::PrintToString(AllProblems(*verified));
  EXPECT_EQ(verified->messages(), 12u);
  EXPECT_FALSE(verified->key_trusted);
  EXPECT_EQ(verified->fingerprint, key_.public_key().Fingerprint());

  // A volume gone: the set says which; the others still import.
  fs::remove(files[1].path);
  verified = VerifyVolumes(Volumes(), nullptr, nullptr);
  ASSERT_OK(verified);
  EXPECT_FALSE(verified->ok());
  EXPECT_THAT(verified->problems,
              Contains(HasSubstr("volume 2 of " + std::to_string(files.size()))));
  TempDir target;
  auto fresh = OpenStore(target.path() / "archive");
  auto imported = ImportVolumes(*fresh, Volumes(), nullptr, nullptr, nullptr);
  ASSERT_OK(imported);
  EXPECT_EQ(imported->imported, 12u - files[1].messages);
  EXPECT_EQ(imported->volumes_refused, 0u);
}

TEST_F(ArchiveVolume, AMessageLargerThanAVolumeGetsOneOfItsOwn) {
  ASSERT_OK(AddText(*store_, Message("huge", kJan1 + 40 * kDay, std::string(100 * 1024, 'h')),
                    ADelivery("", {"d@x"})));
  ASSERT_OK(AddText(*store_, Message("small", kJan1 + 40 * kDay + 1), ADelivery("", {"d@x"})));
  auto exported =
      Export(*store_, key_, Volumes(), kJan1 + 40 * kDay, kJan1 + 41 * kDay, kMinVolumeSize);
  ASSERT_OK(exported);
  ASSERT_EQ(exported->report.files.size(), 2u);
  EXPECT_EQ(exported->report.files[0].messages, 1u);
  EXPECT_THAT(exported->plan.notes, Contains(HasSubstr("exceeds the volume size")));
  auto verified = VerifyVolumes(Volumes(), nullptr, nullptr);
  ASSERT_OK(verified);
  EXPECT_TRUE(verified->ok());
}

TEST_F(ArchiveVolume, AMessageInPiecesIsWrittenByteForByteAndADamagedOneLeavesNoVolume) {
  const fs::path home = work_.path() / "pieces";
  std::unique_ptr<MessageStore> store = OpenStore(home);
  ASSERT_TRUE(store);
  const std::string raw = piece_test::MessageAcrossPieces(3, "\r\n.x");  // dated 2024-01-02
  const int64_t id = piece_test::AddInPieces(*store, raw);
  ASSERT_OK(AddText(*store, Message("small", kJan1 + 10), ADelivery("INBOX", {"a@x"})));
  auto exported = Export(*store, key_, Volumes(), std::nullopt, kJan1 + 60 * kDay);
  ASSERT_OK(exported);
  ASSERT_EQ(exported->report.files.size(), 1u);
  const std::string member = "messages/" + HexEncode(store->Find(id)->sha256) + ".eml";
  bool found = false;
  for (const auto& [name, data] : ReadTar(exported->report.files[0].path)) {
    if (name != member) continue;
    found = true;
    EXPECT_TRUE(data == raw) << "the volume's copy differs from the message";
  }
  EXPECT_TRUE(found) << member;
  auto verified = VerifyVolumes(Volumes(), nullptr, nullptr);
  ASSERT_OK(verified);
  EXPECT_THAT(AllProblems(*verified), IsEmpty());

  // Damaged in its last piece: the export fails and leaves no volume, finished or not.
  piece_test::DamageLastPiece(*store, home, id);
  const fs::path other = work_.path() / "other";
  auto failed = Export(*store, key_, other, std::nullopt, kJan1 + 60 * kDay);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kCorruption) << failed.status().ToString();
  for (const auto& e : fs::recursive_directory_iterator(other))
    EXPECT_FALSE(e.is_regular_file()) << "left behind: " << e.path();
}

TEST_F(ArchiveVolume, ADirectoryThatHoldsVolumesIsNotExportedInto) {
  ASSERT_OK(Export(*store_, key_, Volumes(), std::nullopt, kJan1 + 60 * kDay));
  auto again = Export(*store_, key_, Volumes(), std::nullopt, kJan1 + 60 * kDay);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(VerifyVolumes(work_.path() / "nowhere", nullptr, nullptr).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(VerifyVolumes(work_.path(), nullptr, nullptr).status().code(), StatusCode::kNotFound);
}

// Each kind of damage to a copy of one volume: verify names the file and what is wrong,
// and import refuses that volume.
class ArchiveVolumeDamage : public ArchiveVolume {
 protected:
  void SetUp() override {
    ArchiveVolume::SetUp();
    auto exported = Export(*store_, key_, Volumes(), std::nullopt, kJan1 + 60 * kDay);
    ASSERT_OK(exported);
    ASSERT_EQ(exported->report.files.size(), 1u);
    tar_ = exported->report.files[0].path;
    auto clean = VerifyVolumes(Volumes(), nullptr, nullptr);
    ASSERT_OK(clean);
    ASSERT_TRUE(clean->ok()) << ::testing::PrintToString(AllProblems(*clean));
  }

  // Verifies (with the trusted key unless told), expects exactly one damaged volume with a
  // problem matching `matcher`, and that import refuses it.
  void ExpectDamage(const ::testing::Matcher<std::string>& matcher,
                    const crypto::PublicKey* key = nullptr) {
    const crypto::PublicKey pub = key_.public_key();
    auto r = VerifyVolumes(Volumes(), key ? key : &pub, nullptr);
    ASSERT_OK(r);
    EXPECT_FALSE(r->ok());
    ASSERT_EQ(r->volumes.size(), 1u);
    EXPECT_EQ(r->volumes[0].path, tar_);
    EXPECT_THAT(r->volumes[0].problems, Contains(matcher));
    TempDir target;
    auto fresh = OpenStore(target.path() / "archive");
    auto imported = ImportVolumes(*fresh, Volumes(), key ? key : &pub, nullptr, nullptr);
    ASSERT_OK(imported);
    EXPECT_EQ(imported->volumes_refused, 1u);
    EXPECT_EQ(imported->imported, 0u);
    EXPECT_EQ(fresh->MessageCount(), 0u);
  }

  fs::path tar_;
};

TEST_F(ArchiveVolumeDamage, AChangedMessageByte) {
  Patch(tar_, "第二號", "第三號");
  ExpectDamage(AllOf(HasSubstr("messages/"), HasSubstr("does not match its SHA-256")));
}

TEST_F(ArchiveVolumeDamage, ARemovedMember) {
  Members members = ReadTar(tar_);
  std::string removed;
  for (auto it = members.begin(); it != members.end(); ++it)
    if (it->first.rfind("messages/", 0) == 0) {
      removed = it->first;
      members.erase(it);
      break;
    }
  WriteTar(tar_, members);
  ExpectDamage(AllOf(HasSubstr(removed), HasSubstr("is missing")));
}

TEST_F(ArchiveVolumeDamage, AnExtraMember) {
  Members members = ReadTar(tar_);
  members.emplace_back("messages/planted.eml", "Subject: not archived\r\n\r\nx\r\n");
  WriteTar(tar_, members);
  ExpectDamage(AllOf(HasSubstr("messages/planted.eml"), HasSubstr("not listed")));
}

TEST_F(ArchiveVolumeDamage, AMemberTwice) {
  Members members = ReadTar(tar_);
  members.push_back(members.back());
  WriteTar(tar_, members);
  ExpectDamage(HasSubstr("appears more than once"));
}

TEST_F(ArchiveVolumeDamage, AChangedManifestNoLongerMatchesItsSignature) {
  // A delivery's recipient edited in VOLUME.json (the message itself untouched).
  Patch(tar_, "secret-bcc@ntbt.gov.tw", "public-cc@ntbt.gov.tw.");
  ExpectDamage(HasSubstr("the manifest was changed after it was signed"));
}

TEST_F(ArchiveVolumeDamage, ASignatureByAnotherKey) {
  Members members = ReadTar(tar_);
  crypto::SigningKey other = crypto::SigningKey::Generate();
  ASSERT_EQ(members[0].first, "VOLUME.json");
  ASSERT_EQ(members[1].first, "VOLUME.sig");
  Bytes sig = other.Sign(AsBytes(members[0].second));
  members[1].second.assign(sig.begin(), sig.end());
  WriteTar(tar_, members);
  ExpectDamage(HasSubstr("VOLUME.sig does not match VOLUME.json"));
}

TEST_F(ArchiveVolumeDamage, AForgeryUnderItsOwnKeyIsCaughtOnlyByTheTrustedKey) {
  // Everything remade consistently under another key (manifest, public key, SHA256SUMS,
  // signature), with a recipient edited: intact as far as the volume itself can tell.
  Members members = ReadTar(tar_);
  crypto::SigningKey forger = crypto::SigningKey::Generate();
  auto manifest = ParseVolumeManifest(AsBytes(members[0].second));
  ASSERT_OK(manifest);
  const std::string pem = forger.public_key().Pem();
  const std::string old_pem_sha = HexEncode(manifest->files["volume-signing.pub.pem"]);
  manifest->public_key_pem = pem;
  manifest->fingerprint = forger.public_key().Fingerprint();
  manifest->files["volume-signing.pub.pem"] = crypto::Sha256(AsBytes(pem));
  manifest->messages[0].deliveries[0].recipients = {"someone-else@ntbt.gov.tw"};
  for (auto& [name, data] : members) {
    if (name == "volume-signing.pub.pem") data = pem;
    if (name == "SHA256SUMS") {
      data.replace(data.find(old_pem_sha), 64,
                   HexEncode(manifest->files["volume-signing.pub.pem"]));
      manifest->files["SHA256SUMS"] = crypto::Sha256(AsBytes(data));
    }
  }
  members[0].second = VolumeManifestText(*manifest);
  Bytes sig = forger.Sign(AsBytes(members[0].second));
  members[1].second.assign(sig.begin(), sig.end());
  WriteTar(tar_, members);

  auto untrusted = VerifyVolumes(Volumes(), nullptr, nullptr);
  ASSERT_OK(untrusted);
  EXPECT_TRUE(untrusted->ok()) << ::testing::PrintToString(AllProblems(*untrusted));
  EXPECT_EQ(untrusted->fingerprint, forger.public_key().Fingerprint());
  EXPECT_NE(untrusted->fingerprint, key_.public_key().Fingerprint());
  ExpectDamage(AllOf(HasSubstr("is not a signature by the key given"),
                     HasSubstr(forger.public_key().Fingerprint())));
}

TEST_F(ArchiveVolumeDamage, AWrongKey) {
  const crypto::PublicKey wrong = crypto::SigningKey::Generate().public_key();
  ExpectDamage(HasSubstr("is not a signature by the key given (" + wrong.Fingerprint()), &wrong);
}

TEST_F(ArchiveVolumeDamage, ATruncatedTar) {
  const std::string data = ReadAll(tar_);
  WriteAll(tar_, data.substr(0, data.size() * 2 / 3 + 100));
  ExpectDamage(HasSubstr("damaged or cut short"));
}

TEST_F(ArchiveVolumeDamage, ATarCutInsideTheManifest) {
  WriteAll(tar_, ReadAll(tar_).substr(0, 900));
  ExpectDamage(HasSubstr("damaged or cut short"));
}

TEST_F(ArchiveVolumeDamage, AFileThatIsNotATar) {
  WriteAll(tar_, std::string(5000, 'x'));
  ExpectDamage(HasSubstr("cannot be read as a tar file"));
}

TEST_F(ArchiveVolumeDamage, AnEmptyFile) {
  WriteAll(tar_, "");
  ExpectDamage(HasSubstr("not a tessera volume"));
}

TEST_F(ArchiveVolumeDamage, AHeaderBlockOverwritten) {
  std::string data = ReadAll(tar_);
  // The header of README.txt (the name opens a header block; the manifest names it too).
  size_t at = data.find("README.txt");
  while (at != std::string::npos && at % 512 != 0) at = data.find("README.txt", at + 1);
  ASSERT_NE(at, std::string::npos);
  data[at] = 'A';  // the header's checksum no longer holds
  WriteAll(tar_, data);
  ExpectDamage(HasSubstr("damaged or cut short after member VOLUME.sig"));
}

TEST(ArchiveVolumeFormat, ManifestTextRoundTripsAndGarbageIsRefused) {
  VolumeManifest v;
  v.tool = "tessera 0.1.0";
  v.set = "abc";
  v.created_at = "2026-01-01T00:00:00Z";
  v.before = kJan1;
  v.number = 1;
  v.count = 2;
  v.public_key_pem = crypto::SigningKey::Generate().public_key().Pem();
  v.fingerprint = "f";
  VolumeMessage m;
  m.sha256 = crypto::Sha256(AsBytes("x"));
  m.path = "messages/" + HexEncode(m.sha256) + ".eml";
  m.size = 1;
  m.subject = "國稅局";
  m.deliveries.push_back(ADelivery("INBOX", {"a@x", "bcc@x"}));
  v.messages.push_back(m);
  v.files["README.txt"] = crypto::Sha256(AsBytes("readme"));
  v.files["volume-signing.pub.pem"] = crypto::Sha256(AsBytes(v.public_key_pem));
  v.files["SHA256SUMS"] = crypto::Sha256(
      AsBytes(HexEncode(v.files["README.txt"]) + "  README.txt\n" +
              HexEncode(v.files["volume-signing.pub.pem"]) + "  volume-signing.pub.pem\n" +
              HexEncode(m.sha256) + "  " + m.path + "\n"));
  const std::string text = VolumeManifestText(v);
  auto parsed = ParseVolumeManifest(AsBytes(text));
  ASSERT_OK(parsed);
  EXPECT_EQ(VolumeManifestText(*parsed), text);
  EXPECT_EQ(parsed->messages[0].deliveries[0].recipients, m.deliveries[0].recipients);
  EXPECT_FALSE(parsed->after.has_value());

  auto refused = [](const std::string& s) {
    auto r = ParseVolumeManifest(AsBytes(s));
    return !r.ok() && r.status().code() == StatusCode::kCorruption;
  };
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused("[]"));
  EXPECT_TRUE(refused("{\"format\":\"tessera-volume\"}"));
  auto replaced = [&](const std::string& from, const std::string& to) {
    std::string s = text;
    const size_t at = s.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return s.replace(at, from.size(), to);
  };
  auto newer = ParseVolumeManifest(AsBytes(replaced("\"version\":1", "\"version\":2")));
  ASSERT_FALSE(newer.ok());
  EXPECT_THAT(newer.status().message(), HasSubstr("version 2"));
  EXPECT_TRUE(refused(replaced("\"size\":1", "\"size\":-1")));
  EXPECT_TRUE(refused(replaced("\"size\":1", "\"size\":1.5")));
  EXPECT_TRUE(refused(replaced("\"number\":1", "\"number\":3")));
  EXPECT_TRUE(refused(replaced("\"path\":\"messages/", "\"path\":\"../../")));
  EXPECT_TRUE(refused(replaced("\"recipients\":[\"a@x\"", "\"recipients\":[7")));
  // The same message twice.
  std::string twice = text;
  const size_t start = twice.find("{\"path\"");
  const size_t end = twice.find("\n]}");
  twice.insert(end, ",\n" + twice.substr(start, end - start));
  EXPECT_TRUE(refused(twice));
  // SHA256SUMS must list what the manifest lists.
  EXPECT_TRUE(refused(replaced(HexEncode(v.files["SHA256SUMS"]), std::string(64, '0'))));
}

TEST(ArchiveVolumeFormat, VolumeSizes) {
  EXPECT_EQ(*ParseVolumeSize("4G"), uint64_t{4} << 30);
  EXPECT_EQ(*ParseVolumeSize("700M"), uint64_t{700} << 20);
  EXPECT_EQ(*ParseVolumeSize("700MiB"), uint64_t{700} << 20);
  EXPECT_EQ(*ParseVolumeSize("650mb"), uint64_t{650} << 20);
  EXPECT_EQ(*ParseVolumeSize("64K"), uint64_t{64} << 10);
  EXPECT_EQ(*ParseVolumeSize("1048576"), uint64_t{1} << 20);
  EXPECT_EQ(*ParseVolumeSize("1T"), uint64_t{1} << 40);
  for (const char* bad : {"", "G", "4X", "4GG", "-1G", "1K", "4 G", "99999999999999999999T"})
    EXPECT_EQ(ParseVolumeSize(bad).status().code(), StatusCode::kInvalidArgument) << bad;
}

}  // namespace
}  // namespace tessera::archive
