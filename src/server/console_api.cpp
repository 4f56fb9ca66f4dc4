#include "server/console_api.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>

#include "archive/search_index.hpp"
#include "base/clock.hpp"
#include "guard/audit_log.hpp"
#include "server/console_archive.hpp"
#include "server/console_exchange.hpp"
#include "server/console_vault.hpp"
#include "server/console_vault_setup.hpp"

namespace tessera::server {

using nlohmann::json;

namespace {

constexpr size_t kMaxSearchLimit = 500;
constexpr size_t kMaxAuditLimit = 5000;

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

ApiResponse FieldError(const std::string& field, const std::string& message) {
  return JsonResponse(
      400,
      {{"error",
        {{"code", "invalid_argument"}, {"field", field}, {"message", field + ": " + message}}}});
}

ApiResponse NoSuchResource(const ApiCall& call) {
  return ErrorResponse(404, "not_found",
                       "no such resource: " + call.request.method + " " + call.path);
}

ApiResponse Refused(const ApiCall& call, const std::string& action, const std::string& target,
                    const ApiResponse& answer, const std::string& why) {
  if (Status st = call.audit(action, target, "refused: " + why); !st.ok()) return ErrorResponse(st);
  return answer;
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

std::string AttachmentDisposition(const std::string& name) {
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

std::string ApiTime(int64_t unix_seconds) {
  return FormatRfc3339(unix_seconds * 1000000000);
}

Result<size_t> LimitParameter(const std::map<std::string, std::string>& query, size_t fallback,
                              size_t max) {
  auto it = query.find("limit");
  if (it == query.end()) return fallback;
  size_t v = 0;
  auto [end, ec] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
  if (ec != std::errc() || end != it->second.data() + it->second.size() || v < 1 || v > max)
    return Status::InvalidArgument("limit must be a number from 1 to " + std::to_string(max));
  return v;
}

std::optional<int64_t> IdPart(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v < 0)
    return std::nullopt;
  return v;
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
  ArchiveApi archive_api;
  std::shared_ptr<VaultApi> vaults;  // /api/v1/vaults and /api/v1/jobs
  VaultSetupApi vault_setup;         // new vaults and schedules

  Impl(std::filesystem::path h, AccountStore& a, ConsoleApiOptions o)
      : home(std::move(h)),
        accounts(a),
        options(o),
        exchange(options.exchange),
        archive_api(home, options.archive),
        vaults(options.vaults ? options.vaults
                              : std::make_shared<VaultApi>(home, VaultOptions(options.vault))),
        vault_setup(home, {VaultOptions(options.vault).passphrase, options.vault.store_options},
                    options.schedules) {}

  // The server has no terminal: a passphrase-protected vault key needs $TESSERA_PASSPHRASE,
  // as the command line takes it.
  static VaultApiOptions VaultOptions(VaultApiOptions v) {
    if (const char* p = std::getenv("TESSERA_PASSPHRASE"); p && !v.passphrase) v.passphrase = p;
    return v;
  }

  ApiResponse Route(const ApiRequest& request);
  ApiResponse SignIn(const ApiRequest& request);
  ApiResponse SessionAnswer(const Session& s, int status);
  // The remaining seconds of a client address's sign-in limit, or 0 when it may try; an
  // attempt is counted either way.
  int64_t CountAttempt(const std::string& address, int64_t now);
  Status Audit(const Session& s, const std::string& action, const std::string& target,
               const std::string& outcome);
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
  return JsonResponse(
      status, {{"account", s.account},
               {"display_name", a->display_name},
               {"role", RoleName(s.role)},
               {"agency", s.agency},
               {"csrf", s.csrf},
               {"expires_at", ApiTime(s.expires_at)},
               {"exchange_agency", exchange ? exchange->agency() : ""},
               {"exchange_roles", exchange ? exchange->roles() : std::vector<std::string>()}});
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
    const bool unavailable = s.status().code() == StatusCode::kUnavailable;
    const std::string why = locked        ? "locked"
                            : unavailable ? s.status().message()
                                          : "wrong name, password or code";
    if (Status st = Audit(who, "console.sign-in", address, "refused: " + why); !st.ok())
      return ErrorResponse(st);
    if (locked) return ErrorResponse(423, "locked", s.status().message());
    if (s.status().code() == StatusCode::kUnavailable) return ErrorResponse(s.status());
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

ApiResponse ConsoleApi::Impl::AuditLog(const Session& s, const ApiCall& call) {
  auto it = call.query.find("since");
  const std::string since = it == call.query.end() ? "" : it->second;
  Result<size_t> limit = LimitParameter(call.query, 200, kMaxAuditLimit);
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
                    {"at", ApiTime(r.at)},
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
                   {"directory", a.directory},
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
  if (p[0] == "archive") return archive_api.Handle(call);
  if (VaultSetupApi::Handles(call)) return vault_setup.Handle(call);
  if (VaultApi::Handles(call)) return vaults->Handle(call);
  if (p[0] == "exchange")
    return exchange ? exchange->Handle(call)
                    : ErrorResponse(503, "unavailable", "this host is not an agency gateway");
  if (p.size() == 1 && p[0] == "audit" && method == "GET") return AuditLog(session, call);
  if (p.size() == 1 && p[0] == "accounts" && method == "GET") return Accounts(session);
  return ErrorResponse(404, "not_found", "no such resource: " + method + " " + path);
}

}  // namespace tessera::server
