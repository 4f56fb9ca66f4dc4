// `tessera archive retention ...`: retention classes, rules, legal holds and destruction
// batches under the Archives Act (archive/retention.hpp says what holds). Every change is
// recorded in the audit log; a destruction is recorded before it happens.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <thread>

#include "archive/message_store.hpp"
#include "archive/retention.hpp"
#include "archive/search_index.hpp"
#include "base/clock.hpp"
#include "cli/cli.hpp"
#include "guard/audit_log.hpp"

namespace tessera::cli {

using nlohmann::json;

namespace {

// The store, an index caught up with it, and retention over both.
struct RetentionSession {
  std::unique_ptr<archive::MessageStore> store;
  std::unique_ptr<archive::SearchIndex> index;
  std::unique_ptr<archive::Retention> retention;
  bool index_writable = false;  // false while a running `tessera serve` keeps the index
};

// Opened for someone who may `permission` (refused and recorded as `action` otherwise).
Result<RetentionSession> OpenRetention(const Context& ctx, archive::Permission permission,
                                       const std::string& action, const std::string& target) {
  RetentionSession s;
  const std::string dir = ctx.home + "/archive";
  TESSERA_ASSIGN_OR_RETURN(s.store, archive::MessageStore::Open(dir));
  TESSERA_RETURN_IF_ERROR(Authorize(ctx, *s.store, permission, action, target).status());
  auto writer = archive::SearchIndex::OpenForWriting(dir + "/index");
  if (writer.ok()) {
    TESSERA_ASSIGN_OR_RETURN(archive::CatchUpReport r, (*writer)->CatchUp(*s.store, nullptr));
    (void)r;
    s.index = std::move(*writer);
    s.index_writable = true;
  } else if (writer.status().code() == StatusCode::kUnavailable) {
    // A running `tessera serve` keeps the index; it catches up within seconds.
    for (int attempt = 0;; ++attempt) {
      TESSERA_ASSIGN_OR_RETURN(s.index, archive::SearchIndex::OpenForReading(dir + "/index"));
      TESSERA_ASSIGN_OR_RETURN(bool behind, s.index->Behind(*s.store));
      if (!behind || attempt == 30) break;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  } else {
    return writer.status();
  }
  TESSERA_ASSIGN_OR_RETURN(s.retention, archive::Retention::Open(*s.store, *s.index));
  return s;
}

std::string Day(std::optional<int64_t> unix_seconds) {
  if (!unix_seconds) return "-";
  return FormatRfc3339(*unix_seconds * 1000000000).substr(0, 10);
}

// Exactly one criterion from the options given.
struct CriterionOptions {
  std::string sender, recipient, folder, query, messages;

  Result<archive::Criterion> Get(bool allow_messages) const {
    std::vector<archive::Criterion> given;
    auto add = [&](const char* kind, const std::string& value) {
      if (!value.empty()) given.push_back({kind, value, {}});
    };
    add("sender", sender);
    add("recipient", recipient);
    add("folder", folder);
    add("query", query);
    if (!messages.empty()) {
      archive::Criterion c{"messages", "", {}};
      TESSERA_ASSIGN_OR_RETURN(c.message_ids, archive::ParseMessageIds(messages));
      given.push_back(c);
    }
    if (given.size() != 1)
      return Status::InvalidArgument(
          std::string("give exactly one of --sender, --recipient, --folder, --query") +
          (allow_messages ? " or --messages" : ""));
    return given.front();
  }

  void AddTo(CLI::App& cmd, bool allow_messages) {
    cmd.add_option("--sender", sender, "Sender address, glob (e.g. '*@ntbt.gov.tw')");
    cmd.add_option("--recipient", recipient, "Recipient address (Bcc too), glob");
    cmd.add_option("--folder", folder, "Folder, glob (e.g. '公文/*')");
    cmd.add_option("--query", query, "Search query, as `archive search` takes it");
    if (allow_messages) cmd.add_option("--messages", messages, "Message ids, e.g. 12,15,40");
  }
};

json BatchJson(const archive::DestructionBatch& b) {
  json items = json::array();
  for (const auto& i : b.items)
    items.push_back({{"message", i.message},
                     {"sha256", i.sha256_hex},
                     {"message_id", i.message_id},
                     {"subject", i.subject},
                     {"from", i.from},
                     {"date", i.date ? json(Day(i.date)) : json(nullptr)},
                     {"size", i.size},
                     {"class", archive::RetentionClassName(i.years)},
                     {"assigned_by", i.assigned_by},
                     {"expired", Day(i.expired_at)},
                     {"outcome", i.outcome}});
  return {{"id", b.id},
          {"state", b.state},
          {"note", b.note},
          {"proposed_by", b.proposed_by},
          {"proposed_at", FormatRfc3339(b.proposed_at * 1000000000)},
          {"approved_by", b.approved_by},
          {"rejected_by", b.rejected_by},
          {"reason", b.reason},
          {"purged_by", b.purged_by},
          {"items", items}};
}

void PrintBatch(const archive::DestructionBatch& b) {
  std::printf("destruction batch %lld (銷毀目錄): %s, proposed by %s on %s\n",
              static_cast<long long>(b.id), b.state.c_str(), b.proposed_by.c_str(),
              Day(b.proposed_at).c_str());
  if (!b.note.empty()) std::printf("  note: %s\n", b.note.c_str());
  if (!b.approved_by.empty()) std::printf("  approved by %s\n", b.approved_by.c_str());
  if (!b.rejected_by.empty())
    std::printf("  rejected by %s: %s\n", b.rejected_by.c_str(), b.reason.c_str());
  if (!b.purged_by.empty()) std::printf("  purged by %s\n", b.purged_by.c_str());
  for (const auto& i : b.items)
    std::printf("  %6lld  %s  %-28.28s  %-40.40s  %s, expired %s%s%s\n",
                static_cast<long long>(i.message), Day(i.date).c_str(), i.from.c_str(),
                i.subject.c_str(), archive::RetentionClassName(i.years).c_str(),
                Day(i.expired_at).c_str(), i.outcome.empty() ? "" : "  → ", i.outcome.c_str());
  std::printf("  %zu message(s)\n", b.items.size());
}

int64_t Now() {
  return static_cast<int64_t>(std::time(nullptr));
}

// A subcommand that acts on one destruction batch, given by number: `act` runs with
// retention opened for someone who may `permission` (a refusal recorded as `action`), and
// the target "batch N".
using BatchAction = std::function<Status(RetentionSession&, int64_t, const std::string&)>;
CLI::App* AddBatchCommand(CLI::App& retention, Context& ctx, const char* name, const char* help,
                          archive::Permission permission, const char* action, BatchAction act) {
  auto* cmd = retention.add_subcommand(name, help);
  auto id = std::make_shared<int64_t>(0);
  cmd->add_option("id", *id, "Batch number")->required();
  cmd->callback([&ctx, id, permission, action, act] {
    Run(ctx, [&]() -> Status {
      const std::string target = "batch " + std::to_string(*id);
      TESSERA_ASSIGN_OR_RETURN(RetentionSession s, OpenRetention(ctx, permission, action, target));
      return act(s, *id, target);
    });
  });
  return cmd;
}

}  // namespace

void AddArchiveRetentionCommands(CLI::App& archive, Context& ctx) {
  auto* retention = archive.add_subcommand(
      "retention",
      "Retention classes, rules, legal holds and destruction batches (檔案保存年限及銷毀)");
  retention->require_subcommand(1);
  const std::string actor = guard::CurrentActor();

  // default
  {
    auto* cmd = retention->add_subcommand(
        "default", "Set the class of mail no rule matches (permanent until set)");
    auto cls = std::make_shared<std::string>();
    cmd->add_option("class", *cls, "permanent (永久), 30, 25, 20, 15, 10, 5, 3 or 1")->required();
    cmd->callback([&ctx, cls] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(int years, archive::ParseRetentionClass(*cls));
        TESSERA_ASSIGN_OR_RETURN(RetentionSession s,
                                 OpenRetention(ctx, archive::Permission::kChangeRetention,
                                               "archive.retention.default", *cls));
        TESSERA_RETURN_IF_ERROR(
            Audit(ctx, "archive.retention.default", archive::RetentionClassName(years), "set"));
        TESSERA_RETURN_IF_ERROR(s.retention->SetDefaultClass(years));
        std::printf("mail no rule matches is kept %s\n",
                    archive::RetentionClassName(years).c_str());
        return Status::Ok();
      });
    });
  }

  // rule add | remove
  {
    auto* rule = retention->add_subcommand("rule", "Add or remove a retention rule");
    rule->require_subcommand(1);
    auto* add = rule->add_subcommand(
        "add",
        "Assign a class to mail by sender, recipient, folder or query (the longest "
        "class of all matching rules applies)");
    auto criterion = std::make_shared<CriterionOptions>();
    auto cls = std::make_shared<std::string>();
    criterion->AddTo(*add, false);
    add->add_option("--class", *cls, "permanent (永久), 30, 25, 20, 15, 10, 5, 3 or 1")->required();
    add->callback([&ctx, criterion, cls, actor] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(int years, archive::ParseRetentionClass(*cls));
        TESSERA_ASSIGN_OR_RETURN(archive::Criterion c, criterion->Get(false));
        TESSERA_ASSIGN_OR_RETURN(RetentionSession s,
                                 OpenRetention(ctx, archive::Permission::kChangeRetention,
                                               "archive.retention.rule-add", c.Describe()));
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.retention.rule-add", c.Describe(),
                                      archive::RetentionClassName(years)));
        TESSERA_ASSIGN_OR_RETURN(int64_t id, s.retention->AddRule(c, years, actor));
        if (ctx.json) {
          PrintJson({{"rule", id}});
        } else {
          std::printf("rule %lld: %s → %s\n", static_cast<long long>(id), c.Describe().c_str(),
                      archive::RetentionClassName(years).c_str());
        }
        return Status::Ok();
      });
    });
    auto* remove = rule->add_subcommand("remove", "Remove a retention rule");
    auto id = std::make_shared<int64_t>(0);
    remove->add_option("id", *id, "Rule number")->required();
    remove->callback([&ctx, id] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(
            RetentionSession s,
            OpenRetention(ctx, archive::Permission::kChangeRetention,
                          "archive.retention.rule-remove", std::to_string(*id)));
        TESSERA_RETURN_IF_ERROR(
            Audit(ctx, "archive.retention.rule-remove", std::to_string(*id), "removed"));
        TESSERA_RETURN_IF_ERROR(s.retention->RemoveRule(*id));
        std::printf("rule %lld removed\n", static_cast<long long>(*id));
        return Status::Ok();
      });
    });
  }

  // rules
  {
    auto* cmd = retention->add_subcommand("rules", "List the retention rules and the default");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(
            RetentionSession s,
            OpenRetention(ctx, archive::Permission::kReadRetention, "archive.retention.rules", ""));
        TESSERA_ASSIGN_OR_RETURN(int default_years, s.retention->DefaultClass());
        TESSERA_ASSIGN_OR_RETURN(auto rules, s.retention->Rules());
        if (ctx.json) {
          json list = json::array();
          for (const auto& r : rules)
            list.push_back({{"id", r.id},
                            {"kind", r.criterion.kind},
                            {"pattern", r.criterion.pattern},
                            {"class", archive::RetentionClassName(r.years)},
                            {"created_by", r.created_by}});
          PrintJson({{"default", archive::RetentionClassName(default_years)}, {"rules", list}});
          return Status::Ok();
        }
        for (const auto& r : rules)
          std::printf("rule %lld: %s → %s (by %s)\n", static_cast<long long>(r.id),
                      r.criterion.Describe().c_str(), archive::RetentionClassName(r.years).c_str(),
                      r.created_by.c_str());
        std::printf("mail no rule matches: %s\n",
                    archive::RetentionClassName(default_years).c_str());
        return Status::Ok();
      });
    });
  }

  // hold add | release, holds
  {
    auto* hold = retention->add_subcommand("hold", "Place or release a legal hold");
    hold->require_subcommand(1);
    auto* add = hold->add_subcommand("add", "Keep matching mail past its class until released");
    auto criterion = std::make_shared<CriterionOptions>();
    auto name = std::make_shared<std::string>();
    auto reason = std::make_shared<std::string>();
    add->add_option("name", *name, "A name for the hold, e.g. a case number")->required();
    add->add_option("--reason", *reason, "Why (a case, an inquiry)")->required();
    criterion->AddTo(*add, true);
    add->callback([&ctx, criterion, name, reason, actor] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(archive::Criterion c, criterion->Get(true));
        TESSERA_ASSIGN_OR_RETURN(RetentionSession s,
                                 OpenRetention(ctx, archive::Permission::kChangeRetention,
                                               "archive.retention.hold-add", *name));
        TESSERA_RETURN_IF_ERROR(
            Audit(ctx, "archive.retention.hold-add", *name + ": " + c.Describe(), *reason));
        TESSERA_ASSIGN_OR_RETURN(int64_t id, s.retention->AddHold(*name, c, *reason, actor));
        TESSERA_ASSIGN_OR_RETURN(std::vector<int64_t> held, s.retention->HeldBy(id));
        if (ctx.json) {
          PrintJson({{"hold", id}, {"messages", held.size()}});
        } else {
          std::printf("hold %lld (%s): %s; it holds %zu message(s) now\n",
                      static_cast<long long>(id), name->c_str(), c.Describe().c_str(), held.size());
        }
        return Status::Ok();
      });
    });
    auto* release = hold->add_subcommand("release", "Release a legal hold");
    auto id = std::make_shared<int64_t>(0);
    release->add_option("id", *id, "Hold number")->required();
    release->callback([&ctx, id, actor] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(
            RetentionSession s,
            OpenRetention(ctx, archive::Permission::kChangeRetention,
                          "archive.retention.hold-release", std::to_string(*id)));
        TESSERA_RETURN_IF_ERROR(
            Audit(ctx, "archive.retention.hold-release", std::to_string(*id), "released"));
        TESSERA_RETURN_IF_ERROR(s.retention->ReleaseHold(*id, actor));
        std::printf("hold %lld released\n", static_cast<long long>(*id));
        return Status::Ok();
      });
    });

    auto* holds = retention->add_subcommand("holds", "List the legal holds");
    auto all = std::make_shared<bool>(false);
    holds->add_flag("--all", *all, "Released holds too");
    holds->callback([&ctx, all] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(
            RetentionSession s,
            OpenRetention(ctx, archive::Permission::kReadRetention, "archive.retention.holds", ""));
        TESSERA_ASSIGN_OR_RETURN(auto list, s.retention->Holds(*all));
        json out = json::array();
        for (const auto& h : list) {
          TESSERA_ASSIGN_OR_RETURN(std::vector<int64_t> held, s.retention->HeldBy(h.id));
          if (ctx.json) {
            out.push_back({{"id", h.id},
                           {"name", h.name},
                           {"criterion", h.criterion.Describe()},
                           {"reason", h.reason},
                           {"created_by", h.created_by},
                           {"released", h.released_at.has_value()},
                           {"released_by", h.released_by},
                           {"messages", held.size()}});
          } else {
            std::printf("hold %lld (%s): %s — %s; by %s on %s; %s\n", static_cast<long long>(h.id),
                        h.name.c_str(), h.criterion.Describe().c_str(), h.reason.c_str(),
                        h.created_by.c_str(), Day(h.created_at).c_str(),
                        h.released_at ? ("released by " + h.released_by).c_str()
                                      : (std::to_string(held.size()) + " message(s) held").c_str());
          }
        }
        if (ctx.json) PrintJson({{"holds", out}});
        return Status::Ok();
      });
    });
  }

  // status
  {
    auto* cmd = retention->add_subcommand(
        "status", "The class, expiry and holds of messages (all: a summary per class)");
    auto ids = std::make_shared<std::vector<int64_t>>();
    cmd->add_option("ids", *ids, "Message ids");
    cmd->callback([&ctx, ids] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(RetentionSession s,
                                 OpenRetention(ctx, archive::Permission::kReadRetention,
                                               "archive.retention.status", ""));
        TESSERA_ASSIGN_OR_RETURN(auto list, s.retention->Evaluate(*ids));
        const int64_t now = Now();
        if (!ids->empty()) {
          for (int64_t id : *ids)
            if (std::none_of(list.begin(), list.end(), [&](auto& r) { return r.message == id; }))
              return Status::NotFound("no archived message has id " + std::to_string(id));
        }
        if (ctx.json || !ids->empty()) {
          json out = json::array();
          for (const auto& r : list) {
            const bool expired = r.expires && *r.expires <= now;
            if (ctx.json) {
              out.push_back({{"message", r.message},
                             {"class", archive::RetentionClassName(r.years)},
                             {"assigned_by", r.assigned_by},
                             {"starts", Day(r.starts)},
                             {"expires", r.expires ? json(Day(*r.expires)) : json(nullptr)},
                             {"expired", expired},
                             {"holds", r.holds}});
            } else {
              std::printf("message %lld: %s by %s; %s%s\n", static_cast<long long>(r.message),
                          archive::RetentionClassName(r.years).c_str(), r.assigned_by.c_str(),
                          r.expires
                              ? ((expired ? "expired " : "expires ") + Day(*r.expires)).c_str()
                              : "kept permanently",
                          r.holds.empty() ? "" : "; under legal hold");
            }
          }
          if (ctx.json) PrintJson({{"messages", out}});
          return Status::Ok();
        }
        std::map<int, std::pair<uint64_t, uint64_t>> per_class;  // messages, expired
        uint64_t held = 0;
        for (const auto& r : list) {
          auto& c = per_class[r.years];
          c.first++;
          if (r.expires && *r.expires <= now) c.second++;
          if (!r.holds.empty()) held++;
        }
        for (const auto& [years, c] : per_class)
          std::printf(
              "%-12s %8llu message(s), %llu expired\n", archive::RetentionClassName(years).c_str(),
              static_cast<unsigned long long>(c.first), static_cast<unsigned long long>(c.second));
        std::printf("%llu message(s) under legal hold\n", static_cast<unsigned long long>(held));
        return Status::Ok();
      });
    });
  }

  // propose | batches | batch | approve | reject | purge
  {
    auto* cmd = retention->add_subcommand(
        "propose", "List the expired mail no hold keeps as a destruction batch (銷毀目錄)");
    auto note = std::make_shared<std::string>();
    cmd->add_option("--note", *note, "A note for the approver");
    cmd->callback([&ctx, note, actor] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(RetentionSession s,
                                 OpenRetention(ctx, archive::Permission::kChangeRetention,
                                               "archive.retention.propose", ""));
        TESSERA_ASSIGN_OR_RETURN(archive::DestructionBatch b,
                                 s.retention->Propose(Now(), actor, *note));
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.retention.propose",
                                      "batch " + std::to_string(b.id),
                                      std::to_string(b.items.size()) + " message(s) listed"));
        if (ctx.json) {
          PrintJson(BatchJson(b));
        } else {
          PrintBatch(b);
          std::printf("a second person approves it with `tessera archive retention approve %lld`\n",
                      static_cast<long long>(b.id));
        }
        return Status::Ok();
      });
    });
  }
  {
    auto* cmd = retention->add_subcommand("batches", "List the destruction batches");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(RetentionSession s,
                                 OpenRetention(ctx, archive::Permission::kReadRetention,
                                               "archive.retention.batches", ""));
        TESSERA_ASSIGN_OR_RETURN(auto list, s.retention->Batches());
        json out = json::array();
        for (const auto& b : list) {
          if (ctx.json)
            out.push_back(BatchJson(b));
          else
            std::printf("batch %lld: %s, proposed by %s on %s\n", static_cast<long long>(b.id),
                        b.state.c_str(), b.proposed_by.c_str(), Day(b.proposed_at).c_str());
        }
        if (ctx.json) PrintJson({{"batches", out}});
        return Status::Ok();
      });
    });
  }
  AddBatchCommand(*retention, ctx, "batch", "Show a destruction batch and its list",
                  archive::Permission::kReadRetention, "archive.retention.batch",
                  [&ctx](RetentionSession& s, int64_t id, const std::string& target) -> Status {
                    TESSERA_ASSIGN_OR_RETURN(archive::DestructionBatch b, s.retention->Batch(id));
                    TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.retention.batch", target, "shown"));
                    if (ctx.json)
                      PrintJson(BatchJson(b));
                    else
                      PrintBatch(b);
                    return Status::Ok();
                  });
  AddBatchCommand(
      *retention, ctx, "approve",
      "Approve a destruction batch (someone other than who proposed it)",
      archive::Permission::kChangeRetention, "archive.retention.approve",
      [&ctx, actor](RetentionSession& s, int64_t id, const std::string& target) -> Status {
        Status st = s.retention->Approve(id, actor);
        // A refused approval is worth recording too: it may be someone trying alone.
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.retention.approve", target,
                                      st.ok() ? "approved" : "denied: " + st.message()));
        TESSERA_RETURN_IF_ERROR(st);
        std::printf("batch %lld approved; `tessera archive retention purge %lld` destroys it\n",
                    static_cast<long long>(id), static_cast<long long>(id));
        return Status::Ok();
      });
  {
    auto reason = std::make_shared<std::string>();
    CLI::App* reject = AddBatchCommand(
        *retention, ctx, "reject", "Reject a destruction batch",
        archive::Permission::kChangeRetention, "archive.retention.reject",
        [&ctx, actor, reason](RetentionSession& s, int64_t id,
                              const std::string& target) -> Status {
          TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.retention.reject", target, *reason));
          TESSERA_RETURN_IF_ERROR(s.retention->Reject(id, actor, *reason));
          std::printf("batch %lld rejected\n", static_cast<long long>(id));
          return Status::Ok();
        });
    reject->add_option("--reason", *reason, "Why")->required();
  }
  AddBatchCommand(
      *retention, ctx, "purge",
      "Destroy the mail of an approved batch (objects, index and records)",
      archive::Permission::kChangeRetention, "archive.retention.purge",
      [&ctx, actor](RetentionSession& s, int64_t id, const std::string& target) -> Status {
        TESSERA_ASSIGN_OR_RETURN(archive::DestructionBatch b, s.retention->Batch(id));
        if (b.state != "approved" && b.state != "purged")
          return Status::FailedPrecondition(
              "destruction " + target + " is " + b.state +
              (b.state == "proposed" ? "; a second person must approve it first" : ""));
        // Recorded before anything is destroyed; nothing is destroyed if it cannot be.
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.retention.purge", target,
                                      "purging " + std::to_string(b.items.size()) +
                                          " listed message(s), approved by " + b.approved_by));
        TESSERA_ASSIGN_OR_RETURN(archive::PurgeReport r, s.retention->Purge(id, Now(), actor));
        // The index forgets the destroyed messages now (or `tessera serve` does, shortly).
        if (s.index_writable) TESSERA_RETURN_IF_ERROR(s.index->CatchUp(*s.store, nullptr).status());
        TESSERA_RETURN_IF_ERROR(
            Audit(ctx, "archive.retention.purged", target,
                  std::to_string(r.destroyed) + " destroyed, " + std::to_string(r.kept) + " kept"));
        if (ctx.json) {
          PrintJson({{"batch", id}, {"destroyed", r.destroyed}, {"kept", r.kept}});
        } else {
          TESSERA_ASSIGN_OR_RETURN(archive::DestructionBatch after, s.retention->Batch(id));
          PrintBatch(after);
          std::printf("%llu destroyed, %llu kept\n", static_cast<unsigned long long>(r.destroyed),
                      static_cast<unsigned long long>(r.kept));
        }
        return Status::Ok();
      });
}

}  // namespace tessera::cli
