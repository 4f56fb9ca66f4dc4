// 公文 documents as agencies exchange them: a DI file (XML; a 函 per 104_2_utf8.dtd or a 簽
// per 104_5_utf8.dtd), optionally an SW file (交換表單, the recipients of one DI sent to
// many, 104_roster_utf8.dtd), and attachments the DI declares in its DOCTYPE as unparsed
// entities (<!ENTITY ATTCH1 SYSTEM "report.pdf" NDATA _X>).
//
// The parser validates against the DTDs compiled into the program (data/di-dtd), chosen by
// the DOCTYPE, or by the root element where there is none. It never loads anything else:
// no file, no network, no external entity other than those DTDs. A DOCTYPE's internal
// subset may declare attachments (unparsed entities) and notations only; a document that
// declares any other entity, element or attribute there is refused before anything is
// expanded (XXE, entity bombs, a DTD overridden from inside). UTF-8 and Big5 files both
// parse (DTD versions 104 and 99; a 99 document is checked against the 104 DTD of its
// kind). Safe to call from several threads at once.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::exchange {

enum class DocumentKind { kLetter /*函*/, kMemo /*簽*/ };

// 發文機關, 受文者, or the 單位 of a 簽.
struct DocumentParty {
  std::string name;         // 全銜, 單位名 or 姓名
  std::string title;        // 職稱 of a person ("" otherwise)
  std::string agency_code;  // 機關代碼
  std::string unit_code;    // 單位代碼
};

// An attachment: the unparsed entity <附件檔名 附件名="..."/> names, and its file.
struct DocumentAttachment {
  std::string entity;     // ATTCH1
  std::string file_name;  // the entity's SYSTEM id: a plain file name
};

// 條列: one numbered item, with the number as written (序號: "一、", "(一)", "1.").
struct DocumentItem {
  std::string number;
  std::string text;
  std::vector<DocumentItem> items;
};

// 段落: a section with its name as written (段名: "說明：", "辦法：", or "").
struct DocumentParagraph {
  std::string name;
  std::string text;
  std::vector<DocumentItem> items;
};

// Texts are as written, with the white space at their ends removed; lines joined by '\n'.
struct OfficialDocument {
  DocumentKind kind = DocumentKind::kLetter;
  std::string letter_type;  // 函類別 代碼 (函, 書函, ...); "函" when absent; "" for a 簽
  DocumentParty sender;     // 發文機關, or a 簽's 單位
  std::string address;      // 地址
  std::string contact;      // 聯絡方式, one line each
  std::vector<DocumentParty> recipients;  // 受文者 when given directly
  std::string roster_file;                // 受文者 is 交換表: the SW file name ("" if not)
  std::string roster_note;                // the 交換表 text ("如正副本行文單位")
  std::string date;    // 發文日期 (a 簽: 年月日), e.g. 中華民國114年6月3日
  std::string number;  // 發文字號 (a 簽: 文號) as shown: 府研智字第1100681935號
  std::string speed;   // 速別 代碼 or ""
  std::string classification;    // 密等 代碼 or ""
  std::string declassification;  // 解密條件或保密期限
  std::string proposal;          // a 簽's 擬辦方式 代碼 or ""
  std::string attachment_note;   // 附件/文字
  std::vector<DocumentAttachment> attachments;
  std::string subject;  // 主旨
  std::vector<DocumentParagraph> paragraphs;
  std::vector<std::string> original_to, copy_to;  // 正本, 副本 as shown ("X(含附件)")
  std::vector<std::string> submitted_to;          // a 簽's 敬陳 ("科長", "處長 王大明")
  std::vector<std::string> signatures;            // 署名
};

struct RosterEntry {
  std::string name;  // 全銜, 單位名 or 姓名
  std::string title;
  std::string agency_code;
  std::string unit_code;
  bool with_attachments = true;  // false when 含附件 says not (不含附件, or empty)
  std::string pdf_file;          // 內含本文與附件之可攜式文件檔名 or ""
  std::string copy_kind;         // 本別 (正本, 副本, ...) or ""
};
struct Roster {
  std::vector<RosterEntry> entries;
};

// A DI or SW file is text (attachments are files of their own): larger ones are refused.
inline constexpr size_t kMaxDocumentBytes = size_t{32} << 20;

// `file_name` names the file in errors. InvalidArgument with line numbers
// ("letter.di line 12: Element 主旨 content does not follow the DTD ...") for anything that
// is not a valid DI, or that names an attachment by anything but a plain file name.
Result<OfficialDocument> ParseDocument(ByteView di, std::string_view file_name);
// The same for an SW file (root 交換表單).
Result<Roster> ParseRoster(ByteView sw, std::string_view file_name);

// The agency codes a document goes to: from its roster when its 受文者 is one (then
// `roster` must be given), else its recipients; distinct, in order. InvalidArgument when
// there are none.
Result<std::vector<std::string>> RecipientCodes(const OfficialDocument& doc, const Roster* roster);

// Every attachment the document declares, and its SW file if it names one, is among
// `file_names` (plain names, no directories); no name is given that the document does not
// declare, and none twice. InvalidArgument naming each problem.
Status CheckAttachments(const OfficialDocument& doc, const std::vector<std::string>& file_names);

// Whether `name` may name an attachment: not empty, no '/', '\\' or "..", no control
// characters, valid UTF-8.
bool IsPlainFileName(std::string_view name);

std::string_view DocumentKindName(DocumentKind kind);  // "函" or "簽"

}  // namespace tessera::exchange
