#include "exchange/document_render.hpp"

#include <utility>

namespace tessera::exchange {
namespace {

struct Field {
  std::string label;  // as printed, without the colon
  std::string value;
};

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const std::string& p : parts) {
    if (!out.empty()) out += separator;
    out += p;
  }
  return out;
}

std::string PartyName(const DocumentParty& p) {
  return p.title.empty() ? p.name : p.name + " " + p.title;
}

std::string Title(const OfficialDocument& doc) {
  const std::string type =
      doc.kind == DocumentKind::kMemo ? "簽" : (doc.letter_type.empty() ? "函" : doc.letter_type);
  return doc.sender.name.empty() ? type : doc.sender.name + " " + type;
}

std::string Recipients(const OfficialDocument& doc) {
  if (!doc.roster_file.empty())
    return doc.roster_note.empty() ? "交換表 " + doc.roster_file : doc.roster_note;
  std::vector<std::string> names;
  for (const DocumentParty& p : doc.recipients) names.push_back(PartyName(p));
  return Join(names, "、");
}

std::string Attachments(const OfficialDocument& doc) {
  std::vector<std::string> files;
  for (const DocumentAttachment& a : doc.attachments) files.push_back(a.file_name);
  if (files.empty()) return doc.attachment_note;
  const std::string list = "(" + Join(files, "、") + ")";
  return doc.attachment_note.empty() ? list : doc.attachment_note + " " + list;
}

std::string Classification(const OfficialDocument& doc) {
  if (doc.declassification.empty()) return doc.classification;
  return doc.classification.empty() ? doc.declassification
                                    : doc.classification + " " + doc.declassification;
}

// The lines above 主旨, in the order a printed 函 has them. Contact lines (承辦人：...)
// carry their own labels.
std::vector<Field> HeadFields(const OfficialDocument& doc) {
  std::vector<Field> out;
  const bool letter = doc.kind == DocumentKind::kLetter;
  if (letter) out.push_back({"地址", doc.address});
  if (letter || !doc.recipients.empty() || !doc.roster_file.empty())
    out.push_back({"受文者", Recipients(doc)});
  out.push_back({letter ? "發文日期" : "日期", doc.date});
  out.push_back({letter ? "發文字號" : "文號", doc.number});
  out.push_back({"速別", doc.speed});
  out.push_back({"密等及解密條件或保密期限", Classification(doc)});
  if (!letter && !doc.proposal.empty()) out.push_back({"擬辦方式", doc.proposal});
  out.push_back({"附件", Attachments(doc)});
  return out;
}

std::vector<Field> TailFields(const OfficialDocument& doc) {
  std::vector<Field> out;
  if (doc.kind == DocumentKind::kLetter) {
    out.push_back({"正本", Join(doc.original_to, "、")});
    if (!doc.copy_to.empty()) out.push_back({"副本", Join(doc.copy_to, "、")});
  } else if (!doc.submitted_to.empty()) {
    out.push_back({"敬陳", Join(doc.submitted_to, "、")});
  }
  return out;
}

// 段名 as printed: "說明：" (written with or without its colon).
std::string SectionLabel(const std::string& name) {
  if (name.empty() || name.ends_with("：") || name.ends_with(":")) return name;
  return name + "：";
}

std::vector<std::string> Lines(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    const size_t end = text.find('\n', start);
    out.emplace_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return out;
}

// --- text

void AppendTextLines(std::string& out, const std::string& indent, std::string_view first,
                     std::string_view text) {
  const std::vector<std::string> lines = Lines(text);
  out += indent;
  out += first;
  out += lines[0];
  out += '\n';
  for (size_t i = 1; i < lines.size(); ++i) out += indent + lines[i] + "\n";
}

void AppendTextItems(std::string& out, const std::vector<DocumentItem>& items, size_t depth) {
  const std::string indent(2 * depth, ' ');
  for (const DocumentItem& item : items) {
    AppendTextLines(out, indent, item.number, item.text);
    AppendTextItems(out, item.items, depth + 1);
  }
}

// --- HTML

std::string HtmlText(std::string_view text) {
  std::string escaped = HtmlEscape(text);
  std::string out;
  for (char c : escaped) {
    if (c == '\n')
      out += "<br>\n";
    else
      out += c;
  }
  return out;
}

void AppendHtmlItems(std::string& out, const std::vector<DocumentItem>& items) {
  for (const DocumentItem& item : items) {
    out += "<div class=\"item\"><span class=\"number\">" + HtmlEscape(item.number) +
           "</span><span class=\"text\">" + HtmlText(item.text) + "</span>";
    AppendHtmlItems(out, item.items);
    out += "</div>\n";
  }
}

void AppendHtmlFields(std::string& out, const std::vector<Field>& fields, const char* css_class) {
  out += "<dl class=\"";
  out += css_class;
  out += "\">\n";
  for (const Field& f : fields)
    out += "<div><dt>" + HtmlEscape(f.label) + "：</dt><dd>" + HtmlText(f.value) + "</dd></div>\n";
  out += "</dl>\n";
}

constexpr const char* kStyle =
    "body{font-family:'Noto Serif CJK TC','Noto Serif TC',serif;max-width:48em;margin:2em auto;"
    "padding:0 1em;line-height:1.7}"
    "h1{text-align:center;font-size:1.6em;letter-spacing:.2em}"
    "dl{margin:.5em 0}dl div{display:flex}dt{flex:none}dd{margin:0}"
    ".contact{margin:0 0 0 60%;font-size:.9em}"
    ".section{margin:.8em 0}.label{font-weight:bold}"
    ".item{margin-left:2em;text-indent:-2em}.item .item{margin-left:1em}"
    ".signature{margin-top:2em;text-align:right;font-size:1.2em}";

}  // namespace

std::string RenderText(const OfficialDocument& doc) {
  std::string out = Title(doc) + "\n";
  std::vector<Field> head = HeadFields(doc);
  if (doc.kind == DocumentKind::kLetter && !head.empty()) {
    AppendTextLines(out, "", head[0].label + "：", head[0].value);  // 地址, then 聯絡方式
    head.erase(head.begin());
    if (!doc.contact.empty()) AppendTextLines(out, "", "", doc.contact);
  }
  for (const Field& f : head) AppendTextLines(out, "", f.label + "：", f.value);
  AppendTextLines(out, "", "主旨：", doc.subject);
  for (const DocumentParagraph& p : doc.paragraphs) {
    const std::string label = SectionLabel(p.name);
    if (!label.empty() || !p.text.empty()) AppendTextLines(out, "", label, p.text);
    AppendTextItems(out, p.items, 0);
  }
  for (const Field& f : TailFields(doc)) AppendTextLines(out, "", f.label + "：", f.value);
  for (const std::string& s : doc.signatures) AppendTextLines(out, "", "", s);
  return out;
}

std::string RenderHtml(const OfficialDocument& doc) {
  std::string out =
      "<!DOCTYPE html>\n<html lang=\"zh-Hant\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'\">\n<meta name=\"referrer\" content=\"no-referrer\">\n";
  std::string title = Title(doc);
  if (!doc.number.empty()) title += " " + doc.number;
  out += "<title>" + HtmlEscape(title) + "</title>\n<style>" + kStyle + "</style>\n";
  out += "</head>\n<body>\n<article class=\"document\">\n";
  out += "<h1>" + HtmlEscape(Title(doc)) + "</h1>\n";
  std::vector<Field> head = HeadFields(doc);
  if (doc.kind == DocumentKind::kLetter && !head.empty()) {
    std::vector<Field> address{head[0]};
    head.erase(head.begin());
    out += "<div class=\"contact\">\n";
    AppendHtmlFields(out, address, "address");
    if (!doc.contact.empty()) out += "<p>" + HtmlText(doc.contact) + "</p>\n";
    out += "</div>\n";
  }
  AppendHtmlFields(out, head, "head");
  out += "<section class=\"body\">\n<div class=\"section\"><span class=\"label\">主旨：</span>" +
         HtmlText(doc.subject) + "</div>\n";
  for (const DocumentParagraph& p : doc.paragraphs) {
    out += "<div class=\"section\"><span class=\"label\">" + HtmlEscape(SectionLabel(p.name)) +
           "</span>" + HtmlText(p.text) + "\n";
    AppendHtmlItems(out, p.items);
    out += "</div>\n";
  }
  out += "</section>\n";
  AppendHtmlFields(out, TailFields(doc), "tail");
  for (const std::string& s : doc.signatures)
    out += "<p class=\"signature\">" + HtmlText(s) + "</p>\n";
  out += "</article>\n</body>\n</html>\n";
  return out;
}

std::vector<ArchiveField> ArchiveFields(const OfficialDocument& doc) {
  return {{"發文字號", doc.number},
          {"主旨", doc.subject},
          {"發文機關", doc.sender.name},
          {"速別", doc.speed},
          {"密等", doc.classification}};
}

}  // namespace tessera::exchange
