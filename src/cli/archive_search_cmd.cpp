// `tessera archive search` and `archive audit`, and what the other archive commands share
// with them: keeping the search index up to date, and recording in the audit log.
#include <unistd.h>

#include <cstdio>

#include "archive/search_index.hpp"
#include "base/clock.hpp"
#include "cli/cli.hpp"
#include "guard/audit_log.hpp"
#include "server/audit.hpp"

namespace tessera::cli {

using nlohmann::json;

std::string UpdateSearchIndex(const Context& ctx, archive::MessageStore& store,
                              uint64_t indexed_before) {
  const std::string dir = ctx.home + "/archive/index";
  auto index = archive::SearchIndex::OpenForWriting(dir);
  if (!index.ok()) {
    if (index.status().code() == StatusCode::kUnavailable)
      return "the search index is kept up to date by a running `tessera serve`";
    return "the search index could not be updated: " + index.status().message();
  }
  Progress progress("indexing", !ctx.json && ::isatty(2));
  Result<archive::CatchUpReport> r = (*index)->CatchUp(store, &progress);
  progress.Finish();
  if (!r.ok()) return "the search index could not be updated: " + r.status().message();
  std::string note =
      "search index: " + std::to_string(indexed_before + r->messages) + " message(s) indexed";
  for (const std::string& p : r->problems) note += "\n  " + p;
  return note;
}

Status Audit(const Context& ctx, const std::string& action, const std::string& target,
             const std::string& outcome) {
  return server::RecordAudit(ctx.home, action, target, outcome);
}

void AddArchiveAuditCommand(CLI::App& archive, Context& ctx) {
  auto* cmd = archive.add_subcommand(
      "audit",
      "Who searched, viewed, exported, restored or imported archived mail; checks the "
      "log's hash chain");
  auto since = std::make_shared<std::string>();
  cmd->add_option("--since", *since, "Only records from this date on (YYYY-MM-DD, local time)");
  cmd->callback([&ctx, since] {
    Run(ctx, [&]() -> Status {
      std::optional<int64_t> from;
      if (!since->empty()) {
        TESSERA_ASSIGN_OR_RETURN(int64_t t, archive::ParseSearchDate(*since));
        from = t;
      }
      {
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ctx.home + "/archive"));
        TESSERA_RETURN_IF_ERROR(
            Authorize(ctx, *store, archive::Permission::kReadAuditLog, "archive.audit", *since)
                .status());
      }
      TESSERA_ASSIGN_OR_RETURN(auto log, guard::AuditLog::Open(ctx.home));
      TESSERA_ASSIGN_OR_RETURN(guard::AuditVerifyReport v, log->Verify());
      TESSERA_ASSIGN_OR_RETURN(std::vector<guard::AuditRecord> records, log->Read(from));
      if (!v.problems.empty()) ctx.exit_code = kExitProblems;
      if (ctx.json) {
        json list = json::array();
        for (const auto& r : records)
          list.push_back({{"seq", r.seq},
                          {"at", FormatRfc3339(r.at * 1000000000)},
                          {"actor", r.actor},
                          {"action", r.action},
                          {"target", r.target},
                          {"outcome", r.outcome}});
        PrintJson({{"records", list},
                   {"chain_records", v.records},
                   {"head", v.head},
                   {"problems", v.problems},
                   {"ok", v.problems.empty()}});
        return Status::Ok();
      }
      for (const auto& r : records)
        std::printf("%6lld  %s  %s  %s  %s  (%s)\n", static_cast<long long>(r.seq),
                    FormatRfc3339(r.at * 1000000000).c_str(), r.actor.c_str(), r.action.c_str(),
                    r.target.c_str(), r.outcome.c_str());
      for (const auto& p : v.problems) std::printf("PROBLEM: %s\n", p.c_str());
      std::printf("%llu records; chain head %s; %s\n", static_cast<unsigned long long>(v.records),
                  v.head.c_str(), v.problems.empty() ? "audit log OK" : "audit log DAMAGED");
      return Status::Ok();
    });
  });
}

void AddArchiveSearchCommand(CLI::App& archive, Context& ctx) {
  auto* cmd = archive.add_subcommand(
      "search",
      "Search the archive (Chinese included): words, \"phrases\", from: to: subject: "
      "attachment: after:YYYY-MM-DD before:YYYY-MM-DD has:attachment");
  struct Options {
    std::string query, from, to, after, before;
    bool has_attachment = false;
    size_t limit = 50;
  };
  auto o = std::make_shared<Options>();
  cmd->add_option("query", o->query, "What to look for, e.g. '國稅局 from:鄭 after:2024-01-01'");
  cmd->add_option("--from", o->from, "Sender (name or address, or part of either)");
  cmd->add_option("--to", o->to, "Recipient, Bcc included (name or address)");
  cmd->add_option("--after", o->after, "Sent on or after this date (YYYY-MM-DD, local time)");
  cmd->add_option("--before", o->before, "Sent before this date (YYYY-MM-DD, local time)");
  cmd->add_flag("--has-attachment", o->has_attachment, "Only messages with attachments");
  cmd->add_option("--limit", o->limit, "Show at most this many, newest first")
      ->check(CLI::Range(1, 100000));
  cmd->callback([&ctx, o] {
    Run(ctx, [&]() -> Status {
      TESSERA_ASSIGN_OR_RETURN(archive::SearchQuery q, archive::ParseSearchQuery(o->query));
      if (!o->from.empty()) q.from.push_back(o->from);
      if (!o->to.empty()) q.to.push_back(o->to);
      if (!o->after.empty()) {
        TESSERA_ASSIGN_OR_RETURN(int64_t t, archive::ParseSearchDate(o->after));
        q.after = t;
      }
      if (!o->before.empty()) {
        TESSERA_ASSIGN_OR_RETURN(int64_t t, archive::ParseSearchDate(o->before));
        q.before = t;
      }
      q.has_attachment = q.has_attachment || o->has_attachment;
      q.limit = o->limit;
      // What arrived since the last indexing is indexed first, so a search sees everything.
      std::string asked = o->query;
      for (auto [name, value] :
           {std::pair{" --from ", &o->from}, std::pair{" --to ", &o->to},
            std::pair{" --after ", &o->after}, std::pair{" --before ", &o->before}})
        if (!value->empty()) asked += name + *value;
      if (o->has_attachment) asked += " --has-attachment";
      TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ctx.home + "/archive"));
      TESSERA_ASSIGN_OR_RETURN(
          archive::Principal who,
          Authorize(ctx, *store, archive::Permission::kReadOwnMail, "archive.search", asked));
      const std::string note = UpdateSearchIndex(ctx, *store);
      TESSERA_ASSIGN_OR_RETURN(auto index,
                               archive::SearchIndex::OpenForReading(ctx.home + "/archive/index"));
      if (!archive::Allows(who.role, archive::Permission::kReadAllMail)) {
        TESSERA_ASSIGN_OR_RETURN(q.within, archive::MessagesOf(*store, *index, who.addresses));
      }
      TESSERA_ASSIGN_OR_RETURN(archive::SearchResults r, index->Search(q));
      TESSERA_RETURN_IF_ERROR(
          Audit(ctx, "archive.search", asked, std::to_string(r.matches) + " matches"));
      if (ctx.json) {
        json hits = json::array();
        for (const auto& h : r.hits) {
          json j = {
              {"id", h.message},      {"message_id", h.message_id}, {"from", h.from},
              {"subject", h.subject}, {"recipients", h.recipients}, {"attachments", h.attachments}};
          j["date"] = h.date ? json(FormatRfc3339(*h.date * 1000000000)) : json(nullptr);
          hits.push_back(std::move(j));
        }
        PrintJson({{"matches", r.matches}, {"hits", hits}});
        return Status::Ok();
      }
      std::fprintf(stderr, "%s\n", note.c_str());
      for (const auto& h : r.hits) {
        std::string to;
        for (const auto& x : h.recipients) to += (to.empty() ? "" : ", ") + x;
        std::printf(
            "%6lld  %s  %s\n        to: %s\n        %s\n", static_cast<long long>(h.message),
            h.date ? FormatRfc3339(*h.date * 1000000000).substr(0, 16).c_str() : "(no date)       ",
            h.from.c_str(), to.c_str(), h.subject.c_str());
        if (!h.attachments.empty()) {
          std::string names;
          for (const auto& a : h.attachments) names += (names.empty() ? "" : ", ") + a;
          std::printf("        attachments: %s\n", names.c_str());
        }
      }
      std::printf("%llu message(s) match%s\n", static_cast<unsigned long long>(r.matches),
                  r.matches > r.hits.size()
                      ? (", newest " + std::to_string(r.hits.size()) + " shown (--limit)").c_str()
                      : "");
      return Status::Ok();
    });
  });
}

}  // namespace tessera::cli
