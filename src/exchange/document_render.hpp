// A 公文 document as people read it: the layout of a printed 函 (or 簽) as plain text or
// as a small self-contained HTML page, and the fields the archive indexes it by.
//
// The HTML page has no script, loads nothing (its Content-Security-Policy says so too), and
// every text from the document in it is escaped: a document is data from another agency.
#pragma once

#include "base/utf8.hpp"  // HtmlEscape

#include <string>
#include <vector>

#include "exchange/document.hpp"

namespace tessera::exchange {

// 機關 函 / 地址 / 聯絡方式 / 受文者 / 發文日期 / 發文字號 / 速別 / 密等及解密條件或保密期限 /
// 附件 / 主旨 / 說明 (numbered as written) / 正本 / 副本 / 署名; lines end with '\n'.
std::string RenderText(const OfficialDocument& doc);
// The same as a complete HTML page (UTF-8, lang="zh-Hant").
std::string RenderHtml(const OfficialDocument& doc);

struct ArchiveField {
  std::string name;   // 發文字號, 主旨, 發文機關, 速別, 密等
  std::string value;  // "" when the document does not say
};
// The fields the archive indexes, in that order, every one present.
std::vector<ArchiveField> ArchiveFields(const OfficialDocument& doc);

}  // namespace tessera::exchange
