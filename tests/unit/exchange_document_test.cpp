// 公文 DI/SW documents (exchange/document, document_render): the files of
// tests/data/exchange parse with the right fields against the compiled-in DTDs; every
// invalid one fails with a message naming its line; XXE and entity bombs are refused
// without any file being opened; rosters give the recipients; attachments are checked both
// ways; rendering shows every field and escapes what it shows; threads validate at once.
#include "exchange/document.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "exchange/document_render.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::exchange {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// tests/data/exchange, found from this source file or from the test executable upwards
// (the build may compile this file under a relative name).
fs::path DataDir() {
  const fs::path source = __FILE__;
  if (source.is_absolute()) return source.parent_path().parent_path() / "data" / "exchange";
  for (fs::path dir = fs::read_symlink("/proc/self/exe").parent_path(); !dir.empty();
       dir = dir.parent_path()) {
    if (fs::exists(dir / "tests" / "data" / "exchange" / "letter.di"))
      return dir / "tests" / "data" / "exchange";
    if (dir == dir.parent_path()) break;
  }
  return "tests/data/exchange";
}

std::string ReadData(const std::string& name) {
  std::ifstream in(DataDir() / name, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_TRUE(in.good() || in.eof()) << "cannot read " << (DataDir() / name);
  EXPECT_FALSE(text.str().empty()) << (DataDir() / name) << " is missing or empty";
  return text.str();
}

Result<OfficialDocument> Parse(const std::string& name) {
  return ParseDocument(AsBytes(ReadData(name)), name);
}

// A minimal valid 函 around a DOCTYPE and a subject.
std::string Letter(const std::string& doctype, const std::string& subject) {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + doctype +
         "\n<函><發文機關><全銜>臺南市政府</全銜><機關代碼>376570000A</機關代碼></發文機關>"
         "<函類別 代碼=\"函\"/><地址>永華路2段6號</地址><聯絡方式>承辦人：蘇建勳</聯絡方式>"
         "<受文者><全銜>臺南市政府教育局</全銜><機關代碼>376570100A</機關代碼></受文者>"
         "<發文日期><年月日>中華民國110年6月3日</年月日></發文日期>"
         "<發文字號><文字>府研智字第1100681935號</文字></發文字號>"
         "<主旨><文字>" +
         subject + "</文字></主旨><正本><全銜>臺南市政府教育局</全銜></正本></函>\n";
}

TEST(ExchangeDocument, LetterHasEveryFieldOfTheRealOne) {
  auto doc = Parse("letter.di");
  ASSERT_OK(doc);
  EXPECT_EQ(doc->kind, DocumentKind::kLetter);
  EXPECT_EQ(doc->letter_type, "函");
  EXPECT_EQ(doc->sender.name, "臺南市政府");
  EXPECT_EQ(doc->sender.agency_code, "376570000A");
  EXPECT_EQ(doc->address, "708201臺南市安平區永華路2段6號");
  EXPECT_EQ(doc->contact,
            "承辦人：蘇建勳\n電話：06-2991111轉1182\n傳真：06-2985569\n"
            "電子信箱：hammer@mail.tainan.gov.tw");
  ASSERT_EQ(doc->recipients.size(), 1u);
  EXPECT_EQ(doc->recipients[0].name, "臺南市政府教育局");
  EXPECT_EQ(doc->recipients[0].agency_code, "376570100A");
  EXPECT_EQ(doc->roster_file, "");
  EXPECT_EQ(doc->date, "中華民國110年6月3日");
  EXPECT_EQ(doc->number, "府研智字第1100681935號");
  EXPECT_EQ(doc->speed, "普通件");
  EXPECT_EQ(doc->classification, "");
  EXPECT_EQ(doc->declassification, "");
  EXPECT_EQ(doc->attachment_note,
            "防疫期間公文相關系統因應方式說明、各體系安全 (VPN) 連線IP回報表");
  ASSERT_EQ(doc->attachments.size(), 2u);
  EXPECT_EQ(doc->attachments[0].entity, "ATTCH1");
  EXPECT_EQ(doc->attachments[0].file_name, "0681935A00_ATTCH4.pdf");
  EXPECT_EQ(doc->attachments[1].entity, "ATTCH2");
  EXPECT_EQ(doc->attachments[1].file_name, "0681935A00_ATTCH2.odt");
  EXPECT_EQ(
      doc->subject,
      "函轉有關啟動居家辦公期間進行公文電子交換作業相關事宜如說明，請各機關配合並轉知所轄屬。");
  ASSERT_EQ(doc->paragraphs.size(), 1u);
  const DocumentParagraph& explanation = doc->paragraphs[0];
  EXPECT_EQ(explanation.name, "說明：");
  ASSERT_EQ(explanation.items.size(), 4u);
  EXPECT_EQ(explanation.items[0].number, "一、");
  EXPECT_EQ(explanation.items[0].text, "依檔管局110年5月27日檔資字第1100022201號函辦理。");
  EXPECT_EQ(explanation.items[3].number, "四、");
  ASSERT_EQ(explanation.items[2].items.size(), 6u);
  EXPECT_EQ(explanation.items[2].items[0].number, "(一)");
  EXPECT_EQ(explanation.items[2].items[5].number, "(六)");
  EXPECT_THAT(explanation.items[2].items[5].text, HasSubstr("https://cs.archives.gov.tw/product"));
  EXPECT_THAT(doc->original_to,
              ElementsAre("臺南市政府各處", "臺南市政府所屬一級機關", "臺南市各區公所"));
  EXPECT_THAT(doc->copy_to,
              ElementsAre("臺南市政府智慧發展中心(含附件)", "紹文資訊有限公司(含附件)"));
  EXPECT_THAT(doc->signatures, ElementsAre("市長　黃偉哲"));
}

TEST(ExchangeDocument, RosterLetterGoesToTheAgenciesOfItsSw) {
  auto doc = Parse("roster_letter.di");
  ASSERT_OK(doc);
  EXPECT_EQ(doc->letter_type, "書函");
  EXPECT_TRUE(doc->recipients.empty());
  EXPECT_EQ(doc->roster_file, "1140001234.sw");
  EXPECT_EQ(doc->roster_note, "如正副本行文單位");
  EXPECT_EQ(doc->number, "發檔字第1140001234A號");  // 字 written with its 字, 支號 kept
  EXPECT_EQ(doc->speed, "速件");
  EXPECT_THAT(doc->copy_to, ElementsAre("內政部(不含附件)"));

  auto roster = ParseRoster(AsBytes(ReadData("1140001234.sw")), "1140001234.sw");
  ASSERT_OK(roster);
  ASSERT_EQ(roster->entries.size(), 3u);
  EXPECT_EQ(roster->entries[0].name, "國家發展委員會檔案管理局");
  EXPECT_EQ(roster->entries[0].agency_code, "A15060000H");
  EXPECT_TRUE(roster->entries[0].with_attachments);
  EXPECT_EQ(roster->entries[0].copy_kind, "正本");
  EXPECT_EQ(roster->entries[2].agency_code, "A09000000E");
  EXPECT_FALSE(roster->entries[2].with_attachments);
  EXPECT_EQ(roster->entries[2].copy_kind, "副本");

  auto codes = RecipientCodes(*doc, &*roster);
  ASSERT_OK(codes);
  EXPECT_THAT(*codes, ElementsAre("A15060000H", "379000000A", "A09000000E"));
  // Without its roster the document's recipients are unknown.
  auto unknown = RecipientCodes(*doc, nullptr);
  EXPECT_EQ(unknown.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(unknown.status().message(), HasSubstr("1140001234.sw"));
}

TEST(ExchangeDocument, InvalidRosterNamesItsLine) {
  // An entry without its 機關代碼, and a 本別 before the name it belongs to.
  for (const std::string& body : {
           std::string("<全銜>臺北市政府</全銜>\n<含附件>含附件</含附件>"),
           std::string("<本別><收發處理本別 代碼=\"正本\"/></本別>\n<全銜>臺北市政府</全銜>"),
       }) {
    SCOPED_TRACE(body);
    auto roster = ParseRoster(AsBytes("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE "
                                      "交換表單 SYSTEM \"104_roster_utf8.dtd\">\n<交換表單>\n" +
                                      body + "\n</交換表單>\n"),
                              "r.sw");
    ASSERT_FALSE(roster.ok());
    EXPECT_THAT(roster.status().message(),
                StartsWith("r.sw line 3: Element 交換表單 content does not follow the DTD"));
  }
}

TEST(ExchangeDocument, RecipientCodesAreDistinctAndInOrder) {
  auto doc = Parse("roster_letter.di");
  ASSERT_OK(doc);
  Roster roster;
  for (const char* code : {"379000000A", "A15060000H", "379000000A", "A09000000E"}) {
    RosterEntry entry;
    entry.name = "x";
    entry.agency_code = code;
    roster.entries.push_back(entry);
  }
  auto codes = RecipientCodes(*doc, &roster);
  ASSERT_OK(codes);
  EXPECT_THAT(*codes, ElementsAre("379000000A", "A15060000H", "A09000000E"));

  auto letter = Parse("letter.di");
  ASSERT_OK(letter);
  auto direct = RecipientCodes(*letter, nullptr);
  ASSERT_OK(direct);
  EXPECT_THAT(*direct, ElementsAre("376570100A"));
  letter->recipients.clear();
  EXPECT_EQ(RecipientCodes(*letter, nullptr).status().code(), StatusCode::kInvalidArgument);
}

TEST(ExchangeDocument, MemoParsesWithItsOwnFields) {
  auto doc = Parse("memo.di");
  ASSERT_OK(doc);
  EXPECT_EQ(doc->kind, DocumentKind::kMemo);
  EXPECT_EQ(doc->sender.name, "資訊處");
  EXPECT_EQ(doc->sender.unit_code, "A15060000H01");
  EXPECT_EQ(doc->number, "1140005678");
  EXPECT_EQ(doc->speed, "最速件");
  EXPECT_EQ(doc->classification, "密");
  EXPECT_EQ(doc->declassification, "公布後解密");
  EXPECT_EQ(doc->proposal, "1");
  EXPECT_EQ(doc->date, "中華民國114年6月5日");
  ASSERT_EQ(doc->paragraphs.size(), 2u);
  EXPECT_EQ(doc->paragraphs[1].name, "擬辦：");
  EXPECT_EQ(doc->paragraphs[1].text, "奉核後依政府採購法辦理公開招標。");
  EXPECT_THAT(doc->submitted_to, ElementsAre("主任秘書", "局長 王○○"));
  EXPECT_THAT(doc->signatures, ElementsAre("資訊處處長　張○○"));
  EXPECT_TRUE(doc->recipients.empty());
}

TEST(ExchangeDocument, Big5DocumentOfDtdVersion99Parses) {
  const std::string big5 = ReadData("letter_big5.di");
  ASSERT_THAT(big5, HasSubstr("encoding=\"Big5\""));
  ASSERT_THAT(big5, Not(HasSubstr("臺北市政府")));  // really Big5 bytes, not UTF-8
  auto doc = ParseDocument(AsBytes(big5), "letter_big5.di");
  ASSERT_OK(doc);
  EXPECT_EQ(doc->sender.name, "臺北市政府");
  EXPECT_EQ(doc->subject, "函送本府公文電子交換系統憑證更新時程，請查照。");
  EXPECT_EQ(doc->number, "府授資字第10030123400號");
  // Invalid version-99 documents say so, and that version 104 judged them.
  const std::string big5_letter = "\xa8\xe7";  // 函
  auto st =
      ParseDocument(AsBytes("<?xml version=\"1.0\" encoding=\"Big5\"?>\n<!DOCTYPE " + big5_letter +
                            " SYSTEM \"99_2_big5.dtd\">\n<" + big5_letter + "/>"),
                    "old.di");
  EXPECT_THAT(st.status().message(), HasSubstr("old.di line 3"));
  EXPECT_THAT(st.status().message(), HasSubstr("version 99"));
  // UTF-8 bytes in a file that says it is Big5: the conversion failure is what it says first.
  auto mislabelled = ParseDocument(
      AsBytes(std::string("<?xml version=\"1.0\" encoding=\"Big5\"?>\n<函/>")), "x.di");
  EXPECT_THAT(mislabelled.status().message(), StartsWith("x.di: input conversion failed"));
}

TEST(ExchangeDocument, UndeclaredEncodingIsAClearError) {
  auto st =
      ParseDocument(AsBytes(std::string("<?xml version=\"1.0\"?>\n<函>\xa5\xd2</函>")), "a.di");
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(st.status().message(), StartsWith("a.di line 2: Input is not proper UTF-8"));
}

struct InvalidCase {
  const char* file;
  const char* where;   // "<file> line N"
  const char* saying;  // part of the message
};

TEST(ExchangeDocument, EveryInvalidFileFailsNamingItsLine) {
  const InvalidCase cases[] = {
      {"invalid_order.di",
       "invalid_order.di line 3:", "Element 函 content does not follow the DTD"},
      {"invalid_unknown.di", "invalid_unknown.di line 3:",
       "; invalid_unknown.di line 12: No declaration for element 備考"},
      {"invalid_missing_entity.di",
       "invalid_missing_entity.di line 16:", "unknown entity \"ATTCH2\""},
      {"invalid_xxe.di", "invalid_xxe.di line 3:", "parsed entity \"x\""},
      {"invalid_bomb.di", "invalid_bomb.di line 3:", "parsed entity \"lol\""},
      {"invalid_path.di", "invalid_path.di", "../../etc/cron.d/job"},
  };
  for (const InvalidCase& c : cases) {
    SCOPED_TRACE(c.file);
    auto doc = Parse(c.file);
    ASSERT_FALSE(doc.ok());
    EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(doc.status().message(), StartsWith(c.where));
    EXPECT_THAT(doc.status().message(), HasSubstr(c.saying));
  }
  // The order case names both the expected and the found order.
  EXPECT_THAT(Parse("invalid_order.di").status().message(),
              HasSubstr("got (發文機關 函類別 地址 聯絡方式 受文者 發文字號 發文日期"));
}

TEST(ExchangeDocument, MalformedXmlNamesTheLine) {
  auto doc = ParseDocument(AsBytes(std::string("<?xml version=\"1.0\"?>\n<函>\n<主旨>\n</函>")),
                           "letter.di");
  EXPECT_THAT(doc.status().message(),
              StartsWith("letter.di line 4: Opening and ending tag mismatch: 主旨 line 3 and 函"));
  EXPECT_THAT(ParseDocument(ByteView(), "e.di").status().message(), HasSubstr("empty"));
}

TEST(ExchangeDocument, DoctypeChoosesTheDtdAndRootElementWithoutOne) {
  EXPECT_OK(ParseDocument(AsBytes(Letter("", "無 DOCTYPE")), "a.di"));
  EXPECT_OK(ParseDocument(AsBytes(Letter("<!DOCTYPE 函 SYSTEM \"104_2_utf8.dtd\">", "s")), "a.di"));
  EXPECT_OK(ParseDocument(AsBytes(Letter("<!DOCTYPE 函>", "s")), "a.di"));
  // A DOCTYPE naming the 簽 DTD for a 函, an unknown DTD, an old version, a remote one.
  for (const auto& [doctype, saying] : std::vector<std::pair<std::string, std::string>>{
           {"<!DOCTYPE 函 SYSTEM \"104_5_utf8.dtd\">", "that of a 簽"},
           {"<!DOCTYPE 函 SYSTEM \"letter.dtd\">", "not a 公文 DTD"},
           {"<!DOCTYPE 函 SYSTEM \"91_2.dtd\">", "version 91"},
           {"<!DOCTYPE 函 PUBLIC \"-//x\" \"http://127.0.0.1:9/104_2_utf8.dtd\">",
            "file name alone"},
           {"<!DOCTYPE 簽>", "root and DTD name do not match"},
       }) {
    SCOPED_TRACE(doctype);
    auto doc = ParseDocument(AsBytes(Letter(doctype, "s")), "a.di");
    ASSERT_FALSE(doc.ok());
    EXPECT_THAT(doc.status().message(), HasSubstr(saying));
  }
  // An SW is not a DI, nor a DI an SW; an unknown root is neither.
  const std::string sw = ReadData("1140001234.sw");
  EXPECT_THAT(ParseDocument(AsBytes(sw), "x.sw").status().message(), HasSubstr("交換表單 (SW)"));
  EXPECT_THAT(ParseRoster(AsBytes(ReadData("letter.di")), "letter.di").status().message(),
              HasSubstr("a 函 (DI)"));
  EXPECT_THAT(ParseDocument(AsBytes(std::string("<html/>")), "x.di").status().message(),
              HasSubstr("<html>"));
}

TEST(ExchangeDocument, DoctypeMayNotRedefineTheFormat) {
  for (const std::string subset : {
           "<!ELEMENT 函 ANY>",
           "<!ATTLIST 主旨 x CDATA 'y'>",
           "<!ENTITY % pe SYSTEM \"104_basic_utf8.ent\">",
           "<!ENTITY name \"text\">",
       }) {
    SCOPED_TRACE(subset);
    auto doc = ParseDocument(AsBytes(Letter("<!DOCTYPE 函 [\n" + subset + "\n]>", "s")), "a.di");
    ASSERT_FALSE(doc.ok());
    EXPECT_THAT(doc.status().message(), StartsWith("a.di line 3: the DOCTYPE declares"));
    EXPECT_THAT(doc.status().message(), HasSubstr("may declare only attachments"));
  }
}

// Opens of `file`, seen through inotify, while `fn` runs.
template <typename Fn>
int OpensDuring(const fs::path& file, Fn&& fn) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  EXPECT_GE(fd, 0);
  EXPECT_GE(::inotify_add_watch(fd, file.c_str(), IN_OPEN | IN_ACCESS), 0);
  fn();
  int events = 0;
  alignas(inotify_event) char buffer[4096];
  for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) {
    for (char* p = buffer; p < buffer + n;) {
      ++events;
      p += sizeof(inotify_event) + reinterpret_cast<inotify_event*>(p)->len;
    }
  }
  ::close(fd);
  return events;
}

TEST(ExchangeDocument, ExternalEntitiesAreRefusedWithoutOpeningAnything) {
  TempDir dir;
  const fs::path secret = dir.path() / "secret.txt";
  std::ofstream(secret) << "TESSERA-SECRET-4711\n";
  // The watch works: reading the file is seen.
  ASSERT_GT(OpensDuring(secret, [&] { std::ifstream(secret).get(); }), 0);

  const std::string url = "file://" + secret.string();
  const std::vector<std::string> attempts = {
      // a parsed external entity used in the body
      Letter("<!DOCTYPE 函 SYSTEM \"104_2_utf8.dtd\" [\n<!ENTITY x SYSTEM \"" + url + "\">\n]>",
             "&x;"),
      Letter("<!DOCTYPE 函 [\n<!ENTITY x SYSTEM \"" + secret.string() + "\">\n]>", "&x;"),
      // a parameter entity, loaded and expanded in the DOCTYPE
      Letter("<!DOCTYPE 函 [\n<!ENTITY % p SYSTEM \"" + url + "\">\n%p;\n]>", "s"),
      // the DTD itself
      Letter("<!DOCTYPE 函 SYSTEM \"" + url + "\">", "s"),
      Letter("<!DOCTYPE 函 SYSTEM \"" + secret.string() + "\">", "s"),
      // an attachment is a file name, never read
      Letter("<!DOCTYPE 函 [\n<!ENTITY a SYSTEM \"" + secret.string() +
                 "\" NDATA _X>\n<!NOTATION _X SYSTEM \"\">\n]>",
             "s"),
  };
  for (const std::string& di : attempts) {
    SCOPED_TRACE(di.substr(0, 160));
    Result<OfficialDocument> doc = Status::Internal("not run");
    EXPECT_EQ(OpensDuring(secret, [&] { doc = ParseDocument(AsBytes(di), "xxe.di"); }), 0);
    ASSERT_FALSE(doc.ok());
    EXPECT_EQ(doc.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(doc.status().message(), Not(HasSubstr("TESSERA-SECRET")));
  }
  // The very attempt of the brief, on /etc/passwd.
  auto passwd = Parse("invalid_xxe.di");
  ASSERT_FALSE(passwd.ok());
  EXPECT_THAT(passwd.status().message(), Not(HasSubstr("root:")));
}

TEST(ExchangeDocument, EntityBombIsRefusedAtOnce) {
  // A billion laughs refused at its first declaration: at once, whatever it would grow to.
  const auto start = std::chrono::steady_clock::now();
  auto doc = Parse("invalid_bomb.di");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(doc.status().message(), HasSubstr("\"lol\""));
  auto quadratic = ParseDocument(
      AsBytes(Letter("<!DOCTYPE 函 [\n<!ENTITY q \"" + std::string(100000, 'q') + "\">\n]>",
                     std::string(30, '&') + "q;")),
      "q.di");
  EXPECT_THAT(quadratic.status().message(), HasSubstr("parsed entity \"q\""));
}

TEST(ExchangeDocument, ValidationDoesNotDependOnTheWorkingDirectory) {
  // DTD files of the same names in the current directory, allowing anything, change nothing.
  TempDir dir;
  for (const char* name : {"104_2_utf8.dtd", "104_basic_utf8.ent", "104_exchange_utf8.ent"})
    std::ofstream(dir.path() / name) << "<!ELEMENT 函 ANY>\n<!ELEMENT 備考 ANY>\n";
  const fs::path before = fs::current_path();
  fs::current_path(dir.path());
  auto order = Parse("invalid_order.di");
  auto unknown = Parse("invalid_unknown.di");
  auto letter = Parse("letter.di");
  fs::current_path(before);
  EXPECT_FALSE(order.ok());
  EXPECT_FALSE(unknown.ok());
  EXPECT_OK(letter);
}

TEST(ExchangeDocument, AttachmentNamesArePlainFileNames) {
  for (const char* ok : {"report.pdf", "0681935A00_ATTCH4.pdf", "附件 一.odt", "a.b.c"})
    EXPECT_TRUE(IsPlainFileName(ok)) << ok;
  for (const char* bad : {"", "../x.pdf", "a/b.pdf", "/etc/passwd", "a\\b.pdf", "..", "x..y",
                          "a\tb", "a\x7f", "\xff\xfe.pdf"})
    EXPECT_FALSE(IsPlainFileName(bad)) << bad;
  const std::string di = Letter(
      "<!DOCTYPE 函 [\n<!ENTITY 表單 SYSTEM \"../up.sw\" NDATA DI>\n<!NOTATION DI SYSTEM \"\">\n]>",
      "s");
  EXPECT_THAT(ParseDocument(AsBytes(di), "a.di").status().message(), HasSubstr("../up.sw"));
}

TEST(ExchangeDocument, CheckAttachmentsBothWays) {
  auto doc = Parse("letter.di");
  ASSERT_OK(doc);
  EXPECT_OK(CheckAttachments(*doc, {"0681935A00_ATTCH2.odt", "0681935A00_ATTCH4.pdf"}));

  Status missing = CheckAttachments(*doc, {"0681935A00_ATTCH4.pdf"});
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.message(),
              HasSubstr("ATTCH2 (0681935A00_ATTCH2.odt) is declared but not given"));
  EXPECT_THAT(missing.message(), Not(HasSubstr("ATTCH4.pdf) is declared")));

  Status extra =
      CheckAttachments(*doc, {"0681935A00_ATTCH2.odt", "0681935A00_ATTCH4.pdf", "virus.exe"});
  EXPECT_THAT(extra.message(),
              HasSubstr("virus.exe is given but the document does not declare it"));

  Status both = CheckAttachments(*doc, {"a.pdf", "a.pdf"});
  EXPECT_THAT(both.message(),
              HasSubstr("ATTCH1 (0681935A00_ATTCH4.pdf) is declared but not given"));
  EXPECT_THAT(both.message(),
              HasSubstr("ATTCH2 (0681935A00_ATTCH2.odt) is declared but not given"));
  EXPECT_THAT(both.message(), HasSubstr("a.pdf is given twice"));

  auto roster_letter = Parse("roster_letter.di");
  ASSERT_OK(roster_letter);
  EXPECT_OK(CheckAttachments(*roster_letter, {"1140001234.sw", "1140001234_ATTCH1.pdf"}));
  EXPECT_THAT(CheckAttachments(*roster_letter, {"1140001234_ATTCH1.pdf"}).message(),
              HasSubstr("the roster 1140001234.sw"));
  auto memo = Parse("memo.di");
  ASSERT_OK(memo);
  EXPECT_OK(CheckAttachments(*memo, {}));
  EXPECT_THAT(CheckAttachments(*memo, {"1140001234.sw"}).message(),
              HasSubstr("1140001234.sw is given but the document does not declare it"));
}

TEST(ExchangeDocumentRender, TextHasTheLayoutOfAPrintedLetter) {
  auto doc = Parse("letter.di");
  ASSERT_OK(doc);
  const std::string text = RenderText(*doc);
  const std::vector<std::string> in_order = {
      "臺南市政府 函\n",
      "地址：708201臺南市安平區永華路2段6號\n",
      "承辦人：蘇建勳\n電話：06-2991111轉1182\n",
      "受文者：臺南市政府教育局\n",
      "發文日期：中華民國110年6月3日\n",
      "發文字號：府研智字第1100681935號\n",
      "速別：普通件\n",
      "密等及解密條件或保密期限：\n",
      "附件：防疫期間公文相關系統因應方式說明、各體系安全 (VPN) 連線IP回報表 "
      "(0681935A00_ATTCH4.pdf、0681935A00_ATTCH2.odt)\n",
      "主旨：函轉有關啟動居家辦公期間",
      "說明：\n一、依檔管局110年5月27日檔資字第1100022201號函辦理。\n二、",
      "三、疫情期間，",
      "\n  (一)各機關於啟動居家辦公期間",
      "\n  (六)防疫期間，",
      "\n四、本府公文電子交換系統",
      "正本：臺南市政府各處、臺南市政府所屬一級機關、臺南市各區公所\n",
      "副本：臺南市政府智慧發展中心(含附件)、紹文資訊有限公司(含附件)\n",
      "市長　黃偉哲\n",
  };
  size_t at = 0;
  for (const std::string& part : in_order) {
    const size_t found = text.find(part, at);
    ASSERT_NE(found, std::string::npos) << "missing or out of order: " << part << "\n" << text;
    at = found + part.size();
  }
  const std::string memo = RenderText(*Parse("memo.di"));
  EXPECT_THAT(memo, StartsWith("資訊處 簽\n"));
  EXPECT_THAT(memo, HasSubstr("文號：1140005678\n"));
  EXPECT_THAT(memo, HasSubstr("密等及解密條件或保密期限：密 公布後解密\n"));
  EXPECT_THAT(memo, HasSubstr("擬辦：奉核後依政府採購法辦理公開招標。\n"));
  EXPECT_THAT(memo, HasSubstr("敬陳：主任秘書、局長 王○○\n"));
  EXPECT_THAT(RenderText(*Parse("roster_letter.di")), HasSubstr("國家發展委員會 書函\n"));
}

TEST(ExchangeDocumentRender, HtmlIsCompleteEscapedAndLoadsNothing) {
  auto doc = ParseDocument(
      AsBytes(Letter("", "&lt;script&gt;alert(\"x\")&lt;/script&gt; &amp; 'q' &lt;img src=x&gt;")),
      "a.di");
  ASSERT_OK(doc);
  EXPECT_EQ(doc->subject, "<script>alert(\"x\")</script> & 'q' <img src=x>");
  doc->sender.name = "<b>臺南市政府</b>";
  doc->paragraphs.push_back({"說明", "", {{"一、", "<iframe>", {}}}});
  const std::string html = RenderHtml(*doc);
  EXPECT_THAT(html, StartsWith("<!DOCTYPE html>\n<html lang=\"zh-Hant\">"));
  EXPECT_THAT(html, HasSubstr("<meta charset=\"utf-8\">"));
  EXPECT_THAT(html, HasSubstr("default-src 'none'"));
  EXPECT_THAT(html,
              HasSubstr("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;q&#39;"));
  EXPECT_THAT(html, HasSubstr("&lt;b&gt;臺南市政府&lt;/b&gt; 函"));
  EXPECT_THAT(html, HasSubstr("說明："));
  EXPECT_THAT(html, HasSubstr("&lt;iframe&gt;"));
  for (const char* never :
       {"<script", "<img", "<iframe", "<b>", "href=", "http:", "https:", "url(", "<link"})
    EXPECT_THAT(html, Not(HasSubstr(never))) << never;
  EXPECT_THAT(html, HasSubstr("</html>\n"));

  auto letter = Parse("letter.di");
  ASSERT_OK(letter);
  const std::string page = RenderHtml(*letter);
  for (const char* field : {"地址", "受文者", "發文日期", "府研智字第1100681935號", "速別",
                            "密等及解密條件或保密期限", "0681935A00_ATTCH4.pdf", "主旨", "說明：",
                            "(六)", "正本", "副本", "市長　黃偉哲", "承辦人：蘇建勳<br>"})
    EXPECT_THAT(page, HasSubstr(field));
}

TEST(ExchangeDocumentRender, ArchiveFields) {
  auto doc = Parse("letter.di");
  ASSERT_OK(doc);
  std::vector<std::pair<std::string, std::string>> fields;
  for (const ArchiveField& f : ArchiveFields(*doc)) fields.emplace_back(f.name, f.value);
  EXPECT_THAT(fields,
              ElementsAre(std::pair<std::string, std::string>{"發文字號", "府研智字第1100681935號"},
                          std::pair<std::string, std::string>{"主旨", doc->subject},
                          std::pair<std::string, std::string>{"發文機關", "臺南市政府"},
                          std::pair<std::string, std::string>{"速別", "普通件"},
                          std::pair<std::string, std::string>{"密等", ""}));
  auto memo = Parse("memo.di");
  ASSERT_OK(memo);
  EXPECT_EQ(ArchiveFields(*memo)[4].value, "密");
}

TEST(ExchangeDocument, ThreadsValidateAtOnce) {
  const std::string letter = ReadData("letter.di");
  const std::string big5 = ReadData("letter_big5.di");
  const std::string order = ReadData("invalid_order.di");
  const std::string entity = ReadData("invalid_missing_entity.di");
  const std::string sw = ReadData("1140001234.sw");
  // What one thread alone says; every thread must say exactly that, every time.
  const std::string order_error = ParseDocument(AsBytes(order), "o.di").status().message();
  const std::string entity_error = ParseDocument(AsBytes(entity), "e.di").status().message();
  ASSERT_THAT(order_error, StartsWith("o.di line 3:"));
  ASSERT_THAT(entity_error, StartsWith("e.di line 16:"));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 60; ++i) {
        switch ((i + t) % 5) {
          case 0: {
            auto doc = ParseDocument(AsBytes(letter), "l.di");
            if (!doc.ok() || doc->number != "府研智字第1100681935號") ++wrong;
            break;
          }
          case 1: {
            auto doc = ParseDocument(AsBytes(big5), "b.di");
            if (!doc.ok() || doc->sender.name != "臺北市政府") ++wrong;
            break;
          }
          case 2:
            if (ParseDocument(AsBytes(order), "o.di").status().message() != order_error) ++wrong;
            break;
          case 3:
            if (ParseDocument(AsBytes(entity), "e.di").status().message() != entity_error) ++wrong;
            break;
          default: {
            auto roster = ParseRoster(AsBytes(sw), "r.sw");
            if (!roster.ok() || roster->entries.size() != 3) ++wrong;
          }
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
}

}  // namespace
}  // namespace tessera::exchange
