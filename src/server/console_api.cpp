#include "server/console_api.hpp"

#include <algorithm>
#include <charconv>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>

#include "archive/access.hpp"
#include "archive/html_sanitizer.hpp"
#include "archive/message_store.hpp"
#include "archive/mime.hpp"
#include "archive/search_index.hpp"
#include "base/clock.hpp"
#include "guard/audit_log.hpp"
#include "server/console_exchange.hpp"

namespace tessera::server {

using nlohmann::json;

namespace {

constexpr size_t kMaxSearchLimit = 500;
constexpr size_t kMaxAuditLimit = 5000;

std::string Rfc3339(int64_t unix_seconds) {
  return FormatRfc3339(unix_seconds * 1000000000);
}

std::string Address(const archive::MailAddress& a) {
  if (a.name.empty()) return a.email;
  return a.name + " <" + a.email + ">";
}

json Addresses(const std::vector<archive::MailAddress>& list) {
  json out = json::array();
  for (const auto& a : list) out.push_back(Address(a));
  return out;
}

// A download's file name for Content-Disposition: an ASCII fallback and the UTF-8 name
// (RFC 6266, RFC 8187), so Chinese names arrive intact and nothing can break the header.
std::string Disposition(const std::string& name) {
  std::string ascii, encoded;
  static const char* hex = "0123456789ABCDEF";
  for (unsigned char c : name) {
    const bool plain = std::isalnum(c) || c == '.' || c == '-' || c == '_';
    ascii += plain ? static_cast<char>(c) : '_';
    if (plain) {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += hex[c >> 4];
      encoded += hex[c & 15];
    }
  }
  if (ascii.empty()) ascii = encoded = "download";
  return "attachment; filename=\"" + ascii + "\"; filename*=UTF-8''" + encoded;
}

// A content type safe to hand back for a download: a plain "type/subtype" token, else
// application/octet-stream (the browser is told to download in any case).
std::string DownloadType(const std::string& type) {
  const bool token = !type.empty() && type.size() < 128 &&
                     std::all_of(type.begin(), type.end(), [](unsigned char c) {
                       return std::isalnum(c) || c == '/' || c == '.' || c == '-' || c == '+';
                     });
  return token && type.find('/') != std::string::npos ? type : "application/octet-stream";
}

Result<size_t> ParseLimit(const std::map<std::string, std::string>& query, size_t fallback,
                          size_t max) {
  auto it = query.find("limit");
  if (it == query.end()) return fallback;
  size_t v = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || v < 1 || v > max)
    return Status::InvalidArgument("limit must be a number from 1 to " + std::to_string(max));
  return v;
}

std::optional<int64_t> ParseId(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < 0)
    return std::nullopt;
  return v;
}

std::vector<std::string_view> PathParts(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start < path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

}  // namespace

ApiResponse JsonResponse(int status, const json& body) {
  ApiResponse r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, json::error_handler_t::replace);
  return r;
}

ApiResponse ErrorResponse(int status, std::string_view code, const std::string& message) {
  return JsonResponse(status, {{"error", {{"code", code}, {"message", message}}}});
}

ApiResponse ErrorResponse(const Status& st) {
  switch (st.code()) {
    case StatusCode::kInvalidArgument:
      return ErrorResponse(400, "invalid_argument", st.message());
    case StatusCode::kPermissionDenied:
      return ErrorResponse(403, "permission_denied", st.message());
    case StatusCode::kNotFound:
      return ErrorResponse(404, "not_found", st.message());
    case StatusCode::kAlreadyExists:
      return ErrorResponse(409, "already_exists", st.message());
    case StatusCode::kFailedPrecondition:
      return ErrorResponse(409, "failed_precondition", st.message());
    case StatusCode::kUnavailable:
      return ErrorResponse(503, "unavailable", st.message());
    default:
      return ErrorResponse(500, "internal", st.ToString());
  }
}

std::string CookieValue(std::string_view header, std::string_view name) {
  size_t pos = 0;
  while (pos < header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = header.substr(pos, end - pos);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name)
      return std::string(pair.substr(eq + 1));
    pos = end + 1;
  }
  return "";
}

Result<std::string> PercentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      auto digit = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      const int hi = i + 1 < text.size() ? digit(text[i + 1]) : -1;
      const int lo = i + 2 < text.size() ? digit(text[i + 2]) : -1;
      if (hi < 0 || lo < 0)
        return Status::InvalidArgument("a bad percent escape in the request's address");
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

Result<std::pair<std::string, std::map<std::string, std::string>>> SplitTarget(
    std::string_view target) {
  const size_t q = target.find('?');
  TESSERA_ASSIGN_OR_RETURN(std::string path, PercentDecode(target.substr(0, q)));
  std::map<std::string, std::string> params;
  if (q != std::string_view::npos) {
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
      size_t amp = rest.find('&');
      std::string_view pair = rest.substr(0, amp);
      rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
      if (pair.empty()) continue;
      const size_t eq = pair.find('=');
      TESSERA_ASSIGN_OR_RETURN(std::string name, PercentDecode(pair.substr(0, eq)));
      std::string value;
      if (eq != std::string_view::npos) {
        TESSERA_ASSIGN_OR_RETURN(value, PercentDecode(pair.substr(eq + 1)));
      }
      params[name] = std::move(value);
    }
  }
  return std::make_pair(std::move(path), std::move(params));
}

struct ConsoleApi::Impl {
  std::filesystem::path home;
  AccountStore& accounts;
  ConsoleApiOptions options;
  std::shared_ptr<ExchangeApi> exchange;  // /api/v1/exchange (server/console_exchange.hpp)
  std::mutex attempts_mu;
  std::map<std::string, std::deque<int64_t>> attempts;  // guarded by attempts_mu

  Impl(std::filesystem::path h, AccountStore& a, ConsoleApiOptions o)
      : home(std::move(h)), accounts(a), options(o), exchange(options.exchange) {}

  ApiResponse Route(const ApiRequest& request);
  ApiResponse SignIn(const ApiRequest& request);
  ApiResponse SessionAnswer(const Session& s, int status);
  // The remaining seconds of a client address's sign-in limit, or 0 when it may try; an
  // attempt is counted either way.
  int64_t CountAttempt(const std::string& address, int64_t now);
  Status Audit(const Session& s, const std::string& action, const std::string& target,
               const std::string& outcome);
  // Who the session is to the archive, or PermissionDenied (recorded) when they may not
  // do `permission` there.
  Result<archive::Principal> ArchivePrincipal(const Session& s, archive::MessageStore& store,
                                              archive::Permission permission,
                                              const std::string& action, const std::string& target);
  // NotFound (recorded) when the principal may not read message `id`, or it is not there.
  Status MayRead(const Session& s, archive::MessageStore& store, const archive::Principal& who,
                 int64_t id, const std::string& action);
  ApiResponse Search(const Session& s, const ApiCall& call);
  // `rest`: the parts of the path after the message's id.
  ApiResponse Message(const Session& s, int64_t id, const std::vector<std::string>& rest,
                      const std::string& path);
  ApiResponse AuditLog(const Session& s, const ApiCall& call);
  ApiResponse Accounts(const Session& s);
};

ConsoleApi::ConsoleApi(std::filesystem::path home, AccountStore& accounts,
                       ConsoleApiOptions options)
    : impl_(std::make_unique<Impl>(std::move(home), accounts, options)) {}

ConsoleApi::~ConsoleApi() = default;

ApiResponse ConsoleApi::Handle(const ApiRequest& request) {
  try {
    ApiResponse r = impl_->Route(request);
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
  } catch (const std::exception& e) {
    return ErrorResponse(500, "internal", std::string("the server failed: ") + e.what());
  }
}

int64_t ConsoleApi::Impl::CountAttempt(const std::string& address, int64_t now) {
  std::lock_guard lock(attempts_mu);
  if (attempts.size() > 10000) {  // forget addresses whose attempts are all old
    for (auto it = attempts.begin(); it != attempts.end();)
      it = it->second.empty() || it->second.back() <= now - options.sign_in_window
               ? attempts.erase(it)
               : std::next(it);
  }
  std::deque<int64_t>& times = attempts[address];
  while (!times.empty() && times.front() <= now - options.sign_in_window) times.pop_front();
  if (static_cast<int>(times.size()) >= options.sign_in_limit)
    return std::max<int64_t>(1, times.front() + options.sign_in_window - now);
  times.push_back(now);
  return 0;
}

Status ConsoleApi::Impl::Audit(const Session& s, const std::string& action,
                               const std::string& target, const std::string& outcome) {
  TESSERA_ASSIGN_OR_RETURN(auto log, guard::AuditLog::Open(home));
  Status st = log->Append("console:" + s.account, action, target, outcome);
  if (!st.ok())
    return Status(st.code(), "the audit log could not record this " + action + " (" + st.message() +
                                 "); it is refused until the log can");
  return st;
}

ApiResponse ConsoleApi::Impl::SessionAnswer(const Session& s, int status) {
  Result<Account> a = accounts.Get(s.account);
  if (!a.ok()) return ErrorResponse(a.status());
  return JsonResponse(status, {{"account", s.account},
                               {"display_name", a->display_name},
                               {"role", RoleName(s.role)},
                               {"agency", s.agency},
                               {"csrf", s.csrf},
                               {"expires_at", Rfc3339(s.expires_at)}});
}

ApiResponse ConsoleApi::Impl::SignIn(const ApiRequest& request) {
  const std::string& address = request.client_address;
  if (int64_t wait = CountAttempt(address, request.now); wait > 0) {
    ApiResponse r = ErrorResponse(429, "too_many_requests",
                                  "too many sign-in attempts from " + address + "; try again in " +
                                      std::to_string(wait) + " s");
    r.headers.emplace_back("Retry-After", std::to_string(wait));
    return r;
  }
  json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object() || !body.contains("name") || !body["name"].is_string() ||
      !body.contains("password") || !body["password"].is_string() ||
      (body.contains("totp") && !body["totp"].is_string()))
    return ErrorResponse(400, "invalid_argument",
                         "sign in with a JSON object: {\"name\": …, \"password\": …, \"totp\": …}");
  const std::string name = body["name"];
  Result<Session> s = accounts.SignIn(name, body["password"], body.value("totp", ""), request.now);
  // Recorded under the name tried, which need not exist: the SOC sees guessing too.
  Session who;
  who.account = IsValidAccountName(name) ? name : "(invalid name)";
  if (!s.ok()) {
    const bool locked = s.status().code() == StatusCode::kFailedPrecondition;
    if (Status st =
            Audit(who, "console.sign-in", address,
                  std::string("refused: ") + (locked ? "locked" : "wrong name, password or code"));
        !st.ok())
      return ErrorResponse(st);
    if (locked) return ErrorResponse(423, "locked", s.status().message());
    if (s.status().code() == StatusCode::kPermissionDenied)
      return ErrorResponse(401, "unauthenticated", s.status().message());
    return ErrorResponse(s.status());
  }
  if (Status st =
          Audit(*s, "console.sign-in", address, "signed in as " + std::string(RoleName(s->role)));
      !st.ok()) {
    (void)accounts.SignOut(s->token);
    return ErrorResponse(st);
  }
  ApiResponse r = SessionAnswer(*s, 200);
  r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) + "=" + s->token +
                                           "; Path=/; Secure; HttpOnly; SameSite=Strict");
  return r;
}

Result<archive::Principal> ConsoleApi::Impl::ArchivePrincipal(const Session& s,
                                                              archive::MessageStore& store,
                                                              archive::Permission permission,
                                                              const std::string& action,
                                                              const std::string& target) {
  TESSERA_ASSIGN_OR_RETURN(auto registry, archive::AccessRegistry::Open(store));
  Result<archive::Principal> who = registry->Resolve(s.account);
  if (who.ok() && !who->access_control_on) {
    // No archive roles yet: the console's role decides.
    switch (s.role) {
      case Role::kAdmin:
        who->role = archive::Role::kAdmin;
        break;
      case Role::kAuditor:
        who->role = archive::Role::kAuditor;
        break;
      case Role::kRecords:
        who->role = archive::Role::kRecords;
        break;
      default:
        who = Status::PermissionDenied(
            s.account + " (" + std::string(RoleName(s.role)) +
            ") has no access to archived mail: an archive admin grants it with `tessera archive "
            "users grant " +
            s.account + " --role clerk --address …`");
    }
  }
  Status denied = who.status();
  if (who.ok() && !archive::Allows(who->role, permission))
    denied = Status::PermissionDenied(s.account + " (" + archive::RoleName(who->role) +
                                      " in the archive) may not do this (" + action + ")");
  if (!denied.ok()) {
    TESSERA_RETURN_IF_ERROR(Audit(s, action, target, "denied: " + denied.message()));
    return denied;
  }
  return who;
}

Status ConsoleApi::Impl::MayRead(const Session& s, archive::MessageStore& store,
                                 const archive::Principal& who, int64_t id,
                                 const std::string& action) {
  Result<archive::StoredMessage> m = store.Find(id);
  if (!m.ok() && m.status().code() != StatusCode::kNotFound) return m.status();
  bool mine = m.ok() && archive::Allows(who.role, archive::Permission::kReadAllMail);
  if (m.ok() && !mine) {
    TESSERA_ASSIGN_OR_RETURN(auto index,
                             archive::SearchIndex::OpenForReading(home / "archive" / "index"));
    Result<bool> involves = archive::Involves(store, *index, id, who.addresses);
    if (!involves.ok() && involves.status().code() != StatusCode::kNotFound)
      return involves.status();
    mine = involves.ok() && *involves;
  }
  if (mine) return Status::Ok();
  // Not theirs, or not there: the same answer, so that ids do not tell what exists.
  const std::string reason =
      "message " + std::to_string(id) + " is not " + s.account + "'s mail (or does not exist)";
  TESSERA_RETURN_IF_ERROR(Audit(s, action, std::to_string(id), "denied: " + reason));
  return Status::NotFound(reason);
}

ApiResponse ConsoleApi::Impl::Search(const Session& s, const ApiCall& call) {
  auto q_it = call.query.find("q");
  const std::string asked = q_it == call.query.end() ? "" : q_it->second;
  Result<size_t> limit = ParseLimit(call.query, 50, kMaxSearchLimit);
  if (!limit.ok()) return ErrorResponse(limit.status());
  Result<archive::SearchQuery> q = archive::ParseSearchQuery(asked);
  if (!q.ok()) return ErrorResponse(q.status());
  q->limit = *limit;
  auto store = archive::MessageStore::Open(home / "archive");
  if (!store.ok()) return ErrorResponse(store.status());
  auto who =
      ArchivePrincipal(s, **store, archive::Permission::kReadOwnMail, "archive.search", asked);
  if (!who.ok()) return ErrorResponse(who.status());
  auto index = archive::SearchIndex::OpenForReading(home / "archive" / "index");
  if (!index.ok()) return ErrorResponse(index.status());
  if (!archive::Allows(who->role, archive::Permission::kReadAllMail)) {
    auto mine = archive::MessagesOf(**store, **index, who->addresses);
    if (!mine.ok()) return ErrorResponse(mine.status());
    q->within = std::move(*mine);
  }
  Result<archive::SearchResults> r = (*index)->Search(*q);
  if (!r.ok()) return ErrorResponse(r.status());
  if (Status st = Audit(s, "archive.search", asked, std::to_string(r->matches) + " matches");
      !st.ok())
    return ErrorResponse(st);
  json hits = json::array();
  for (const auto& h : r->hits)
    hits.push_back({{"id", h.message},
                    {"date", h.date ? json(Rfc3339(*h.date)) : json(nullptr)},
                    {"message_id", h.message_id},
                    {"from", h.from},
                    {"subject", h.subject},
                    {"recipients", h.recipients},
                    {"attachments", h.attachments}});
  return JsonResponse(200, {{"matches", r->matches}, {"hits", hits}});
}

ApiResponse ConsoleApi::Impl::Message(const Session& s, int64_t id,
                                      const std::vector<std::string>& rest,
                                      const std::string& path) {
  // /messages/{id}, /messages/{id}/eml, /messages/{id}/attachments/{n}
  const bool eml = rest.size() == 1 && rest[0] == "eml";
  const bool attachment = rest.size() == 2 && rest[0] == "attachments";
  if (!rest.empty() && !eml && !attachment)
    return ErrorResponse(404, "not_found", "no such resource: " + path);
  std::optional<int64_t> index_of;
  if (attachment) {
    index_of = ParseId(rest[1]);
    if (!index_of)
      return ErrorResponse(400, "invalid_argument", "an attachment is named by its number");
  }
  const std::string action = rest.empty() ? "archive.show" : "archive.export";
  auto store = archive::MessageStore::Open(home / "archive");
  if (!store.ok()) return ErrorResponse(store.status());
  auto who =
      ArchivePrincipal(s, **store, archive::Permission::kReadOwnMail, action, std::to_string(id));
  if (!who.ok()) return ErrorResponse(who.status());
  if (Status st = MayRead(s, **store, *who, id, action); !st.ok()) return ErrorResponse(st);
  Result<archive::StoredMessage> m = (*store)->Find(id);
  if (!m.ok()) return ErrorResponse(m.status());

  if (eml) {
    Result<Bytes> raw = (*store)->Raw(id);
    if (!raw.ok()) return ErrorResponse(raw.status());
    if (Status st = Audit(s, action, std::to_string(id), "downloaded as EML"); !st.ok())
      return ErrorResponse(st);
    ApiResponse r;
    r.content_type = "message/rfc822";
    r.body.assign(reinterpret_cast<const char*>(raw->data()), raw->size());
    r.headers.emplace_back("Content-Disposition",
                           Disposition("message-" + std::to_string(id) + ".eml"));
    return r;
  }
  Result<archive::ParsedMessage> parsed = (*store)->Parse(*m, options.max_part_bytes);
  if (!parsed.ok()) return ErrorResponse(parsed.status());
  if (attachment) {
    if (*index_of >= static_cast<int64_t>(parsed->attachments.size()))
      return ErrorResponse(
          404, "not_found",
          "message " + std::to_string(id) + " has no attachment " + std::to_string(*index_of));
    const archive::MailAttachment& a = parsed->attachments[*index_of];
    if (a.content_omitted)
      return ErrorResponse(409, "failed_precondition",
                           "the attachment is too large for the console; export the message "
                           "with `tessera archive export`");
    const std::string name =
        a.filename.empty() ? "attachment-" + std::to_string(*index_of) : a.filename;
    if (Status st = Audit(s, action, std::to_string(id) + " attachment " + name, "downloaded");
        !st.ok())
      return ErrorResponse(st);
    ApiResponse r;
    r.content_type = DownloadType(a.content_type);
    r.body.assign(reinterpret_cast<const char*>(a.content.data()), a.content.size());
    r.headers.emplace_back("Content-Disposition", Disposition(name));
    return r;
  }
  if (Status st = Audit(s, action, std::to_string(id), "viewed"); !st.ok())
    return ErrorResponse(st);
  json out = {{"id", id},
              {"date", parsed->date ? json(Rfc3339(*parsed->date)) : json(nullptr)},
              {"message_id", parsed->message_id},
              {"from", parsed->from.empty() ? m->from : Address(parsed->from.front())},
              {"to", Addresses(parsed->to)},
              {"cc", Addresses(parsed->cc)},
              {"subject", parsed->subject},
              {"text", parsed->text},
              {"html", nullptr},
              {"remote_content_blocked", 0},
              {"html_truncated", false},
              {"problems", parsed->problems}};
  if (!parsed->html.empty()) {
    archive::SanitizedHtml safe = archive::SanitizeHtml(parsed->html);
    out["html"] = safe.html;
    out["remote_content_blocked"] = safe.remote_content_blocked;
    out["html_truncated"] = safe.truncated;
  }
  json attachments = json::array();
  for (size_t i = 0; i < parsed->attachments.size(); ++i) {
    const archive::MailAttachment& a = parsed->attachments[i];
    attachments.push_back({{"index", i},
                           {"name", a.filename},
                           {"type", a.content_type},
                           {"size", a.content_omitted ? a.encoded_size : a.content.size()}});
  }
  out["attachments"] = std::move(attachments);
  Result<std::vector<archive::StoredDelivery>> deliveries = (*store)->Deliveries(id);
  if (!deliveries.ok()) return ErrorResponse(deliveries.status());
  json list = json::array();
  // Envelope recipients include Bcc: a clerk sees only the deliveries' times and sources.
  const bool all = archive::Allows(who->role, archive::Permission::kReadAllMail);
  for (const archive::StoredDelivery& d : *deliveries) {
    json j = {{"at", Rfc3339(d.delivery.received_at)}, {"source", d.delivery.source}};
    if (all) {
      j["sender"] = d.delivery.envelope_from;
      j["recipients"] = d.delivery.recipients;
      j["origin"] = d.delivery.origin;
    }
    list.push_back(std::move(j));
  }
  out["deliveries"] = std::move(list);
  return JsonResponse(200, out);
}

ApiResponse ConsoleApi::Impl::AuditLog(const Session& s, const ApiCall& call) {
  auto it = call.query.find("since");
  const std::string since = it == call.query.end() ? "" : it->second;
  Result<size_t> limit = ParseLimit(call.query, 200, kMaxAuditLimit);
  if (!limit.ok()) return ErrorResponse(limit.status());
  std::optional<int64_t> from;
  if (!since.empty()) {
    Result<int64_t> t = archive::ParseSearchDate(since);
    if (!t.ok()) return ErrorResponse(t.status());
    from = *t;
  }
  if (s.role != Role::kAuditor && s.role != Role::kRecords && s.role != Role::kAdmin) {
    const Status denied = Status::PermissionDenied(
        s.account + " (" + std::string(RoleName(s.role)) + ") may not read the audit log");
    if (Status st = Audit(s, "archive.audit", since, "denied: " + denied.message()); !st.ok())
      return ErrorResponse(st);
    return ErrorResponse(denied);
  }
  if (Status st = Audit(s, "archive.audit", since, "read"); !st.ok()) return ErrorResponse(st);
  auto log = guard::AuditLog::Open(home);
  if (!log.ok()) return ErrorResponse(log.status());
  Result<guard::AuditVerifyReport> v = (*log)->Verify();
  if (!v.ok()) return ErrorResponse(v.status());
  Result<std::vector<guard::AuditRecord>> records = (*log)->Read(from);
  if (!records.ok()) return ErrorResponse(records.status());
  json list = json::array();
  const size_t first = records->size() > *limit ? records->size() - *limit : 0;
  for (size_t i = records->size(); i-- > first;) {  // newest first
    const guard::AuditRecord& r = (*records)[i];
    list.push_back({{"seq", r.seq},
                    {"at", Rfc3339(r.at)},
                    {"actor", r.actor},
                    {"action", r.action},
                    {"target", r.target},
                    {"outcome", r.outcome}});
  }
  return JsonResponse(200, {{"records", list},
                            {"chain_records", v->records},
                            {"head", v->head},
                            {"problems", v->problems},
                            {"ok", v->problems.empty()}});
}

ApiResponse ConsoleApi::Impl::Accounts(const Session& s) {
  if (s.role != Role::kAdmin)
    return ErrorResponse(403, "permission_denied", "only admins see the accounts");
  Result<std::vector<Account>> list = accounts.List();
  if (!list.ok()) return ErrorResponse(list.status());
  json out = json::array();
  const int64_t now = NowUnixSeconds();
  for (const Account& a : *list)
    out.push_back({{"name", a.name},
                   {"display_name", a.display_name},
                   {"role", RoleName(a.role)},
                   {"agency", a.agency},
                   {"totp", a.totp},
                   {"locked", a.locked_until > now}});
  return JsonResponse(200, {{"accounts", out}});
}

ApiResponse ConsoleApi::Impl::Route(const ApiRequest& request) {
  auto split = SplitTarget(request.target);
  if (!split.ok()) return ErrorResponse(split.status());
  const std::string path = std::move(split->first);
  std::vector<std::string> parts;
  for (std::string_view p : PathParts(path)) parts.emplace_back(p);
  if (parts.size() < 3 || parts[0] != "api" || parts[1] != "v1")
    return ErrorResponse(404, "not_found", "no such resource: " + path);
  parts.erase(parts.begin(), parts.begin() + 2);
  const std::string& method = request.method;
  const bool change = method != "GET" && method != "HEAD";
  const std::string token = CookieValue(request.cookie, kSessionCookie);

  if (path == "/api/v1/session" && method == "POST") return SignIn(request);
  Result<Session> s = token.empty() ? Result<Session>(Status::NotFound("no session"))
                                    : accounts.Resume(token, request.now);
  if (!s.ok()) {
    if (s.status().code() != StatusCode::kNotFound) return ErrorResponse(s.status());
    return ErrorResponse(401, "unauthenticated", "not signed in, or the session has ended");
  }
  if (change && !AccountStore::CsrfMatches(*s, request.csrf))
    return ErrorResponse(403, "permission_denied",
                         "the request lacks the session's CSRF token (header X-CSRF-Token)");
  const Session& session = *s;
  ApiCall call{request,
               session,
               path,
               std::move(split->second),
               std::move(parts),
               [this, &session](const std::string& action, const std::string& target,
                                const std::string& outcome) {
                 return Audit(session, action, target, outcome);
               }};
  if (path == "/api/v1/session") {
    if (method == "GET") return SessionAnswer(session, 200);
    if (method == "DELETE") {
      if (Status st = accounts.SignOut(token); !st.ok()) return ErrorResponse(st);
      (void)Audit(session, "console.sign-out", request.client_address, "signed out");
      ApiResponse r;
      r.status = 204;
      r.content_type.clear();
      r.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) +
                                               "=; Path=/; Max-Age=0; Secure; HttpOnly; "
                                               "SameSite=Strict");
      return r;
    }
    return ErrorResponse(405, "method_not_allowed", "use GET, POST or DELETE on the session");
  }
  const std::vector<std::string>& p = call.parts;
  if (p[0] == "archive" && p.size() == 2 && p[1] == "search" && method == "GET")
    return Search(session, call);
  if (p[0] == "archive" && p.size() >= 2 && p[1] == "messages" && method == "GET") {
    if (p.size() < 3) return ErrorResponse(404, "not_found", "name a message by its id");
    std::optional<int64_t> id = ParseId(p[2]);
    if (!id) return ErrorResponse(400, "invalid_argument", "a message is named by its number");
    return Message(session, *id, {p.begin() + 3, p.end()}, path);
  }
  if (p[0] == "exchange")
    return exchange ? exchange->Handle(call)
                    : ErrorResponse(503, "unavailable", "this host is not an agency gateway");
  if (p.size() == 1 && p[0] == "audit" && method == "GET") return AuditLog(session, call);
  if (p.size() == 1 && p[0] == "accounts" && method == "GET") return Accounts(session);
  return ErrorResponse(404, "not_found", "no such resource: " + method + " " + path);
}

}  // namespace tessera::server
