#include "exchange/document.hpp"

#include <libxml/entities.h>
#include <libxml/tree.h>

#include <algorithm>
#include <array>
#include <set>

#include "base/utf8.hpp"
#include "exchange/dtd.hpp"

namespace tessera::exchange {
namespace {

// --- reading the tree (validated: the structure is the DTD's)

bool Is(const xmlNode* node, std::string_view name) {
  return node != nullptr && node->type == XML_ELEMENT_NODE &&
         reinterpret_cast<const char*>(node->name) == name;
}

template <typename Fn>
void ForEachElement(const xmlNode* parent, Fn&& fn) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next)
    if (c->type == XML_ELEMENT_NODE) fn(c);
}

const xmlNode* Child(const xmlNode* parent, std::string_view name) {
  for (const xmlNode* c = parent->children; c != nullptr; c = c->next)
    if (Is(c, name)) return c;
  return nullptr;
}

std::string_view TrimAscii(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n";
  const size_t begin = s.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return s.substr(begin, s.find_last_not_of(kSpace) - begin + 1);
}

// The text of an element and its descendants, without the white space at its ends.
std::string TextOf(const xmlNode* node) {
  if (node == nullptr) return {};
  xmlChar* content = xmlNodeGetContent(node);
  if (content == nullptr) return {};
  std::string out(TrimAscii(reinterpret_cast<const char*>(content)));
  xmlFree(content);
  return out;
}

std::string ChildText(const xmlNode* parent, std::string_view name) {
  return TextOf(Child(parent, name));
}

std::string Attribute(const xmlNode* node, const char* name) {
  xmlChar* value = xmlGetNoNsProp(node, BAD_CAST name);
  if (value == nullptr) return {};
  std::string out(TrimAscii(reinterpret_cast<const char*>(value)));
  xmlFree(value);
  return out;
}

std::vector<std::string> Tokens(std::string_view s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')) ++i;
    size_t j = i;
    while (j < s.size() && !(s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\n')) ++j;
    if (j > i) out.emplace_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// 發文機關, 受文者, a 交換表單 entry: (全銜|單位名|姓名 職稱?), 機關代碼, 單位代碼 in any
// of the DTD's orders.
void ReadPartyField(const xmlNode* node, DocumentParty& party) {
  if (Is(node, "全銜") || Is(node, "單位名") || Is(node, "姓名"))
    party.name = TextOf(node);
  else if (Is(node, "職稱"))
    party.title = TextOf(node);
  else if (Is(node, "機關代碼"))
    party.agency_code = TextOf(node);
  else if (Is(node, "單位代碼"))
    party.unit_code = TextOf(node);
}

DocumentParty PartyOf(const xmlNode* node) {
  DocumentParty party;
  if (node != nullptr) ForEachElement(node, [&](const xmlNode* c) { ReadPartyField(c, party); });
  return party;
}

// 發文字號 as printed: (字, 文號) → 府研智字第1100681935號; (文字) as written.
std::string NumberOf(const xmlNode* node) {
  if (const xmlNode* text = Child(node, "文字")) return TextOf(text);
  std::string word = ChildText(node, "字");
  const xmlNode* serial = Child(node, "文號");
  std::string digits;
  if (serial != nullptr)
    digits = ChildText(serial, "年度") + ChildText(serial, "流水號") + ChildText(serial, "支號");
  if (word.empty()) return digits;
  if (!word.ends_with("字")) word += "字";
  return word + "第" + digits + "號";
}

// 文號 of a 簽: 年度 流水號 支號.
std::string SerialOf(const xmlNode* node) {
  return ChildText(node, "年度") + ChildText(node, "流水號") + ChildText(node, "支號");
}

DocumentItem ItemOf(const xmlNode* node) {
  DocumentItem item;
  item.number = Attribute(node, "序號");
  item.text = ChildText(node, "文字");
  ForEachElement(node, [&](const xmlNode* c) {
    if (Is(c, "條列")) item.items.push_back(ItemOf(c));
  });
  return item;
}

DocumentParagraph ParagraphOf(const xmlNode* node) {
  DocumentParagraph paragraph;
  paragraph.name = Attribute(node, "段名");
  paragraph.text = ChildText(node, "文字");
  ForEachElement(node, [&](const xmlNode* c) {
    if (Is(c, "條列")) paragraph.items.push_back(ItemOf(c));
  });
  return paragraph;
}

// 正本 / 副本: ((姓名,職稱?)|全銜|單位名|總稱), each 副本 one perhaps with 含附件.
std::vector<std::string> AddresseesOf(const xmlNode* node) {
  std::vector<std::string> out;
  if (node == nullptr) return out;
  ForEachElement(node, [&](const xmlNode* c) {
    const std::string text = TextOf(c);
    if (Is(c, "職稱") && !out.empty()) {
      if (!text.empty()) out.back() += " " + text;
    } else if (Is(c, "含附件") && !out.empty()) {
      if (!text.empty())
        out.back() += text.starts_with("(") || text.starts_with("（") ? text : "(" + text + ")";
    } else {
      out.push_back(text);
    }
  });
  return out;
}

// Whether a 含附件 text says the attachments go along ("含附件", "是", "Y").
bool SaysWithAttachments(std::string_view text) {
  text = TrimAscii(text);
  if (text.empty() || text.find("不") != std::string_view::npos ||
      text.find("否") != std::string_view::npos || text.find("無") != std::string_view::npos)
    return false;
  return text != "N" && text != "n" && text != "0";
}

// The file an unparsed entity names, checked to be a plain file name.
Result<std::string> EntityFile(const xmlDoc* doc, const std::string& entity_name,
                               std::string_view file_name, long line) {
  const xmlEntity* entity = xmlGetDocEntity(const_cast<xmlDoc*>(doc), BAD_CAST entity_name.c_str());
  if (entity == nullptr || entity->etype != XML_EXTERNAL_GENERAL_UNPARSED_ENTITY ||
      entity->SystemID == nullptr)
    return Status::InvalidArgument(Where(file_name, line) + ": \"" + entity_name +
                                   "\" is not an attachment the DOCTYPE declares "
                                   "(<!ENTITY " +
                                   entity_name + " SYSTEM \"file\" NDATA notation>)");
  std::string system_id = reinterpret_cast<const char*>(entity->SystemID);
  if (!IsPlainFileName(system_id))
    return Status::InvalidArgument(Where(file_name, line) + ": the attachment " + entity_name +
                                   " is named \"" + ToValidUtf8(system_id) +
                                   "\"; an attachment is a plain file name (no '/', '\\', '..' "
                                   "or control characters)");
  return system_id;
}

// Every unparsed entity the DOCTYPE declares names a plain file, used or not.
Status CheckDeclaredFiles(const xmlDoc* doc, std::string_view file_name) {
  if (doc->intSubset == nullptr) return Status::Ok();
  for (const xmlNode* n = doc->intSubset->children; n != nullptr; n = n->next) {
    if (n->type != XML_ENTITY_DECL) continue;
    const auto* entity = reinterpret_cast<const xmlEntity*>(n);
    const std::string system_id =
        entity->SystemID != nullptr ? reinterpret_cast<const char*>(entity->SystemID) : "";
    if (!IsPlainFileName(system_id))
      return Status::InvalidArgument(std::string(file_name) + ": its DOCTYPE declares " +
                                     ToValidUtf8(reinterpret_cast<const char*>(entity->name)) +
                                     " as \"" + ToValidUtf8(system_id) +
                                     "\"; an attachment is a plain file name (no '/', '\\', "
                                     "'..' or control characters)");
  }
  return Status::Ok();
}

Status ReadRecipient(const xmlDoc* doc, const xmlNode* node, std::string_view file_name,
                     OfficialDocument& out) {
  if (const xmlNode* roster = Child(node, "交換表")) {
    const std::string entity = Attribute(roster, "交換表單");
    TESSERA_ASSIGN_OR_RETURN(out.roster_file,
                             EntityFile(doc, entity, file_name, xmlGetLineNo(roster)));
    out.roster_note = TextOf(roster);
    return Status::Ok();
  }
  out.recipients.push_back(PartyOf(node));
  return Status::Ok();
}

Status ReadAttachments(const xmlDoc* doc, const xmlNode* node, std::string_view file_name,
                       OfficialDocument& out) {
  out.attachment_note = ChildText(node, "文字");
  std::set<std::string> seen;
  for (const xmlNode* c = node->children; c != nullptr; c = c->next) {
    if (!Is(c, "附件檔名")) continue;
    for (const std::string& entity : Tokens(Attribute(c, "附件名"))) {
      if (!seen.insert(entity).second) continue;
      TESSERA_ASSIGN_OR_RETURN(std::string file,
                               EntityFile(doc, entity, file_name, xmlGetLineNo(c)));
      out.attachments.push_back({entity, std::move(file)});
    }
  }
  return Status::Ok();
}

// The fields 函 and 簽 share; the rest is read by each.
Status ReadCommonField(const xmlDoc* doc, const xmlNode* c, std::string_view file_name,
                       OfficialDocument& out) {
  if (Is(c, "受文者")) return ReadRecipient(doc, c, file_name, out);
  if (Is(c, "速別")) {
    out.speed = Attribute(c, "代碼");
  } else if (Is(c, "密等及解密條件或保密期限")) {
    if (const xmlNode* level = Child(c, "密等")) out.classification = Attribute(level, "代碼");
    out.declassification = ChildText(c, "解密條件或保密期限");
  } else if (Is(c, "附件")) {
    return ReadAttachments(doc, c, file_name, out);
  } else if (Is(c, "主旨")) {
    out.subject = ChildText(c, "文字");
  } else if (Is(c, "段落")) {
    out.paragraphs.push_back(ParagraphOf(c));
  } else if (Is(c, "署名")) {
    out.signatures.push_back(TextOf(c));
  }
  return Status::Ok();
}

Status ReadLetter(const xmlDoc* doc, const xmlNode* root, std::string_view file_name,
                  OfficialDocument& out) {
  out.kind = DocumentKind::kLetter;
  out.letter_type = "函";  // the DTD's default for 函類別 代碼
  std::vector<std::string> contact, numbers;
  for (const xmlNode* c = root->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (Is(c, "發文機關")) {
      if (out.sender.name.empty()) out.sender = PartyOf(c);
    } else if (Is(c, "函類別")) {
      if (std::string type = Attribute(c, "代碼"); !type.empty()) out.letter_type = type;
    } else if (Is(c, "地址")) {
      out.address = TextOf(c);
    } else if (Is(c, "聯絡方式")) {
      contact.push_back(TextOf(c));
    } else if (Is(c, "發文日期")) {
      out.date = ChildText(c, "年月日");
    } else if (Is(c, "發文字號")) {
      numbers.push_back(NumberOf(c));
    } else if (Is(c, "正本")) {
      out.original_to = AddresseesOf(c);
    } else if (Is(c, "副本")) {
      out.copy_to = AddresseesOf(c);
    } else {
      TESSERA_RETURN_IF_ERROR(ReadCommonField(doc, c, file_name, out));
    }
  }
  for (const std::string& line : contact) out.contact += (out.contact.empty() ? "" : "\n") + line;
  for (const std::string& n : numbers) out.number += (out.number.empty() ? "" : "、") + n;
  return Status::Ok();
}

Status ReadMemo(const xmlDoc* doc, const xmlNode* root, std::string_view file_name,
                OfficialDocument& out) {
  out.kind = DocumentKind::kMemo;
  for (const xmlNode* c = root->children; c != nullptr; c = c->next) {
    if (c->type != XML_ELEMENT_NODE) continue;
    if (Is(c, "發文機關") || Is(c, "單位")) {
      out.sender = PartyOf(c);
    } else if (Is(c, "文號")) {
      out.number = SerialOf(c);
    } else if (Is(c, "擬辦方式")) {
      out.proposal = Attribute(c, "代碼");
    } else if (Is(c, "敬陳")) {
      // (職稱, 姓名?)+
      ForEachElement(c, [&](const xmlNode* e) {
        if (Is(e, "職稱"))
          out.submitted_to.push_back(TextOf(e));
        else if (Is(e, "姓名") && !out.submitted_to.empty())
          out.submitted_to.back() += " " + TextOf(e);
      });
    } else if (Is(c, "年月日")) {
      out.date = TextOf(c);
    } else {
      TESSERA_RETURN_IF_ERROR(ReadCommonField(doc, c, file_name, out));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string_view DocumentKindName(DocumentKind kind) {
  return kind == DocumentKind::kMemo ? "簽" : "函";
}

bool IsPlainFileName(std::string_view name) {
  if (name.empty() || name.find('/') != std::string_view::npos ||
      name.find('\\') != std::string_view::npos || name.find("..") != std::string_view::npos ||
      !IsValidUtf8(name))
    return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

Result<OfficialDocument> ParseDocument(ByteView di, std::string_view file_name) {
  constexpr std::array kAccepted{DtdKind::kLetter, DtdKind::kMemo};
  TESSERA_ASSIGN_OR_RETURN(ValidatedXml xml, ParseValidated(di, file_name, kAccepted));
  TESSERA_RETURN_IF_ERROR(CheckDeclaredFiles(xml.doc.get(), file_name));
  const xmlNode* root = xmlDocGetRootElement(xml.doc.get());
  OfficialDocument out;
  if (xml.kind == DtdKind::kMemo)
    TESSERA_RETURN_IF_ERROR(ReadMemo(xml.doc.get(), root, file_name, out));
  else
    TESSERA_RETURN_IF_ERROR(ReadLetter(xml.doc.get(), root, file_name, out));
  return out;
}

Result<Roster> ParseRoster(ByteView sw, std::string_view file_name) {
  constexpr std::array kAccepted{DtdKind::kRoster};
  TESSERA_ASSIGN_OR_RETURN(ValidatedXml xml, ParseValidated(sw, file_name, kAccepted));
  const xmlNode* root = xmlDocGetRootElement(xml.doc.get());
  // (((姓名,職稱?,機關代碼,單位代碼?) | (單位名,機關代碼,單位代碼) | (全銜,機關代碼)),
  //  含附件?, 內含本文與附件之可攜式文件檔名?, 本別?)+ : a name starts the next entry.
  Roster roster;
  ForEachElement(root, [&](const xmlNode* c) {
    if (Is(c, "全銜") || Is(c, "單位名") || Is(c, "姓名")) roster.entries.emplace_back();
    if (roster.entries.empty()) return;  // the DTD puts a name first
    RosterEntry& entry = roster.entries.back();
    if (Is(c, "含附件")) {
      entry.with_attachments = SaysWithAttachments(TextOf(c));
    } else if (Is(c, "內含本文與附件之可攜式文件檔名")) {
      entry.pdf_file = TextOf(c);
    } else if (Is(c, "本別")) {
      if (const xmlNode* kind = Child(c, "收發處理本別")) {
        entry.copy_kind = Attribute(kind, "代碼");
        if (entry.copy_kind.empty()) entry.copy_kind = "正本";  // the DTD's default
      }
    } else {
      DocumentParty party;
      ReadPartyField(c, party);
      if (!party.name.empty()) entry.name = party.name;
      if (!party.title.empty()) entry.title = party.title;
      if (!party.agency_code.empty()) entry.agency_code = party.agency_code;
      if (!party.unit_code.empty()) entry.unit_code = party.unit_code;
    }
  });
  return roster;
}

Result<std::vector<std::string>> RecipientCodes(const OfficialDocument& doc, const Roster* roster) {
  std::vector<std::string> codes;
  auto add = [&](const std::string& code) {
    if (!code.empty() && std::find(codes.begin(), codes.end(), code) == codes.end())
      codes.push_back(code);
  };
  if (!doc.roster_file.empty()) {
    if (roster == nullptr)
      return Status::InvalidArgument("the document's recipients are in its roster " +
                                     doc.roster_file + ": give that SW file too");
    for (const RosterEntry& e : roster->entries) add(e.agency_code);
    if (codes.empty())
      return Status::InvalidArgument("the roster " + doc.roster_file +
                                     " lists no agency code: the document goes to no one");
    return codes;
  }
  for (const DocumentParty& p : doc.recipients) add(p.agency_code);
  if (codes.empty())
    return Status::InvalidArgument(
        "the document names no recipient agency code (受文者 機關代碼): it goes to no one");
  return codes;
}

Status CheckAttachments(const OfficialDocument& doc, const std::vector<std::string>& file_names) {
  std::vector<std::string> problems;
  std::set<std::string> given;
  for (const std::string& name : file_names) {
    if (!given.insert(name).second) problems.push_back(ToValidUtf8(name) + " is given twice");
  }
  std::set<std::string> declared;
  for (const DocumentAttachment& a : doc.attachments) {
    if (!declared.insert(a.file_name).second) continue;
    if (given.count(a.file_name) == 0)
      problems.push_back("the attachment " + a.entity + " (" + a.file_name +
                         ") is declared but not given");
  }
  if (!doc.roster_file.empty() && declared.insert(doc.roster_file).second &&
      given.count(doc.roster_file) == 0)
    problems.push_back("the roster " + doc.roster_file + " (SW file, 受文者 交換表) is not given");
  for (const std::string& name : given) {
    if (declared.count(name) == 0)
      problems.push_back(ToValidUtf8(name) + " is given but the document does not declare it");
  }
  if (problems.empty()) return Status::Ok();
  std::string message;
  for (const std::string& p : problems) message += (message.empty() ? "" : "; ") + p;
  return Status::InvalidArgument(std::move(message));
}

}  // namespace tessera::exchange
