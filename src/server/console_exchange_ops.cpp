#include "server/console_exchange_ops.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>

#include "base/clock.hpp"
#include "base/utf8.hpp"
#include "exchange/center_store.hpp"
#include "exchange/registry.hpp"
#include "exchange/registry_store.hpp"
#include "server/exchange_roles.hpp"

namespace tessera::server {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kMaxNoteBytes = 4096;
constexpr size_t kMaxAddresses = 256;

// An agency code as the registry writes them (機關代碼: letters and digits).
bool IsAgencyCode(const std::string& code) {
  return !code.empty() && code.size() <= 32 &&
         std::all_of(code.begin(), code.end(), [](unsigned char c) { return std::isalnum(c); });
}

json SuspensionJson(const exchange::Suspension& s) {
  return {{"reason", s.reason}, {"note", s.note}, {"by", s.by}, {"at", ApiTime(s.at)}};
}

json AgencyJson(const exchange::Agency& a) {
  json o = {{"code", a.code},
            {"name", a.name},
            {"center", a.home_center},
            {"group", a.group},
            {"addresses", a.addresses},
            {"ranges_allowed", a.ranges_allowed},
            {"certificates", a.certificates.size()},
            {"suspension", nullptr}};
  if (a.suspension) o["suspension"] = SuspensionJson(*a.suspension);
  return o;
}

// What differs between a draft's agency and the published one, by field.
std::vector<std::string> ChangedFields(const exchange::Agency& d, const exchange::Agency& p) {
  std::vector<std::string> out;
  if (d.name != p.name) out.push_back("name");
  if (d.home_center != p.home_center) out.push_back("center");
  if (d.group != p.group) out.push_back("group");
  if (d.certificates != p.certificates) out.push_back("certificates");
  if (d.addresses != p.addresses) out.push_back("addresses");
  if (d.ranges_allowed != p.ranges_allowed) out.push_back("ranges_allowed");
  if (d.suspension.has_value() != p.suspension.has_value() ||
      (d.suspension &&
       (d.suspension->reason != p.suspension->reason || d.suspension->note != p.suspension->note)))
    out.push_back("suspension");
  return out;
}

// The request's JSON object; nullopt (with `error` set) when it is not one.
std::optional<json> BodyObject(const ApiCall& call, ApiResponse& error) {
  if (call.request.body.empty()) return json::object();
  json body = json::parse(call.request.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) {
    error = ErrorResponse(400, "invalid_argument", "the request's body is not a JSON object");
    return std::nullopt;
  }
  return body;
}

// A text field of `body`: a string, valid UTF-8, no control characters, at most
// kMaxNoteBytes, trimmed. An error message, or "" when it is good.
std::string TextField(const json& body, const char* name, bool required, std::string& out) {
  out.clear();
  if (body.contains(name) && !body[name].is_null()) {
    if (!body[name].is_string()) return "must be a string";
    out = body[name].get<std::string>();
  }
  const size_t first = out.find_first_not_of(" \t\r\n");
  out = first == std::string::npos ? std::string()
                                   : out.substr(first, out.find_last_not_of(" \t\r\n") - first + 1);
  if (required && out.empty()) return "is required";
  if (out.size() > kMaxNoteBytes)
    return "is longer than " + std::to_string(kMaxNoteBytes) + " bytes";
  if (!IsValidUtf8(out)) return "is not valid UTF-8";
  for (unsigned char c : out)
    if (c < 0x20 || c == 0x7f) return "holds a control character or a line break";
  return "";
}

std::string ReasonList() {
  std::string s;
  for (const std::string& r : exchange::SuspensionReasonCodes()) s += (s.empty() ? "" : ", ") + r;
  return s;
}

bool IsReason(const std::string& reason) {
  const auto codes = exchange::SuspensionReasonCodes();
  return std::find(codes.begin(), codes.end(), reason) != codes.end();
}

// A suspension's reason (one of the regulation's) and optional note from `body`; the refusal,
// already recorded, when they are wrong.
std::optional<ApiResponse> ReadSuspension(const ApiCall& call, const std::string& action,
                                          const std::string& code, const json& body,
                                          std::string& reason, std::string& note) {
  if (std::string e = TextField(body, "reason", true, reason); !e.empty())
    return Refused(call, action, code, FieldError("reason", e), "reason " + e);
  if (!IsReason(reason))
    return Refused(call, action, code,
                   FieldError("reason", "'" + reason + "' is not one of: " + ReasonList()),
                   "the reason '" + reason + "' is not a regulation's reason");
  if (std::string e = TextField(body, "note", false, note); !e.empty())
    return Refused(call, action, code, FieldError("note", e), "note " + e);
  return std::nullopt;
}

}  // namespace

ExchangeOpsApi::ExchangeOpsApi(fs::path home, std::string center_id, bool management)
    : home_(std::move(home)), center_id_(std::move(center_id)), management_(management) {}

std::vector<std::string> ExchangeOpsApi::roles() const {
  std::vector<std::string> r;
  if (!center_id_.empty()) r.push_back("center");
  if (management_) r.push_back("management");
  return r;
}

bool ExchangeOpsApi::Handles(const ApiCall& call) {
  const std::vector<std::string>& p = call.parts;
  if (p.size() < 2 || p[0] != "exchange") return false;
  if (p[1] == "center") return true;
  return p[1] == "registry" && p.size() >= 3 &&
         (p[2] == "draft" || p[2] == "publications" || p[2] == "agencies");
}

ApiResponse ExchangeOpsApi::Handle(const ApiCall& call) {
  const Session& s = call.session;
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  // The action the command line records for this call, and what it names.
  std::string action = "exchange.registry.draft", target;
  if (p[1] == "registry") {
    if (p[2] == "publications") {
      action = "exchange.registry.publish";
      target = "draft";
    }
    if (p[2] == "agencies" && p.size() == 5) {
      target = p[3];
      if (p[4] == "suspension")
        action = method == "DELETE" ? "exchange.registry.resume" : "exchange.registry.suspend";
      else
        action = "exchange.registry.agency-change";
    }
  } else {
    action = "exchange.center.suspensions";
    if (p.size() == 4) {
      target = p[3];
      action = method == "DELETE" ? "exchange.resume" : "exchange.suspend";
    }
  }
  if (s.role != Role::kOperator && s.role != Role::kAdmin) {
    const std::string why = s.account + " (" + std::string(RoleName(s.role)) +
                            ") may not change the exchange's registry or suspensions "
                            "(operators and admins do)";
    if (Status st = call.audit(action, target, "denied: " + why); !st.ok())
      return ErrorResponse(st);
    return ErrorResponse(403, "permission_denied", why);
  }
  if (p[1] == "registry" && !management_) {
    const std::string why =
        "this host is not the exchange's management host (it has no registry draft in "
        "<home>/exchange/management): suspensions, address changes and publications of the "
        "registry are made on the management host's console or with `tessera exchange "
        "registry` there";
    return Refused(call, action, target, ErrorResponse(409, "conflict", why), why);
  }
  if (p[1] == "center" && center_id_.empty()) {
    const std::string why =
        "this host is not an exchange center ([exchange] center_id is not set): an agency is "
        "suspended at its own center, on that center's console or with `tessera exchange "
        "suspend` there (or for the whole network in the registry, on the management host)";
    return Refused(call, action, target, ErrorResponse(409, "conflict", why), why);
  }
  return p[1] == "registry" ? Registry(call) : Center(call);
}

// --- the management host's draft ----------------------------------------------------------

ApiResponse ExchangeOpsApi::Registry(const ApiCall& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  const std::string who = "console:" + call.session.account;
  const int64_t now = call.request.now > 0 ? call.request.now : NowUnixSeconds();

  Result<exchange::ManagementStore> store =
      exchange::ManagementStore::Open(ExchangeDir(home_) / "management");
  if (!store.ok() && store.status().code() == StatusCode::kNotFound)
    return ErrorResponse(409, "conflict",
                         "this host has no registry draft to change: " + store.status().message());
  if (!store.ok()) return ErrorResponse(store.status());

  // GET /exchange/registry/draft
  if (p.size() == 3 && p[2] == "draft") {
    if (method != "GET") return NoSuchResource(call);
    Result<exchange::Registry> draft = store->LoadDraft();
    if (!draft.ok()) return ErrorResponse(draft.status());
    std::optional<exchange::Registry> published;
    Result<std::string> wire = store->Current();
    if (wire.ok()) {
      Result<crypto::PublicKey> key = store->PublicKey();
      if (!key.ok()) return ErrorResponse(key.status());
      Result<exchange::Registry> r = exchange::VerifySignedRegistry(*wire, *key);
      if (!r.ok()) return ErrorResponse(r.status());
      published = std::move(*r);
    } else if (wire.status().code() != StatusCode::kNotFound) {
      return ErrorResponse(wire.status());
    }
    json changes = json::array();
    std::map<std::string, const exchange::Agency*> before;
    if (published)
      for (const auto& a : published->agencies) before[a.code] = &a;
    json agencies = json::array();
    for (const auto& a : draft->agencies) {
      agencies.push_back(AgencyJson(a));
      auto it = before.find(a.code);
      if (it == before.end()) {
        changes.push_back({{"agency", a.code},
                           {"name", a.name},
                           {"change", "added"},
                           {"fields", json::array()},
                           {"draft", AgencyJson(a)},
                           {"published", nullptr}});
        continue;
      }
      std::vector<std::string> fields = ChangedFields(a, *it->second);
      if (!fields.empty())
        changes.push_back({{"agency", a.code},
                           {"name", a.name},
                           {"change", "changed"},
                           {"fields", fields},
                           {"draft", AgencyJson(a)},
                           {"published", AgencyJson(*it->second)}});
      before.erase(it);
    }
    for (const auto& [code, a] : before)
      changes.push_back({{"agency", code},
                         {"name", a->name},
                         {"change", "removed"},
                         {"fields", json::array()},
                         {"draft", nullptr},
                         {"published", AgencyJson(*a)}});
    // The rest of the registry, by part.
    json other = json::array();
    if (published) {
      const json d = exchange::ToJson(*draft), pub = exchange::ToJson(*published);
      for (const char* key : {"network", "policy", "trust_anchors", "revoked_fingerprints",
                              "centers", "groups", "releases"})
        if (d[key] != pub[key]) other.push_back(key);
    }
    const std::vector<std::string> problems = exchange::ValidationProblems(*draft);
    if (Status st = call.audit("exchange.registry.draft", "draft",
                               std::to_string(changes.size()) + " agency change(s)");
        !st.ok())
      return ErrorResponse(st);
    return JsonResponse(
        200, {{"network", draft->network},
              {"published_serial", published ? json(published->serial) : json(nullptr)},
              {"published_at", published ? json(ApiTime(published->issued_at)) : json(nullptr)},
              {"expires_at", published ? json(ApiTime(published->expires_at)) : json(nullptr)},
              {"changed", !changes.empty() || !other.empty() || !published},
              {"changes", changes},
              {"other_changes", other},
              {"problems", problems},
              {"publishable", problems.empty()},
              {"reasons", exchange::SuspensionReasonCodes()},
              {"agencies", agencies}});
  }

  // POST /exchange/registry/publications {valid_hours?}
  if (p.size() == 3 && p[2] == "publications") {
    if (method != "POST") return NoSuchResource(call);
    ApiResponse bad;
    std::optional<json> body = BodyObject(call, bad);
    if (!body)
      return Refused(call, "exchange.registry.publish", "draft", bad, "the body is not JSON");
    int64_t hours = 0;
    if (body->contains("valid_hours") && !(*body)["valid_hours"].is_null()) {
      const json& v = (*body)["valid_hours"];
      if (!v.is_number_integer() || v.get<int64_t>() <= 0 || v.get<int64_t>() > 24 * 366)
        return Refused(call, "exchange.registry.publish", "draft",
                       FieldError("valid_hours", "must be a whole number of hours, 1 to 8784"),
                       "valid_hours is not 1 to 8784");
      hours = v.get<int64_t>();
    }
    // Recorded before it is signed; the outcome is recorded after, as the command line does.
    if (Status st = call.audit("exchange.registry.publish", "draft", "publishing the draft");
        !st.ok())
      return ErrorResponse(st);
    Result<exchange::ManagementStore::Publication> pub = store->Publish(hours * 3600, now);
    if (!pub.ok()) {
      if (Status st = call.audit("exchange.registry.publish", "draft",
                                 "refused: " + pub.status().message());
          !st.ok())
        return ErrorResponse(st);
      return ErrorResponse(pub.status());
    }
    const exchange::Registry& r = pub->registry;
    if (Status st = call.audit("exchange.registry.publish", "serial " + std::to_string(r.serial),
                               "network " + r.network + ", expires " + ApiTime(r.expires_at) +
                                   ", " + std::to_string(r.agencies.size()) + " agencies, " +
                                   std::to_string(r.centers.size()) + " centers");
        !st.ok())
      return ErrorResponse(st);
    return JsonResponse(201, {{"network", r.network},
                              {"serial", r.serial},
                              {"issued_at", ApiTime(r.issued_at)},
                              {"expires_at", ApiTime(r.expires_at)},
                              {"agencies", r.agencies.size()},
                              {"centers", r.centers.size()}});
  }

  if (p.size() != 5 || p[2] != "agencies") return NoSuchResource(call);
  const std::string& code = p[3];
  if (!IsAgencyCode(code))
    return Refused(call, "exchange.registry.agency", code,
                   FieldError("code", "'" + code + "' is not an agency code (機關代碼)"),
                   "not an agency code");
  ApiResponse bad;
  std::optional<json> body = BodyObject(call, bad);

  // Loads the draft, applies `edit` and saves it unless it adds a problem Validate finds,
  // as `tessera exchange registry` does: every saved draft stays publishable.
  auto edit_draft = [&](const std::function<Status(exchange::Registry&)>& edit) -> Status {
    return store->EditDraft([&](exchange::Registry& draft) -> Status {
      const std::vector<std::string> before = exchange::ValidationProblems(draft);
      TESSERA_RETURN_IF_ERROR(edit(draft));
      std::vector<std::string> added;
      for (const auto& pr : exchange::ValidationProblems(draft))
        if (std::find(before.begin(), before.end(), pr) == before.end()) added.push_back(pr);
      if (added.empty()) return Status::Ok();
      std::string message = "nothing changed, since the change would make the registry invalid:";
      for (const auto& pr : added) message += "\n  - " + pr;
      return Status::InvalidArgument(message);
    });
  };
  auto find = [&](exchange::Registry& r) -> exchange::Agency* {
    for (auto& a : r.agencies)
      if (a.code == code) return &a;
    return nullptr;
  };
  auto no_agency = [&] {
    return Status::NotFound("agency " + code + " is not in the registry's draft");
  };
  // An error of the edit, recorded unless it is the audit log's own.
  auto failed = [&](const std::string& action, const Status& st, bool audited) -> ApiResponse {
    if (!audited)
      if (Status a = call.audit(action, code, "refused: " + st.message()); !a.ok())
        return ErrorResponse(a);
    return ErrorResponse(st);
  };

  // POST/DELETE /exchange/registry/agencies/{code}/suspension
  if (p[4] == "suspension" && method == "POST") {
    const std::string action = "exchange.registry.suspend";
    if (!body) return Refused(call, action, code, bad, "the body is not JSON");
    std::string reason, note;
    if (std::optional<ApiResponse> refusal =
            ReadSuspension(call, action, code, *body, reason, note))
      return *refusal;
    const exchange::Suspension sus{reason, note, who, now};
    bool audited = false;
    Status st = edit_draft([&](exchange::Registry& r) -> Status {
      exchange::Agency* a = find(r);
      if (!a) return no_agency();
      if (a->suspension)
        return Status::FailedPrecondition(
            "agency " + code + " is suspended already since " + ApiTime(a->suspension->at) + " (" +
            a->suspension->reason + "): resume it first to change the reason");
      audited = true;
      TESSERA_RETURN_IF_ERROR(call.audit(action, code, reason + (note.empty() ? "" : ": " + note)));
      a->suspension = sus;
      return Status::Ok();
    });
    if (!st.ok()) return failed(action, st, audited);
    return JsonResponse(200, {{"code", code},
                              {"suspension", SuspensionJson(sus)},
                              {"published", false},
                              {"note", "in the draft: publish it to put it into effect"}});
  }
  if (p[4] == "suspension" && method == "DELETE") {
    const std::string action = "exchange.registry.resume";
    if (!body) return Refused(call, action, code, bad, "the body is not JSON");
    std::string note;
    if (std::string e = TextField(*body, "note", true, note); !e.empty())
      return Refused(call, action, code, FieldError("note", e), "note " + e);
    std::string previous;
    bool audited = false;
    Status st = edit_draft([&](exchange::Registry& r) -> Status {
      exchange::Agency* a = find(r);
      if (!a) return no_agency();
      if (!a->suspension) return Status::FailedPrecondition("agency " + code + " is not suspended");
      previous = a->suspension->reason;
      audited = true;
      TESSERA_RETURN_IF_ERROR(call.audit(action, code, "suspended for " + previous + "; " + note));
      a->suspension.reset();
      return Status::Ok();
    });
    if (!st.ok()) return failed(action, st, audited);
    return JsonResponse(200, {{"code", code},
                              {"suspension", nullptr},
                              {"was", previous},
                              {"published", false},
                              {"note", "in the draft: publish it to put it into effect"}});
  }

  // PUT /exchange/registry/agencies/{code}/addresses {addresses: [...]}
  if (p[4] == "addresses" && method == "PUT") {
    const std::string action = "exchange.registry.agency-change";
    if (!body) return Refused(call, action, code, bad, "the body is not JSON");
    const json& list = (*body)["addresses"];
    if (!list.is_array())
      return Refused(call, action, code,
                     FieldError("addresses", "must be a list of IP addresses (or ranges)"),
                     "addresses is not a list");
    if (list.size() > kMaxAddresses)
      return Refused(call, action, code,
                     FieldError("addresses", "at most " + std::to_string(kMaxAddresses)),
                     "too many addresses");
    std::vector<std::string> addresses;
    for (size_t i = 0; i < list.size(); ++i) {
      if (!list[i].is_string())
        return Refused(call, action, code, FieldError("addresses", "must be a list of strings"),
                       "an address is not a string");
      std::string a = list[i].get<std::string>();
      const size_t first = a.find_first_not_of(" \t\r\n");
      a = first == std::string::npos ? ""
                                     : a.substr(first, a.find_last_not_of(" \t\r\n") - first + 1);
      if (a.empty()) continue;
      if (Status st = exchange::CheckAddress(a); !st.ok())
        return Refused(call, action, code, FieldError("addresses", st.message()), st.message());
      if (std::find(addresses.begin(), addresses.end(), a) != addresses.end())
        return Refused(call, action, code, FieldError("addresses", "'" + a + "' is given twice"),
                       "'" + a + "' is given twice");
      addresses.push_back(a);
    }
    bool audited = false;
    exchange::Agency changed;
    Status st = store->EditDraft([&](exchange::Registry& r) -> Status {
      exchange::Agency* a = find(r);
      if (!a) return no_agency();
      const std::vector<std::string> before = exchange::ValidationProblems(r);
      std::string was, will;
      for (const auto& x : a->addresses) was += (was.empty() ? "" : " ") + x;
      for (const auto& x : addresses) will += (will.empty() ? "" : " ") + x;
      a->addresses = addresses;
      // As `tessera exchange registry agency change --ip`: nothing is saved that adds a
      // problem Validate finds (a range not granted, an agency left without an address).
      std::string added;
      for (const auto& pr : exchange::ValidationProblems(r))
        if (std::find(before.begin(), before.end(), pr) == before.end())
          added += (added.empty() ? "" : "; ") + pr;
      if (!added.empty()) return Status::InvalidArgument(added);
      audited = true;
      TESSERA_RETURN_IF_ERROR(call.audit(action, code,
                                         "addresses " + (was.empty() ? "(none)" : was) + " -> " +
                                             (will.empty() ? "(none)" : will)));
      changed = *a;
      return Status::Ok();
    });
    if (!st.ok()) {
      if (st.code() == StatusCode::kInvalidArgument && !audited) {
        if (Status a = call.audit(action, code, "refused: " + st.message()); !a.ok())
          return ErrorResponse(a);
        return FieldError("addresses", st.message());
      }
      return failed(action, st, audited);
    }
    return JsonResponse(200, {{"code", code},
                              {"agency", AgencyJson(changed)},
                              {"published", false},
                              {"note", "in the draft: publish it to put it into effect"}});
  }
  return NoSuchResource(call);
}

// --- this host's exchange center ----------------------------------------------------------

ApiResponse ExchangeOpsApi::Center(const ApiCall& call) {
  const std::vector<std::string>& p = call.parts;
  const std::string& method = call.request.method;
  const int64_t now = call.request.now > 0 ? call.request.now : NowUnixSeconds();
  if (p.size() < 3 || p[2] != "suspensions" || p.size() > 4) return NoSuchResource(call);

  Result<std::unique_ptr<exchange::CenterStore>> store =
      exchange::CenterStore::Open(ExchangeDir(home_) / "center");
  if (!store.ok()) return ErrorResponse(store.status());

  if (p.size() == 3) {
    if (method != "GET") return NoSuchResource(call);
    Result<std::vector<std::pair<std::string, exchange::Suspension>>> list =
        (*store)->LocalSuspensions();
    if (!list.ok()) return ErrorResponse(list.status());
    json out = json::array();
    for (const auto& [agency, sus] : *list) {
      json o = SuspensionJson(sus);
      o["agency"] = agency;
      out.push_back(o);
    }
    if (Status st = call.audit("exchange.center.suspensions", center_id_,
                               std::to_string(out.size()) + " suspension(s)");
        !st.ok())
      return ErrorResponse(st);
    return JsonResponse(200, {{"center", center_id_},
                              {"reasons", exchange::SuspensionReasonCodes()},
                              {"suspensions", out}});
  }

  const std::string& code = p[3];
  const std::string action = method == "DELETE" ? "exchange.resume" : "exchange.suspend";
  if (method != "POST" && method != "DELETE") return NoSuchResource(call);
  if (!IsAgencyCode(code))
    return Refused(call, action, code,
                   FieldError("code", "'" + code + "' is not an agency code (機關代碼)"),
                   "not an agency code");
  ApiResponse bad;
  std::optional<json> body = BodyObject(call, bad);
  if (!body) return Refused(call, action, code, bad, "the body is not JSON");

  if (method == "POST") {
    std::string reason, note;
    if (std::optional<ApiResponse> refusal =
            ReadSuspension(call, action, code, *body, reason, note))
      return *refusal;
    Result<std::optional<exchange::Suspension>> held = (*store)->LocalSuspension(code);
    if (!held.ok()) return ErrorResponse(held.status());
    if (held->has_value())
      return Refused(call, action, code,
                     ErrorResponse(409, "conflict",
                                   code + " is suspended at this center already since " +
                                       ApiTime((*held)->at) + " (" + (*held)->reason +
                                       "): resume it first to change the reason"),
                     "suspended already");
    const exchange::Suspension sus{reason, note, "console:" + call.session.account, now};
    if (Status st = call.audit(action, code, reason + (note.empty() ? "" : ": " + note)); !st.ok())
      return ErrorResponse(st);
    if (Status st = (*store)->Suspend(code, sus); !st.ok()) return ErrorResponse(st);
    json o = SuspensionJson(sus);
    o["agency"] = code;
    return JsonResponse(200, {{"center", center_id_}, {"suspension", o}});
  }

  std::string note;
  if (std::string e = TextField(*body, "note", true, note); !e.empty())
    return Refused(call, action, code, FieldError("note", e), "note " + e);
  Result<std::optional<exchange::Suspension>> held = (*store)->LocalSuspension(code);
  if (!held.ok()) return ErrorResponse(held.status());
  if (!held->has_value())
    return Refused(call, action, code,
                   ErrorResponse(409, "conflict", code + " is not suspended at this center"),
                   "not suspended");
  if (Status st = call.audit(action, code, note); !st.ok()) return ErrorResponse(st);
  if (Status st = (*store)->Resume(code); !st.ok()) return ErrorResponse(st);
  return JsonResponse(200, {{"center", center_id_}, {"agency", code}, {"suspended", false}});
}

}  // namespace tessera::server
