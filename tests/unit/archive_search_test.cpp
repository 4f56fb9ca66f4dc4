// Search of the archive: Chinese found exactly (not where the characters are merely all
// present), in Big5 headers, Office and PDF attachments (a Traditional Chinese PDF read
// through poppler-data's CMaps), Bcc recipients from the envelope, dates and filters; the
// index follows the store and only one process writes it.
#include <archive.h>
#include <archive_entry.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>

#include "archive/attachment_text.hpp"
#include "archive/pdf_text.hpp"
#include "archive/search_index.hpp"
#include "archive/search_terms.hpp"
#include "archive/tnef.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::archive {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Words(const std::vector<TextRun>& runs) {
  std::vector<std::string> out;
  for (const TextRun& r : runs) {
    if (!r.cjk) {
      out.push_back(r.word);
      continue;
    }
    std::string all;
    for (const std::string& c : r.chars) all += c;
    out.push_back("[" + all + "]");
  }
  return out;
}

TEST(SearchTerms, TextSplitsIntoWordsAndCjkRuns) {
  EXPECT_THAT(Words(SplitText("國稅局Email，郵件 備份：ＡＢＣ１２3 café")),
              ElementsAre("[國稅局]", "email", "[郵件]", "[備份]", "abc123", "café"));
  EXPECT_THAT(Words(SplitText("cheng@ntbt.gov.tw")), ElementsAre("cheng", "ntbt", "gov", "tw"));
  EXPECT_THAT(Words(SplitText("かな漢字 한국")), ElementsAre("[かな漢字]", "[한국]"));
  EXPECT_TRUE(SplitText("，。！ \xff\xfe").empty());
  // A query of n characters is the phrase of its n-1 bigrams.
  EXPECT_THAT(QueryTerms(SplitText("國稅局")[0]), ElementsAre("國稅", "稅局"));
  EXPECT_THAT(QueryTerms(SplitText("鄭")[0]), ElementsAre("鄭"));
}

TEST(AttachmentText, AFilterIsStoppedAtItsDeadline) {
  const auto start = std::chrono::steady_clock::now();
  auto spun = RunTextFilter({"sleep", "30"}, std::chrono::seconds(1));
  EXPECT_EQ(spun.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(spun.status().message(), HasSubstr("stopped after 1 s"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
  auto printed = RunTextFilter({"echo", "公文"}, std::chrono::seconds(10));
  ASSERT_OK(printed);
  EXPECT_EQ(*printed, "公文\n");
  EXPECT_EQ(RunTextFilter({"false"}, std::chrono::seconds(10)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RunTextFilter({"no-such-filter-here"}, std::chrono::seconds(10)).status().code(),
            StatusCode::kUnavailable);
}

TEST(SearchQueryParse, FieldsQuotesAndDates) {
  auto q = ParseSearchQuery(
      R"(國稅局 "郵件 備份" from:鄭 to:"chief@gov.tw" after:2024-01-01 has:attachment)");
  ASSERT_OK(q);
  EXPECT_THAT(q->text, ElementsAre("國稅局", "郵件 備份"));
  EXPECT_THAT(q->from, ElementsAre("鄭"));
  EXPECT_THAT(q->to, ElementsAre("chief@gov.tw"));
  ASSERT_TRUE(q->after.has_value());
  EXPECT_EQ(*q->after, *ParseSearchDate("2024-01-01"));
  EXPECT_TRUE(q->has_attachment);
  EXPECT_THAT(ParseSearchQuery("after:2024-13-01").status().message(), HasSubstr("YYYY-MM-DD"));
  EXPECT_THAT(ParseSearchQuery("\"open").status().message(), HasSubstr("not closed"));
  EXPECT_THAT(ParseSearchQuery("colour:red").status().message(), HasSubstr("unknown search field"));
  EXPECT_FALSE(ParseSearchDate("2024-02-30").ok());
}

TEST(AttachmentText, MarkupKeepsWordsSplitOverRunsTogether) {
  EXPECT_EQ(MarkupText("<w:p><w:r><w:t>國稅</w:t></w:r><w:r><w:t>局</w:t></w:r></w:p><w:p><w:t>"
                       "A&amp;B &#x90F5;&#20214;</w:t></w:p>"),
            "\n國稅局\n\nA&B 郵件\n");
  EXPECT_EQ(MarkupText("<p>a<script>x</script>b</p>"), "\nab\n");
}

// A zip (docx, odt) with the given members, written with libarchive.
Bytes Zip(const std::vector<std::pair<std::string, std::string>>& members) {
  Bytes out(1 << 20);
  size_t used = 0;
  struct archive* a = archive_write_new();
  archive_write_set_format_zip(a);
  archive_write_open_memory(a, out.data(), out.size(), &used);
  for (const auto& [name, content] : members) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_write_header(a, e);
    archive_write_data(a, content.data(), content.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  out.resize(used);
  return out;
}

// A one-page PDF showing `ucs2_hex` (UTF-16 code units in hex) in the standard Traditional
// Chinese font MSung-Light, encoded with the UniCNS-UCS2-H CMap: its text can be read only
// with poppler-data's CMaps, as with many Taiwanese government PDFs.
Bytes ChinesePdf(const std::string& ucs2_hex) {
  const std::string content = "BT /F1 24 Tf 72 700 Td <" + ucs2_hex + "> Tj ET";
  const std::vector<std::string> objects = {
      "<< /Type /Catalog /Pages 2 0 R >>",
      "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R "
      ">> >> /Contents 5 0 R >>",
      "<< /Type /Font /Subtype /Type0 /BaseFont /MSung-Light /Encoding /UniCNS-UCS2-H "
      "/DescendantFonts [6 0 R] >>",
      "<< /Length " + std::to_string(content.size()) + " >>\nstream\n" + content + "\nendstream",
      "<< /Type /Font /Subtype /CIDFontType0 /BaseFont /MSung-Light /CIDSystemInfo << /Registry "
      "(Adobe) /Ordering (CNS1) /Supplement 0 >> /FontDescriptor 7 0 R >>",
      "<< /Type /FontDescriptor /FontName /MSung-Light /Flags 6 /FontBBox [0 -200 1000 900] "
      "/ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 >>"};
  std::string pdf = "%PDF-1.4\n";
  std::vector<size_t> offsets;
  for (size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (size_t o : offsets) {
    char line[32];
    std::snprintf(line, sizeof line, "%010zu 00000 n \n", o);
    pdf += line;
  }
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) +
         " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF\n";
  return ToBytes(pdf);
}

TEST(AttachmentText, TraditionalChinesePdfDocxAndOdt) {
  MailAttachment pdf{"公告.pdf", "application/pdf", ChinesePdf("570B7A055C40")};
  auto text = AttachmentText(pdf);
  ASSERT_OK(text);
  EXPECT_THAT(*text, HasSubstr("國稅局"));
  MailAttachment docx{"報告.docx", "application/octet-stream",
                      Zip({{"[Content_Types].xml", "<Types/>"},
                           {"word/document.xml",
                            "<w:document><w:body><w:p><w:r><w:t>郵件</w:t></w:r><w:r><w:t>備份"
                            "</w:t></w:r></w:p></w:body></w:document>"}})};
  text = AttachmentText(docx);
  ASSERT_OK(text);
  EXPECT_THAT(*text, HasSubstr("郵件備份"));
  MailAttachment odt{
      "x.odt", "application/vnd.oasis.opendocument.text",
      Zip({{"content.xml", "<office:text><text:p>公文<text:s/>交換</text:p></office:text>"}})};
  text = AttachmentText(odt);
  ASSERT_OK(text);
  EXPECT_THAT(*text, HasSubstr("公文 交換"));
  MailAttachment broken{"y.pdf", "application/pdf", ToBytes("not a pdf")};
  EXPECT_FALSE(AttachmentText(broken).ok());
  MailAttachment big5{"note.txt", "text/plain", ToBytes("\xb0\xea\xb5\x7c\xa7\xbd")};
  EXPECT_EQ(*AttachmentText(big5), "國稅局");
  MailAttachment image{"a.png", "image/png", ToBytes("\x89PNG")};
  EXPECT_EQ(*AttachmentText(image), "");
}

std::string Base64(const Bytes& b) {
  static const char* k = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < b.size(); i += 3) {
    uint32_t v =
        b[i] << 16 | (i + 1 < b.size() ? b[i + 1] << 8 : 0) | (i + 2 < b.size() ? b[i + 2] : 0);
    out += k[v >> 18 & 63];
    out += k[v >> 12 & 63];
    out += i + 1 < b.size() ? k[v >> 6 & 63] : '=';
    out += i + 2 < b.size() ? k[v & 63] : '=';
    if (out.size() % 77 == 76) out += "\r\n";
  }
  return out;
}

std::string WithAttachment(const std::string& headers, const std::string& body,
                           const std::string& filename, const std::string& type,
                           const Bytes& content) {
  return headers +
         "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
         "Content-Type: text/plain; charset=utf-8\r\n\r\n" +
         body + "\r\n--b\r\nContent-Type: " + type +
         "\r\nContent-Disposition: attachment; filename*=UTF-8''" + filename +
         "\r\nContent-Transfer-Encoding: base64\r\n\r\n" + Base64(content) + "\r\n--b--\r\n";
}

TEST(PdfText, TheHelperOutlivesBadPdfsAndIsRestartedWhenKilled) {
  ASSERT_NE(PdfTextHelperPath(), "") << "tessera-pdf-text is built with tessera";
  auto first = PdfText(ChinesePdf("570B7A055C40"));
  ASSERT_OK(first);
  EXPECT_THAT(*first, HasSubstr("國稅局"));
  // Damaged input is an error for that PDF only.
  EXPECT_EQ(PdfText(ToBytes("%PDF-1.4 then nothing")).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(PdfText(Bytes{}).status().code(), StatusCode::kInvalidArgument);
  // The same helper answers the next one (it is kept, not started per PDF).
  // This process's children that are the helper (its name, cut to 15 characters).
  auto pids = [] {
    std::string out;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      std::ifstream stat(entry.path() / "stat");
      std::string pid, comm, state, ppid;
      if (!(stat >> pid >> comm >> state >> ppid)) continue;
      if (comm == "(tessera-pdf-tex)" && ppid == std::to_string(::getpid())) out += pid + " ";
    }
    return out;
  };
  const std::string before = pids();
  ASSERT_NE(before, "");
  ASSERT_OK(PdfText(ChinesePdf("570B7A055C40")));
  EXPECT_EQ(pids(), before);
  // Killed (as a crash would), it is started afresh for the next PDF; the PDF that met the
  // dead one fails alone.
  ASSERT_EQ(std::system(("kill -9 " + before).c_str()), 0);
  auto after_crash = PdfText(ChinesePdf("570B7A055C40"));
  if (!after_crash.ok()) after_crash = PdfText(ChinesePdf("570B7A055C40"));
  ASSERT_OK(after_crash);
  EXPECT_THAT(*after_crash, HasSubstr("國稅局"));
  EXPECT_NE(pids(), before);
}

// A TNEF stream (winmail.dat) as Outlook writes it: signature, key, then attributes (level,
// id, length, data, checksum); each attachment opens with attAttachRendData.
Bytes Tnef(const std::vector<std::pair<std::string, std::string>>& files) {
  Bytes out;
  auto u16 = [&](uint32_t v) {
    for (int i = 0; i < 2; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  auto u32 = [&](uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  };
  auto attribute = [&](uint8_t level, uint32_t id, const std::string& data) {
    out.push_back(level);
    u32(id);
    u32(static_cast<uint32_t>(data.size()));
    uint32_t sum = 0;
    for (unsigned char c : data) {
      out.push_back(c);
      sum += c;
    }
    u16(sum & 0xffff);
  };
  u32(0x223E9F78);
  u16(1);
  attribute(1, 0x00089006, std::string("\x00\x00\x01\x00", 4));  // attTnefVersion
  for (const auto& [name, content] : files) {
    attribute(2, 0x00069002, std::string("\x01\x00\xff\xff\xff\xff", 6) + std::string(8, '\0'));
    attribute(2, 0x00018010, name + '\0');  // attAttachTitle
    attribute(2, 0x0006800F, content);      // attAttachData
  }
  return out;
}

TEST(Tnef, WinmailDatFilesBecomeAttachments) {
  const Bytes docx = Zip({{"word/document.xml", "<w:t>備忘錄</w:t>"}});
  const std::string raw =
      "From: outlook@ntbt.gov.tw\r\nSubject: tnef\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
      "see attached\r\n--b\r\nContent-Type: application/ms-tnef; name=winmail.dat\r\n"
      "Content-Disposition: attachment; filename=winmail.dat\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      Base64(Tnef({{"報告.txt", "國稅局 年度報告"},
                   {"memo.docx", std::string(docx.begin(), docx.end())}})) +
      "\r\n--b--\r\n";
  auto parsed = ParseMessage(AsBytes(raw));
  ASSERT_OK(parsed);
  std::vector<std::string> names;
  for (const auto& a : parsed->attachments) names.push_back(a.filename);
  EXPECT_THAT(names, ElementsAre("winmail.dat", "memo.docx", "報告.txt"));
  EXPECT_THAT(parsed->problems, ::testing::IsEmpty());
  auto text = AttachmentText(parsed->attachments[2]);
  ASSERT_OK(text);
  EXPECT_THAT(*text, HasSubstr("國稅局 年度報告"));
  auto memo = AttachmentText(parsed->attachments[1]);
  ASSERT_OK(memo);
  EXPECT_THAT(*memo, HasSubstr("備忘錄"));

  // Not TNEF at all: the message is kept, the problem said.
  std::string broken = raw;
  broken.replace(broken.find("Content-Transfer-Encoding: base64"), 33,
                 "Content-Transfer-Encoding: 7bit");
  auto not_tnef = ParseMessage(AsBytes(broken));
  ASSERT_OK(not_tnef);
  EXPECT_EQ(not_tnef->attachments.size(), 1u);
  EXPECT_THAT(not_tnef->problems, ::testing::Contains(HasSubstr("TNEF")));
}

class SearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = MessageStore::Open(dir_.path() / "archive");
    ASSERT_OK(store);
    store_ = std::move(*store);
  }
  int64_t Add(const std::string& raw, std::vector<std::string> recipients = {}) {
    auto parsed = ParseMessage(AsBytes(raw));
    EXPECT_OK(parsed);
    Delivery d;
    d.source = "test";
    d.envelope_from = "sender@example.gov.tw";
    d.recipients = std::move(recipients);
    d.received_at = 1700000000;
    auto added = store_->Add(AsBytes(raw), *parsed, d);
    EXPECT_OK(added);
    return added.ok() ? added->message : 0;
  }
  std::set<int64_t> Find(const std::string& query) {
    auto index = SearchIndex::OpenForWriting(dir_.path() / "index");
    EXPECT_OK(index);
    EXPECT_OK((*index)->CatchUp(*store_, nullptr));
    auto q = ParseSearchQuery(query);
    EXPECT_OK(q);
    auto r = (*index)->Search(*q);
    EXPECT_OK(r);
    std::set<int64_t> ids;
    for (const SearchHit& h : r->hits) ids.insert(h.message);
    EXPECT_EQ(r->matches, ids.size());
    return ids;
  }
  TempDir dir_;
  std::unique_ptr<MessageStore> store_;
};

TEST_F(SearchTest, ChineseQueriesFindExactlyTheRightMessages) {
  // 1: a raw 8-bit Big5 subject (as old Outlook sent it) from 鄭, in 2024.
  const int64_t big5 =
      Add("From: \xbe\x47 <cheng@ntbt.gov.tw>\r\nTo: staff@ntbt.gov.tw\r\nSubject: "
          "\xb0\xea\xb5\x7c\xa7\xbd\xb6\x6c\xa5\xf3\xb3\xc6\xa5\xf7\xb3\x71\xaa\xbe\r\n"
          "Date: Tue, 02 Jan 2024 09:00:00 +0800\r\nContent-Type: text/plain; charset=big5\r\n\r\n"
          "\xbd\xd0\xa9\xf3\xa5\xbb\xb6\x67\xa7\xb9\xa6\xa8\r\n");
  // 2: all of 國, 稅 and 局, but never together: must not match 國稅局.
  const int64_t scattered =
      Add("From: wang@mof.gov.tw\r\nTo: staff@ntbt.gov.tw\r\nSubject: =?UTF-8?B?" +
          Base64(ToBytes("國稅")) +
          "?=\r\nDate: Wed, 03 Jan 2024 09:00:00 +0800\r\n\r\n局長室通知\r\n");
  // 3: 郵件備份 only in a docx attachment (split over two runs), named 報告.docx.
  const int64_t docx = Add(WithAttachment(
      "From: lin@ntbt.gov.tw\r\nTo: it@ntbt.gov.tw\r\nSubject: weekly report\r\n"
      "Date: Thu, 04 Jan 2024 09:00:00 +0800\r\n",
      "see attached", "%E5%A0%B1%E5%91%8A.docx",
      "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
      Zip({{"word/document.xml",
            "<w:document><w:body><w:p><w:r><w:t>郵件</w:t></w:r><w:r><w:t>備份完成</w:t></w:r>"
            "</w:p></w:body></w:document>"}})));
  // 4: 國稅局 only inside a Traditional Chinese PDF, from 2023.
  const int64_t pdf =
      Add(WithAttachment("From: =?UTF-8?B?" + Base64(ToBytes("鄭")) +
                             "?= <cheng@ntbt.gov.tw>\r\nTo: a@b.tw\r\n"
                             "Subject: scan\r\nDate: Fri, 15 Dec 2023 09:00:00 +0800\r\n",
                         "", "scan.pdf", "application/pdf", ChinesePdf("570B7A055C40")));
  // 5: a Bcc recipient known only from the envelope.
  const int64_t bcc =
      Add("From: chief@ntbt.gov.tw\r\nTo: team@ntbt.gov.tw\r\nSubject: budget\r\n"
          "Date: Mon, 08 Jan 2024 09:00:00 +0800\r\n\r\nnumbers\r\n",
          {"team@ntbt.gov.tw", "secret.auditor@audit.gov.tw"});

  EXPECT_EQ(Find("國稅局"), (std::set<int64_t>{big5, pdf}));
  EXPECT_EQ(Find("\"郵件備份\""), (std::set<int64_t>{big5, docx}));
  EXPECT_EQ(Find("國稅"), (std::set<int64_t>{big5, scattered, pdf}));
  EXPECT_EQ(Find("from:鄭"), (std::set<int64_t>{big5, pdf}));
  EXPECT_EQ(Find("from:鄭 after:2024-01-01"), (std::set<int64_t>{big5}));
  EXPECT_EQ(Find("國稅局 before:2024-01-01"), (std::set<int64_t>{pdf}));
  EXPECT_EQ(Find("to:secret.auditor@audit.gov.tw"), (std::set<int64_t>{bcc}));
  EXPECT_EQ(Find("to:auditor"), (std::set<int64_t>{bcc}));
  EXPECT_EQ(Find("has:attachment"), (std::set<int64_t>{docx, pdf}));
  EXPECT_EQ(Find("attachment:報告"), (std::set<int64_t>{docx}));
  EXPECT_EQ(Find("subject:國稅局"), (std::set<int64_t>{big5}))
      << "the PDF's text is not its subject";
  EXPECT_EQ(Find("本週完成"), (std::set<int64_t>{big5})) << "a Big5 body";
  EXPECT_EQ(Find("WEEKLY"), (std::set<int64_t>{docx})) << "case does not matter";
  EXPECT_TRUE(Find("國稅局長").empty());
  EXPECT_TRUE(Find("，").empty()) << "punctuation alone matches nothing";
  EXPECT_EQ(Find("").size(), 5u) << "an empty query lists everything";
}

TEST_F(SearchTest, AMessageLargerThanMemoryIsIndexedByItsTextAndItsAttachmentsNames) {
  // 20 MB of attachment (a stored-in-pieces message above the whole-message limit), a
  // small PDF whose text is indexed, and a body.
  std::string head =
      "From: lin@ntbt.gov.tw\r\nTo: it@ntbt.gov.tw\r\nSubject: survey data\r\n"
      "Date: Thu, 04 Jan 2024 09:00:00 +0800\r\nMIME-Version: 1.0\r\n"
      "Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n\r\n校園空間測繪資料\r\n--b\r\n"
      "Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"scan.pdf\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n" +
      Base64(ChinesePdf("570B7A055C40")) +
      "\r\n--b\r\nContent-Type: application/octet-stream\r\n"
      "Content-Disposition: attachment; filename=\"survey.bin\"\r\n"
      "Content-Transfer-Encoding: base64\r\n\r\n";
  std::string line(76, 'A');
  line += "\r\n";
  auto write = [&](const std::function<Status(ByteView)>& sink) -> Status {
    TESSERA_RETURN_IF_ERROR(sink(AsBytes(head)));
    std::string lines;
    for (int i = 0; i < 1000; ++i) lines += line;
    for (int i = 0; i < 270; ++i) TESSERA_RETURN_IF_ERROR(sink(AsBytes(lines)));
    return sink(AsBytes(std::string("--b--\r\n")));
  };
  Delivery d;
  d.source = "test";
  d.envelope_from = "lin@ntbt.gov.tw";
  d.received_at = 1700000000;
  auto added = store_->AddStreamed(write, d);
  ASSERT_OK(added);
  ASSERT_GT(store_->Find(added->message)->size, 20u << 20);

  auto index = SearchIndex::OpenForWriting(dir_.path() / "index");
  ASSERT_OK(index);
  auto report = (*index)->CatchUp(*store_, nullptr);
  ASSERT_OK(report);
  EXPECT_THAT(report->problems,
              ElementsAre(::testing::AllOf(HasSubstr("'survey.bin' (2105"),
                                           HasSubstr("is too large to have its text indexed"))));
  index->reset();
  EXPECT_EQ(Find("測繪資料"), (std::set<int64_t>{added->message}));
  EXPECT_EQ(Find("國稅局"), (std::set<int64_t>{added->message})) << "the small PDF's text";
  EXPECT_EQ(Find("attachment:survey"), (std::set<int64_t>{added->message}));
  EXPECT_EQ(Find("subject:survey"), (std::set<int64_t>{added->message}));
}

TEST_F(SearchTest, AnIndexNotMadeYetFindsNothing) {
  auto reader = SearchIndex::OpenForReading(dir_.path() / "never-made");
  ASSERT_OK(reader);
  auto r = (*reader)->Search(*ParseSearchQuery("公文"));
  ASSERT_OK(r);
  EXPECT_EQ(r->matches, 0u);
  EXPECT_TRUE(r->hits.empty());
  auto all = (*reader)->AllMatches(*ParseSearchQuery(""));
  ASSERT_OK(all);
  EXPECT_TRUE(all->empty());
}

TEST_F(SearchTest, TheIndexFollowsTheStoreAndHasOneWriter) {
  Add("From: a@b.tw\r\nSubject: first 第一\r\n\r\nx\r\n");
  EXPECT_EQ(Find("第一").size(), 1u);
  auto writer = SearchIndex::OpenForWriting(dir_.path() / "index");
  ASSERT_OK(writer);
  EXPECT_EQ(SearchIndex::OpenForWriting(dir_.path() / "index").status().code(),
            StatusCode::kUnavailable);
  const int64_t second = Add("From: a@b.tw\r\nSubject: second 第二\r\n\r\nx\r\n");
  ASSERT_TRUE(*(*writer)->Behind(*store_));
  auto report = (*writer)->CatchUp(*store_, nullptr);
  ASSERT_OK(report);
  EXPECT_EQ(report->messages, 1u) << "only what is new";
  EXPECT_FALSE(*(*writer)->Behind(*store_));
  // A reader sees what the writer committed, while the writer is open.
  auto reader = SearchIndex::OpenForReading(dir_.path() / "index");
  ASSERT_OK(reader);
  auto r = (*reader)->Search(*ParseSearchQuery("第二"));
  ASSERT_OK(r);
  ASSERT_EQ(r->hits.size(), 1u);
  EXPECT_EQ(r->hits[0].message, second);
  EXPECT_EQ(r->hits[0].subject, "second 第二");
  writer->reset();
  // A lost index is rebuilt from the store.
  fs::remove_all(dir_.path() / "index");
  EXPECT_EQ(Find("第一 OR 第二").size(), 0u) << "words are ANDed: no message has both plus 'or'";
  EXPECT_EQ(Find("").size(), 2u);
}

}  // namespace
}  // namespace tessera::archive
