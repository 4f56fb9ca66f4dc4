// `tessera vault ...`: set-up, backup, browsing, restore and statistics.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <set>

#include "base/clock.hpp"
#include "base/progress.hpp"
#include "cli/cli.hpp"
#include "vault/backup.hpp"
#include "vault/restore.hpp"

namespace tessera::cli {

using nlohmann::json;

namespace {

json SummaryJson(const vault::SnapshotSummary& s) {
  return {{"files", s.files},
          {"dirs", s.dirs},
          {"symlinks", s.symlinks},
          {"bytes", s.bytes},
          {"files_unchanged", s.files_unchanged},
          {"bytes_read", s.bytes_read},
          {"new_blobs", s.new_blobs},
          {"new_bytes", s.new_bytes},
          {"stored_bytes", s.stored_bytes},
          {"seconds", s.seconds}};
}

json SnapshotJson(const vault::Snapshot& s) {
  std::vector<int> degraded;
  for (int i : s.degraded_stores) degraded.push_back(i + 1);
  return {{"id", s.id},
          {"short_id", s.id.substr(0, 8)},
          {"time", FormatRfc3339(s.time_ns)},
          {"hostname", s.hostname},
          {"username", s.username},
          {"paths", s.paths},
          {"tags", s.tags},
          {"parent", s.parent},
          {"tree", vault::ToHex(s.tree)},
          {"degraded_stores", degraded},
          {"summary", SummaryJson(s.summary)}};
}

std::string ModeString(const vault::Node& n) {
  std::string s = n.type == vault::NodeType::kDir       ? "d"
                  : n.type == vault::NodeType::kSymlink ? "l"
                  : n.type == vault::NodeType::kFile    ? "-"
                                                        : "?";
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) s += (n.mode & (0400 >> i)) ? rwx[i] : '-';
  return s;
}

json NodeJson(const std::string& path, const vault::Node& n) {
  json j = {{"path", path},           {"type", vault::NodeTypeName(n.type)},
            {"mode", n.mode & 07777}, {"uid", n.uid},
            {"gid", n.gid},           {"user", n.user},
            {"group", n.group},       {"mtime", FormatRfc3339(n.mtime_ns, true)}};
  if (n.type == vault::NodeType::kFile) j["size"] = n.size;
  if (n.type == vault::NodeType::kSymlink) j["link_target"] = n.link_target;
  return j;
}

void PrintDegraded(const std::vector<int>& stores, const vault::Repository& repo) {
  if (stores.empty()) return;
  std::string list;
  for (int i : stores) list += (list.empty() ? "" : ", ") + std::to_string(i + 1);
  std::fprintf(stderr,
               "warning: stores %s did not take every shard; the vault is readable from the "
               "others, run `tessera vault repair` when they are back\n",
               list.c_str());
  for (auto& [i, why] : const_cast<vault::Repository&>(repo).objects().DownStores())
    std::fprintf(stderr, "  store %d (%s): %s\n", i + 1, repo.config().stores[i].c_str(),
                 why.message().c_str());
}

}  // namespace

void AddVaultCommands(CLI::App& app, Context& ctx) {
  CLI::App* vault =
      app.add_subcommand("vault", "Split backup across independent stores (分持備份)");
  vault->require_subcommand(1);
  vault->fallthrough();

  // init
  {
    auto* cmd =
        vault->add_subcommand("init", "Create a vault over n stores, any k of which restore it");
    auto o = std::make_shared<vault::InitOptions>();
    auto pass = std::make_shared<bool>(false);
    cmd->add_option("--store", o->stores,
                    "Store URL (file:///path or s3://bucket/prefix); repeat for each")
        ->required();
    cmd->add_option("--threshold,-k", o->threshold, "How many stores suffice to restore (k)")
        ->required();
    cmd->add_option("--min-stores", o->min_write,
                    "Stores that must accept a write for a backup to go on (default k+1)");
    cmd->add_option("--custodians", o->custodians,
                    "Also require recovery codes held by people: how many custodians (M)");
    cmd->add_option("--quorum", o->quorum, "How many custodians must come together (T)");
    cmd->add_flag("--passphrase", *pass,
                  "Protect the local key file with a passphrase ($TESSERA_PASSPHRASE or prompt)");
    cmd->add_option("--pack-size-mib", o->pack_size, "Target pack size in MiB (default 8)");
    cmd->add_option("--chunk-avg-kib", o->chunk_avg,
                    "Average chunk size in KiB, a power of two (default 256; larger chunks mean "
                    "a smaller index, smaller ones store less per change)");
    cmd->callback([&ctx, o, pass] {
      Run(ctx, [&]() -> Status {
        vault::VaultContext vc = ctx.Vault();
        o->protect_with_passphrase = *pass;
        if (*pass) vc.passphrase = ctx.Passphrase(true, true);
        if (o->pack_size > 0) o->pack_size *= 1024 * 1024;
        if (o->chunk_avg > 0) o->chunk_avg *= 1024;
        if ((o->custodians > 0) != (o->quorum > 0))
          return Status::InvalidArgument("--custodians and --quorum go together");
        TESSERA_ASSIGN_OR_RETURN(vault::InitResult r, vault::InitVault(vc, *o));
        if (ctx.json) {
          PrintJson({{"ok", true},
                     {"vault_id", r.config.vault_id},
                     {"k", r.config.k},
                     {"n", r.config.n},
                     {"min_write", r.config.min_write},
                     {"stores", r.config.stores},
                     {"key_file", vc.KeyPath()},
                     {"recovery_codes", r.recovery_codes}});
          return Status::Ok();
        }
        std::printf("Created vault %s: %d-of-%d over\n", r.config.vault_id.c_str(), r.config.k,
                    r.config.n);
        for (int i = 0; i < r.config.n; ++i)
          std::printf("  store %d  %s\n", i + 1, r.config.stores[i].c_str());
        std::printf("Any %d stores restore everything; fewer reveal nothing.\n", r.config.k);
        std::printf("Local key: %s (keep a copy offline, or rely on the stores)\n",
                    vc.KeyPath().c_str());
        if (!r.recovery_codes.empty()) {
          std::printf(
              "\nRecovery codes: give one to each custodian. Recovery on a new machine needs "
              "%d of them.\nThey are shown only now.\n",
              r.config.quorum);
          for (size_t i = 0; i < r.recovery_codes.size(); ++i)
            std::printf("  custodian %zu: %s\n", i + 1, r.recovery_codes[i].c_str());
        }
        return Status::Ok();
      });
    });
  }

  // connect
  {
    auto* cmd = vault->add_subcommand(
        "connect", "Attach an existing vault on this machine from any k of its stores");
    auto o = std::make_shared<vault::ConnectOptions>();
    auto pass = std::make_shared<bool>(false);
    cmd->add_option("--store", o->stores, "URL of a store of the vault; repeat (k needed)")
        ->required();
    cmd->add_option("--code", o->recovery_codes, "A custodian's recovery code; repeat (T needed)");
    cmd->add_flag("--passphrase", *pass, "Protect the local key file with a passphrase");
    cmd->callback([&ctx, o, pass] {
      Run(ctx, [&]() -> Status {
        vault::VaultContext vc = ctx.Vault();
        if (*pass) {
          vc.passphrase = ctx.Passphrase(true, true);
          if (!vc.passphrase || vc.passphrase->empty())
            return Status::InvalidArgument(
                "--passphrase needs a passphrase (TESSERA_PASSPHRASE or a terminal prompt)");
        } else {
          vc.passphrase.reset();
        }
        TESSERA_ASSIGN_OR_RETURN(vault::VaultConfig c, vault::ConnectVault(vc, *o));
        if (ctx.json) {
          PrintJson({{"ok", true},
                     {"vault_id", c.vault_id},
                     {"k", c.k},
                     {"n", c.n},
                     {"stores", c.stores}});
        } else {
          std::printf("Connected vault %s (%d-of-%d); configuration in %s\n", c.vault_id.c_str(),
                      c.k, c.n, vc.VaultDir().c_str());
          for (int i = 0; i < c.n; ++i) std::printf("  store %d  %s\n", i + 1, c.stores[i].c_str());
        }
        return Status::Ok();
      });
    });
  }

  // backup
  {
    auto* cmd = vault->add_subcommand("backup", "Back up files and directories (or stdin)");
    auto o = std::make_shared<vault::BackupOptions>();
    cmd->add_option("paths", o->paths, "Files and directories to back up");
    cmd->add_option("--exclude", o->excludes, "Glob of names (or absolute paths) to skip; repeat");
    cmd->add_option("--tag", o->tags, "Tag for the snapshot; repeat");
    cmd->add_flag("--stdin", o->from_stdin, "Back up standard input as one file");
    cmd->add_option("--stdin-name", o->stdin_name, "Name of that file in the snapshot");
    cmd->add_option("--parent", o->parent,
                    "Snapshot to compare with (default: latest of these paths)");
    cmd->add_flag("--force", o->no_parent, "Read every file even if unchanged");
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        if (o->from_stdin && !o->paths.empty())
          return Status::InvalidArgument("give either paths or --stdin, not both");
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        Progress progress("backup", !ctx.json && ::isatty(2));
        TESSERA_ASSIGN_OR_RETURN(vault::BackupResult r, vault::Backup(*repo, *o, &progress));
        progress.Finish();
        const auto& s = r.snapshot.summary;
        for (const std::string& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
        if (ctx.json) {
          json j = SnapshotJson(r.snapshot);
          j["ok"] = true;
          j["warnings"] = r.warnings;
          std::vector<int> degraded;
          for (int i : r.degraded_stores) degraded.push_back(i + 1);
          j["degraded_stores"] = degraded;
          PrintJson(j);
        } else {
          std::printf("snapshot %s saved\n", r.snapshot.id.substr(0, 8).c_str());
          std::printf("  files: %llu (%llu unchanged), dirs: %llu, %s in all\n",
                      static_cast<unsigned long long>(s.files),
                      static_cast<unsigned long long>(s.files_unchanged),
                      static_cast<unsigned long long>(s.dirs), HumanBytes(s.bytes).c_str());
          std::printf("  read %s, new data %s, stored %s (before the %d/%d split) in %.1f s\n",
                      HumanBytes(s.bytes_read).c_str(), HumanBytes(s.new_bytes).c_str(),
                      HumanBytes(s.stored_bytes).c_str(), repo->config().n, repo->config().k,
                      s.seconds);
        }
        PrintDegraded(r.degraded_stores, *repo);
        if (!r.degraded_stores.empty()) ctx.exit_code = kExitDegraded;
        return Status::Ok();
      });
    });
  }

  // snapshots
  {
    auto* cmd = vault->add_subcommand("snapshots", "List snapshots");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        TESSERA_ASSIGN_OR_RETURN(auto snaps, repo->ListSnapshots());
        if (ctx.json) {
          json arr = json::array();
          for (auto& s : snaps) arr.push_back(SnapshotJson(s));
          PrintJson(arr);
          return Status::Ok();
        }
        std::printf("%-8s  %-20s  %-12s  %10s  %s\n", "ID", "Time (UTC)", "Host", "Size", "Paths");
        for (auto& s : snaps) {
          std::string paths;
          for (auto& p : s.paths) paths += (paths.empty() ? "" : " ") + p;
          std::string tags;
          for (auto& t : s.tags) tags += " [" + t + "]";
          std::printf("%-8s  %-20s  %-12s  %10s  %s%s\n", s.id.substr(0, 8).c_str(),
                      FormatRfc3339(s.time_ns).c_str(), s.hostname.substr(0, 12).c_str(),
                      HumanBytes(s.summary.bytes).c_str(), paths.c_str(), tags.c_str());
        }
        std::printf("%zu snapshots\n", snaps.size());
        return Status::Ok();
      });
    });
  }

  // ls
  {
    auto* cmd = vault->add_subcommand("ls", "List the files of a snapshot");
    auto snap = std::make_shared<std::string>();
    auto path = std::make_shared<std::string>("/");
    cmd->add_option("snapshot", *snap, "Snapshot id (or prefix, or 'latest')")->required();
    cmd->add_option("path", *path, "Only below this path");
    cmd->callback([&ctx, snap, path] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        TESSERA_RETURN_IF_ERROR(repo->LoadIndex());
        TESSERA_ASSIGN_OR_RETURN(vault::Snapshot s, repo->FindSnapshot(*snap));
        TESSERA_ASSIGN_OR_RETURN(auto entries, vault::ListEntries(*repo, s, *path));
        if (ctx.json) {
          json arr = json::array();
          for (auto& e : entries) arr.push_back(NodeJson(e.path, e.node));
          PrintJson(arr);
          return Status::Ok();
        }
        for (auto& e : entries) {
          std::string extra =
              e.node.type == vault::NodeType::kSymlink ? " -> " + e.node.link_target : "";
          std::printf("%s %-8s %-8s %12llu %s %s%s\n", ModeString(e.node).c_str(),
                      (e.node.user.empty() ? std::to_string(e.node.uid) : e.node.user).c_str(),
                      (e.node.group.empty() ? std::to_string(e.node.gid) : e.node.group).c_str(),
                      static_cast<unsigned long long>(e.node.size),
                      FormatRfc3339(e.node.mtime_ns).c_str(), e.path.c_str(), extra.c_str());
        }
        return Status::Ok();
      });
    });
  }

  // diff
  {
    auto* cmd = vault->add_subcommand("diff", "Show what changed between two snapshots");
    auto a = std::make_shared<std::string>();
    auto b = std::make_shared<std::string>();
    cmd->add_option("snapshot1", *a, "Older snapshot")->required();
    cmd->add_option("snapshot2", *b, "Newer snapshot")->required();
    cmd->callback([&ctx, a, b] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        TESSERA_RETURN_IF_ERROR(repo->LoadIndex());
        TESSERA_ASSIGN_OR_RETURN(vault::Snapshot s1, repo->FindSnapshot(*a));
        TESSERA_ASSIGN_OR_RETURN(vault::Snapshot s2, repo->FindSnapshot(*b));
        TESSERA_ASSIGN_OR_RETURN(auto e1, vault::ListEntries(*repo, s1));
        TESSERA_ASSIGN_OR_RETURN(auto e2, vault::ListEntries(*repo, s2));
        std::map<std::string, const vault::Node*> m1, m2;
        for (auto& e : e1) m1[e.path] = &e.node;
        for (auto& e : e2) m2[e.path] = &e.node;
        std::vector<std::pair<char, std::string>> changes;
        for (auto& [p, n] : m1)
          if (!m2.count(p)) changes.emplace_back('-', p);
        for (auto& [p, n] : m2) {
          auto it = m1.find(p);
          if (it == m1.end()) {
            changes.emplace_back('+', p);
            continue;
          }
          const vault::Node& o = *it->second;
          bool content =
              o.type != n->type || o.content != n->content || o.link_target != n->link_target;
          bool meta =
              o.mode != n->mode || o.uid != n->uid || o.gid != n->gid || o.mtime_ns != n->mtime_ns;
          if (content && n->type != vault::NodeType::kDir)
            changes.emplace_back('M', p);
          else if (meta)
            changes.emplace_back('U', p);
        }
        std::sort(changes.begin(), changes.end(),
                  [](auto& x, auto& y) { return x.second < y.second; });
        if (ctx.json) {
          json arr = json::array();
          for (auto& [c, p] : changes) {
            const char* kind = c == '+'   ? "added"
                               : c == '-' ? "removed"
                               : c == 'M' ? "modified"
                                          : "metadata";
            arr.push_back({{"change", kind}, {"path", p}});
          }
          PrintJson(arr);
          return Status::Ok();
        }
        std::map<char, int> count;
        for (auto& [c, p] : changes) {
          std::printf("%c  %s\n", c, p.c_str());
          count[c]++;
        }
        std::printf("%d added, %d removed, %d modified, %d metadata only\n", count['+'], count['-'],
                    count['M'], count['U']);
        return Status::Ok();
      });
    });
  }

  // restore
  {
    auto* cmd =
        vault->add_subcommand("restore", "Restore a snapshot (or part of it) to a directory");
    auto snap = std::make_shared<std::string>();
    auto o = std::make_shared<vault::RestoreOptions>();
    auto stores = std::make_shared<std::string>();
    cmd->add_option("snapshot", *snap, "Snapshot id (or prefix, or 'latest')")->required();
    cmd->add_option("--target", o->target, "Directory to restore into")->required();
    cmd->add_option("--include", o->includes, "Only this path of the snapshot; repeat");
    cmd->add_option("--stores", *stores, "Use only these stores, e.g. 1,3,4 (at least k)");
    cmd->callback([&ctx, snap, o, stores] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(std::vector<int> only, ParseStoreNumbers(*stores, "--stores"));
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault(), {only}));
        TESSERA_ASSIGN_OR_RETURN(vault::Snapshot s, repo->FindSnapshot(*snap));
        Progress progress("restore", !ctx.json && ::isatty(2));
        TESSERA_ASSIGN_OR_RETURN(vault::RestoreStats r, vault::Restore(*repo, s, *o, &progress));
        for (auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
        if (ctx.json) {
          PrintJson({{"ok", true},
                     {"snapshot", s.id},
                     {"target", o->target},
                     {"files", r.files},
                     {"dirs", r.dirs},
                     {"symlinks", r.symlinks},
                     {"bytes", r.bytes},
                     {"packs", r.packs},
                     {"seconds", r.seconds},
                     {"warnings", r.warnings}});
        } else {
          std::printf("restored snapshot %s to %s: %llu files, %llu dirs, %s in %.1f s\n",
                      s.id.substr(0, 8).c_str(), o->target.c_str(),
                      static_cast<unsigned long long>(r.files),
                      static_cast<unsigned long long>(r.dirs), HumanBytes(r.bytes).c_str(),
                      r.seconds);
        }
        return Status::Ok();
      });
    });
  }

  // dump
  {
    auto* cmd = vault->add_subcommand("dump", "Write one file of a snapshot to standard output");
    auto snap = std::make_shared<std::string>();
    auto path = std::make_shared<std::string>();
    cmd->add_option("snapshot", *snap, "Snapshot id (or prefix, or 'latest')")->required();
    cmd->add_option("path", *path, "Absolute path of the file in the snapshot")->required();
    cmd->callback([&ctx, snap, path] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        TESSERA_ASSIGN_OR_RETURN(vault::Snapshot s, repo->FindSnapshot(*snap));
        return vault::Dump(*repo, s, *path, stdout);
      });
    });
  }

  // stats
  {
    auto* cmd = vault->add_subcommand("stats", "Sizes, deduplication and per-store usage");
    cmd->callback([&ctx] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(auto repo, vault::OpenVault(ctx.Vault()));
        TESSERA_RETURN_IF_ERROR(repo->LoadIndex());
        TESSERA_ASSIGN_OR_RETURN(auto snaps, repo->ListSnapshots());
        uint64_t raw = 0, stored = 0, blobs = 0;
        std::set<std::string> packs;
        for (auto& e : repo->IndexEntries()) {
          raw += e.loc.raw_length;
          stored += e.loc.length;
          blobs++;
          packs.insert(e.loc.pack_id);
        }
        uint64_t logical = 0;
        for (auto& s : snaps) logical += s.summary.bytes;
        const auto& c = repo->config();
        json per_store = json::array();
        for (int i = 0; i < c.n; ++i) {
          json st = {{"store", i + 1}, {"url", c.stores[i]}};
          auto objs = repo->objects().store(i)->List("");
          if (objs.ok()) {
            uint64_t bytes = 0;
            for (auto& o : *objs) bytes += o.size;
            st["objects"] = objs->size();
            st["bytes"] = bytes;
            st["reachable"] = true;
          } else {
            st["reachable"] = false;
            st["error"] = objs.status().message();
          }
          per_store.push_back(st);
        }
        json j = {{"vault_id", c.vault_id},
                  {"k", c.k},
                  {"n", c.n},
                  {"snapshots", snaps.size()},
                  {"logical_bytes", logical},
                  {"unique_bytes", raw},
                  {"packed_bytes", stored},
                  {"blobs", blobs},
                  {"packs", packs.size()},
                  {"dedup_ratio", raw ? static_cast<double>(logical) / raw : 0.0},
                  {"stores", per_store}};
        if (ctx.json) {
          PrintJson(j);
          return Status::Ok();
        }
        std::printf("vault %s, %d-of-%d, %zu snapshots\n", c.vault_id.c_str(), c.k, c.n,
                    snaps.size());
        std::printf("  all snapshots:  %s\n", HumanBytes(logical).c_str());
        std::printf("  unique data:    %s in %llu blobs (dedup %.1fx)\n", HumanBytes(raw).c_str(),
                    static_cast<unsigned long long>(blobs),
                    raw ? static_cast<double>(logical) / raw : 0.0);
        std::printf("  packed:         %s in %zu packs (before the %d/%d split)\n",
                    HumanBytes(stored).c_str(), packs.size(), c.n, c.k);
        for (auto& st : per_store) {
          if (st["reachable"])
            std::printf("  store %d  %-40s %8s in %llu objects\n", st["store"].get<int>(),
                        st["url"].get<std::string>().c_str(),
                        HumanBytes(st["bytes"].get<uint64_t>()).c_str(),
                        static_cast<unsigned long long>(st["objects"].get<uint64_t>()));
          else
            std::printf("  store %d  %-40s UNREACHABLE: %s\n", st["store"].get<int>(),
                        st["url"].get<std::string>().c_str(),
                        st["error"].get<std::string>().c_str());
        }
        return Status::Ok();
      });
    });
  }

  AddVaultCheckCommands(*vault, ctx);
  AddVaultPruneCommands(*vault, ctx);
  AddVaultDrillCommands(*vault, ctx);
}

}  // namespace tessera::cli
