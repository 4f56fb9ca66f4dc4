// ArchiveApi::Retention (server/console_archive.hpp): retention classes, rules, legal holds
// and destruction batches over the API, as `tessera archive retention` does them. The
// actor recorded in the retention tables is "console:<account>", so that the second
// person approving a batch is told apart from the one who proposed it.
#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "archive/retention.hpp"
#include "archive/search_index.hpp"
#include "server/console_archive.hpp"

namespace tessera::server {

using nlohmann::json;

namespace {

// The store, an index caught up with it, and retention over both. A running serve keeps
// the index (it catches up every two seconds); otherwise it is brought up to date here.
struct RetentionParts {
  std::unique_ptr<archive::MessageStore> store;
  std::unique_ptr<archive::SearchIndex> index;
  std::unique_ptr<archive::Retention> retention;
};

Result<RetentionParts> OpenParts(const std::filesystem::path& archive_dir) {
  RetentionParts parts;
  TESSERA_ASSIGN_OR_RETURN(parts.store, archive::MessageStore::Open(archive_dir));
  auto writer = archive::SearchIndex::OpenForWriting(archive_dir / "index");
  if (writer.ok()) {
    TESSERA_RETURN_IF_ERROR((*writer)->CatchUp(*parts.store, nullptr).status());
    parts.index = std::move(*writer);
  } else if (writer.status().code() == StatusCode::kUnavailable) {
    for (int attempt = 0;; ++attempt) {
      TESSERA_ASSIGN_OR_RETURN(parts.index,
                               archive::SearchIndex::OpenForReading(archive_dir / "index"));
      TESSERA_ASSIGN_OR_RETURN(bool behind, parts.index->Behind(*parts.store));
      if (!behind) break;
      if (attempt == 20)
        return Status::Unavailable(
            "the search index is behind the archive; retention waits for it (try again)");
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
  } else {
    return writer.status();
  }
  TESSERA_ASSIGN_OR_RETURN(parts.retention, archive::Retention::Open(*parts.store, *parts.index));
  return parts;
}

json CriterionJson(const archive::Criterion& c) {
  json j = {{"kind", c.kind}, {"description", c.Describe()}};
  if (c.kind == "messages")
    j["messages"] = c.message_ids;
  else
    j["pattern"] = c.pattern;
  return j;
}

Result<archive::Criterion> CriterionOf(const json& body, bool holds) {
  if (!body.contains("criterion") || !body["criterion"].is_object())
    return Status::InvalidArgument(
        "criterion: {\"kind\": \"sender\"|\"recipient\"|\"folder\"|\"query\"" +
        std::string(holds ? "|\"messages\"" : "") + ", \"pattern\": …}");
  const json& c = body["criterion"];
  archive::Criterion out;
  out.kind = c.value("kind", "");
  if (out.kind == "messages" && holds) {
    if (!c.contains("messages") || !c["messages"].is_array() || c["messages"].empty())
      return Status::InvalidArgument("criterion.messages: a list of message ids");
    for (const auto& id : c["messages"]) {
      if (!id.is_number_integer()) return Status::InvalidArgument("criterion.messages: ids");
      out.message_ids.push_back(id.get<int64_t>());
    }
    return out;
  }
  if (out.kind != "sender" && out.kind != "recipient" && out.kind != "folder" &&
      out.kind != "query")
    return Status::InvalidArgument("criterion.kind: sender, recipient, folder or query" +
                                   std::string(holds ? " (or messages)" : ""));
  if (!c.contains("pattern") || !c["pattern"].is_string() ||
      c["pattern"].get<std::string>().empty())
    return Status::InvalidArgument("criterion.pattern: what the " + out.kind + " must match");
  out.pattern = c["pattern"];
  return out;
}

json BatchJson(const archive::DestructionBatch& b) {
  json j = {{"id", b.id},
            {"state", b.state},
            {"proposed_by", b.proposed_by},
            {"proposed_at", ApiTime(b.proposed_at)},
            {"note", b.note}};
  if (!b.approved_by.empty()) j["approved_by"] = b.approved_by;
  if (!b.rejected_by.empty()) j["rejected_by"] = b.rejected_by, j["reason"] = b.reason;
  if (b.decided_at) j["decided_at"] = ApiTime(b.decided_at);
  if (!b.purged_by.empty()) j["purged_by"] = b.purged_by;
  if (b.purged_at) j["purged_at"] = ApiTime(b.purged_at);
  json items = json::array();
  for (const archive::DestructionItem& i : b.items)
    items.push_back({{"message", i.message},
                     {"message_id", i.message_id},
                     {"subject", i.subject},
                     {"from", i.from},
                     {"date", i.date ? json(ApiTime(*i.date)) : json(nullptr)},
                     {"size", i.size},
                     {"class", archive::RetentionClassName(i.years)},
                     {"assigned_by", i.assigned_by},
                     {"expired_at", ApiTime(i.expired_at)},
                     {"outcome", i.outcome}});
  j["message_count"] = b.items.size();
  j["items"] = std::move(items);
  return j;
}

}  // namespace

ApiResponse ArchiveApi::Retention(const ApiCall& call) {
  const std::vector<std::string>& p = call.parts;  // {"archive", "retention", …}
  const std::string& method = call.request.method;
  const bool change = method != "GET";
  const std::string actor = "console:" + call.session.account;
  // "archive.retention.<what>", as the command line records it.
  std::string what = p.size() >= 3 ? p[2] : "status";
  if (p.size() >= 5 && p[2] == "batches") what = p[4];
  if (p.size() == 3 && change)
    what = p[2] == "rules" ? "rule-add" : p[2] == "holds" ? "hold-add" : "propose";
  if (p.size() == 4 && method == "DELETE") what = p[2] == "rules" ? "rule-remove" : "hold-release";
  const std::string action = "archive.retention." + what;
  const std::string target = p.size() >= 4 ? p[3] : "";

  json body = json::object();
  if (change && !call.request.body.empty()) {
    body = json::parse(call.request.body, nullptr, false);
    if (!body.is_object())
      return ErrorResponse(400, "invalid_argument", "the body is not a JSON object");
  }
  Result<RetentionParts> parts_or = OpenParts(home_ / "archive");
  if (!parts_or.ok()) return ErrorResponse(parts_or.status());
  RetentionParts& parts = *parts_or;
  auto who = ArchivePrincipal(
      call, *parts.store,
      change ? archive::Permission::kChangeRetention : archive::Permission::kReadRetention, action,
      target);
  if (!who.ok()) return ErrorResponse(who.status());
  archive::Retention& r = *parts.retention;

  if (p.size() == 2 && method == "GET") {
    Result<int> default_class = r.DefaultClass();
    Result<std::vector<archive::RetentionRule>> rules = r.Rules();
    Result<std::vector<archive::LegalHold>> holds = r.Holds(/*include_released=*/true);
    Result<std::vector<archive::DestructionBatch>> batches = r.Batches();
    for (const Status& st :
         {default_class.status(), rules.status(), holds.status(), batches.status()})
      if (!st.ok()) return ErrorResponse(st);
    json out = {{"default_class", archive::RetentionClassName(*default_class)},
                {"rules", json::array()},
                {"holds", json::array()},
                {"batches", json::array()}};
    for (const auto& rule : *rules)
      out["rules"].push_back({{"id", rule.id},
                              {"criterion", CriterionJson(rule.criterion)},
                              {"class", archive::RetentionClassName(rule.years)},
                              {"created_by", rule.created_by},
                              {"created_at", ApiTime(rule.created_at)}});
    for (const auto& h : *holds) {
      json j = {{"id", h.id},
                {"name", h.name},
                {"reason", h.reason},
                {"criterion", CriterionJson(h.criterion)},
                {"created_by", h.created_by},
                {"created_at", ApiTime(h.created_at)},
                {"active", !h.released_at.has_value()}};
      if (h.released_at)
        j["released_at"] = ApiTime(*h.released_at), j["released_by"] = h.released_by;
      out["holds"].push_back(std::move(j));
    }
    // Batches() lists them without their items: each one's count comes from the batch.
    for (const auto& listed : *batches) {
      Result<archive::DestructionBatch> b = r.Batch(listed.id);
      if (!b.ok()) return ErrorResponse(b.status());
      json j = BatchJson(*b);
      j.erase("items");
      out["batches"].push_back(std::move(j));
    }
    if (Status st = call.audit(action, "", "read"); !st.ok()) return ErrorResponse(st);
    return JsonResponse(200, out);
  }

  if (p.size() == 3 && p[2] == "rules" && method == "POST") {
    Result<archive::Criterion> c = CriterionOf(body, /*holds=*/false);
    if (!c.ok()) return ErrorResponse(c.status());
    const json cls = body.value("class", json());
    Result<int> years = cls.is_string() ? archive::ParseRetentionClass(cls.get<std::string>())
                        : cls.is_number_integer()
                            ? archive::ParseRetentionClass(std::to_string(cls.get<int>()))
                            : Result<int>(Status::InvalidArgument(
                                  "class: \"permanent\" or 30, 25, 20, 15, 10, 5, 3 or 1 (years)"));
    if (!years.ok()) return ErrorResponse(years.status());
    if (Status st = call.audit(action, c->Describe(), archive::RetentionClassName(*years));
        !st.ok())
      return ErrorResponse(st);
    Result<int64_t> id = r.AddRule(*c, *years, actor);
    if (!id.ok()) return ErrorResponse(id.status());
    return JsonResponse(201, {{"id", *id}});
  }
  if (p.size() == 3 && p[2] == "holds" && method == "POST") {
    Result<archive::Criterion> c = CriterionOf(body, /*holds=*/true);
    if (!c.ok()) return ErrorResponse(c.status());
    const std::string name = body.value("name", ""), reason = body.value("reason", "");
    if (name.empty() || reason.empty())
      return ErrorResponse(400, "invalid_argument",
                           "name and reason: what the hold is called and why it is placed");
    if (Status st = call.audit(action, name, c->Describe() + ": " + reason); !st.ok())
      return ErrorResponse(st);
    Result<int64_t> id = r.AddHold(name, *c, reason, actor);
    if (!id.ok()) return ErrorResponse(id.status());
    return JsonResponse(201, {{"id", *id}});
  }
  if (p.size() == 4 && method == "DELETE" && (p[2] == "rules" || p[2] == "holds")) {
    std::optional<int64_t> id = IdPart(p[3]);
    if (!id) return ErrorResponse(400, "invalid_argument", "a rule or hold is named by its number");
    if (Status st = call.audit(action, p[3], "requested"); !st.ok()) return ErrorResponse(st);
    Status st = p[2] == "rules" ? r.RemoveRule(*id) : r.ReleaseHold(*id, actor);
    if (!st.ok()) return ErrorResponse(st);
    ApiResponse done;
    done.status = 204;
    done.content_type.clear();
    return done;
  }
  if (p.size() == 3 && p[2] == "batches" && method == "POST") {
    const std::string note = body.value("note", "");
    if (Status st = call.audit(action, "", note.empty() ? "requested" : note); !st.ok())
      return ErrorResponse(st);
    Result<archive::DestructionBatch> b = r.Propose(call.request.now, actor, note);
    if (!b.ok()) return ErrorResponse(b.status());
    return JsonResponse(201, BatchJson(*b));
  }
  if (p.size() >= 4 && p[2] == "batches") {
    std::optional<int64_t> id = IdPart(p[3]);
    if (!id) return ErrorResponse(400, "invalid_argument", "a batch is named by its number");
    if (p.size() == 4 && method == "GET") {
      Result<archive::DestructionBatch> b = r.Batch(*id);
      if (!b.ok()) return ErrorResponse(b.status());
      if (Status st = call.audit("archive.retention.batch", p[3], "read"); !st.ok())
        return ErrorResponse(st);
      return JsonResponse(200, BatchJson(*b));
    }
    if (p.size() == 5 && method == "POST" &&
        (p[4] == "approve" || p[4] == "reject" || p[4] == "purge")) {
      const std::string reason = body.value("reason", "");
      if (p[4] == "reject" && reason.empty())
        return ErrorResponse(400, "invalid_argument", "reason: why the batch is rejected");
      Status st = call.audit(action, p[3], p[4] == "reject" ? reason : "requested");
      if (!st.ok()) return ErrorResponse(st);
      json extra;
      if (p[4] == "approve") {
        st = r.Approve(*id, actor);
      } else if (p[4] == "reject") {
        st = r.Reject(*id, actor, reason);
      } else {
        Result<archive::PurgeReport> purged = r.Purge(*id, call.request.now, actor);
        st = purged.status();
        if (purged.ok()) extra = {{"destroyed", purged->destroyed}, {"kept", purged->kept}};
      }
      if (!st.ok()) {
        (void)call.audit(action, p[3], "refused: " + st.message());
        return ErrorResponse(st);
      }
      Result<archive::DestructionBatch> b = r.Batch(*id);
      if (!b.ok()) return ErrorResponse(b.status());
      json out = BatchJson(*b);
      if (!extra.is_null()) out["purge"] = extra;
      return JsonResponse(200, out);
    }
  }
  return NoSuchResource(call);
}

}  // namespace tessera::server
