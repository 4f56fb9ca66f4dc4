// `tessera vault verify | repair | replace-store`: store health, repair from redundancy,
// and moving a store to a new place.
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>

#include "base/progress.hpp"
#include "cli/cli.hpp"
#include "vault/checker.hpp"
#include "vault/repair.hpp"

namespace tessera::cli {

using nlohmann::json;

namespace {

// Lines of one kind shown per store before the rest is summed up (--json has them all).
constexpr size_t kShownPerStore = 20;

std::string StoreStatus(const vault::StoreHealth& s) {
  using D = vault::DescriptorState;
  if (!s.reachable) return "UNREACHABLE";
  if (s.descriptor == D::kForeign) return "ANOTHER VAULT";
  if (s.descriptor == D::kWrongSlot) return "WRONG SLOT";
  if (s.empty) return "EMPTY";
  if (s.damaged > 0) return "DAMAGED";
  if (s.missing > 0) return "MISSING";
  if (s.descriptor == D::kMissing) return "NO KEY SHARE";
  if (s.descriptor == D::kStale) return "STALE SHARE";
  if (s.descriptor == D::kDamaged) return "BAD KEY SHARE";
  return "ok";
}

std::string StoreList(const std::vector<int>& stores) {
  std::string out;
  for (int i : stores) out += (out.empty() ? "" : ", ") + std::to_string(i + 1);
  return out;
}

json ReportJson(const vault::CheckReport& r) {
  json stores = json::array();
  for (const vault::StoreHealth& s : r.stores) {
    json j = {{"store", s.index + 1},     {"url", s.url},
              {"status", StoreStatus(s)}, {"reachable", s.reachable},
              {"empty", s.empty},         {"descriptor", vault::DescriptorStateName(s.descriptor)},
              {"epoch", s.epoch},         {"objects_ok", s.ok},
              {"missing", s.missing},     {"damaged", s.damaged}};
    if (!s.error.empty()) j["error"] = s.error;
    if (!s.descriptor_problem.empty()) j["descriptor_problem"] = s.descriptor_problem;
    if (!s.foreign_vault_id.empty()) j["other_vault_id"] = s.foreign_vault_id;
    stores.push_back(std::move(j));
  }
  json objects = json::array();
  for (const vault::ObjectHealth& o : r.damaged_objects) {
    json shards = json::array();
    for (const vault::ShardProblem& p : o.problems)
      shards.push_back({{"store", p.store + 1},
                        {"state", p.state == vault::ShardState::kMissing ? "missing" : "damaged"},
                        {"reason", p.reason}});
    objects.push_back({{"object", o.name},
                       {"verdict", vault::ObjectVerdictName(o.verdict)},
                       {"healthy_shards", o.healthy},
                       {"unreachable_shards", o.unreachable},
                       {"shards", shards}});
  }
  return {{"ok", r.Healthy()},
          {"repairable", r.Repairable()},
          {"vault_id", r.vault_id},
          {"k", r.k},
          {"n", r.n},
          {"read_data", r.read_data},
          {"epoch", r.epoch},
          {"objects", r.objects},
          {"snapshots", r.snapshots},
          {"index_objects", r.index_objects},
          {"packs", r.packs},
          {"trees", r.trees},
          {"blobs_checked", r.blobs_checked},
          {"unrecoverable", r.Count(vault::ObjectVerdict::kUnrecoverable)},
          {"stores", stores},
          {"objects_with_problems", objects},
          {"structural", r.structural},
          {"structural_more", r.structural_more},
          {"config_problem", r.config_problem}};
}

void PrintTable(const vault::CheckReport& r) {
  std::printf("vault %s, %d-of-%d: %llu objects, %llu snapshots%s\n", r.vault_id.c_str(), r.k, r.n,
              static_cast<unsigned long long>(r.objects),
              static_cast<unsigned long long>(r.snapshots),
              r.read_data ? "; every shard read and authenticated, every blob decoded"
                          : "; presence and sizes only (--read-data reads every shard)");
  std::printf("%-5s  %-44s  %-13s  %8s  %8s  %8s\n", "store", "url", "status", "ok", "missing",
              "damaged");
  for (const vault::StoreHealth& s : r.stores) {
    if (s.reachable)
      std::printf("%-5d  %-44s  %-13s  %8llu  %8llu  %8llu\n", s.index + 1, s.url.c_str(),
                  StoreStatus(s).c_str(), static_cast<unsigned long long>(s.ok),
                  static_cast<unsigned long long>(s.missing),
                  static_cast<unsigned long long>(s.damaged));
    else
      std::printf("%-5d  %-44s  %-13s  %8s  %8s  %8s\n", s.index + 1, s.url.c_str(),
                  StoreStatus(s).c_str(), "-", "-", "-");
  }
}

void PrintProblems(const vault::CheckReport& r) {
  std::vector<std::string> lines, notes;
  for (const vault::StoreHealth& s : r.stores) {
    std::string store = "store " + std::to_string(s.index + 1);
    if (!s.reachable)
      lines.push_back(store + " (" + s.url + ") is UNREACHABLE: " + s.error);
    else if (s.empty)
      lines.push_back(store + " (" + s.url + ") is EMPTY: all its shards and its key share " +
                      "are missing");
    else if (s.descriptor != vault::DescriptorState::kOk)
      lines.push_back(store + ": " + s.descriptor_problem);
  }
  if (!r.config_problem.empty()) lines.push_back(r.config_problem);
  std::map<int, size_t> missing_shown, damaged_shown, missing_more, damaged_more;
  for (const vault::ObjectHealth& o : r.damaged_objects) {
    using V = vault::ObjectVerdict;
    if (o.verdict == V::kLeftover) {
      notes.push_back(o.name + ": leftover of an interrupted upload (no index refers to it); " +
                      "repair removes it");
      continue;
    }
    if (o.verdict == V::kUnrecoverable)
      lines.push_back("UNRECOVERABLE " + o.name + ": only " + std::to_string(o.healthy) +
                      " healthy shards, " + std::to_string(r.k) + " needed");
    if (o.verdict == V::kNeedsStores)
      lines.push_back(o.name + ": only " + std::to_string(o.healthy) + " healthy shards on the " +
                      "reachable stores, " + std::to_string(r.k) + " needed: it needs the " +
                      "unreachable stores back");
    for (const vault::ShardProblem& p : o.problems) {
      const vault::StoreHealth& s = r.stores[p.store];
      bool missing = p.state == vault::ShardState::kMissing;
      if (missing && s.empty) continue;  // said once for the store
      auto& shown = missing ? missing_shown : damaged_shown;
      if (shown[p.store]++ >= kShownPerStore) {
        (missing ? missing_more : damaged_more)[p.store]++;
        continue;
      }
      lines.push_back("store " + std::to_string(p.store + 1) + ": " + o.name + ": " +
                      (missing ? "missing" : p.reason));
    }
  }
  for (auto& [store, count] : damaged_more)
    lines.push_back("store " + std::to_string(store + 1) + ": ... and " + std::to_string(count) +
                    " more damaged shards (--json lists them all)");
  for (auto& [store, count] : missing_more)
    lines.push_back("store " + std::to_string(store + 1) + ": ... and " + std::to_string(count) +
                    " more missing shards (--json lists them all)");
  for (const std::string& s : r.structural) lines.push_back(s);
  if (r.structural_more)
    lines.push_back("... and " + std::to_string(r.structural_more) + " more structural problems");
  if (!lines.empty()) {
    std::printf("\nProblems:\n");
    for (const std::string& l : lines) std::printf("  %s\n", l.c_str());
  }
  if (!notes.empty()) {
    std::printf("\nNotes:\n");
    for (const std::string& l : notes) std::printf("  %s\n", l.c_str());
  }
}

}  // namespace

void AddVaultCheckCommands(CLI::App& vault, Context& ctx) {
  // verify
  {
    auto* cmd = vault.add_subcommand(
        "verify", "Per-store health: reachable, shards present and intact, snapshots complete");
    auto read_data = std::make_shared<bool>(false);
    cmd->add_flag("--read-data", *read_data,
                  "Download and authenticate every shard and decode every blob (slow)");
    cmd->callback([&ctx, read_data] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        std::vector<std::string> warnings, removed;
        // A shared lock keeps a prune from deleting what is being checked; a check must
        // still run when too few stores answer to hold one.
        auto lock = vault::LockForCheck(*repo, false, "verify", &removed);
        if (!lock.ok()) {
          if (lock.status().code() == StatusCode::kFailedPrecondition) return lock.status();
          warnings.push_back("checking without the vault lock: " + lock.status().message());
        }
        for (const std::string& l : removed)
          warnings.push_back("removed the lock of a run that died on this host: " + l);
        Progress progress("verify", !ctx.json && ::isatty(2));
        TESSERA_ASSIGN_OR_RETURN(vault::CheckReport r,
                                 vault::CheckVault(*repo, *read_data, &progress));
        progress.Finish();
        if (lock.ok()) {
          Status st = (*lock)->Release();
          if (!st.ok()) warnings.push_back("releasing the vault lock: " + st.message());
        }
        const bool healthy = r.Healthy();
        if (ctx.json) {
          json j = ReportJson(r);
          j["warnings"] = warnings;
          PrintJson(j);
        } else {
          for (const std::string& w : warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
          PrintTable(r);
          PrintProblems(r);
          std::printf("\n");
          if (healthy) {
            std::printf("The vault is healthy.\n");
          } else {
            size_t lost = r.Count(vault::ObjectVerdict::kUnrecoverable);
            if (lost)
              std::printf("%zu objects are UNRECOVERABLE (fewer than %d healthy shards).\n", lost,
                          r.k);
            if (r.Repairable()) std::printf("Run `tessera vault repair` to fix the rest.\n");
            if (r.AnyUnreachable())
              std::printf("Run verify again when the unreachable stores are back.\n");
          }
        }
        ctx.exit_code = healthy ? kExitOk : kExitProblems;
        return Status::Ok();
      });
    });
  }

  // repair
  {
    auto* cmd = vault.add_subcommand(
        "repair", "Rebuild missing or damaged shards and key shares from the healthy stores");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        Progress progress("repair", !ctx.json && ::isatty(2));
        TESSERA_ASSIGN_OR_RETURN(vault::RepairReport r, vault::RepairVault(*repo, &progress));
        progress.Finish();
        int code = !r.unrepaired.empty() ? kExitProblems : !r.Complete() ? kExitDegraded : kExitOk;
        if (ctx.json) {
          json rebuilt = json::array();
          for (const vault::RebuiltObject& o : r.rebuilt) {
            std::vector<int> stores;
            for (int i : o.stores) stores.push_back(i + 1);
            rebuilt.push_back({{"object", o.name}, {"stores", stores}});
          }
          std::vector<int> descriptors, unreachable;
          for (int i : r.descriptors_written) descriptors.push_back(i + 1);
          for (int i : r.unreachable) unreachable.push_back(i + 1);
          PrintJson({{"ok", code == kExitOk},
                     {"objects_checked", r.check.objects},
                     {"rebuilt", rebuilt},
                     {"shards_written", r.shards_written},
                     {"leftovers_removed", r.leftovers_removed},
                     {"config_rewritten", r.config_rewritten},
                     {"new_epoch", r.new_epoch},
                     {"descriptors_written", descriptors},
                     {"locks_removed", r.locks_removed},
                     {"unrepaired", r.unrepaired},
                     {"waiting", r.waiting},
                     {"unreachable_stores", unreachable}});
          ctx.exit_code = code;
          return Status::Ok();
        }
        for (const std::string& l : r.locks_removed)
          std::printf("removed the lock of a run that died on this host: %s\n", l.c_str());
        std::printf("checked %llu objects on %d stores (every shard read)\n",
                    static_cast<unsigned long long>(r.check.objects), r.check.n);
        if (!r.rebuilt.empty()) {
          std::printf("rebuilt %llu shards of %zu objects:\n",
                      static_cast<unsigned long long>(r.shards_written), r.rebuilt.size());
          size_t shown = 0;
          for (const vault::RebuiltObject& o : r.rebuilt) {
            if (shown++ == 50) {
              std::printf("  ... and %zu more (--json lists them all)\n", r.rebuilt.size() - 50);
              break;
            }
            std::printf("  %s on store %s\n", o.name.c_str(), StoreList(o.stores).c_str());
          }
        }
        if (!r.leftovers_removed.empty())
          std::printf("removed %zu leftovers of interrupted uploads\n", r.leftovers_removed.size());
        if (r.config_rewritten)
          std::printf("sealed the vault configuration again from the local one\n");
        if (r.new_epoch > 0)
          std::printf("re-issued the key shares (epoch %d) to stores %s\n", r.new_epoch,
                      StoreList(r.descriptors_written).c_str());
        if (r.rebuilt.empty() && r.leftovers_removed.empty() && !r.config_rewritten &&
            r.new_epoch == 0)
          std::printf("nothing to rebuild\n");
        if (!r.unrepaired.empty()) {
          std::printf("\nNot repairable:\n");
          for (const std::string& l : r.unrepaired) std::printf("  %s\n", l.c_str());
        }
        if (!r.waiting.empty()) {
          std::printf("\nWaiting for unreachable stores:\n");
          for (const std::string& l : r.waiting) std::printf("  %s\n", l.c_str());
        }
        std::printf("\n");
        if (code == kExitOk)
          std::printf("The vault is healthy.\n");
        else if (code == kExitDegraded)
          std::printf("Run `tessera vault repair` again when stores %s are back.\n",
                      StoreList(r.unreachable).c_str());
        else
          std::printf(
              "Some damage could not be repaired (see above); `tessera vault verify` "
              "shows what is left.\n");
        ctx.exit_code = code;
        return Status::Ok();
      });
    });
  }

  // replace-store
  {
    auto* cmd = vault.add_subcommand(
        "replace-store",
        "Replace a store (a retired cloud) by a new, empty one, rebuilt from the others");
    auto index = std::make_shared<int>(0);
    auto url = std::make_shared<std::string>();
    cmd->add_option("store", *index, "Number of the store to replace (1 to n)")->required();
    cmd->add_option("--with", *url, "URL of the new, empty store")->required();
    cmd->callback([&ctx, index, url] {
      Run(ctx, [&]() -> Status {
        if (*index < 1) return Status::InvalidArgument("stores are numbered from 1");
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        Progress progress("replace-store", !ctx.json && ::isatty(2));
        TESSERA_ASSIGN_OR_RETURN(
            vault::ReplaceReport r,
            vault::ReplaceStore(*repo, ctx.Vault(), *index - 1, *url, &progress));
        progress.Finish();
        int code = r.lost.empty() ? kExitOk : kExitProblems;
        if (ctx.json) {
          PrintJson({{"ok", code == kExitOk},
                     {"store", r.store + 1},
                     {"old_url", r.old_url},
                     {"new_url", r.new_url},
                     {"resumed", r.resumed},
                     {"objects", r.objects},
                     {"rebuilt", r.rebuilt},
                     {"copied_from_old_store", r.copied},
                     {"already_present", r.present},
                     {"lost", r.lost},
                     {"leftovers_skipped", r.leftovers},
                     {"epoch", r.epoch},
                     {"locks_removed", r.locks_removed}});
          ctx.exit_code = code;
          return Status::Ok();
        }
        std::printf("store %d is now %s (was %s)%s\n", r.store + 1, r.new_url.c_str(),
                    r.old_url.c_str(), r.resumed ? ", continuing an earlier run" : "");
        std::printf("  %llu shards rebuilt from the other stores",
                    static_cast<unsigned long long>(r.rebuilt));
        if (r.copied)
          std::printf(", %llu copied from the old store",
                      static_cast<unsigned long long>(r.copied));
        if (r.present)
          std::printf(", %llu already there", static_cast<unsigned long long>(r.present));
        std::printf(
            "\n  key shares re-issued (epoch %d) to all %zu stores; configuration updated\n",
            r.epoch, repo->config().stores.size());
        std::printf(
            "The old location's key share does not combine with the new shares of the other "
            "stores (only with old copies of them, should any exist); its data can be "
            "deleted.\nOther machines using this vault still name the old location for store "
            "%d in their vault.json: update it there.\n",
            r.store + 1);
        if (!r.lost.empty()) {
          std::printf(
              "\n%zu objects have fewer than %d healthy shards and could not be rebuilt "
              "(UNRECOVERABLE):\n",
              r.lost.size(), repo->config().k);
          for (const std::string& l : r.lost) std::printf("  %s\n", l.c_str());
        }
        ctx.exit_code = code;
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
