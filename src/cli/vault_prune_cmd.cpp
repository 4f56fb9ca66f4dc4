// `tessera vault forget` and `tessera vault prune`: retention policy, and freeing the
// space of data no snapshot uses.
#include <unistd.h>

#include <cstdio>
#include <memory>

#include "base/clock.hpp"
#include "base/progress.hpp"
#include "cli/cli.hpp"
#include "vault/forget.hpp"
#include "vault/prune.hpp"

namespace tessera::cli {

using nlohmann::json;

namespace {

struct ForgetArgs {
  std::vector<std::string> ids;
  vault::RetentionPolicy policy;
  std::string within;
  bool prune = false;
  bool dry_run = false;
  double max_unused_percent = 20;
};

struct PruneArgs {
  bool dry_run = false;
  double max_unused_percent = 20;
};

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string PolicyText(const vault::RetentionPolicy& p) {
  std::vector<std::string> rules;
  auto count = [&](const char* name, int n) {
    if (n != 0) rules.push_back(std::string(name) + " " + (n < 0 ? "all" : std::to_string(n)));
  };
  count("last", p.last);
  count("hourly", p.hourly);
  count("daily", p.daily);
  count("weekly", p.weekly);
  count("monthly", p.monthly);
  count("yearly", p.yearly);
  if (!p.within.zero()) rules.push_back("within " + p.within.ToString());
  for (const std::string& t : p.tags) rules.push_back("tag '" + t + "'");
  return Join(rules, ", ");
}

json SnapshotBrief(const vault::Snapshot& s, const vault::PolicyResult& plan) {
  auto it = plan.reasons.find(s.id);
  return {{"id", s.id},
          {"short_id", s.id.substr(0, 8)},
          {"time", FormatRfc3339(s.time_ns)},
          {"hostname", s.hostname},
          {"paths", s.paths},
          {"tags", s.tags},
          {"reasons", it == plan.reasons.end() ? std::vector<std::string>{} : it->second}};
}

json PlanJson(const vault::PolicyResult& plan) {
  json groups = json::array();
  for (const vault::SnapshotGroup& g : plan.groups) {
    json keep = json::array(), remove = json::array();
    for (const auto& s : g.keep) keep.push_back(SnapshotBrief(s, plan));
    for (const auto& s : g.remove) remove.push_back(SnapshotBrief(s, plan));
    groups.push_back(
        {{"hostname", g.hostname}, {"paths", g.paths}, {"keep", keep}, {"remove", remove}});
  }
  return groups;
}

void PrintPlan(const vault::PolicyResult& plan) {
  auto line = [&](const char* what, const vault::Snapshot& s) {
    auto it = plan.reasons.find(s.id);
    std::string tags;
    for (const std::string& t : s.tags) tags += " [" + t + "]";
    std::printf("  %-6s  %s  %s%s  %s\n", what, s.id.substr(0, 8).c_str(),
                FormatRfc3339(s.time_ns).c_str(), tags.c_str(),
                it == plan.reasons.end() ? "" : Join(it->second, ", ").c_str());
  };
  for (const vault::SnapshotGroup& g : plan.groups) {
    std::printf("host %s, paths %s: keep %zu, remove %zu\n", g.hostname.c_str(),
                Join(g.paths, " ").c_str(), g.keep.size(), g.remove.size());
    for (const auto& s : g.keep) line("keep", s);
    for (const auto& s : g.remove) line("remove", s);
  }
}

json PruneJson(const vault::PruneReport& r) {
  std::vector<int> degraded;
  for (int i : r.degraded_stores) degraded.push_back(i + 1);
  return {{"dry_run", r.dry_run},
          {"snapshots", r.snapshots},
          {"packs",
           {{"before", r.packs_before},
            {"deleted", r.packs_deleted},
            {"repacked", r.packs_repacked},
            {"kept", r.packs_kept},
            {"written", r.packs_written},
            {"unindexed_deleted", r.packs_unindexed},
            {"missing", r.packs_missing}}},
          {"blobs",
           {{"used", r.blobs_used}, {"removed", r.blobs_removed}, {"repacked", r.blobs_repacked}}},
          {"packed_bytes",
           {{"used", r.bytes_used}, {"removed", r.bytes_removed}, {"repacked", r.bytes_repacked}}},
          {"index_objects",
           {{"before", r.index_objects_before},
            {"written", r.index_objects_written},
            {"deleted", r.index_objects_deleted},
            {"leftovers", r.index_leftovers}}},
          {"store_bytes",
           {{"before", r.store_bytes_before},
            {"after", r.store_bytes_after},
            {"freed", r.store_bytes_freed}}},
          {"degraded_stores", degraded},
          {"warnings", r.warnings}};
}

void PrintPrune(const vault::PruneReport& r, const vault::Repository& repo) {
  const char* would = r.dry_run ? "would be " : "";
  std::printf("prune%s: %zu snapshots use %zu blobs (%s packed)\n", r.dry_run ? " (dry run)" : "",
              r.snapshots, r.blobs_used, HumanBytes(r.bytes_used).c_str());
  if (r.nothing_to_do() && !r.dry_run) {
    std::printf("  nothing to do: every pack is in use\n");
    return;
  }
  std::printf("  packs: %zu in the index; %zu %sdeleted (unused), %zu %srepacked, %zu kept",
              r.packs_before, r.packs_deleted, would, r.packs_repacked, would, r.packs_kept);
  if (!r.dry_run) std::printf(", %zu new", r.packs_written);
  std::printf("\n");
  if (r.packs_unindexed)
    std::printf("  %zu packs in no index (left by an interrupted run) %sdeleted\n",
                r.packs_unindexed, would);
  std::printf("  blobs: %zu %sremoved (%s packed), %zu %scopied (%s)\n", r.blobs_removed, would,
              HumanBytes(r.bytes_removed).c_str(), r.blobs_repacked, would,
              HumanBytes(r.bytes_repacked).c_str());
  std::printf("  index: %zu objects %sreplaced by %zu", r.index_objects_deleted, would,
              r.index_objects_written);
  if (r.index_leftovers) std::printf(" (%zu left by an interrupted run)", r.index_leftovers);
  std::printf("\n");
  std::printf("  stores: %s %s across the %d stores (%s before, %s after)\n",
              HumanBytes(r.store_bytes_freed).c_str(), r.dry_run ? "would be freed" : "freed",
              repo.config().n, HumanBytes(r.store_bytes_before).c_str(),
              HumanBytes(r.store_bytes_after).c_str());
}

// Runs prune and prints its report; sets the exit code for degraded writes.
Status RunPrune(Context& ctx, vault::Repository& repo, const vault::PruneOptions& options,
                json* out) {
  Progress progress("prune", !ctx.json && ::isatty(2));
  TESSERA_ASSIGN_OR_RETURN(vault::PruneReport r, vault::Prune(repo, options, &progress));
  progress.Finish();
  for (const std::string& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  if (out)
    *out = PruneJson(r);
  else
    PrintPrune(r, repo);
  if (!r.degraded_stores.empty()) {
    std::string list;
    for (int i : r.degraded_stores) list += (list.empty() ? "" : ", ") + std::to_string(i + 1);
    std::fprintf(stderr,
                 "warning: stores %s did not take every shard of the new index or packs; run "
                 "`tessera vault repair` when they are back\n",
                 list.c_str());
    ctx.exit_code = kExitDegraded;
  }
  return Status::Ok();
}

}  // namespace

void AddVaultPruneCommands(CLI::App& vault, Context& ctx) {
  // forget
  {
    auto* cmd = vault.add_subcommand(
        "forget",
        "Forget snapshots by id or by a retention policy (per host and paths, times in UTC); "
        "--prune then frees their space");
    // Owned by the callback, which the App keeps as long as the options refer to it.
    auto a = std::make_shared<ForgetArgs>();
    cmd->add_option("ids", a->ids, "Snapshots to forget (id, unique prefix or 'latest')");
    cmd->add_option("--keep-last", a->policy.last, "Keep the N newest snapshots (-1: all)");
    cmd->add_option("--keep-hourly", a->policy.hourly,
                    "Keep the newest snapshot of each of the last N hours that have one");
    cmd->add_option("--keep-daily", a->policy.daily, "... of each of the last N days (UTC)");
    cmd->add_option("--keep-weekly", a->policy.weekly, "... of each of the last N ISO weeks");
    cmd->add_option("--keep-monthly", a->policy.monthly, "... of each of the last N months");
    cmd->add_option("--keep-yearly", a->policy.yearly, "... of each of the last N years");
    cmd->add_option("--keep-within", a->within,
                    "Keep snapshots at most this much older than the newest (e.g. 30d, 1y2m; "
                    "units y m d h)");
    cmd->add_option("--keep-tag", a->policy.tags, "Keep snapshots with this tag; repeat");
    cmd->add_flag("--prune", a->prune,
                  "When snapshots were forgotten, then delete the data no snapshot uses");
    cmd->add_flag("--dry-run,-n", a->dry_run, "Show what would be forgotten; change nothing");
    cmd->add_option("--max-unused-percent", a->max_unused_percent,
                    "With --prune: repack packs with more unused bytes than this")
        ->check(CLI::Range(0.0, 100.0));
    cmd->callback([&ctx, a] {
      Run(ctx, [&]() -> Status {
        if (!a->within.empty()) {
          TESSERA_ASSIGN_OR_RETURN(a->policy.within, vault::ParseRetentionSpan(a->within));
        }
        if (a->ids.empty() && a->policy.Empty())
          return Status::InvalidArgument(
              "give the snapshots to forget, or a retention policy (--keep-last, --keep-daily, "
              "...); forget never removes every snapshot by default");
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        vault::ForgetOptions options{a->policy, a->ids, a->dry_run};
        TESSERA_ASSIGN_OR_RETURN(vault::ForgetResult r,
                                 vault::Forget(*repo, options, NowUnixNanos()));
        json j = {{"ok", true},
                  {"dry_run", r.dry_run},
                  {"groups", PlanJson(r.plan)},
                  {"kept", r.plan.keep.size()},
                  {"removed", r.dry_run ? r.plan.remove.size() : r.removed},
                  {"prune", nullptr}};
        if (a->ids.empty()) j["policy"] = PolicyText(a->policy);
        if (!ctx.json) {
          if (a->ids.empty()) std::printf("policy: %s (UTC)\n", PolicyText(a->policy).c_str());
          PrintPlan(r.plan);
          if (r.dry_run)
            std::printf("would forget %zu of %zu snapshots (dry run)\n", r.plan.remove.size(),
                        r.plan.keep.size() + r.plan.remove.size());
          else
            std::printf("forgot %zu of %zu snapshots\n", r.removed,
                        r.plan.keep.size() + r.plan.remove.size());
        }
        if (a->prune && !r.plan.remove.empty()) {
          vault::PruneOptions po;
          po.dry_run = a->dry_run;
          po.max_unused_percent = a->max_unused_percent;
          if (a->dry_run)
            for (const auto& s : r.plan.remove) po.assume_forgotten.push_back(s.id);
          json pj;
          TESSERA_RETURN_IF_ERROR(RunPrune(ctx, *repo, po, ctx.json ? &pj : nullptr));
          j["prune"] = pj;
        }
        if (ctx.json) PrintJson(j);
        return Status::Ok();
      });
    });
  }

  // prune
  {
    auto* cmd = vault.add_subcommand(
        "prune",
        "Delete the data no snapshot uses (takes an exclusive lock: no backup may run meanwhile)");
    auto a = std::make_shared<PruneArgs>();
    cmd->add_flag("--dry-run,-n", a->dry_run, "Show what would be deleted; change nothing");
    cmd->add_option("--max-unused-percent", a->max_unused_percent,
                    "Repack packs with more unused bytes than this share")
        ->check(CLI::Range(0.0, 100.0));
    cmd->callback([&ctx, a] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        vault::PruneOptions po;
        po.dry_run = a->dry_run;
        po.max_unused_percent = a->max_unused_percent;
        json pj;
        TESSERA_RETURN_IF_ERROR(RunPrune(ctx, *repo, po, ctx.json ? &pj : nullptr));
        if (ctx.json) {
          pj["ok"] = true;
          PrintJson(pj);
        }
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
