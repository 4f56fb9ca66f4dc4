// The archive's parsing of real-world mail: charsets as Taiwanese and Chinese mail uses
// them (labelled, mislabelled and unlabelled), encoded headers, nested multiparts,
// attachments and attached messages.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>

#include "archive/charset.hpp"
#include "archive/mime.hpp"
#include "base/utf8.hpp"
#include "status_matchers.hpp"

namespace tessera::archive {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ParsedMessage Parse(const std::string& raw) {
  auto m = ParseMessage(AsBytes(raw));
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return m.ok() ? *m : ParsedMessage{};
}

// 國稅局 and 郵件備份 in Big5, and in base64.
const std::string kBig5Guoshuiju = "\xB0\xEA\xB5\x7C\xA7\xBD";
const std::string kBig5Backup = "\xB6\x6C\xA5\xF3\xB3\xC6\xA5\xF7";

TEST(ArchiveCharset, LabelsAsMailUsesThem) {
  EXPECT_EQ(IconvCharsetName("x-big5"), "CP950");
  EXPECT_EQ(IconvCharsetName(" \"MS950\" "), "CP950");
  EXPECT_EQ(IconvCharsetName("Big5"), "CP950");
  EXPECT_EQ(IconvCharsetName("gb2312"), "GB18030");
  EXPECT_EQ(IconvCharsetName("iso-2022-jp"), "ISO-2022-JP");
  EXPECT_EQ(DecodeText(kBig5Guoshuiju, "x-big5").utf8, "國稅局");
  EXPECT_EQ(DecodeText(kBig5Guoshuiju, "x-big5").note, "");
  EXPECT_EQ(DecodeText("\xB9\xFA\xCB\xB0\xBE\xD6", "gb2312").utf8, "国税局");
}

TEST(ArchiveCharset, WrongOrMissingLabelsAreGuessedAndSaid) {
  DecodedText undeclared = DecodeText(kBig5Backup, "");
  EXPECT_EQ(undeclared.utf8, "郵件備份");
  EXPECT_THAT(undeclared.note, HasSubstr("read as CP950"));
  DecodedText mislabelled = DecodeText(kBig5Backup, "utf-8");
  EXPECT_EQ(mislabelled.utf8, "郵件備份");
  EXPECT_THAT(mislabelled.note, HasSubstr("declared utf-8"));
  DecodedText unknown = DecodeText("公文", "x-no-such-charset");
  EXPECT_EQ(unknown.utf8, "公文");
  EXPECT_THAT(unknown.note, HasSubstr("read as UTF-8"));
  // Neither UTF-8, Big5 nor GB18030 (0xFF is in none of them): replaced, never lost
  // silently.
  DecodedText junk = DecodeText("a\xFF", "");
  EXPECT_EQ(junk.utf8, "a\xEF\xBF\xBD");
  EXPECT_THAT(junk.note, HasSubstr("replaced"));
}

TEST(ArchiveMime, Big5HeadersEncodedRawAndSplitAcrossACharacter) {
  const std::string raw =
      "From: =?x-big5?B?vkc=?= <cheng@example.gov.tw>\r\n"
      "To: " +
      kBig5Backup +
      " <backup@example.gov.tw>, plain@example.gov.tw\r\n"
      // 國稅局: the encoded-words split inside 稅 (B5 | 7C), as some clients do.
      "Subject: =?big5?B?sOq1?= =?big5?B?fKe9?= " +
      kBig5Backup +
      "\r\n"
      "Message-ID: <abc@example.gov.tw>\r\n"
      "Date: Tue, 02 Jan 2024 09:30:00 +0800\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: text/plain; charset=ms950\r\n"
      "Content-Transfer-Encoding: quoted-printable\r\n"
      "\r\n"
      "=B6l=A5=F3=B3=C6=A5=F7=A7=B9=A6=A8=A1A=B0=EA=B5|=A7=BD\r\n";
  ParsedMessage m = Parse(raw);
  EXPECT_EQ(m.subject, "國稅局 郵件備份");
  ASSERT_EQ(m.from.size(), 1u);
  EXPECT_EQ(m.from[0].name, "鄭");
  EXPECT_EQ(m.from[0].email, "cheng@example.gov.tw");
  ASSERT_EQ(m.to.size(), 2u);
  EXPECT_EQ(m.to[0].name, "郵件備份");
  EXPECT_EQ(m.to[1].email, "plain@example.gov.tw");
  EXPECT_EQ(m.message_id, "abc@example.gov.tw");
  ASSERT_TRUE(m.date.has_value());
  EXPECT_EQ(*m.date, 1704159000);  // 2024-01-02T01:30:00Z
  EXPECT_EQ(m.text, "郵件備份完成，國稅局\r\n");
  EXPECT_TRUE(m.problems.empty()) << m.problems[0];
}

TEST(ArchiveMime, RawBig5DisplayNamesKeepTheirAddresses) {
  // Old Outlook wrote display names as raw Big5 bytes; GMime alone drops such an address.
  auto m = ParseMessage(AsBytes(std::string(
      "From: \xbe\x47\xa7\xd3\xa9\xfa <cheng@ntbt.gov.tw>\r\n"
      "To: \xbe\x47\xa7\xd3\xa9\xfa <a@b.tw>, plain@b.tw\r\nSubject: x\r\n\r\nbody\r\n")));
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->from.size(), 1u);
  EXPECT_EQ(m->from[0].name, "鄭志明");
  EXPECT_EQ(m->from[0].email, "cheng@ntbt.gov.tw");
  ASSERT_EQ(m->to.size(), 2u);
  EXPECT_EQ(m->to[1].email, "plain@b.tw");
}

TEST(ArchiveMime, AContentTypeThatIsNotTextStillGivesValidUtf8) {
  // Found by the fuzzer: a type with bytes that are not UTF-8 reached the attachment list.
  auto m = ParseMessage(
      AsBytes(std::string("Subject: n\r\nContent-Type: app/c\xf5\xbc\x90\x91m\xff\r\n\r\nx\r\n")));
  ASSERT_TRUE(m.ok());
  ASSERT_EQ(m->attachments.size(), 1u);
  EXPECT_TRUE(IsValidUtf8(m->attachments[0].content_type)) << m->attachments[0].content_type;
}

TEST(ArchiveMime, Gb2312AndIso2022JpBodiesAndHeaders) {
  ParsedMessage cn = Parse(
      "Subject: =?GB2312?B?ufrLsL7WzajWqg==?=\r\n"
      "Content-Type: text/plain; charset=\"gb2312\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n"
      "08q8/rG4t93S0c3qs8k=\r\n");
  EXPECT_EQ(cn.subject, "国税局通知");
  EXPECT_EQ(cn.text, "邮件备份已完成");
  ParsedMessage jp = Parse(
      "Subject: =?ISO-2022-JP?B?GyRCMnE1RCROJCpDTiRpJDsbKEI=?=\r\n"
      "Content-Type: text/plain; charset=ISO-2022-JP\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n"
      "GyRCS1xKOCRHJDkbKEI=\r\n");
  EXPECT_EQ(jp.subject, "会議のお知らせ");
  EXPECT_EQ(jp.text, "本文です");
}

TEST(ArchiveMime, NestedMultipartsAttachmentsAndAnAttachedMessage) {
  const std::string raw =
      "From: a@example.gov.tw\r\n"
      "Subject: nested\r\n"
      "MIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n"
      "--outer\r\n"
      "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n"
      "--alt\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n"
      "純文字 本文\r\n"
      "--alt\r\n"
      "Content-Type: text/html; charset=big5\r\n\r\n"
      "<p>" +
      kBig5Guoshuiju +
      "</p>\r\n"
      "--alt--\r\n"
      "--outer\r\n"
      // RFC 2231 (UTF-8, percent-encoded) file name.
      "Content-Type: application/pdf\r\n"
      "Content-Disposition: attachment; "
      "filename*=UTF-8''%E5%85%AC%E6%96%87%E9%99%84%E4%BB%B6.pdf\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n"
      "JVBERi0xLjQK\r\n"
      "--outer\r\n"
      // RFC 2047 inside a quoted name, as Outlook writes it, in Big5.
      "Content-Type: text/plain; charset=big5; name=\"=?big5?B?pL2k5Q==?=.txt\"\r\n"
      "Content-Disposition: attachment; filename=\"=?big5?B?pL2k5Q==?=.txt\"\r\n\r\n"
      "attached text\r\n"
      "--outer\r\n"
      "Content-Type: message/rfc822\r\n\r\n"
      "Subject: =?big5?B?sF2sRrOh?=\r\n"
      "From: inner@example.gov.tw\r\n"
      "Content-Type: text/plain; charset=big5\r\n\r\n" +
      kBig5Backup +
      "\r\n"
      "--outer--\r\n";
  ParsedMessage m = Parse(raw);
  EXPECT_EQ(m.subject, "nested");
  EXPECT_THAT(m.text, HasSubstr("純文字 本文"));
  EXPECT_THAT(m.text, HasSubstr("<p>國稅局</p>"));
  // A part's last line break belongs to the boundary after it (RFC 2046).
  EXPECT_EQ(m.html, "<p>國稅局</p>");
  ASSERT_EQ(m.attachments.size(), 2u);
  EXPECT_EQ(m.attachments[0].filename, "公文附件.pdf");
  EXPECT_EQ(m.attachments[0].content_type, "application/pdf");
  EXPECT_EQ(AsString(m.attachments[0].content), "%PDF-1.4\n");
  EXPECT_EQ(m.attachments[1].filename, "公文.txt");
  EXPECT_EQ(AsString(m.attachments[1].content), "attached text");
  ASSERT_EQ(m.attached_messages.size(), 1u);
  EXPECT_EQ(m.attached_messages[0].subject, "財政部");
  EXPECT_EQ(m.attached_messages[0].text, "郵件備份");
  ASSERT_EQ(m.attached_messages[0].from.size(), 1u);
  EXPECT_EQ(m.attached_messages[0].from[0].email, "inner@example.gov.tw");
}

TEST(ArchiveMime, MalformedMailStillParsesAndEmptyIsRefused) {
  auto empty = ParseMessage({});
  ASSERT_FALSE(empty.ok());
  EXPECT_EQ(empty.status().code(), StatusCode::kInvalidArgument);
  // No blank line, a broken boundary, a bad base64 body: what can be read is read.
  ParsedMessage broken = Parse(
      "Subject: broken\r\n"
      "Content-Type: multipart/mixed; boundary=\"never\"\r\n\r\n"
      "text before any boundary\r\n");
  EXPECT_EQ(broken.subject, "broken");
  // Text with no header at all is still a message: its text is searchable.
  ParsedMessage headless = Parse("just a line of text, no header at all\n");
  EXPECT_TRUE(headless.subject.empty());
  EXPECT_THAT(headless.text, HasSubstr("no header at all"));
  ParsedMessage undeclared = Parse("Subject: x\r\n\r\n" + kBig5Backup + "\r\n");
  EXPECT_EQ(undeclared.text, "郵件備份\r\n");
  EXPECT_THAT(undeclared.problems, ElementsAre(HasSubstr("read as CP950")));
}

// A message read through a MessageSource, counting what is read, failing from `fail_at`.
class TestSource : public MessageSource {
 public:
  explicit TestSource(std::string raw, uint64_t fail_at = ~uint64_t{0})
      : raw_(std::move(raw)), fail_at_(fail_at) {}
  uint64_t size() const override { return raw_.size(); }
  Result<size_t> ReadAt(uint64_t position, uint8_t* out, size_t n) override {
    if (position >= raw_.size()) return size_t{0};
    if (position + n > fail_at_) return Status::Corruption("piece 7 fails authentication");
    n = std::min<size_t>(n, raw_.size() - position);
    std::memcpy(out, raw_.data() + position, n);
    reads_ += n;
    return n;
  }
  uint64_t reads() const { return reads_; }

 private:
  std::string raw_;
  uint64_t fail_at_;
  uint64_t reads_ = 0;
};

TEST(ArchiveMime, FromASourceLargePartsAreListedNotDecoded) {
  std::string big;
  for (int i = 0; i < 40000; ++i)
    big += "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5\r\n";
  const std::string raw =
      "From: =?UTF-8?B?6YSt?= <cheng@ntbt.gov.tw>\r\nSubject: =?UTF-8?B?5YWs5paH?=\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n函轉 本文\r\n--b\r\n"
      "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b\r\n"
      "Content-Type: application/octet-stream\r\nContent-Disposition: attachment; "
      "filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
      big + "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + big + "--b--\r\n";
  // Without a limit: what parsing the bytes gives.
  const ParsedMessage whole = Parse(raw);
  auto all = ParseMessage(std::make_shared<TestSource>(raw), ~uint64_t{0});
  ASSERT_OK(all);
  EXPECT_EQ(all->subject, "公文");
  EXPECT_EQ(all->text, whole.text);
  ASSERT_EQ(all->attachments.size(), 2u);
  EXPECT_EQ(all->attachments[1].content, whole.attachments[1].content);
  EXPECT_FALSE(all->attachments[1].content_omitted);

  // With one: the small attachment and text are decoded, the large ones are not.
  auto source = std::make_shared<TestSource>(raw);
  auto limited = ParseMessage(source, 100000);
  ASSERT_OK(limited);
  EXPECT_EQ(limited->subject, "公文");
  EXPECT_EQ(limited->from[0].name, "鄭");
  EXPECT_EQ(limited->text, "函轉 本文");
  ASSERT_EQ(limited->attachments.size(), 2u);
  EXPECT_EQ(AsString(limited->attachments[0].content), "%PDF-1.4\n");
  EXPECT_FALSE(limited->attachments[0].content_omitted);
  EXPECT_EQ(limited->attachments[1].filename, "big.bin");
  EXPECT_TRUE(limited->attachments[1].content_omitted);
  EXPECT_TRUE(limited->attachments[1].content.empty());
  EXPECT_GE(limited->attachments[1].encoded_size, big.size() - 2);
  EXPECT_THAT(limited->problems, ElementsAre(HasSubstr("too large, its text was not read")));
  // The large parts were passed over once, by the parser, not read again to decode.
  EXPECT_LT(source->reads(), raw.size() + 100000);

  // A source that fails: the failure, not a message missing its end.
  auto failing = ParseMessage(std::make_shared<TestSource>(raw, raw.size() / 2), 100000);
  EXPECT_EQ(failing.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(failing.status().message(), HasSubstr("piece 7"));
  EXPECT_EQ(ParseMessage(std::make_shared<TestSource>(""), 0).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(Mime, TextWithoutHtmlLeavesTheHtmlSourceOut) {
  const std::string alternative =
      "Subject: a\r\nMIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"x\"\r\n"
      "\r\n--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n純文字\r\n--x\r\n"
      "Content-Type: text/html; charset=utf-8\r\n\r\n<p>網頁</p>\r\n--x--\r\n";
  auto m = ParseMessage(AsBytes(alternative));
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_THAT(m->text, HasSubstr("<p>網頁</p>"));  // the search index reads the markup too
  EXPECT_EQ(TextWithoutHtml(*m).find('<'), std::string::npos);
  EXPECT_THAT(TextWithoutHtml(*m), HasSubstr("純文字"));

  auto html_only = ParseMessage(AsBytes(std::string(
      "Subject: b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>只有網頁</p>\r\n")));
  ASSERT_TRUE(html_only.ok());
  EXPECT_EQ(TextWithoutHtml(*html_only).find_first_not_of("\r\n "), std::string::npos);
}

}  // namespace
}  // namespace tessera::archive
