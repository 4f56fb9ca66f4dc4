// `tessera archive backup` and `archive recover`: the archive into the vault as one
// consistent snapshot (archive/archive_snapshot.hpp), and a working archive rebuilt from
// such a snapshot alone — the path after the archive's server is lost.
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "archive/archive_snapshot.hpp"
#include "archive/message_store.hpp"
#include "base/clock.hpp"
#include "base/progress.hpp"
#include "cli/cli.hpp"
#include "vault/backup.hpp"
#include "vault/restore.hpp"
#include "vault/vault.hpp"

namespace tessera::cli {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

constexpr char kArchiveTag[] = "archive";
constexpr char kStagingDir[] = "archive-snapshot";

// The newest snapshot tagged as an archive backup, or the one named.
Result<vault::Snapshot> FindArchiveSnapshot(vault::Repository& repo, const std::string& ref) {
  if (ref != "latest") return repo.FindSnapshot(ref);
  TESSERA_ASSIGN_OR_RETURN(std::vector<vault::Snapshot> all, repo.ListSnapshots());
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    if (std::find(it->tags.begin(), it->tags.end(), kArchiveTag) != it->tags.end() &&
        it->paths.size() == 1)
      return *it;
  return Status::NotFound(
      "the vault holds no archive backup (a snapshot tagged 'archive'): make one with "
      "`tessera archive backup`");
}

}  // namespace

void AddArchiveBackupCommands(CLI::App& archive, Context& ctx) {
  {
    auto* cmd = archive.add_subcommand(
        "backup",
        "Back up the archive (database, messages, keys, audit log) into the vault as one "
        "consistent snapshot");
    auto tags = std::make_shared<std::vector<std::string>>();
    cmd->add_option("--tag", *tags, "Another tag for the snapshot; repeat");
    cmd->callback([&ctx, tags] {
      Run(ctx, [&]() -> Status {
        {
          TESSERA_ASSIGN_OR_RETURN(auto store,
                                   archive::MessageStore::Open(fs::path(ctx.home) / "archive"));
          TESSERA_RETURN_IF_ERROR(
              Authorize(ctx, *store, archive::Permission::kAdminister, "archive.backup", "")
                  .status());
        }
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        const fs::path staging = fs::absolute(fs::path(ctx.home) / kStagingDir);
        TESSERA_ASSIGN_OR_RETURN(archive::StagedArchive staged,
                                 archive::StageArchive(ctx.home, staging));
        vault::BackupOptions options;
        options.paths = {staging.string()};
        options.tags = *tags;
        options.tags.insert(options.tags.begin(), kArchiveTag);
        Progress progress("backup", !ctx.json && ::isatty(2));
        Result<vault::BackupResult> r = vault::Backup(*repo, options, &progress);
        progress.Finish();
        std::error_code ec;
        fs::remove_all(staging, ec);  // links and copies only: the archive is untouched
        TESSERA_RETURN_IF_ERROR(r.status());
        for (const std::string& w : r->warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
        if (Status st = Audit(ctx, "archive.backup", "vault snapshot " + r->snapshot.id,
                              std::to_string(staged.messages) + " message(s)");
            !st.ok())
          std::fprintf(stderr, "warning: %s\n", st.message().c_str());
        if (!r->degraded_stores.empty()) ctx.exit_code = kExitDegraded;
        if (ctx.json) {
          std::vector<int> degraded;
          for (int i : r->degraded_stores) degraded.push_back(i + 1);
          PrintJson({{"ok", true},
                     {"snapshot", r->snapshot.id},
                     {"messages", staged.messages},
                     {"bytes", staged.bytes},
                     {"new_bytes", r->snapshot.summary.new_bytes},
                     {"degraded_stores", degraded}});
        } else {
          std::printf(
              "archive backed up: vault snapshot %s, %llu message(s), %s (%s new)\n",
              r->snapshot.id.substr(0, 8).c_str(), static_cast<unsigned long long>(staged.messages),
              HumanBytes(staged.bytes).c_str(), HumanBytes(r->snapshot.summary.new_bytes).c_str());
          if (!r->degraded_stores.empty())
            std::printf("some stores missed shards: run `tessera vault repair`\n");
        }
        return Status::Ok();
      });
    });
  }

  {
    auto* cmd = archive.add_subcommand(
        "recover",
        "Rebuild the archive from its backup in the vault (into a home without an archive)");
    auto snap = std::make_shared<std::string>("latest");
    auto stores = std::make_shared<std::string>();
    cmd->add_option("--snapshot", *snap,
                    "Snapshot id (or prefix); default: the newest archive backup");
    cmd->add_option("--stores", *stores, "Use only these stores, e.g. 1,3 (at least k)");
    cmd->callback([&ctx, snap, stores] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(std::vector<int> only, ParseStoreNumbers(*stores, "--stores"));
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault(), {only}));
        TESSERA_ASSIGN_OR_RETURN(vault::Snapshot s, FindArchiveSnapshot(*repo, *snap));
        if (s.paths.size() != 1)
          return Status::InvalidArgument("snapshot " + s.id.substr(0, 8) +
                                         " is not an archive backup (it has " +
                                         std::to_string(s.paths.size()) + " paths)");
        const fs::path target = fs::absolute(fs::path(ctx.home) / "archive-recover");
        std::error_code ec;
        fs::remove_all(target, ec);
        vault::RestoreOptions options;
        options.target = target.string();
        Progress progress("restore", !ctx.json && ::isatty(2));
        Result<vault::RestoreStats> restored = vault::Restore(*repo, s, options, &progress);
        progress.Finish();
        TESSERA_RETURN_IF_ERROR(restored.status());
        // Restored paths keep their absolute form below the target.
        const fs::path staged = target / fs::path(s.paths[0]).relative_path();
        Result<archive::VerifyReport> verified = archive::InstallStagedArchive(staged, ctx.home);
        fs::remove_all(target, ec);
        TESSERA_RETURN_IF_ERROR(verified.status());
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ctx.home + "/archive"));
        const std::string indexed = UpdateSearchIndex(ctx, *store);
        if (!verified->problems.empty()) ctx.exit_code = kExitProblems;
        if (Status st = Audit(ctx, "archive.recover", "vault snapshot " + s.id,
                              std::to_string(verified->messages) + " message(s), " +
                                  (verified->problems.empty() ? "verified" : "with problems"));
            !st.ok())
          std::fprintf(stderr, "warning: %s\n", st.message().c_str());
        if (ctx.json) {
          PrintJson({{"ok", verified->problems.empty()},
                     {"snapshot", s.id},
                     {"taken", FormatRfc3339(s.time_ns)},
                     {"messages", verified->messages},
                     {"deliveries", verified->deliveries},
                     {"problems", verified->problems},
                     {"chain_head", verified->head},
                     {"search_index", indexed}});
          return Status::Ok();
        }
        std::printf(
            "archive recovered from vault snapshot %s (taken %s): %llu message(s), %llu "
            "deliver(ies)\n",
            s.id.substr(0, 8).c_str(), FormatRfc3339(s.time_ns).c_str(),
            static_cast<unsigned long long>(verified->messages),
            static_cast<unsigned long long>(verified->deliveries));
        if (verified->problems.empty())
          std::printf("verified: the chain, every record and every message hold (head %s)\n",
                      verified->head.c_str());
        for (const std::string& p : verified->problems) std::printf("problem: %s\n", p.c_str());
        std::printf("%s\n", indexed.c_str());
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
