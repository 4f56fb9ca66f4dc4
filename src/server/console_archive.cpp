#include "server/console_archive.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "archive/html_sanitizer.hpp"
#include "archive/mime.hpp"
#include "archive/redeliver.hpp"
#include "archive/retention.hpp"
#include "archive/search_index.hpp"
#include "base/clock.hpp"
#include "base/host.hpp"

namespace tessera::server {

using nlohmann::json;

namespace {

constexpr size_t kMaxSearchLimit = 500;

std::string Address(const archive::MailAddress& a) {
  if (a.name.empty()) return a.email;
  return a.name + " <" + a.email + ">";
}

json Addresses(const std::vector<archive::MailAddress>& list) {
  json out = json::array();
  for (const auto& a : list) out.push_back(Address(a));
  return out;
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

}  // namespace

ArchiveApi::ArchiveApi(std::filesystem::path home, ArchiveApiOptions options)
    : home_(std::move(home)), options_(std::move(options)) {}

Result<archive::Principal> ArchivePrincipal(const ApiCall& call, archive::MessageStore& store,
                                            archive::Permission permission,
                                            const std::string& action, const std::string& target) {
  const Session& s = call.session;
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
    TESSERA_RETURN_IF_ERROR(call.audit(action, target, "denied: " + denied.message()));
    return denied;
  }
  return who;
}

Status ArchiveApi::MayRead(const ApiCall& call, archive::MessageStore& store,
                           const archive::Principal& who, int64_t id, const std::string& action) {
  const Session& s = call.session;
  Result<archive::StoredMessage> m = store.Find(id);
  if (!m.ok() && m.status().code() != StatusCode::kNotFound) return m.status();
  bool mine = m.ok() && archive::Allows(who.role, archive::Permission::kReadAllMail);
  if (m.ok() && !mine) {
    TESSERA_ASSIGN_OR_RETURN(auto index,
                             archive::SearchIndex::OpenForReading(home_ / "archive" / "index"));
    Result<bool> involves = archive::Involves(store, *index, id, who.addresses);
    if (!involves.ok() && involves.status().code() != StatusCode::kNotFound)
      return involves.status();
    mine = involves.ok() && *involves;
  }
  if (mine) return Status::Ok();
  // Not theirs, or not there: the same answer, so that ids do not tell what exists.
  const std::string reason =
      "message " + std::to_string(id) + " is not " + s.account + "'s mail (or does not exist)";
  TESSERA_RETURN_IF_ERROR(call.audit(action, std::to_string(id), "denied: " + reason));
  return Status::NotFound(reason);
}

ApiResponse ArchiveApi::Search(const ApiCall& call) {
  auto q_it = call.query.find("q");
  const std::string asked = q_it == call.query.end() ? "" : q_it->second;
  Result<size_t> limit = LimitParameter(call.query, 50, kMaxSearchLimit);
  if (!limit.ok()) return ErrorResponse(limit.status());
  Result<archive::SearchQuery> q = archive::ParseSearchQuery(asked);
  if (!q.ok()) return ErrorResponse(q.status());
  q->limit = *limit;
  auto store = archive::MessageStore::Open(home_ / "archive");
  if (!store.ok()) return ErrorResponse(store.status());
  auto who =
      ArchivePrincipal(call, **store, archive::Permission::kReadOwnMail, "archive.search", asked);
  if (!who.ok()) return ErrorResponse(who.status());
  auto index = archive::SearchIndex::OpenForReading(home_ / "archive" / "index");
  if (!index.ok()) return ErrorResponse(index.status());
  if (!archive::Allows(who->role, archive::Permission::kReadAllMail)) {
    auto mine = archive::MessagesOf(**store, **index, who->addresses);
    if (!mine.ok()) return ErrorResponse(mine.status());
    q->within = std::move(*mine);
  }
  Result<archive::SearchResults> r = (*index)->Search(*q);
  if (!r.ok()) return ErrorResponse(r.status());
  if (Status st = call.audit("archive.search", asked, std::to_string(r->matches) + " matches");
      !st.ok())
    return ErrorResponse(st);
  json hits = json::array();
  for (const auto& h : r->hits)
    hits.push_back({{"id", h.message},
                    {"date", h.date ? json(ApiTime(*h.date)) : json(nullptr)},
                    {"message_id", h.message_id},
                    {"from", h.from},
                    {"subject", h.subject},
                    {"recipients", h.recipients},
                    {"attachments", h.attachments}});
  return JsonResponse(200, {{"matches", r->matches}, {"hits", hits}});
}

ApiResponse ArchiveApi::Message(const ApiCall& call, int64_t id) {
  // The parts after /archive/messages/{id}.
  const std::vector<std::string> rest(call.parts.begin() + 3, call.parts.end());
  const std::string& path = call.path;
  // /messages/{id}, /messages/{id}/eml, /messages/{id}/attachments/{n}
  const bool eml = rest.size() == 1 && rest[0] == "eml";
  const bool attachment = rest.size() == 2 && rest[0] == "attachments";
  if (!rest.empty() && !eml && !attachment)
    return ErrorResponse(404, "not_found", "no such resource: " + path);
  std::optional<int64_t> index_of;
  if (attachment) {
    index_of = IdPart(rest[1]);
    if (!index_of)
      return ErrorResponse(400, "invalid_argument", "an attachment is named by its number");
  }
  const std::string action = rest.empty() ? "archive.show" : "archive.export";
  auto store = archive::MessageStore::Open(home_ / "archive");
  if (!store.ok()) return ErrorResponse(store.status());
  auto who = ArchivePrincipal(call, **store, archive::Permission::kReadOwnMail, action,
                              std::to_string(id));
  if (!who.ok()) return ErrorResponse(who.status());
  if (Status st = MayRead(call, **store, *who, id, action); !st.ok()) return ErrorResponse(st);
  Result<archive::StoredMessage> m = (*store)->Find(id);
  if (!m.ok()) return ErrorResponse(m.status());

  if (eml) {
    Result<Bytes> raw = (*store)->Raw(id);
    if (!raw.ok()) return ErrorResponse(raw.status());
    if (Status st = call.audit(action, std::to_string(id), "downloaded as EML"); !st.ok())
      return ErrorResponse(st);
    ApiResponse r;
    r.content_type = "message/rfc822";
    r.body.assign(reinterpret_cast<const char*>(raw->data()), raw->size());
    r.headers.emplace_back("Content-Disposition",
                           AttachmentDisposition("message-" + std::to_string(id) + ".eml"));
    return r;
  }
  Result<archive::ParsedMessage> parsed = (*store)->Parse(*m, options_.max_part_bytes);
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
    if (Status st = call.audit(action, std::to_string(id) + " attachment " + name, "downloaded");
        !st.ok())
      return ErrorResponse(st);
    ApiResponse r;
    r.content_type = DownloadType(a.content_type);
    r.body.assign(reinterpret_cast<const char*>(a.content.data()), a.content.size());
    r.headers.emplace_back("Content-Disposition", AttachmentDisposition(name));
    return r;
  }
  if (Status st = call.audit(action, std::to_string(id), "viewed"); !st.ok())
    return ErrorResponse(st);
  json out = {{"id", id},
              {"date", parsed->date ? json(ApiTime(*parsed->date)) : json(nullptr)},
              {"message_id", parsed->message_id},
              {"from", parsed->from.empty() ? m->from : Address(parsed->from.front())},
              {"to", Addresses(parsed->to)},
              {"cc", Addresses(parsed->cc)},
              {"subject", parsed->subject},
              {"text", archive::TextWithoutHtml(*parsed)},
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
    json j = {{"at", ApiTime(d.delivery.received_at)}, {"source", d.delivery.source}};
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

ApiResponse ArchiveApi::Handle(const ApiCall& call) {
  const std::vector<std::string>& p = call.parts;  // {"archive", …}
  const std::string& method = call.request.method;
  if (p.size() == 2 && p[1] == "search" && method == "GET") return Search(call);
  if (p.size() >= 2 && p[1] == "messages") {
    if (p.size() < 3) return ErrorResponse(404, "not_found", "name a message by its id");
    std::optional<int64_t> id = IdPart(p[2]);
    if (!id) return ErrorResponse(400, "invalid_argument", "a message is named by its number");
    if (p.size() == 4 && p[3] == "restore" && method == "POST") return Restore(call, *id);
    if (p.size() == 4 && p[3] == "restore" && method == "GET") return RestoreCheck(call, *id);
    if (method == "GET") return Message(call, *id);
  }
  if (p.size() >= 2 && p[1] == "retention") return Retention(call);
  return NoSuchResource(call);
}

ApiResponse ArchiveApi::RestoreCheck(const ApiCall& call, int64_t id) {
  const std::string action = "archive.restore.check", target = std::to_string(id);
  auto store = archive::MessageStore::Open(home_ / "archive");
  if (!store.ok()) return ErrorResponse(store.status());
  auto who = ArchivePrincipal(call, **store, archive::Permission::kRestoreMail, action, target);
  if (!who.ok()) return ErrorResponse(who.status());
  if (Status st = MayRead(call, **store, *who, id, action); !st.ok()) return ErrorResponse(st);
  const bool own_only = !archive::Allows(who->role, archive::Permission::kReadAllMail);
  if (Status st = call.audit(action, target, "may restore"); !st.ok()) return ErrorResponse(st);
  return JsonResponse(200, {{"addresses", who->addresses}, {"own_addresses_only", own_only}});
}

ApiResponse ArchiveApi::Restore(const ApiCall& call, int64_t id) {
  const std::string action = "archive.restore", target = std::to_string(id);
  json body =
      call.request.body.empty() ? json::object() : json::parse(call.request.body, nullptr, false);
  std::vector<std::string> to;
  if (!body.is_object() || (body.contains("to") && !body["to"].is_array()))
    return ErrorResponse(400, "invalid_argument",
                         "restore with a JSON object: {\"to\": [\"address\", …]} (to: optional)");
  for (const auto& x : body.value("to", json::array())) {
    if (!x.is_string() || x.get<std::string>().find('@') == std::string::npos)
      return ErrorResponse(400, "invalid_argument", "to: each recipient is a mail address");
    to.push_back(x.get<std::string>());
  }
  auto store = archive::MessageStore::Open(home_ / "archive");
  if (!store.ok()) return ErrorResponse(store.status());
  auto who = ArchivePrincipal(call, **store, archive::Permission::kRestoreMail, action, target);
  if (!who.ok()) return ErrorResponse(who.status());
  if (Status st = MayRead(call, **store, *who, id, action); !st.ok()) return ErrorResponse(st);
  if (!archive::Allows(who->role, archive::Permission::kReadAllMail)) {
    // A clerk restores their own mail to themselves, not elsewhere.
    if (to.empty()) to = who->addresses;
    for (const std::string& x : to) {
      if (std::find(who->addresses.begin(), who->addresses.end(), archive::AddressKey(x)) !=
          who->addresses.end())
        continue;
      const std::string why = "a clerk restores mail only to their own addresses";
      if (Status st = call.audit(action, target, "denied: " + why); !st.ok())
        return ErrorResponse(st);
      return ErrorResponse(403, "permission_denied", why);
    }
  }
  archive::RedeliverOptions o;
  auto relay = archive::ParseSmtpUrl(options_.restore_relay);
  if (!relay.ok()) return ErrorResponse(relay.status());
  o.relay = *relay;
  o.relay.helo = HostName();
  o.from = "archive@" + o.relay.helo;
  o.to = to;
  o.now = call.request.now;
  std::string to_text;
  for (const std::string& x : to) to_text += (to_text.empty() ? "" : ",") + x;
  if (Status st = call.audit(action, target,
                             "to " + (to_text.empty() ? "original recipients" : to_text) + " via " +
                                 options_.restore_relay);
      !st.ok())
    return ErrorResponse(st);
  Result<std::vector<archive::RedeliverResult>> results = archive::Redeliver(**store, {id}, o);
  if (!results.ok()) return ErrorResponse(results.status());
  json out = json::array();
  bool all_delivered = true;
  for (const auto& r : *results) {
    all_delivered = all_delivered && r.status.ok();
    out.push_back({{"id", r.message},
                   {"recipients", r.recipients},
                   {"delivered", r.status.ok()},
                   {"error", r.status.ok() ? "" : r.status.message()}});
  }
  // 502: the relay did not take it; the answer says why.
  return JsonResponse(all_delivered ? 200 : 502, {{"restored", out}});
}

}  // namespace tessera::server
