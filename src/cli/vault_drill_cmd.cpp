// `tessera vault drill` and `tessera vault drills`: restore drills (還原演練) and their record.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/progress.hpp"
#include "cli/cli.hpp"
#include "vault/drill.hpp"

namespace tessera::cli {

using nlohmann::json;

namespace {

std::string Numbers(const std::vector<vault::DrillStore>& stores) {
  std::string out;
  for (auto& s : stores) out += (out.empty() ? "" : ",") + std::to_string(s.index + 1);
  return out.empty() ? "-" : out;
}

std::string Secs(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, s < 10 ? "%.3f s" : "%.1f s", s);
  return buf;
}

void PrintReport(const vault::DrillReport& r) {
  std::printf("drill %s: %s\n", r.id.c_str(), r.passed ? "PASS (通過)" : "FAIL (未通過)");
  if (!r.passed) std::printf("  reason:    %s\n", r.reason.c_str());
  if (!r.snapshot_id.empty()) {
    std::string paths;
    for (auto& p : r.snapshot_paths) paths += " " + p;
    std::printf("  snapshot:  %s of %s (%s),%s\n", r.snapshot_id.substr(0, 8).c_str(),
                FormatRfc3339(r.snapshot_time_ns).c_str(), r.snapshot_host.c_str(), paths.c_str());
  } else {
    bool looked = std::any_of(r.phases.begin(), r.phases.end(),
                              [](const vault::DrillPhase& p) { return p.name == "find"; });
    std::printf("  snapshot:  %s (%s)\n", r.snapshot_ref.c_str(),
                looked ? "not found" : "not reached");
  }
  std::printf("  stores:    used %s of %d (k=%d)",
              r.stores_used.empty() ? "none" : Numbers(r.stores_used).c_str(), r.n, r.k);
  if (!r.stores_lost.empty()) std::printf(", treated as lost %s", Numbers(r.stores_lost).c_str());
  if (!r.stores_unreachable.empty())
    std::printf(", unreachable %s", Numbers(r.stores_unreachable).c_str());
  std::printf("\n");
  for (auto& s : r.stores_used) std::printf("             %d  %s\n", s.index + 1, s.url.c_str());
  if (!r.key_source.empty()) std::printf("  key:       %s\n", r.key_source.c_str());
  bool restored = std::any_of(r.phases.begin(), r.phases.end(),
                              [](const vault::DrillPhase& p) { return p.name == "restore"; });
  if (restored)
    std::printf("  restored:  %llu files, %llu dirs, %llu symlinks, %s; verified %llu files (%s)\n",
                static_cast<unsigned long long>(r.files), static_cast<unsigned long long>(r.dirs),
                static_cast<unsigned long long>(r.symlinks), HumanBytes(r.bytes).c_str(),
                static_cast<unsigned long long>(r.files_verified),
                HumanBytes(r.bytes_verified).c_str());
  // The RTO counts from rebuilding the key to the last check; choosing stores is apart.
  std::string phases, select;
  for (auto& p : r.phases) {
    std::string t = p.name + " " + Secs(p.seconds) + (p.ok ? "" : " failed");
    if (p.name == "select")
      select = t;
    else
      phases += (phases.empty() ? "" : ", ") + t;
  }
  if (r.rto_seconds)
    std::printf("  RTO:       %s (%s; before that, %s)\n", Secs(*r.rto_seconds).c_str(),
                phases.c_str(), select.c_str());
  else
    std::printf("  RTO:       not achieved (%s)\n",
                (select + (phases.empty() ? "" : ", " + phases)).c_str());
  if (r.rpo_seconds && *r.rpo_seconds >= 60)
    std::printf("  RPO:       %lld s (the snapshot is %s old)\n",
                static_cast<long long>(*r.rpo_seconds),
                vault::FormatDuration(*r.rpo_seconds).c_str());
  else if (r.rpo_seconds)
    std::printf("  RPO:       %lld s\n", static_cast<long long>(*r.rpo_seconds));
  else
    std::printf("  RPO:       unknown (no snapshot found)\n");
  if (r.failure_count > 0) {
    std::printf("  failures:  %llu\n", static_cast<unsigned long long>(r.failure_count));
    size_t shown = std::min<size_t>(r.failures.size(), 10);
    for (size_t i = 0; i < shown; ++i) {
      const auto& f = r.failures[i];
      std::printf("    [%s] %s%s%s\n", f.phase.c_str(), f.path.c_str(), f.path.empty() ? "" : ": ",
                  f.reason.c_str());
    }
    if (r.failure_count > shown)
      std::printf("    ... %llu more in the report\n",
                  static_cast<unsigned long long>(r.failure_count - shown));
  }
  for (auto& n : r.notes) std::printf("  note: %s\n", n.c_str());
  if (r.scratch_kept) std::printf("  restored tree kept in %s\n", r.scratch.c_str());
  if (r.recorded_in_vault) std::printf("  recorded in the vault as drills/%s\n", r.id.c_str());
  if (!r.html_path.empty()) std::printf("  report:    %s\n", r.html_path.c_str());
  for (auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
}

// Reports written on this machine that never reached the vault (e.g. the key file was
// missing when the drill ran): not part of the vault's record, so not counted.
std::vector<std::string> LocalOnlyReports(const std::string& home,
                                          const std::set<std::string>& in_vault,
                                          const std::string& vault_id) {
  std::vector<std::string> out;
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(home) / "drills";
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() != ".json") continue;
    auto text = ReadTextFile(it->path());
    if (!text.ok()) continue;
    auto r = vault::DrillReportFromJson(json::parse(*text, nullptr, false));
    if (!r.ok() || r->vault_id != vault_id || in_vault.count(r->id)) continue;
    out.push_back(it->path().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

void AddVaultDrillCommands(CLI::App& vault, Context& ctx) {
  // Option values live in shared_ptrs owned by the callbacks, hence by the App: freed with it.
  // drill
  {
    auto* cmd = vault.add_subcommand(
        "drill",
        "Rehearse a disaster recovery (還原演練): rebuild the key from k stores, restore a "
        "snapshot to a scratch directory, check every file, record RTO/RPO");
    auto snap = std::make_shared<std::string>("latest");
    auto lose = std::make_shared<std::string>();
    auto use = std::make_shared<std::string>();
    auto o = std::make_shared<vault::DrillOptions>();
    cmd->add_option("snapshot", *snap, "Snapshot id (or prefix, or 'latest')");
    cmd->add_option("--lose", *lose, "Treat these stores as gone, e.g. 1,2");
    cmd->add_option("--stores", *use, "Use only these stores, e.g. 1,3,5 (k of them are used)");
    cmd->add_option("--code", o->recovery_codes,
                    "A custodian's recovery code; repeat (default: the local key file stands in)");
    cmd->add_option("--scratch", o->scratch,
                    "New or empty directory to restore into (default: HOME/drills/scratch-ID)");
    cmd->add_flag("--keep", o->keep, "Keep the restored tree instead of removing it");
    cmd->callback([&ctx, snap, lose, use, o] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(o->lose, ParseStoreNumbers(*lose, "--lose"));
        TESSERA_ASSIGN_OR_RETURN(o->use, ParseStoreNumbers(*use, "--stores"));
        o->snapshot = *snap;
        Progress progress("drill: restore", !ctx.json && ::isatty(2));
        o->progress = &progress;
        if (!ctx.json)
          o->on_step = [](const std::string& step) {
            std::fprintf(stderr, "drill: %s\n", step.c_str());
          };
        TESSERA_ASSIGN_OR_RETURN(vault::DrillReport r, vault::RunDrill(ctx.Vault(), *o));
        progress.Finish();
        if (ctx.json) {
          json j = vault::DrillReportToJson(r);
          j["ok"] = r.passed;
          PrintJson(j);
        } else {
          PrintReport(r);
        }
        if (!r.passed) ctx.exit_code = kExitProblems;
        return Status::Ok();
      });
    });
  }

  // drills
  {
    auto* cmd = vault.add_subcommand(
        "drills", "List recorded drills and the successful drills per year (the KPI)");
    auto year = std::make_shared<int>(0);
    auto html = std::make_shared<std::string>();
    cmd->add_option("--year", *year, "Only drills of this calendar year (local time)");
    cmd->add_option("--html", *html, "Also write the list as an HTML page to this file");
    cmd->callback([&ctx, year, html] {
      Run(ctx, [&]() -> Status {
        vault::VaultContext vc = ctx.Vault();
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(vc));
        TESSERA_ASSIGN_OR_RETURN(vault::DrillHistory h, vault::ListDrills(*repo));
        std::set<std::string> ids;
        for (auto& r : h.reports) ids.insert(r.id);
        std::vector<std::string> local_only =
            LocalOnlyReports(vc.home, ids, repo->config().vault_id);
        if (*year != 0) {
          std::erase_if(h.reports, [&](const vault::DrillReport& r) {
            return vault::LocalYear(r.started_ns) != *year;
          });
          std::erase_if(h.per_year, [&](const auto& y) { return y.first != *year; });
          if (h.per_year.empty()) h.per_year[*year] = {};
        }
        // The KPI as it grew: the n-th successful drill of its year.
        std::map<int, int> running;
        std::vector<int> success_number;
        for (auto& r : h.reports)
          success_number.push_back(r.passed ? ++running[vault::LocalYear(r.started_ns)] : 0);
        if (!html->empty()) {
          TESSERA_RETURN_IF_ERROR(
              WriteFileAtomic(*html, vault::DrillHistoryHtml(h, repo->config().vault_id), 0644));
        }
        for (auto& u : h.unreadable)
          std::fprintf(stderr, "warning: unreadable drill record %s\n", u.c_str());
        if (ctx.json) {
          json drills = json::array();
          for (size_t i = 0; i < h.reports.size(); ++i) {
            json d = vault::DrillReportToJson(h.reports[i]);
            d["year"] = vault::LocalYear(h.reports[i].started_ns);
            if (success_number[i] > 0) d["success_number_in_year"] = success_number[i];
            drills.push_back(d);
          }
          json per_year = json::array();
          for (auto& [y, c] : h.per_year)
            per_year.push_back({{"year", y},
                                {"passed", c.passed},
                                {"failed", c.failed},
                                {"total", c.passed + c.failed}});
          json j = {{"ok", true},
                    {"vault_id", repo->config().vault_id},
                    {"drills", drills},
                    {"per_year", per_year},
                    {"unreadable", h.unreadable},
                    {"local_only_reports", local_only}};
          if (!html->empty()) j["html"] = *html;
          PrintJson(j);
          return Status::Ok();
        }
        std::printf("%-25s  %-8s  %-11s  %9s  %14s  %-6s  %s\n", "Time", "Snapshot", "Stores used",
                    "RTO", "RPO", "Result", "KPI");
        for (size_t i = 0; i < h.reports.size(); ++i) {
          const auto& r = h.reports[i];
          std::string kpi = success_number[i] > 0 ? std::to_string(vault::LocalYear(r.started_ns)) +
                                                        " #" + std::to_string(success_number[i])
                                                  : "";
          std::printf(
              "%-25s  %-8s  %-11s  %9s  %14s  %-6s  %s\n",
              vault::FormatLocalTime(r.started_ns).c_str(),
              (r.snapshot_id.empty() ? std::string("-") : r.snapshot_id.substr(0, 8)).c_str(),
              Numbers(r.stores_used).c_str(), r.rto_seconds ? Secs(*r.rto_seconds).c_str() : "-",
              r.rpo_seconds ? vault::FormatDuration(*r.rpo_seconds).c_str() : "-",
              r.passed ? "PASS" : "FAIL", kpi.c_str());
          if (!r.passed) std::printf("    %s\n", r.reason.c_str());
        }
        std::printf("%zu drills\n", h.reports.size());
        std::printf("Successful drills per year (年度成功演練次數, the KPI):\n");
        for (auto& [y, c] : h.per_year)
          std::printf("  %d: %d passed, %d failed\n", y, c.passed, c.failed);
        if (!local_only.empty()) {
          std::printf(
              "%zu report(s) are kept only on this machine (not recorded in the vault, so "
              "not counted):\n",
              local_only.size());
          for (auto& p : local_only) std::printf("  %s\n", p.c_str());
        }
        if (!html->empty()) std::printf("HTML: %s\n", html->c_str());
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
