// `tessera guard baseline` and `tessera guard check`: the host's file integrity baseline
// (guard/integrity.hpp), signed with <home>/guard/integrity.key, and the check against it.
#include <cstdio>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "base/progress.hpp"
#include "cli/cli.hpp"
#include "crypto/signature.hpp"
#include "guard/integrity.hpp"
#include "server/audit.hpp"

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The host's integrity key, made on first use; its public half is written beside it, for
// copying elsewhere with the baseline.
Result<crypto::SigningKey> IntegrityKey(const std::string& home) {
  TESSERA_RETURN_IF_ERROR(MakeDirs(guard::IntegrityKeyPath(home).parent_path(), 0700));
  TESSERA_ASSIGN_OR_RETURN(crypto::SigningKey key,
                           crypto::SigningKey::LoadOrCreate(guard::IntegrityKeyPath(home),
                                                            "the integrity baseline key"));
  const fs::path pub = guard::IntegrityPublicKeyPath(home);
  std::error_code ec;
  if (!fs::exists(pub, ec))
    TESSERA_RETURN_IF_ERROR(WriteFileAtomic(pub, key.public_key().Pem(), 0644));
  return key;
}

std::string Megabytes(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return text;
}

}  // namespace

void AddIntegrityCommands(CLI::App& guard, Context& ctx) {
  struct BaselineOptions {
    std::vector<std::string> paths;
    std::vector<std::string> exclude;
    std::string out;
  };
  auto b = std::make_shared<BaselineOptions>();
  auto* baseline = guard.add_subcommand(
      "baseline",
      "Record a signed baseline of the program, configuration and data paths given: every "
      "file's SHA-256, size, mode, owner and group, every link's target; `guard check` "
      "compares against it");
  baseline->add_option("paths", b->paths, "Directories and files to watch")->required();
  baseline->add_option("--exclude", b->exclude,
                       "A path left out, with everything below it (data that changes by "
                       "design: spools, databases, logs)");
  baseline->add_option("--out", b->out,
                       "Where to write it (default <home>/guard/integrity-baseline.json)");
  baseline->callback([&ctx, b] {
    Run(ctx, [&]() -> Status {
      TESSERA_ASSIGN_OR_RETURN(crypto::SigningKey key, IntegrityKey(ctx.home));
      const fs::path out =
          b->out.empty() ? guard::IntegrityBaselinePath(ctx.home) : fs::path(b->out);
      std::vector<fs::path> roots(b->paths.begin(), b->paths.end());
      std::vector<fs::path> excluded(b->exclude.begin(), b->exclude.end());
      // The baseline file itself changes with every baseline: never watch it.
      excluded.push_back(fs::absolute(out));
      const double start = MonotonicSeconds();
      Progress progress("hashing");
      TESSERA_ASSIGN_OR_RETURN(guard::Baseline scanned,
                               guard::ScanIntegrity(roots, excluded, NowUnixSeconds(), &progress));
      progress.Finish();
      const double seconds = MonotonicSeconds() - start;
      const size_t entries = scanned.entries.size();
      guard::SignedBaseline signed_baseline = guard::SignBaseline(std::move(scanned), key);
      TESSERA_RETURN_IF_ERROR(server::RecordAudit(
          ctx.home, "guard.integrity-baseline", out.string(),
          std::to_string(entries) + " entries below " + std::to_string(roots.size()) + " path(s)"));
      TESSERA_RETURN_IF_ERROR(WriteFileAtomic(out, signed_baseline.ToJson() + "\n", 0600));
      if (ctx.json) {
        PrintJson({{"baseline", out.string()},
                   {"entries", entries},
                   {"files", progress.items()},
                   {"bytes", progress.bytes()},
                   {"seconds", seconds},
                   {"key", signed_baseline.signature.key}});
        return Status::Ok();
      }
      std::printf(
          "baseline of %zu entries (%llu files, %s hashed in %.1f s) signed by key %s, "
          "written to %s\n",
          entries, static_cast<unsigned long long>(progress.items()),
          Megabytes(progress.bytes()).c_str(), seconds,
          signed_baseline.signature.key.substr(0, 16).c_str(), out.string().c_str());
      return Status::Ok();
    });
  });

  struct CheckOptions {
    std::string baseline;
    std::string key;
  };
  auto c = std::make_shared<CheckOptions>();
  auto* check = guard.add_subcommand(
      "check",
      "Scan the baseline's paths again and report every file added, removed or changed; the "
      "outcome goes to the audit log (and so to the SOC); exit 4 when anything changed");
  check->add_option("--baseline", c->baseline,
                    "The baseline (default <home>/guard/integrity-baseline.json)");
  check->add_option("--key", c->key,
                    "The integrity public key (PEM) from a copy kept apart (default: the one "
                    "in <home>/guard, which whoever can rewrite the baseline can replace too)");
  check->callback([&ctx, c] {
    Run(ctx, [&]() -> Status {
      const fs::path file =
          c->baseline.empty() ? guard::IntegrityBaselinePath(ctx.home) : fs::path(c->baseline);
      const fs::path key_file =
          c->key.empty() ? guard::IntegrityPublicKeyPath(ctx.home) : fs::path(c->key);
      Progress progress("checking");
      TESSERA_ASSIGN_OR_RETURN(guard::IntegrityReport report,
                               guard::CheckIntegrity(file, key_file, &progress));
      progress.Finish();
      TESSERA_RETURN_IF_ERROR(
          server::RecordAudit(ctx.home, "guard.integrity-check", file.string(), report.Outcome()));
      const std::vector<std::string>& problems = report.problems;
      if (!problems.empty()) ctx.exit_code = kExitProblems;
      if (ctx.json) {
        json list = json::array();
        for (const guard::IntegrityChange& ch : report.changes)
          list.push_back({{"kind", ch.kind == guard::IntegrityChange::Kind::kAdded     ? "added"
                                   : ch.kind == guard::IntegrityChange::Kind::kRemoved ? "removed"
                                                                                       : "changed"},
                          {"path", ch.path},
                          {"detail", ch.detail}});
        PrintJson({{"ok", problems.empty()},
                   {"entries", report.entries},
                   {"files", report.files},
                   {"bytes", report.bytes},
                   {"seconds", report.seconds},
                   {"changes", list},
                   {"problems", problems}});
        return Status::Ok();
      }
      for (const std::string& p : problems) std::printf("FINDING: %s\n", p.c_str());
      std::printf("%zu entries checked (%llu files, %s hashed in %.1f s): %s\n", report.entries,
                  static_cast<unsigned long long>(report.files), Megabytes(report.bytes).c_str(),
                  report.seconds,
                  problems.empty() ? "as recorded" : "INTEGRITY FINDINGS, see above");
      return Status::Ok();
    });
  });
}

}  // namespace tessera::cli
