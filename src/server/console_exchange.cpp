#include "server/console_exchange.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <variant>

#include "base/bytes.hpp"
#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/utf8.hpp"
#include "exchange/document.hpp"
#include "exchange/document_render.hpp"
#include "exchange/health.hpp"

namespace tessera::server {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kMaxTextBytes = 64 * 1024;         // one field of a 函
constexpr size_t kMaxParagraphs = 99;               // 說明 一、 … 九十九、
constexpr size_t kMaxRecipients = 500;              // 正本 and 副本 together
constexpr size_t kMaxAttachments = 50;              // files of one 函
constexpr size_t kMaxBodyBytes = size_t{32} << 20;  // the request, attachments in base64
                                                    // (console_server takes as much)

std::string Rfc3339(int64_t unix_seconds) {
  return unix_seconds > 0 ? FormatRfc3339(unix_seconds * 1000000000) : "";
}

struct FieldProblem {
  std::string field, message;
};

// A text field: valid UTF-8, no control characters (line breaks only where `lines`),
// not longer than kMaxTextBytes; leading and trailing white space removed.
std::optional<FieldProblem> CheckText(const std::string& field, std::string& value, bool required,
                                      bool lines) {
  const size_t first = value.find_first_not_of(" \t\r\n");
  value = first == std::string::npos
              ? std::string()
              : value.substr(first, value.find_last_not_of(" \t\r\n") - first + 1);
  if (required && value.empty()) return FieldProblem{field, "is required"};
  if (value.size() > kMaxTextBytes)
    return FieldProblem{field, "is longer than " + std::to_string(kMaxTextBytes) + " bytes"};
  if (!IsValidUtf8(value)) return FieldProblem{field, "is not valid UTF-8"};
  for (unsigned char c : value)
    if ((c < 0x20 && !(lines && (c == '\n' || c == '\t'))) || c == 0x7f)
      return FieldProblem{
          field, lines ? "holds a control character" : "holds a control character or a line break"};
  return std::nullopt;
}

// 一 … 九十九, for 說明's numbers.
std::string ChineseNumber(size_t n) {
  static const char* digits[] = {"", "一", "二", "三", "四", "五", "六", "七", "八", "九"};
  if (n < 10) return digits[n];
  return std::string(n >= 20 ? digits[n / 10] : "") + "十" + digits[n % 10];
}

// 中華民國115年12月4日: today in Taiwan (UTC+8).
std::string RocDate(int64_t now) {
  const std::time_t t = static_cast<std::time_t>(now + 8 * 3600);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return "中華民國" + std::to_string(tm.tm_year + 1900 - 1911) + "年" +
         std::to_string(tm.tm_mon + 1) + "月" + std::to_string(tm.tm_mday) + "日";
}

// A document id as the gateway makes them, safe as a directory name.
bool IsItemId(std::string_view id) {
  return !id.empty() && id.size() <= 128 && id.front() != '.' &&
         std::all_of(id.begin(), id.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '-' || c == '_' || c == '.';
         });
}

// --- composing a 函 ---------------------------------------------------------------------

constexpr char kDiName[] = "letter.di";
constexpr char kSwName[] = "letter.sw";

struct Composed {
  std::string di, sw;  // sw empty: one recipient, named in 受文者
  std::vector<std::pair<std::string, Bytes>> attachments;
  std::vector<std::string> to, cc;
};

// The request's fields as a 函 from `agency`, or the field that is wrong.
std::variant<Composed, FieldProblem> Compose(const json& body, const exchange::Registry& reg,
                                             const std::string& agency, const std::string& account,
                                             int64_t now) {
  static const std::set<std::string> known = {
      "subject",          "paragraphs", "to",     "cc",      "speed",   "secrecy",
      "declassification", "date",       "number", "address", "contact", "signature",
      "attachment_note",  "attachments"};
  for (const auto& [key, value] : body.items())
    if (!known.count(key)) return FieldProblem{key, "is not a field of a 函 (see docs/api.md)"};
  auto text = [&](const char* name, bool required, bool lines,
                  std::string& out) -> std::optional<FieldProblem> {
    if (!body.contains(name) || body[name].is_null()) {
      if (required) return FieldProblem{name, "is required"};
      return std::nullopt;
    }
    if (!body[name].is_string()) return FieldProblem{name, "must be a string"};
    out = body[name].get<std::string>();
    return CheckText(name, out, required, lines);
  };
  auto list = [&](const char* name, std::vector<std::string>& out,
                  bool lines) -> std::optional<FieldProblem> {
    if (!body.contains(name) || body[name].is_null()) return std::nullopt;
    const json& v = body[name];
    if (v.is_string()) {
      out.push_back(v.get<std::string>());
    } else if (v.is_array()) {
      for (const json& e : v) {
        if (!e.is_string()) return FieldProblem{name, "must be a list of strings"};
        out.push_back(e.get<std::string>());
      }
    } else {
      return FieldProblem{name, "must be a list of strings"};
    }
    for (size_t i = 0; i < out.size(); ++i)
      if (auto p =
              CheckText(std::string(name) + "[" + std::to_string(i) + "]", out[i], true, lines))
        return p;
    return std::nullopt;
  };

  const exchange::Agency* sender = reg.FindAgency(agency);
  if (sender == nullptr)
    return FieldProblem{"from", "this gateway's agency " + agency + " is not in the registry"};

  std::string subject, speed, secrecy, declassification, date, number, address, signature, note;
  std::vector<std::string> paragraphs, contact;
  Composed c;
  if (auto p = text("subject", true, false, subject)) return *p;
  if (auto p = list("paragraphs", paragraphs, true)) return *p;
  if (paragraphs.size() > kMaxParagraphs)
    return FieldProblem{"paragraphs", "at most " + std::to_string(kMaxParagraphs)};
  if (auto p = list("to", c.to, false)) return *p;
  if (auto p = list("cc", c.cc, false)) return *p;
  if (auto p = text("speed", false, false, speed)) return *p;
  if (!speed.empty() && speed != "普通件" && speed != "速件" && speed != "最速件")
    return FieldProblem{"speed", "must be 普通件, 速件 or 最速件 (速別)"};
  if (auto p = text("secrecy", false, false, secrecy)) return *p;
  if (!secrecy.empty() && secrecy != "密" && secrecy != "機密" && secrecy != "極機密" &&
      secrecy != "絕對機密")
    return FieldProblem{"secrecy", "must be 密, 機密, 極機密 or 絕對機密 (密等), or empty"};
  if (auto p = text("declassification", false, false, declassification)) return *p;
  if (auto p = text("date", false, false, date)) return *p;
  if (auto p = text("number", false, false, number)) return *p;
  if (auto p = text("address", false, false, address)) return *p;
  if (auto p = list("contact", contact, false)) return *p;
  if (auto p = text("signature", false, false, signature)) return *p;
  if (auto p = text("attachment_note", false, false, note)) return *p;

  // Recipients: registered, not suspended, not the sender, each once.
  if (c.to.empty()) return FieldProblem{"to", "name at least one recipient (正本) by agency code"};
  if (c.to.size() + c.cc.size() > kMaxRecipients)
    return FieldProblem{"to", "at most " + std::to_string(kMaxRecipients) + " recipients"};
  std::set<std::string> seen;
  for (const auto* field : {"to", "cc"}) {
    const std::vector<std::string>& codes = std::string(field) == "to" ? c.to : c.cc;
    for (const std::string& code : codes) {
      const exchange::Agency* a = reg.FindAgency(code);
      if (a == nullptr) return FieldProblem{field, code + " is not an agency of the registry"};
      if (a->suspension)
        return FieldProblem{field, code + " is suspended (" + a->suspension->reason +
                                       "): it can receive nothing until it is resumed"};
      if (code == agency) return FieldProblem{field, code + " is this agency itself"};
      if (!seen.insert(code).second) return FieldProblem{field, code + " is named twice"};
    }
  }

  // Attachments: plain, distinct names; content in base64.
  if (body.contains("attachments") && !body["attachments"].is_null()) {
    const json& list_of = body["attachments"];
    if (!list_of.is_array())
      return FieldProblem{"attachments", "must be a list of {\"name\", \"content_base64\"}"};
    if (list_of.size() > kMaxAttachments)
      return FieldProblem{"attachments", "at most " + std::to_string(kMaxAttachments)};
    std::set<std::string> names = {kDiName, kSwName};
    for (size_t i = 0; i < list_of.size(); ++i) {
      const std::string field = "attachments[" + std::to_string(i) + "]";
      const json& a = list_of[i];
      if (!a.is_object() || !a.contains("name") || !a["name"].is_string() ||
          !a.contains("content_base64") || !a["content_base64"].is_string())
        return FieldProblem{field, "must be {\"name\": …, \"content_base64\": …}"};
      const std::string name = a["name"];
      if (!exchange::IsPlainFileName(name) || name.size() > 255 ||
          name.find_first_of("\"'<>&%") != std::string::npos)
        return FieldProblem{field + ".name",
                            "must be a plain file name (no directories, quotes, <, >, & or %)"};
      if (!names.insert(name).second)
        return FieldProblem{field + ".name", name + " is used twice (or is the letter's own)"};
      Result<Bytes> content = Base64Decode(a["content_base64"].get<std::string>());
      if (!content.ok()) return FieldProblem{field + ".content_base64", "is not valid base64"};
      c.attachments.emplace_back(name, std::move(*content));
    }
  }
  const bool roster = c.to.size() + c.cc.size() > 1;
  const bool with_attachments = !c.attachments.empty();

  if (date.empty()) date = RocDate(now);
  if (number.empty()) {
    const std::time_t t = static_cast<std::time_t>(now + 8 * 3600);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char serial[32];
    std::snprintf(serial, sizeof serial, "%03d%02d%02d%02d%02d%02d", tm.tm_year + 1900 - 1911,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    number = "第" + std::string(serial) + "號";
  }
  if (contact.empty()) contact.push_back("承辦人：" + account);
  if (with_attachments && note.empty()) note = "如文";

  // The DI.
  std::string& di = c.di;
  di = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE 函 SYSTEM \"104_2_utf8.dtd\"";
  if (roster || with_attachments) {
    di += " [\n";
    if (roster) di += "<!ENTITY 表單 SYSTEM \"" + std::string(kSwName) + "\" NDATA DI>\n";
    for (size_t i = 0; i < c.attachments.size(); ++i)
      di += "<!ENTITY ATTCH" + std::to_string(i + 1) + " SYSTEM \"" + c.attachments[i].first +
            "\" NDATA _X>\n";
    if (roster) di += "<!NOTATION DI SYSTEM \"\">\n";
    if (with_attachments) di += "<!NOTATION _X SYSTEM \"\">\n";
    di += "]";
  }
  di += ">\n<函>\n";
  di += "<發文機關><全銜>" + HtmlEscape(sender->name) + "</全銜><機關代碼>" +
        HtmlEscape(sender->code) + "</機關代碼></發文機關>\n";
  di += "<函類別 代碼=\"函\"/>\n";
  di += "<地址>" + HtmlEscape(address) + "</地址>\n";
  for (const std::string& line : contact) di += "<聯絡方式>" + HtmlEscape(line) + "</聯絡方式>\n";
  if (roster) {
    di += "<受文者><交換表 交換表單=\"表單\">如正副本行文單位</交換表></受文者>\n";
  } else {
    const exchange::Agency* to = reg.FindAgency(c.to.front());
    di += "<受文者><全銜>" + HtmlEscape(to->name) + "</全銜><機關代碼>" + HtmlEscape(to->code) +
          "</機關代碼></受文者>\n";
  }
  di += "<發文日期><年月日>" + HtmlEscape(date) + "</年月日></發文日期>\n";
  di += "<發文字號><文字>" + HtmlEscape(number) + "</文字></發文字號>\n";
  if (!speed.empty()) di += "<速別 代碼=\"" + HtmlEscape(speed) + "\"/>\n";
  if (!secrecy.empty() || !declassification.empty()) {
    di += "<密等及解密條件或保密期限><密等";
    if (!secrecy.empty()) di += " 代碼=\"" + HtmlEscape(secrecy) + "\"";
    di += "/><解密條件或保密期限>" + HtmlEscape(declassification) +
          "</解密條件或保密期限></密等及解密條件或保密期限>\n";
  }
  if (with_attachments) {
    std::string entities;
    for (size_t i = 0; i < c.attachments.size(); ++i)
      entities += (i ? " ATTCH" : "ATTCH") + std::to_string(i + 1);
    di += "<附件><文字>" + HtmlEscape(note) + "</文字><附件檔名 附件名=\"" + entities +
          "\"/></附件>\n";
  } else if (!note.empty()) {
    di += "<附件><文字>" + HtmlEscape(note) + "</文字></附件>\n";
  }
  di += "<主旨><文字>" + HtmlEscape(subject) + "</文字></主旨>\n";
  if (paragraphs.size() == 1) {
    di += "<段落 段名=\"說明：\"><文字>" + HtmlEscape(paragraphs[0]) + "</文字></段落>\n";
  } else if (!paragraphs.empty()) {
    di += "<段落 段名=\"說明：\">";
    for (size_t i = 0; i < paragraphs.size(); ++i)
      di += "<條列 序號=\"" + ChineseNumber(i + 1) + "、\"><文字>" + HtmlEscape(paragraphs[i]) +
            "</文字></條列>";
    di += "</段落>\n";
  }
  di += "<正本>";
  for (const std::string& code : c.to)
    di += "<全銜>" + HtmlEscape(reg.FindAgency(code)->name) + "</全銜>";
  di += "</正本>\n";
  if (!c.cc.empty()) {
    di += "<副本>";
    for (const std::string& code : c.cc) {
      di += "<全銜>" + HtmlEscape(reg.FindAgency(code)->name) + "</全銜>";
      if (with_attachments) di += "<含附件>含附件</含附件>";
    }
    di += "</副本>\n";
  }
  if (!signature.empty()) di += "<署名>" + HtmlEscape(signature) + "</署名>\n";
  di += "</函>\n";

  // The SW (交換表單), for more than one recipient.
  if (roster) {
    std::string& sw = c.sw;
    sw = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!DOCTYPE 交換表單 SYSTEM "
         "\"104_roster_utf8.dtd\">\n<交換表單>\n";
    auto entry = [&](const std::string& code, const char* kind) {
      const exchange::Agency* a = reg.FindAgency(code);
      sw += "<全銜>" + HtmlEscape(a->name) + "</全銜><機關代碼>" + HtmlEscape(a->code) +
            "</機關代碼>";
      sw += with_attachments ? "<含附件>含附件</含附件>" : "<含附件>不含附件</含附件>";
      sw += "<本別><收發處理本別 代碼=\"" + std::string(kind) + "\"/></本別>\n";
    };
    for (const std::string& code : c.to) entry(code, "正本");
    for (const std::string& code : c.cc) entry(code, "副本");
    sw += "</交換表單>\n";
  }
  return c;
}

json PartyJson(const exchange::DocumentParty& p) {
  return {{"name", p.name},
          {"title", p.title},
          {"agency_code", p.agency_code},
          {"unit_code", p.unit_code}};
}

json ItemsJson(const std::vector<exchange::DocumentItem>& items) {
  json out = json::array();
  for (const auto& i : items)
    out.push_back({{"number", i.number}, {"text", i.text}, {"items", ItemsJson(i.items)}});
  return out;
}

json DocumentFields(const exchange::OfficialDocument& doc) {
  json recipients = json::array();
  for (const auto& r : doc.recipients) recipients.push_back(PartyJson(r));
  json paragraphs = json::array();
  for (const auto& p : doc.paragraphs)
    paragraphs.push_back({{"name", p.name}, {"text", p.text}, {"items", ItemsJson(p.items)}});
  return {{"kind", std::string(exchange::DocumentKindName(doc.kind))},
          {"type", doc.letter_type},
          {"sender", PartyJson(doc.sender)},
          {"address", doc.address},
          {"contact", doc.contact},
          {"recipients", recipients},
          {"roster_file", doc.roster_file},
          {"date", doc.date},
          {"number", doc.number},
          {"speed", doc.speed},
          {"secrecy", doc.classification},
          {"declassification", doc.declassification},
          {"attachment_note", doc.attachment_note},
          {"subject", doc.subject},
          {"paragraphs", paragraphs},
          {"original_to", doc.original_to},
          {"copy_to", doc.copy_to},
          {"signatures", doc.signatures}};
}

json RecipientsJson(const std::vector<exchange::RecipientState>& list) {
  json out = json::array();
  for (const auto& r : list)
    out.push_back({{"recipient", r.recipient},
                   {"state", r.state},
                   {"updated_at", Rfc3339(r.at)},
                   {"reason_code", r.reason_code},
                   {"reason", r.reason}});
  return out;
}

enum class Need { kRead, kSend, kOperate };

}  // namespace

ExchangeApi::ExchangeApi(fs::path home, ExchangeSettings settings, GatewayOpener open,
                         RegistryLoader registry)
    : home_(std::move(home)),
      settings_(std::move(settings)),
      open_(std::move(open)),
      registry_(std::move(registry)),
      ops_(std::make_shared<ExchangeOpsApi>(home_, "", false)) {
  if (!open_) {
    open_ = [home = home_,
             s = settings_](bool for_sending) -> Result<std::unique_ptr<exchange::Gateway>> {
      if (for_sending) return OpenGateway(home, s);
      // Reading needs no scanner: one that refuses everything, should it be asked.
      TESSERA_ASSIGN_OR_RETURN(exchange::GatewayConfig config, BaseGatewayConfig(home, s));
      config.scan = [](const fs::path&) -> Result<std::string> {
        return Status::FailedPrecondition("the console's reading gateway does not scan");
      };
      return exchange::Gateway::Open(std::move(config));
    };
  }
  if (!registry_) registry_ = [home = home_, s = settings_] { return HostRegistry(home, s); };
}

ExchangeApi::~ExchangeApi() = default;

Result<exchange::Gateway*> ExchangeApi::Gateway(bool for_sending) {
  std::unique_ptr<exchange::Gateway>& g = for_sending ? sender_ : reader_;
  if (!g) {
    TESSERA_ASSIGN_OR_RETURN(g, open_(for_sending));
  }
  return g.get();
}

std::vector<std::string> ExchangeApi::roles() const {
  std::vector<std::string> r;
  if (!settings_.agency.empty()) r.push_back("gateway");
  for (const std::string& x : ops_->roles()) r.push_back(x);
  return r;
}

ApiResponse ExchangeApi::Handle(const ApiCall& call) {
  const Session& s = call.session;
  const std::vector<std::string>& p = call.parts;  // {"exchange", …}
  const std::string& method = call.request.method;
  const int64_t now = call.request.now > 0 ? call.request.now : NowUnixSeconds();

  // Who may: answers 403 (recorded) when the session may not do `need` here.
  auto refuse = [&](Need need, const std::string& action,
                    const std::string& target) -> std::optional<ApiResponse> {
    std::string why;
    const std::string who = s.account + " (" + std::string(RoleName(s.role)) + ")";
    switch (s.role) {
      case Role::kClerk:
        if (need == Need::kOperate)
          why = who + " may not see the exchange's operation (operators and admins do)";
        else if (s.agency != settings_.agency)
          why = who + " works for agency " + (s.agency.empty() ? "(none)" : s.agency) +
                ", not for " + settings_.agency + ", whose gateway this is";
        break;
      case Role::kAuditor:
      case Role::kRecords:
        if (need == Need::kSend) why = who + " reads official documents but does not send them";
        if (need == Need::kOperate)
          why = who + " may not see the exchange's operation (operators and admins do)";
        break;
      case Role::kOperator:
        // Operators run the exchange (registry, health, suspensions); the agency's clerks
        // and the admins send its 函.
        if (need == Need::kSend)
          why = who + " runs the exchange and does not send official documents (the agency's " +
                "clerks and admins do)";
        break;
      case Role::kAdmin:
        break;
    }
    if (why.empty()) return std::nullopt;
    if (Status st = call.audit(action, target, "denied: " + why); !st.ok())
      return ErrorResponse(st);
    return ErrorResponse(403, "permission_denied", why);
  };
  auto not_found = [&] { return NoSuchResource(call); };

  if (ExchangeOpsApi::Handles(call)) {
    return ops_->Handle(call);
  }
  if (settings_.agency.empty())
    return ErrorResponse(503, "unavailable",
                         "this host is not an agency gateway ([exchange] agency is not set)");

  // GET /exchange/agencies
  if (p.size() == 2 && p[1] == "agencies" && method == "GET") {
    if (auto r = refuse(Need::kRead, "exchange.agencies", "")) return *r;
    Result<exchange::Registry> reg = registry_();
    if (!reg.ok()) return ErrorResponse(reg.status());
    json list = json::array();
    for (const exchange::Agency& a : reg->agencies)
      list.push_back({{"code", a.code},
                      {"name", a.name},
                      {"center", a.home_center},
                      {"suspended", a.suspension.has_value()}});
    return JsonResponse(200, {{"agency", settings_.agency}, {"agencies", list}});
  }

  // GET /exchange/health, /exchange/registry
  if (p.size() == 2 && p[1] == "health" && method == "GET") {
    if (auto r = refuse(Need::kOperate, "exchange.health", settings_.agency)) return *r;
    Result<RecordedHealth> h = ReadRecordedHealth(home_);
    if (!h.ok()) return ErrorResponse(h.status());
    json checks = json::array();
    for (const exchange::HealthCheck& c : h->checks)
      checks.push_back(exchange::HealthCheckToJson(c));
    return JsonResponse(200, {{"agency", settings_.agency},
                              {"checked_at", Rfc3339(h->checked_at)},
                              {"ok", exchange::FailedChecks(h->checks).empty()},
                              {"failed", exchange::FailedChecks(h->checks)},
                              {"checks", checks}});
  }
  if (p.size() == 2 && p[1] == "registry" && method == "GET") {
    if (auto r = refuse(Need::kOperate, "exchange.registry", "")) return *r;
    Result<exchange::Registry> reg = registry_();
    if (!reg.ok()) return ErrorResponse(reg.status());
    json agencies = json::array();
    for (const exchange::Agency& a : reg->agencies) {
      json certs = json::array();
      for (const std::string& pem : a.certificates) {
        auto c = exchange::SummarizeCertificate(pem);
        if (!c.ok()) {
          certs.push_back({{"error", c.status().message()}});
          continue;
        }
        certs.push_back({{"fingerprint", c->fingerprint},
                         {"subject", c->subject},
                         {"not_after", Rfc3339(c->not_after)},
                         {"expired", c->not_after <= now},
                         {"days_left", (c->not_after - now) / 86400},
                         {"key", c->key}});
      }
      json suspension = nullptr;
      if (a.suspension)
        suspension = {{"reason", a.suspension->reason},
                      {"note", a.suspension->note},
                      {"by", a.suspension->by},
                      {"at", Rfc3339(a.suspension->at)}};
      agencies.push_back({{"code", a.code},
                          {"name", a.name},
                          {"center", a.home_center},
                          {"group", a.group},
                          {"addresses", a.addresses},
                          {"ranges_allowed", a.ranges_allowed},
                          {"suspension", suspension},
                          {"certificates", certs}});
    }
    json centers = json::array();
    for (const exchange::Center& c : reg->centers)
      centers.push_back({{"id", c.id}, {"url", c.url}, {"addresses", c.addresses}});
    return JsonResponse(200, {{"network", reg->network},
                              {"serial", reg->serial},
                              {"issued_at", Rfc3339(reg->issued_at)},
                              {"expires_at", Rfc3339(reg->expires_at)},
                              {"revoked_fingerprints", reg->revoked_fingerprints},
                              {"centers", centers},
                              {"agencies", agencies}});
  }

  if (p.size() < 2 || p[1] != "documents") return not_found();

  // POST /exchange/documents
  if (p.size() == 2 && method == "POST") {
    if (auto r = refuse(Need::kSend, "exchange.send", settings_.agency)) return *r;
    if (call.request.body.size() > kMaxBodyBytes)
      return ErrorResponse(413, "too_large", "the document is larger than the console takes");
    const json body = json::parse(call.request.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object())
      return ErrorResponse(400, "invalid_argument",
                           "send a 函 as a JSON object: {\"subject\", \"paragraphs\", \"to\", …}");
    Result<exchange::Registry> reg = registry_();
    if (!reg.ok()) return ErrorResponse(reg.status());
    auto composed = Compose(body, *reg, settings_.agency, s.account, now);
    if (auto* problem = std::get_if<FieldProblem>(&composed)) {
      if (Status st = call.audit("exchange.send", settings_.agency,
                                 "refused: " + problem->field + ": " + problem->message);
          !st.ok())
        return ErrorResponse(st);
      return FieldError(problem->field, problem->message);
    }
    Composed& c = std::get<Composed>(composed);

    // The files, checked as `tessera exchange validate` checks them.
    static std::atomic<uint64_t> counter{0};
    const fs::path console_dir = ExchangeDir(home_) / "console";
    const fs::path staging = console_dir / "outgoing" /
                             (std::to_string(NowUnixNanos()) + "-" + std::to_string(++counter));
    struct Cleanup {
      fs::path dir;
      ~Cleanup() {
        std::error_code ec;
        if (!dir.empty()) fs::remove_all(dir, ec);
      }
    } cleanup{staging};
    if (Status st = MakeDirs(staging, 0700); !st.ok()) return ErrorResponse(st);
    exchange::SendRequest req;
    req.document = staging / kDiName;
    if (Status st = WriteFileAtomic(req.document, c.di, 0600); !st.ok()) return ErrorResponse(st);
    Result<exchange::OfficialDocument> doc = exchange::ParseDocument(ToBytes(c.di), kDiName);
    std::optional<exchange::Roster> roster;
    std::vector<std::string> names;
    if (doc.ok() && !c.sw.empty()) {
      req.roster = staging / kSwName;
      if (Status st = WriteFileAtomic(req.roster, c.sw, 0600); !st.ok()) return ErrorResponse(st);
      auto parsed = exchange::ParseRoster(ToBytes(c.sw), kSwName);
      if (!parsed.ok()) doc = parsed.status();
      if (parsed.ok()) roster = std::move(*parsed);
      names.push_back(kSwName);
    }
    for (const auto& [name, content] : c.attachments) {
      req.attachments.push_back(staging / name);
      if (Status st = WriteFileAtomic(req.attachments.back(), content, 0600); !st.ok())
        return ErrorResponse(st);
      names.push_back(name);
    }
    Status valid = doc.status();
    if (valid.ok()) valid = exchange::CheckAttachments(*doc, names);
    Result<std::vector<std::string>> codes =
        valid.ok() ? exchange::RecipientCodes(*doc, roster ? &*roster : nullptr)
                   : Result<std::vector<std::string>>(valid);
    if (!codes.ok()) {
      // The fields were checked one by one: what is left is the DTD's word on the whole.
      const std::string why = "the composed 函 is not valid: " + codes.status().message();
      if (Status st = call.audit("exchange.send", settings_.agency, "refused: " + why); !st.ok())
        return ErrorResponse(st);
      return FieldError("document", why);
    }
    std::string to_list;
    for (const std::string& code : *codes) to_list += (to_list.empty() ? "" : ",") + code;
    const std::string target = settings_.agency + " → " + to_list + ": " + doc->subject;
    if (Status st = call.audit("exchange.send", target, "sending"); !st.ok())
      return ErrorResponse(st);

    std::lock_guard lock(mu_);
    Result<exchange::Gateway*> gateway = Gateway(true);
    if (!gateway.ok()) {
      (void)call.audit("exchange.send", target, "failed: " + gateway.status().message());
      return ErrorResponse(gateway.status());
    }
    Result<exchange::SendResult> sent = (*gateway)->Send(req);
    if (!sent.ok()) {
      (void)call.audit("exchange.send", target, "failed: " + sent.status().message());
      if (sent.status().code() == StatusCode::kNotFound)
        return ErrorResponse(409, "failed_precondition", sent.status().message());
      return ErrorResponse(sent.status());
    }
    // Kept for showing: the files as sent, and who sent them.
    const fs::path kept = console_dir / "sent" / sent->id;
    std::error_code ec;
    if (Status st = MakeDirs(kept.parent_path(), 0700); st.ok()) {
      fs::rename(staging, kept, ec);
      if (!ec) {
        cleanup.dir.clear();
        (void)WriteFileAtomic(kept / "console.json",
                              json({{"document", kDiName},
                                    {"roster", c.sw.empty() ? "" : kSwName},
                                    {"account", s.account},
                                    {"sent_at", now}})
                                  .dump(),
                              0600);
      }
    }
    (void)call.audit("exchange.send", sent->id, "accepted by the center for " + to_list);
    return JsonResponse(
        201, {{"id", sent->id}, {"recipients", sent->recipients}, {"duplicate", sent->duplicate}});
  }
  if (method != "GET") return not_found();

  // GET /exchange/documents?box=sent|inbox
  if (p.size() == 2) {
    auto it = call.query.find("box");
    const std::string box = it == call.query.end() ? "sent" : it->second;
    if (box != "sent" && box != "inbox") return FieldError("box", "must be sent or inbox");
    if (auto r = refuse(Need::kRead, "exchange.list", box)) return *r;
    std::lock_guard lock(mu_);
    Result<exchange::Gateway*> gateway = Gateway(false);
    if (!gateway.ok()) return ErrorResponse(gateway.status());
    json list = json::array();
    if (box == "sent") {
      auto sent = (*gateway)->Sent();
      if (!sent.ok()) return ErrorResponse(sent.status());
      for (auto e = sent->rbegin(); e != sent->rend(); ++e)  // newest first
        list.push_back({{"id", e->id},
                        {"created_at", Rfc3339(e->created_at)},
                        {"subject", e->subject},
                        {"number", e->number},
                        {"recipients", RecipientsJson(e->recipients)}});
    } else {
      auto inbox = (*gateway)->Inbox();
      if (!inbox.ok()) return ErrorResponse(inbox.status());
      for (auto e = inbox->rbegin(); e != inbox->rend(); ++e)
        list.push_back({{"id", e->id},
                        {"sender", e->sender},
                        {"received_at", Rfc3339(e->received_at)},
                        {"state", e->state},
                        {"reason", e->reason},
                        {"subject", e->subject},
                        {"number", e->number}});
    }
    return JsonResponse(200, {{"agency", settings_.agency}, {"box", box}, {"documents", list}});
  }

  // GET /exchange/documents/{id}[/attachments/{n}]
  const std::string& id = p[2];
  const bool attachment = p.size() == 5 && p[3] == "attachments";
  if (p.size() != 3 && !attachment) return not_found();
  if (!IsItemId(id)) return FieldError("id", "is not a document id");
  std::optional<int64_t> index;
  if (attachment) {
    index = IdPart(p[4]);
    if (!index) return FieldError("attachment", "an attachment is named by its number");
  }
  const std::string action = attachment ? "exchange.export" : "exchange.show";
  if (auto r = refuse(Need::kRead, action, id)) return *r;

  json out = {{"id", id}, {"agency", settings_.agency}};
  fs::path files;
  std::string document;
  {
    std::lock_guard lock(mu_);
    Result<exchange::Gateway*> gateway = Gateway(false);
    if (!gateway.ok()) return ErrorResponse(gateway.status());
    auto sent = (*gateway)->Sent(id);  // NotFound (or none) when not sent from here
    if (!sent.ok() && sent.status().code() != StatusCode::kNotFound)
      return ErrorResponse(sent.status());
    if (sent.ok() && !sent->empty()) {
      const exchange::SentEntry& e = sent->front();
      out["box"] = "sent";
      out["sender"] = settings_.agency;
      out["created_at"] = Rfc3339(e.created_at);
      out["recipients"] = RecipientsJson(e.recipients);
      const fs::path kept = ExchangeDir(home_) / "console" / "sent" / id;
      std::error_code ec;
      if (fs::exists(kept / kDiName, ec)) {
        files = kept;
        document = kDiName;
      }
    } else {
      auto inbox = (*gateway)->Inbox();
      if (!inbox.ok()) return ErrorResponse(inbox.status());
      auto e = std::find_if(inbox->begin(), inbox->end(),
                            [&](const exchange::InboxEntry& x) { return x.id == id; });
      if (e == inbox->end()) {
        const std::string why =
            "no document " + id + " was sent or received by " + settings_.agency;
        if (Status st = call.audit(action, id, "not found"); !st.ok()) return ErrorResponse(st);
        return ErrorResponse(404, "not_found", why);
      }
      out["box"] = "inbox";
      out["sender"] = e->sender;
      out["received_at"] = Rfc3339(e->received_at);
      out["state"] = e->state;
      out["reason"] = e->reason;
      files = e->files;
      document = e->document;
    }
  }
  std::optional<exchange::OfficialDocument> doc;
  if (!files.empty() && !document.empty()) {
    Result<Bytes> di = ReadFile(files / document);
    if (!di.ok()) return ErrorResponse(di.status());
    auto parsed = exchange::ParseDocument(*di, document);
    if (!parsed.ok()) return ErrorResponse(parsed.status());
    doc = std::move(*parsed);
  }
  if (attachment) {
    if (!doc || static_cast<size_t>(*index) >= doc->attachments.size())
      return ErrorResponse(404, "not_found",
                           "document " + id + " has no attachment " + std::to_string(*index));
    const std::string name = doc->attachments[*index].file_name;
    if (!exchange::IsPlainFileName(name))
      return ErrorResponse(404, "not_found", "the attachment's name is not a plain file name");
    Result<Bytes> content = ReadFile(files / name);
    if (!content.ok()) return ErrorResponse(content.status());
    if (Status st = call.audit(action, id + " attachment " + name, "downloaded"); !st.ok())
      return ErrorResponse(st);
    ApiResponse r;
    r.content_type = "application/octet-stream";
    r.body.assign(reinterpret_cast<const char*>(content->data()), content->size());
    r.headers.emplace_back("Content-Disposition", AttachmentDisposition(name));
    return r;
  }
  if (Status st = call.audit(action, id, "viewed"); !st.ok()) return ErrorResponse(st);
  if (doc) {
    out["fields"] = DocumentFields(*doc);
    // RenderHtml escapes every text of the document (exchange/document_render.hpp).
    out["html"] = exchange::RenderHtml(*doc);
    out["text"] = exchange::RenderText(*doc);
    json attachments = json::array();
    for (size_t i = 0; i < doc->attachments.size(); ++i) {
      std::error_code ec;
      const auto size = fs::file_size(files / doc->attachments[i].file_name, ec);
      attachments.push_back({{"index", i},
                             {"name", doc->attachments[i].file_name},
                             {"size", ec ? json(nullptr) : json(size)}});
    }
    out["attachments"] = attachments;
  } else {
    // Sent by `tessera exchange send` (the console keeps no copy), or rejected on arrival.
    out["fields"] = nullptr;
    out["html"] = nullptr;
    out["text"] = nullptr;
    out["attachments"] = json::array();
  }
  return JsonResponse(200, out);
}

}  // namespace tessera::server
