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
#include "archive/mbox.hpp"
#include "archive/message_store.hpp"
#include "base/files.hpp"
#include "base/sqlite.hpp"
#include "crypto/random.hpp"
#include "piece_messages.hpp"
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

TEST(Mbox, AnEntryWrittenInPiecesIsTheSameWhereverItIsCut) {
  const std::string raw = ">From a\nFrom b\r\n>>From c\n>>Fro\nFrom\n.From \n>\nFrom ";
  const std::string whole = MboxEntry(AsBytes(raw), "s@x", 0);
  EXPECT_EQ(whole,
            "From s@x Thu Jan  1 00:00:00 1970\n"
            ">>From a\n>From b\r\n>>>From c\n>>Fro\nFrom\n.From \n>\n>From \n\n");
  for (size_t i = 0; i <= raw.size(); ++i) {
    for (size_t j = i; j <= raw.size(); ++j) {
      std::string out;
      MboxEntryWriter w("s@x", 0, [&](std::string_view b) {
        out += b;
        return Status::Ok();
      });
      const std::string_view text = raw;
      ASSERT_OK(w.Write(AsBytes(text.substr(0, i))));
      ASSERT_OK(w.Write(AsBytes(text.substr(i, j - i))));
      ASSERT_OK(w.Write(AsBytes(text.substr(j))));
      ASSERT_OK(w.Finish());
      ASSERT_EQ(out, whole) << "cut at " << i << " and " << j;
    }
  }
  EXPECT_EQ(MboxEntry({}, "", 0), "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\n\n\n");
}

TEST(ArchiveExport, AMessageInPiecesIsExportedByteForByteAndADamagedOneNotAtAll) {
  TempDir dir;
  const fs::path home = dir.path() / "archive";
  auto store = MessageStore::Open(home);
  ASSERT_OK(store);
  // Lines an mbox escapes, cut across four piece boundaries at every place.
  const std::string raw = piece_test::MessageAcrossPieces(5, "\r\n>From x\r\nFrom y");
  ASSERT_GT(raw.size(), 4 * piece_test::kPiece);
  const int64_t id = piece_test::AddInPieces(**store, raw);
  ASSERT_OK(ExportEml(**store, {id}, dir.path() / "eml"));
  auto eml = ReadFile(dir.path() / "eml" / (std::to_string(id) + ".eml"));
  ASSERT_OK(eml);
  EXPECT_TRUE(AsString(*eml) == raw) << "the .eml differs from the message";
  ASSERT_OK(ExportMbox(**store, {id}, dir.path() / "out.mbox"));
  auto mbox = ReadFile(dir.path() / "out.mbox");
  ASSERT_OK(mbox);
  EXPECT_TRUE(AsString(*mbox) == MboxEntry(AsBytes(raw), "clerk@ntbt.gov.tw", 1700000000))
      << "the mbox differs from the message's entry";
  std::vector<std::string> back;
  ASSERT_OK(ReadMbox((dir.path() / "out.mbox").string(), [&](MboxMessage& m) {
    back.emplace_back(AsString(m.raw));
    return Status::Ok();
  }));
  ASSERT_EQ(back.size(), 1u);
  EXPECT_TRUE(back[0] == raw);

  // The last piece damaged: the pieces before it were handed out already, yet no file
  // appears, not even under a temporary name.
  const Bytes good = piece_test::DamageLastPiece(**store, home, id);
  const fs::path out = dir.path() / "out";
  fs::create_directories(out);
  auto eml_bad = ExportEml(**store, {id}, out / "eml");
  EXPECT_EQ(eml_bad.code(), StatusCode::kCorruption) << eml_bad.ToString();
  auto mbox_bad = ExportMbox(**store, {id}, out / "bad.mbox");
  EXPECT_EQ(mbox_bad.code(), StatusCode::kCorruption) << mbox_bad.ToString();
  EXPECT_THAT(mbox_bad.message(), HasSubstr("fails authentication"));
  for (const auto& e : fs::recursive_directory_iterator(out))
    EXPECT_FALSE(e.is_regular_file()) << "left behind: " << e.path();
  piece_test::PutBack(**store, home, id, good);
  EXPECT_OK(ExportMbox(**store, {id}, out / "bad.mbox"));
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

// --- Messages too large to hold in memory: stored and read in pieces ---------------------

// A message with an attachment of `attachment` random bytes, in base64 lines.
std::string LargeMessage(size_t attachment, const std::string& subject = "大型附件") {
  std::string raw =
      "From: 鄭 <cheng@ntbt.gov.tw>\r\nTo: archive@example.gov.tw\r\nSubject: " + subject +
      "\r\nMessage-ID: <large@ntbt.gov.tw>\r\nDate: Tue, 02 Jan 2024 09:00:00 +0800\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n函轉測繪資料\r\n--b\r\n"
      "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; "
      "filename=\"survey.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  const Bytes data = crypto::RandomBytes(attachment);
  const std::string flat = Base64Encode(data);
  for (size_t i = 0; i < flat.size(); i += 76) raw += flat.substr(i, 76) + "\r\n";
  return raw + "--b--\r\n";
}

// Hands `raw` over in pieces of `piece` bytes, as a file read would.
MessageStore::MessageWriter Writer(const std::string& raw, size_t piece = 100000) {
  return [&raw, piece](const std::function<Status(ByteView)>& sink) -> Status {
    for (size_t at = 0; at < raw.size(); at += piece)
      TESSERA_RETURN_IF_ERROR(sink(AsBytes(std::string_view(raw).substr(at, piece))));
    return Status::Ok();
  };
}

TEST(ArchiveStore, AStreamedMessageIsStoredInPiecesAndReadBackExactly) {
  TempDir dir;
  auto store = MessageStore::Open(dir.path());
  ASSERT_OK(store);
  MessageStore& s = **store;
  // 2.5 MB over three pieces; then one whose size is exactly two pieces; then nothing.
  std::string exact = LargeMessage(1000000, "exact");
  exact.insert(exact.find("--b--"), std::string((2u << 20) - exact.size() - 2, 'x') + "\r\n");
  ASSERT_EQ(exact.size(), 2u << 20);
  for (const std::string& raw : {LargeMessage(1900000), exact, std::string()}) {
    auto added = s.AddStreamed(Writer(raw), ADelivery("INBOX"));
    ASSERT_OK(added);
    EXPECT_TRUE(added->new_message);
    auto m = s.Find(added->message);
    ASSERT_OK(m);
    EXPECT_EQ(m->size, raw.size());
    if (!raw.empty()) {
      EXPECT_EQ(m->from, "鄭 <cheng@ntbt.gov.tw>");
      EXPECT_EQ(m->message_id, "large@ntbt.gov.tw");
      EXPECT_EQ(m->attachments, 1);
    }
    auto object = ReadFile(dir.path() / MessageObjectName(m->sha256));
    ASSERT_OK(object);
    EXPECT_EQ(AsString(ByteView(*object).first(5)), "TSAM\x02");
    EXPECT_EQ(m->stored_size, object->size());
    EXPECT_EQ(AsString(*object).find("函轉測繪資料"), std::string::npos) << "encrypted";

    auto whole = s.Raw(added->message);
    ASSERT_OK(whole);
    EXPECT_TRUE(AsString(*whole) == raw);
    std::string pieces;
    ASSERT_OK(s.ReadRaw(added->message, [&](ByteView p) {
      pieces += AsString(p);
      return Status::Ok();
    }));
    EXPECT_TRUE(pieces == raw);
    auto source = s.OpenMessage(added->message);
    ASSERT_OK(source);
    EXPECT_EQ((*source)->size(), raw.size());
    for (uint64_t at : {uint64_t{0}, uint64_t{1048575}, uint64_t{1048576}, raw.size() / 3 * 2}) {
      if (at >= raw.size()) continue;
      char buf[100];
      auto got = (*source)->ReadAt(at, reinterpret_cast<uint8_t*>(buf), sizeof buf);
      ASSERT_OK(got);
      EXPECT_EQ(std::string(buf, *got), raw.substr(at, *got)) << at;
      EXPECT_GT(*got, 0u);
    }

    // The same bytes again, streamed or whole, are the same message.
    auto again = s.AddStreamed(Writer(raw, 7777), ADelivery("Sent"));
    ASSERT_OK(again);
    EXPECT_EQ(again->message, added->message);
    EXPECT_FALSE(again->new_message);
    EXPECT_TRUE(again->new_delivery);
    if (!raw.empty()) {
      auto whole_again = AddText(s, raw, ADelivery("Archive"));
      ASSERT_OK(whole_again);
      EXPECT_EQ(whole_again->message, added->message);
    }
  }
  auto report = s.Verify(true);
  ASSERT_OK(report);
  EXPECT_THAT(report->problems, ::testing::IsEmpty());
  EXPECT_EQ(report->messages, 3u);

  // A writer that hands over other bytes the second time is refused, nothing recorded.
  int calls = 0;
  const std::string one = Message("one", "1"), other = Message("one", "12");
  auto changing = s.AddStreamed(
      [&](const std::function<Status(ByteView)>& sink) {
        return sink(AsBytes(++calls == 1 ? one : other));
      },
      ADelivery("INBOX"));
  EXPECT_EQ(changing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.MessageCount(), 3u);
  for (const auto& e : fs::recursive_directory_iterator(dir.path() / "messages"))
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos)
        << "left behind: " << e.path();
}

TEST(ArchiveStore, AStreamedMessageWithADamagedMovedOrMissingPieceIsCorruption) {
  TempDir dir;
  auto store = MessageStore::Open(dir.path());
  ASSERT_OK(store);
  const std::string raw = LargeMessage(2000000);  // three pieces
  auto added = (*store)->AddStreamed(Writer(raw), ADelivery("INBOX"));
  ASSERT_OK(added);
  const fs::path object = dir.path() / MessageObjectName((*store)->Find(added->message)->sha256);
  const Bytes good = *ReadFile(object);
  // Where the pieces lie: a 10-byte header, then a 4-byte length before each.
  std::vector<std::pair<size_t, size_t>> pieces;  // offset of the length, bytes in all
  for (size_t at = 10; at < good.size();) {
    const size_t n = size_t{good[at]} << 24 | size_t{good[at + 1]} << 16 |
                     size_t{good[at + 2]} << 8 | good[at + 3];
    pieces.emplace_back(at, 4 + n);
    at += 4 + n;
  }
  ASSERT_EQ(pieces.size(), 3u);
  auto piece = [&](size_t i) {
    return Bytes(good.begin() + static_cast<std::ptrdiff_t>(pieces[i].first),
                 good.begin() + static_cast<std::ptrdiff_t>(pieces[i].first + pieces[i].second));
  };
  auto header = Bytes(good.begin(), good.begin() + 10);
  auto join = [&](std::vector<Bytes> parts) {
    Bytes out = header;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  auto refused = [&](const Bytes& bytes, const std::string& what, const std::string& says) {
    ASSERT_OK(WriteFileAtomic(object, bytes));
    auto r = (*store)->Raw(added->message);
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << what;
    EXPECT_THAT(r.status().message(), HasSubstr(says)) << what;
    auto report = (*store)->Verify(true);
    ASSERT_OK(report);
    EXPECT_EQ(report->problems.size(), 1u) << what;
    auto source = (*store)->OpenMessage(added->message);
    if (source.ok()) {
      uint8_t buf[16];
      bool failed = false;
      for (uint64_t at = 0; at < raw.size() && !failed; at += 1 << 20)
        failed = !(*source)->ReadAt(at, buf, sizeof buf).ok();
      EXPECT_TRUE(failed) << what << ": some piece must fail to read";
    }
  };
  Bytes altered = good;
  altered[pieces[1].first + 100] ^= 1;
  refused(altered, "a changed byte", "piece 1 fails authentication");
  refused(join({piece(1), piece(0), piece(2)}), "two pieces swapped", "fails authentication");
  refused(join({piece(0), piece(1)}), "the last piece removed", "cut short");
  refused(join({piece(0), piece(1), piece(1)}), "the last piece replaced", "fails authentication");
  Bytes extended = good;
  extended.push_back(0);
  refused(extended, "a byte after the last piece", "does not end after its last piece");
  ASSERT_OK(WriteFileAtomic(object, good));
  EXPECT_OK((*store)->Raw(added->message));
}

// The process's peak resident memory since the last ResetPeakRss (VmHWM), in bytes.
int64_t PeakRssBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6)) * 1024;
  return 0;
}
// Lets the peak start again from the present (Linux: "5" to clear_refs), so that what
// earlier tests held does not hide what this one holds.
void ResetPeakRss() {
  std::ofstream("/proc/self/clear_refs") << "5";
}

TEST(ArchiveStore, AStreamedMessageIsStoredReadAndParsedInBoundedMemory) {
  TempDir dir;
  auto store = MessageStore::Open(dir.path());
  ASSERT_OK(store);
  // 64 MiB made up as it is handed over: never in memory here either.
  constexpr size_t kLines = (64u << 20) / 78;
  const std::string head =
      "From: a@b.tw\r\nSubject: 大\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n本文\r\n--b\r\n"
      "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; "
      "filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n";
  auto write = [&](const std::function<Status(ByteView)>& sink) -> Status {
    TESSERA_RETURN_IF_ERROR(sink(AsBytes(head)));
    std::string lines;
    for (size_t i = 0; i < kLines;) {
      lines.clear();
      for (size_t j = 0; j < 1000 && i < kLines; ++j, ++i) {
        std::string line = std::to_string(i * 2654435761u);
        lines += line + std::string(76 - line.size(), 'A') + "\r\n";
      }
      TESSERA_RETURN_IF_ERROR(sink(AsBytes(lines)));
    }
    return sink(AsBytes(std::string("--b--\r\n")));
  };
  ResetPeakRss();
  const int64_t before = PeakRssBytes();
  auto added = (*store)->AddStreamed(write, ADelivery("INBOX"));
  ASSERT_OK(added);
  uint64_t read = 0;
  ASSERT_OK((*store)->ReadRaw(added->message, [&](ByteView p) {
    read += p.size();
    return Status::Ok();
  }));
  auto source = (*store)->OpenMessage(added->message);
  ASSERT_OK(source);
  auto parsed = ParseMessage(std::shared_ptr<MessageSource>(std::move(*source)), 1 << 20);
  const int64_t growth = PeakRssBytes() - before;
  ASSERT_OK(parsed);
  EXPECT_EQ(read, head.size() + kLines * 78 + 7);
  EXPECT_EQ(parsed->subject, "大");
  EXPECT_THAT(parsed->text, HasSubstr("本文"));
  ASSERT_EQ(parsed->attachments.size(), 1u);
  EXPECT_TRUE(parsed->attachments[0].content_omitted);
  EXPECT_EQ(parsed->attachments[0].filename, "big.bin");
  EXPECT_GT(parsed->attachments[0].encoded_size, 60u << 20);
  // A few pieces of a megabyte at a time, not the 64 MiB. (Not measured under
  // AddressSanitizer: freed memory sits in its quarantine.)
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(growth, 16 << 20) << "storing, reading and parsing 64 MiB took " << growth;
#endif
  RecordProperty("peak_growth_bytes", std::to_string(growth));
}

TEST(ArchiveStore, AStreamedJournalCopyTakesItsRecipientsFromItsHeader) {
  TempDir dir;
  auto store = MessageStore::Open(dir.path());
  ASSERT_OK(store);
  const std::string raw =
      "X-Envelope-To: chief@gov.tw\r\nX-Envelope-To: bcc@gov.tw\r\n" + LargeMessage(600000);
  MailEnvelope envelope{"mta.ntbt.gov.tw", "clerk@ntbt.gov.tw", {"journal@archive"}};
  ASSERT_OK(ArchiveJournaledStreamed(**store, envelope, MailProtocol::kLmtp, "127.0.0.1:2525",
                                     Writer(raw), JournalOptions{}));
  ASSERT_OK(ArchiveJournaledStreamed(**store, envelope, MailProtocol::kLmtp, "127.0.0.1:2526",
                                     Writer(raw), JournalOptions{""}));
  auto deliveries = (*store)->Deliveries(1);
  ASSERT_OK(deliveries);
  ASSERT_EQ(deliveries->size(), 2u);
  EXPECT_EQ((*deliveries)[0].delivery.recipients,
            (std::vector<std::string>{"chief@gov.tw", "bcc@gov.tw"}));
  EXPECT_EQ((*deliveries)[0].delivery.origin, "127.0.0.1");
  EXPECT_EQ((*deliveries)[1].delivery.recipients, (std::vector<std::string>{"journal@archive"}));
}

}  // namespace
}  // namespace tessera::archive
