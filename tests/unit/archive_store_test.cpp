// The archive's message store and importer: single-instance storage that keeps every
// delivery, encryption at rest, tamper evidence, and imports of mbox, Maildir and .eml
// that report what they could not archive.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "archive/export.hpp"
#include "archive/importer.hpp"
#include "archive/journal.hpp"
#include "archive/message_store.hpp"
#include "base/files.hpp"
#include "base/sqlite.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::archive {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

void WriteText(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

std::string Message(const std::string& subject, const std::string& body,
                    const std::string& id = "") {
  return "From: 鄭 <cheng@ntbt.gov.tw>\r\nTo: archive@example.gov.tw\r\nSubject: " + subject +
         "\r\nMessage-ID: <" + (id.empty() ? subject : id) +
         "@ntbt.gov.tw>\r\nDate: Tue, 02 Jan 2024 09:00:00 +0800\r\nMIME-Version: 1.0\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\n" +
         body + "\r\n";
}

Delivery ADelivery(const std::string& folder, std::vector<std::string> recipients = {}) {
  Delivery d;
  d.source = "test";
  d.origin = "unit test";
  d.folder = folder;
  d.envelope_from = "cheng@ntbt.gov.tw";
  d.recipients = std::move(recipients);
  d.received_at = 1700000000;
  return d;
}

Result<AddOutcome> AddText(MessageStore& store, const std::string& raw, const Delivery& d) {
  auto parsed = ParseMessage(AsBytes(raw));
  if (!parsed.ok()) return parsed.status();
  return store.Add(AsBytes(raw), *parsed, d);
}

TEST(ArchiveStore, IdenticalMessagesAreStoredOnceWithEveryDelivery) {
  TempDir dir;
  auto store = MessageStore::Open(dir.path());
  ASSERT_OK(store);
  const std::string raw = Message("國稅局 郵件備份", "內容");
  auto first = AddText(**store, raw, ADelivery("INBOX", {"a@x.gov.tw", "bcc@x.gov.tw"}));
  ASSERT_OK(first);
  EXPECT_TRUE(first->new_message);
  EXPECT_TRUE(first->new_delivery);
  // The same bytes to another folder: one message, a second delivery.
  auto second = AddText(**store, raw, ADelivery("Sent"));
  ASSERT_OK(second);
  EXPECT_EQ(second->message, first->message);
  EXPECT_FALSE(second->new_message);
  EXPECT_TRUE(second->new_delivery);
  // The first delivery again (a redelivery after a crash): nothing new.
  auto again = AddText(**store, raw, ADelivery("INBOX", {"a@x.gov.tw", "bcc@x.gov.tw"}));
  ASSERT_OK(again);
  EXPECT_FALSE(again->new_message);
  EXPECT_FALSE(again->new_delivery);
  EXPECT_EQ((*store)->MessageCount(), 1u);
  auto deliveries = (*store)->Deliveries(first->message);
  ASSERT_OK(deliveries);
  ASSERT_EQ(deliveries->size(), 2u);
  EXPECT_EQ((*deliveries)[0].delivery.recipients,
            (std::vector<std::string>{"a@x.gov.tw", "bcc@x.gov.tw"}));
  EXPECT_EQ((*deliveries)[1].delivery.folder, "Sent");
  auto m = (*store)->Find(first->message);
  ASSERT_OK(m);
  EXPECT_EQ(m->subject, "國稅局 郵件備份");
  EXPECT_EQ(m->from, "鄭 <cheng@ntbt.gov.tw>");
  EXPECT_EQ(m->size, raw.size());
}

TEST(ArchiveStore, MessagesAreEncryptedAtRestAndReadBackExactly) {
  TempDir dir;
  std::string raw = Message("機密 subject marker", "");
  for (int i = 0; i < 200; ++i) raw += "line " + std::to_string(i) + " 國稅局 plaintext-marker\r\n";
  int64_t id;
  Bytes sha;
  {
    auto store = MessageStore::Open(dir.path());
    ASSERT_OK(store);
    auto added = AddText(**store, raw, ADelivery("INBOX"));
    ASSERT_OK(added);
    id = added->message;
    sha = (*store)->Find(id)->sha256;
  }
  // The object holds neither the text nor, being compressed, the message's size.
  auto object = ReadFile(dir.path() / MessageObjectName(sha));
  ASSERT_OK(object);
  const std::string stored = std::string(AsString(*object));
  EXPECT_EQ(stored.find("plaintext-marker"), std::string::npos);
  EXPECT_EQ(stored.find("國稅局"), std::string::npos);
  EXPECT_LT(object->size(), raw.size() / 2);
  // Reopened (the key comes from the key file), it reads back byte for byte.
  auto store = MessageStore::Open(dir.path());
  ASSERT_OK(store);
  auto back = (*store)->Raw(id);
  ASSERT_OK(back);
  EXPECT_EQ(AsString(*back), raw);
  EXPECT_EQ((*store)->Raw(id + 100).status().code(), StatusCode::kNotFound);
}

TEST(ArchiveStore, KeyFileReadableByOthersIsRefused) {
  TempDir dir;
  ASSERT_OK(MessageStore::Open(dir.path()));
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ::chmod((dir.path() / "key").c_str(), 0644);
  auto reopened = MessageStore::Open(dir.path());
  EXPECT_EQ(reopened.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(reopened.status().message(), HasSubstr("chmod 600"));
  // A damaged key file is an error, not a new key (which would make the archive unreadable).
  ::chmod((dir.path() / "key").c_str(), 0600);
  WriteText(dir.path() / "key", "{\"version\":1,\"key\":\"zz\"}");
  ::chmod((dir.path() / "key").c_str(), 0600);
  EXPECT_EQ(MessageStore::Open(dir.path()).status().code(), StatusCode::kCorruption);
  // A missing key is not replaced by a new one while the archive exists.
  fs::remove(dir.path() / "key");
  auto without = MessageStore::Open(dir.path());
  EXPECT_EQ(without.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(without.status().message(), HasSubstr("key"));
  EXPECT_FALSE(fs::exists(dir.path() / "key"));
}

// A store of three messages and four deliveries, for tampering with.
struct Filled {
  TempDir dir;
  std::unique_ptr<MessageStore> store;
  std::vector<int64_t> ids;
  Filled() {
    auto s = MessageStore::Open(dir.path());
    EXPECT_TRUE(s.ok());
    store = std::move(*s);
    for (int i = 0; i < 3; ++i) {
      auto a = AddText(*store, Message("msg " + std::to_string(i), "body"), ADelivery("INBOX"));
      EXPECT_TRUE(a.ok());
      ids.push_back(a->message);
    }
    EXPECT_TRUE(AddText(*store, Message("msg 0", "body"), ADelivery("Sent")).ok());
  }
  std::vector<std::string> Problems(bool read) {
    auto r = store->Verify(read);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->problems : std::vector<std::string>{"verify failed"};
  }
  void Sql(const std::string& sql) { EXPECT_TRUE(store->database().Exec(sql).ok()) << sql; }
};

TEST(ArchiveStore, VerifyPassesAnUntouchedArchive) {
  Filled f;
  auto r = f.store->Verify(true);
  ASSERT_OK(r);
  EXPECT_TRUE(r->problems.empty()) << r->problems[0];
  EXPECT_EQ(r->messages, 3u);
  EXPECT_EQ(r->deliveries, 4u);
  EXPECT_EQ(r->chain_records, 7u);
  EXPECT_THAT(r->head, HasSubstr("7:"));
}

TEST(ArchiveStore, VerifyDetectsAChangedOrDeletedMessageObject) {
  Filled f;
  const Bytes sha = f.store->Find(f.ids[1])->sha256;
  const fs::path object = f.dir.path() / MessageObjectName(sha);
  Bytes bytes = *ReadFile(object);
  bytes[bytes.size() / 2] ^= 1;
  ASSERT_OK(WriteFileAtomic(object, bytes));
  EXPECT_TRUE(f.Problems(false).empty());  // records only: the object is not read
  auto problems = f.Problems(true);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("altered"));
  fs::remove(object);
  problems = f.Problems(true);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_THAT(problems[0], HasSubstr("missing"));
}

TEST(ArchiveStore, VerifyDetectsEditedRemovedAndSmuggledRecords) {
  {
    Filled f;
    f.Sql("UPDATE deliveries SET recipients='[\"someone-else@x\"]' WHERE id=1");
    auto p = f.Problems(false);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_THAT(p[0], HasSubstr("delivery 1 was changed"));
  }
  {
    Filled f;
    f.Sql(
        "PRAGMA foreign_keys=OFF; DELETE FROM deliveries WHERE message=2; DELETE FROM messages "
        "WHERE id=2");
    auto p = f.Problems(false);
    EXPECT_THAT(p, ::testing::Contains(HasSubstr("message 2 was removed")));
  }
  {
    Filled f;  // the record and its chain link both removed: the chain breaks
    f.Sql("DELETE FROM deliveries WHERE id=4; DELETE FROM chain WHERE ref=4 AND kind='delivery'");
    EXPECT_TRUE(
        f.Problems(false).empty());  // the newest record: only an outside copy of the head tells
    f.Sql(
        "PRAGMA foreign_keys=OFF; DELETE FROM deliveries WHERE message=2; DELETE FROM messages "
        "WHERE id=2;"
        "DELETE FROM chain WHERE (kind='message' AND ref=2) OR (kind='delivery' AND ref=2)");
    auto p = f.Problems(false);
    EXPECT_THAT(p, ::testing::Contains(HasSubstr("removed")));
    EXPECT_THAT(p, ::testing::Contains(HasSubstr("does not follow")));
  }
  {
    Filled f;
    f.Sql(
        "INSERT INTO deliveries(message, received_at, source, origin, folder, envelope_from, "
        "recipients) VALUES(1, 0, 'x', 'x', 'Hidden', '', '[]')");
    auto p = f.Problems(false);
    ASSERT_EQ(p.size(), 1u);
    EXPECT_THAT(p[0], HasSubstr("not in the chain"));
  }
  {
    Filled f;  // records swapped in the chain
    f.Sql(
        "UPDATE chain SET seq=-1 WHERE seq=2; UPDATE chain SET seq=2 WHERE seq=3; "
        "UPDATE chain SET seq=3 WHERE seq=-1");
    EXPECT_THAT(f.Problems(false), ::testing::Contains(HasSubstr("does not follow")));
  }
}

// ------------------------------------------------------------------ import

const std::string kBig5Subject = "\xB0\xEA\xB5\x7C\xA7\xBD";  // 國稅局 in Big5

TEST(ArchiveImport, MboxMaildirAndEmlWithAReport) {
  TempDir dir, src_dir;
  const fs::path src = src_dir.path() / "mail";
  // An mbox of three: one with a ">From " line that must lose its '>', one in raw 8-bit
  // Big5 (headers and body undeclared), one that is not MIME at all.
  WriteText(src / "2024" / "Sent.mbox",
            "From cheng@ntbt.gov.tw Tue Jan  2 01:00:00 2024\n" + Message("first", "x") +
                "\n>From the start\n\n"
                "From MAILER-DAEMON Tue Jan  2 02:00:00 2024\n"
                "From: a@b\nSubject: " +
                kBig5Subject + "\n\n" + kBig5Subject + "\n\n" +
                "From someone Tue Jan  2 03:00:00 2024\nthis is not a header\n\n");
  // A Maildir with one message in new/ and one in cur/, and its state file.
  WriteText(src / "Maildir" / "new" / "1.host", Message("maildir new", "y"));
  WriteText(src / "Maildir" / "cur" / "2.host:2,S", Message("maildir cur", "z"));
  WriteText(src / "Maildir" / "dovecot-uidlist", "3 V1 N1\n");
  fs::create_directories(src / "Maildir" / "tmp");
  // .eml files, one empty, and a file that is not mail.
  WriteText(src / "eml" / "a.eml", Message("eml a", "w"));
  WriteText(src / "eml" / "empty.eml", "");
  WriteText(src / "eml" / "notes.txt", "shopping list\n");

  auto store = MessageStore::Open(dir.path() / "archive");
  ASSERT_OK(store);
  auto r = Import(**store, {src.string()}, nullptr);
  ASSERT_OK(r);
  EXPECT_EQ(r->imported, 6u);  // 3 from the mbox, 2 from the Maildir, 1 .eml
  EXPECT_EQ(r->duplicates, 0u);
  ASSERT_EQ(r->rejected.size(), 2u);
  std::string rejected = r->rejected[0].origin + ": " + r->rejected[0].reason + "\n" +
                         r->rejected[1].origin + ": " + r->rejected[1].reason;
  EXPECT_THAT(rejected, HasSubstr("empty.eml"));
  EXPECT_THAT(rejected, HasSubstr("notes.txt: not a mail message"));
  EXPECT_GE(r->problems.size(), 1u);  // the message without headers, archived anyway
  EXPECT_EQ((*store)->MessageCount(), 6u);

  // What the mbox gave: the '>From' unescaped, the envelope kept, the folder named.
  bool saw_escaped = false, saw_big5 = false;
  for (int64_t id = 1; id <= 6; ++id) {
    auto raw = (*store)->Raw(id);
    ASSERT_OK(raw);
    const std::string text(AsString(*raw));
    auto parsed = ParseMessage(*raw);
    ASSERT_OK(parsed);
    if (parsed->subject == "first") {
      saw_escaped = true;
      EXPECT_THAT(text, HasSubstr("\nFrom the start\n"));
      EXPECT_EQ(text.find(">From"), std::string::npos);
      EXPECT_EQ(text.find("From cheng"), std::string::npos);  // the envelope line is not mail
      auto d = (*store)->Deliveries(id);
      ASSERT_EQ(d->size(), 1u);
      EXPECT_EQ((*d)[0].delivery.folder, "mail/2024/Sent");
      EXPECT_EQ((*d)[0].delivery.envelope_from, "cheng@ntbt.gov.tw");
      EXPECT_EQ((*d)[0].delivery.received_at, 1704157200);
    }
    if (parsed->subject == "國稅局") saw_big5 = true;
    if (parsed->subject == "maildir cur") {
      EXPECT_EQ((*(*store)->Deliveries(id))[0].delivery.folder, "mail/Maildir");
    }
  }
  EXPECT_TRUE(saw_escaped);
  EXPECT_TRUE(saw_big5);

  // Again: the files finished are skipped; nothing is stored twice.
  auto again = Import(**store, {src.string()}, nullptr);
  ASSERT_OK(again);
  EXPECT_EQ(again->imported, 0u);
  EXPECT_EQ(again->files_skipped, 2u);  // the mbox and a.eml (Maildir files are re-checked)
  EXPECT_EQ(again->duplicates, 2u);     // the Maildir's two
  EXPECT_EQ((*store)->MessageCount(), 6u);
  auto verified = (*store)->Verify(true);
  ASSERT_OK(verified);
  EXPECT_TRUE(verified->problems.empty());

  // A path that does not exist fails before anything is imported.
  EXPECT_EQ(Import(**store, {src.string(), (src / "nope").string()}, nullptr).status().code(),
            StatusCode::kNotFound);
}

TEST(ArchiveImport, AnMboxIsReadInOrderAndAFileThatIsNotOneIsRefused) {
  TempDir dir;
  const fs::path mbox = dir.path() / "box";
  std::string text;
  for (int i = 1; i <= 50; ++i)
    text +=
        "From x@y Tue Jan  2 0" + std::to_string(i % 10) + ":00:00 2024\n" +
        Message("n" + std::to_string(i), "Body\nFrom inside a line is fine\n>>From twice quoted") +
        "\n";
  WriteText(mbox, text);
  std::vector<std::string> subjects;
  ASSERT_OK(ReadMbox(mbox.string(), [&](MboxMessage& m) {
    EXPECT_EQ(m.number, subjects.size() + 1);
    const std::string raw(AsString(m.raw));
    EXPECT_THAT(raw, HasSubstr("\n>From twice quoted"));
    EXPECT_TRUE(raw.ends_with("twice quoted\r\n"));  // the separator's blank line is gone
    subjects.push_back(ParseMessage(m.raw)->subject);
    return Status::Ok();
  }));
  ASSERT_EQ(subjects.size(), 50u);
  EXPECT_EQ(subjects.front(), "n1");
  EXPECT_EQ(subjects.back(), "n50");
  WriteText(mbox, "Subject: not an mbox\n\n");
  EXPECT_EQ(ReadMbox(mbox.string(), [](MboxMessage&) { return Status::Ok(); }).code(),
            StatusCode::kInvalidArgument);
}

TEST(ArchiveExport, MboxAndEmlGiveBackTheMessagesAsReceived) {
  TempDir dir;
  auto store = MessageStore::Open(dir.path() / "archive");
  ASSERT_OK(store);
  // Lines an mbox must escape, at the start and after quotes, and a Big5 body.
  const std::vector<std::string> raws = {
      Message("one", "From the start\n>From quoted\n>>From twice"),
      "From: a@b\nSubject: two\n\n" + kBig5Subject + "\nFrom here\n", Message("three", "plain")};
  std::vector<int64_t> ids;
  for (const std::string& raw : raws) {
    auto added = AddText(**store, raw, ADelivery("INBOX"));
    ASSERT_OK(added);
    ids.push_back(added->message);
  }
  const fs::path mbox = dir.path() / "out.mbox";
  ASSERT_OK(ExportMbox(**store, ids, mbox));
  std::vector<std::string> back;
  ASSERT_OK(ReadMbox(mbox.string(), [&](MboxMessage& m) {
    back.emplace_back(AsString(m.raw));
    EXPECT_EQ(m.envelope_from, "cheng@ntbt.gov.tw");
    EXPECT_EQ(m.envelope_time, 1700000000);
    return Status::Ok();
  }));
  EXPECT_EQ(back, raws);
  // Importing the export elsewhere gives the same messages (same SHA-256).
  auto other = MessageStore::Open(dir.path() / "other");
  ASSERT_OK(other);
  auto r = Import(**other, {mbox.string()}, nullptr);
  ASSERT_OK(r);
  EXPECT_EQ(r->imported, 3u);
  for (int64_t id : ids) {
    auto sha = (*store)->Find(id)->sha256;
    auto found = (*other)->FindBySha256(sha);
    ASSERT_OK(found);
    EXPECT_TRUE(found->has_value());
  }
  ASSERT_OK(ExportEml(**store, ids, dir.path() / "eml"));
  for (size_t i = 0; i < ids.size(); ++i) {
    auto file = ReadFile(dir.path() / "eml" / (std::to_string(ids[i]) + ".eml"));
    ASSERT_OK(file);
    EXPECT_EQ(AsString(*file), raws[i]);
  }
  // An id that is not there fails the export and leaves no partial mbox.
  EXPECT_EQ(ExportMbox(**store, {ids[0], 999}, dir.path() / "bad.mbox").code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(fs::exists(dir.path() / "bad.mbox"));
}

TEST(ArchiveStore, AJournalCopySentAgainIsTheSameDelivery) {
  // An MTA that did not see the 250 (the archive crashed after storing) sends the same
  // copy again over another connection: it is recognised, not stored twice.
  TempDir dir;
  auto store = MessageStore::Open(dir.path());
  ASSERT_OK(store);
  MailEnvelope envelope;
  envelope.from = "clerk@ntbt.gov.tw";
  envelope.recipients = {"journal@archive.invalid"};
  const std::string raw =
      "X-Envelope-To: chief@gov.tw\r\nX-Envelope-To: bcc@gov.tw\r\n" + Message("journal", "內容");
  ASSERT_OK(ArchiveJournaled(**store, envelope, MailProtocol::kLmtp, "127.0.0.1:40001",
                             AsBytes(raw), {}));
  ASSERT_OK(ArchiveJournaled(**store, envelope, MailProtocol::kLmtp, "127.0.0.1:40002",
                             AsBytes(raw), {}));
  EXPECT_EQ((*store)->MessageCount(), 1u);
  auto deliveries = (*store)->Deliveries(1);
  ASSERT_OK(deliveries);
  ASSERT_EQ(deliveries->size(), 1u);
  const Delivery& d = (*deliveries)[0].delivery;
  EXPECT_EQ(d.source, "lmtp");
  EXPECT_EQ(d.origin, "127.0.0.1");
  EXPECT_EQ(d.envelope_from, "clerk@ntbt.gov.tw");
  EXPECT_EQ(d.recipients, (std::vector<std::string>{"chief@gov.tw", "bcc@gov.tw"}));
}

TEST(ArchiveStore, ABatchCountsOnlyOnceCommitted) {
  TempDir dir;
  {
    auto store = MessageStore::Open(dir.path());
    ASSERT_OK(store);
    ASSERT_OK((*store)->BeginBatch());
    EXPECT_FALSE((*store)->BeginBatch().ok()) << "one batch at a time";
    for (int i = 0; i < 3; ++i)
      ASSERT_OK(AddText(**store, Message("batch " + std::to_string(i), "x"), ADelivery("INBOX")));
    ASSERT_OK((*store)->CommitBatch());
    ASSERT_OK((*store)->BeginBatch());
    ASSERT_OK(AddText(**store, Message("never committed", "x"), ADelivery("INBOX")));
    // The process ends (or is killed) before CommitBatch.
  }
  auto store = MessageStore::Open(dir.path());
  ASSERT_OK(store);
  EXPECT_EQ((*store)->MessageCount(), 3u);
  auto report = (*store)->Verify(true);
  ASSERT_OK(report);
  EXPECT_THAT(report->problems, ::testing::IsEmpty());
  EXPECT_FALSE((*store)->CommitBatch().ok()) << "no batch is open";
}

}  // namespace
}  // namespace tessera::archive
