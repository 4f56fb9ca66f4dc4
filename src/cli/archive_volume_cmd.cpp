// `tessera archive volume export | verify | import`: offline volumes of the archive
// (archive/volume.hpp), self-describing signed tar files that outlive its database.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <optional>

#include "archive/search_index.hpp"
#include "archive/volume.hpp"
#include "base/progress.hpp"
#include "cli/cli.hpp"
#include "crypto/signature.hpp"

namespace tessera::cli {

using nlohmann::json;

namespace {

std::string ArchiveDir(const Context& ctx) {
  return ctx.home + "/archive";
}

bool ShowProgress(const Context& ctx) {
  return !ctx.json && ::isatty(2);
}

json ProblemsJson(const archive::VolumeCheck& v) {
  return {{"file", v.path.string()},  {"number", v.number},
          {"count", v.count},         {"set", v.set},
          {"messages", v.messages},   {"bytes", v.bytes},
          {"ok", v.problems.empty()}, {"problems", v.problems}};
}

json SetJson(const archive::VolumeSetReport& r) {
  json volumes = json::array();
  for (const auto& v : r.volumes) volumes.push_back(ProblemsJson(v));
  return {{"ok", r.ok()},
          {"key_trusted", r.key_trusted},
          {"fingerprint", r.fingerprint},
          {"messages", r.messages()},
          {"volumes", volumes},
          {"problems", r.problems}};
}

// What the signatures prove depends on where the key came from.
std::string KeyNote(const archive::VolumeSetReport& r) {
  if (r.key_trusted)
    return "signatures checked against the key given (fingerprint " + r.fingerprint + ")";
  return "signatures checked against the key the volumes carry (fingerprint " +
         (r.fingerprint.empty() ? std::string("unknown") : r.fingerprint) +
         "): this proves them intact, not who made them; compare the fingerprint with the "
         "one recorded at export, or give the public key kept apart with --key";
}

void PrintProblems(const archive::VolumeSetReport& r, const char* label) {
  for (const auto& v : r.volumes)
    for (const auto& p : v.problems)
      std::printf("%s: %s: %s\n", label, v.path.filename().c_str(), p.c_str());
  for (const auto& p : r.problems) std::printf("PROBLEM: %s\n", p.c_str());
}

uint64_t ProblemCount(const archive::VolumeSetReport& r) {
  uint64_t n = r.problems.size();
  for (const auto& v : r.volumes) n += v.problems.size();
  return n;
}

Result<std::optional<crypto::PublicKey>> TrustedKey(const std::string& path) {
  if (path.empty()) return std::optional<crypto::PublicKey>();
  TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, crypto::PublicKey::Load(path));
  return std::optional<crypto::PublicKey>(std::move(key));
}

}  // namespace

void AddArchiveVolumeCommands(CLI::App& archive, Context& ctx) {
  auto* volume = archive.add_subcommand(
      "volume",
      "Offline volumes: a date range as signed, self-describing tar files that can be "
      "verified and imported again without this archive");
  volume->require_subcommand(1);

  // export
  {
    auto* cmd = volume->add_subcommand(
        "export", "Write the messages dated in a range to volume files (tar, signed manifest)");
    struct Options {
      std::string before, after, out, volume_size = "4G";
    };
    auto o = std::make_shared<Options>();
    cmd->add_option("--before", o->before,
                    "Messages dated before this day (YYYY-MM-DD, local time; exclusive)")
        ->required();
    cmd->add_option("--after", o->after, "Messages dated on or after this day (YYYY-MM-DD)");
    cmd->add_option("--out", o->out, "Directory for the volumes (empty or new)")->required();
    cmd->add_option("--volume-size", o->volume_size,
                    "Largest volume, e.g. 4G, 700M (powers of 1024)")
        ->capture_default_str();
    cmd->callback([&ctx, o] {
      Run(ctx, [&]() -> Status {
        archive::VolumeExportOptions options;
        TESSERA_ASSIGN_OR_RETURN(options.before, archive::ParseSearchDate(o->before));
        if (!o->after.empty()) {
          TESSERA_ASSIGN_OR_RETURN(int64_t after, archive::ParseSearchDate(o->after));
          options.after = after;
        }
        TESSERA_ASSIGN_OR_RETURN(options.volume_size, archive::ParseVolumeSize(o->volume_size));
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ArchiveDir(ctx)));
        TESSERA_RETURN_IF_ERROR(Authorize(ctx, *store, archive::Permission::kAdminister,
                                          "archive.volume-export", o->out)
                                    .status());
        TESSERA_ASSIGN_OR_RETURN(archive::VolumePlan plan, archive::PlanVolumes(*store, options));
        TESSERA_ASSIGN_OR_RETURN(crypto::SigningKey key, crypto::SigningKey::LoadOrCreate(
                                                             std::string(ArchiveDir(ctx)) + "/" +
                                                                 archive::kVolumeSigningKeyFile,
                                                             "the volume signing key"));
        const std::string fingerprint = key.public_key().Fingerprint();
        const std::string range =
            (o->after.empty() ? "" : "from " + o->after + " ") + "before " + o->before;
        // A volume holds the mail in clear: nothing is written that the audit log did not
        // record first, with the key that signs it.
        TESSERA_RETURN_IF_ERROR(Audit(ctx, "archive.volume-export", o->out,
                                      std::to_string(plan.messages) + " messages dated " + range +
                                          " in " + std::to_string(plan.volumes.size()) +
                                          " volume(s), signing key " + fingerprint));
        if (plan.messages == 0) {
          if (ctx.json)
            PrintJson({{"messages", 0}, {"volumes", json::array()}, {"fingerprint", fingerprint}});
          else
            std::printf("no archived message is dated %s; nothing written\n", range.c_str());
          return Status::Ok();
        }
        Progress progress("exporting", ShowProgress(ctx));
        TESSERA_ASSIGN_OR_RETURN(
            archive::VolumeExportReport r,
            archive::WriteVolumes(*store, plan, options, key, o->out, &progress));
        progress.Finish();
        if (ctx.json) {
          json files = json::array();
          for (const auto& f : r.files)
            files.push_back({{"file", f.path.string()},
                             {"number", f.number},
                             {"messages", f.messages},
                             {"size", f.size}});
          PrintJson({{"messages", r.messages},
                     {"bytes", r.bytes},
                     {"volumes", files},
                     {"set", r.set},
                     {"fingerprint", r.fingerprint},
                     {"public_key", o->out + "/" + archive::kVolumePublicKeyFile},
                     {"notes", plan.notes}});
          return Status::Ok();
        }
        for (const auto& f : r.files)
          std::printf("%s: volume %d of %zu, %llu messages, %s\n", f.path.string().c_str(),
                      f.number, r.files.size(), static_cast<unsigned long long>(f.messages),
                      HumanBytes(f.size).c_str());
        for (const auto& n : plan.notes) std::printf("note: %s\n", n.c_str());
        std::printf("exported %llu messages (%s) dated %s in %zu volume(s) to %s\n",
                    static_cast<unsigned long long>(r.messages), HumanBytes(r.bytes).c_str(),
                    range.c_str(), r.files.size(), o->out.c_str());
        std::printf(
            "signed with the archive's volume key, fingerprint %s\n(public key: %s/%s; record "
            "the fingerprint apart, on paper, to check the volumes' origin later)\n"
            "the volumes are NOT encrypted: protect the media physically\n",
            r.fingerprint.c_str(), o->out.c_str(), archive::kVolumePublicKeyFile);
        return Status::Ok();
      });
    });
  }

  // verify
  {
    auto* cmd = volume->add_subcommand(
        "verify", "Check volume files: signature, every message's SHA-256, the set complete");
    auto dir = std::make_shared<std::string>();
    auto key_path = std::make_shared<std::string>();
    cmd->add_option("dir", *dir, "Directory holding the volumes of one export")->required();
    cmd->add_option("--key", *key_path,
                    "The archive's volume public key (PEM) kept apart: proves who made them");
    cmd->callback([&ctx, dir, key_path] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(std::optional<crypto::PublicKey> trusted, TrustedKey(*key_path));
        Progress progress("verifying", ShowProgress(ctx));
        TESSERA_ASSIGN_OR_RETURN(
            archive::VolumeSetReport r,
            archive::VerifyVolumes(*dir, trusted ? &*trusted : nullptr, &progress));
        progress.Finish();
        const uint64_t problems = ProblemCount(r);
        // Verifying reveals no mail of the archive: recorded after the fact, and a failure
        // to record it is only reported.
        if (Status st =
                Audit(ctx, "archive.volume-verify", *dir,
                      (r.ok() ? std::string("OK") : std::to_string(problems) + " problems") + ", " +
                          std::to_string(r.volumes.size()) + " volume(s), key " + r.fingerprint +
                          (r.key_trusted ? " (given)" : " (embedded)"));
            !st.ok())
          std::fprintf(stderr, "warning: %s\n", st.message().c_str());
        if (!r.ok()) ctx.exit_code = kExitProblems;
        if (ctx.json) {
          PrintJson(SetJson(r));
          return Status::Ok();
        }
        for (const auto& v : r.volumes) {
          if (v.number)
            std::printf("%s: volume %d of %d, %llu messages (%s): %s\n", v.path.filename().c_str(),
                        v.number, v.count, static_cast<unsigned long long>(v.messages),
                        HumanBytes(v.bytes).c_str(), v.problems.empty() ? "OK" : "DAMAGED");
          else
            std::printf("%s: DAMAGED\n", v.path.filename().c_str());
        }
        PrintProblems(r, "PROBLEM");
        std::printf("%s\n", KeyNote(r).c_str());
        if (r.ok())
          std::printf("volumes OK: %zu volume(s), %llu messages\n", r.volumes.size(),
                      static_cast<unsigned long long>(r.messages()));
        else
          std::printf("volumes DAMAGED: %llu problem(s)\n",
                      static_cast<unsigned long long>(problems));
        return Status::Ok();
      });
    });
  }

  // import
  {
    auto* cmd = volume->add_subcommand(
        "import",
        "Add the messages of volume files to this archive (verified first; the archive that "
        "wrote them is not needed)");
    auto dir = std::make_shared<std::string>();
    auto key_path = std::make_shared<std::string>();
    cmd->add_option("dir", *dir, "Directory holding the volumes of one export")->required();
    cmd->add_option("--key", *key_path,
                    "The volume public key (PEM) kept apart; volumes not signed by it are "
                    "refused");
    cmd->callback([&ctx, dir, key_path] {
      Run(ctx, [&]() -> Status {
        TESSERA_ASSIGN_OR_RETURN(std::optional<crypto::PublicKey> trusted, TrustedKey(*key_path));
        TESSERA_ASSIGN_OR_RETURN(auto store, archive::MessageStore::Open(ArchiveDir(ctx)));
        TESSERA_RETURN_IF_ERROR(
            Authorize(ctx, *store, archive::Permission::kImportMail, "archive.volume-import", *dir)
                .status());
        Progress verifying("verifying", ShowProgress(ctx));
        Progress importing("importing", ShowProgress(ctx));
        TESSERA_ASSIGN_OR_RETURN(archive::VolumeImportReport r,
                                 archive::ImportVolumes(*store, *dir, trusted ? &*trusted : nullptr,
                                                        &verifying, &importing));
        importing.Finish();
        const std::string indexed = UpdateSearchIndex(ctx, *store);
        // An import adds mail and reveals none: recorded after the fact; a failure to record
        // it is reported, and the import stands.
        if (Status st =
                Audit(ctx, "archive.volume-import", *dir,
                      std::to_string(r.imported) + " imported, " + std::to_string(r.duplicates) +
                          " duplicates, " + std::to_string(r.volumes_refused) +
                          " volume(s) refused, key " + r.verification.fingerprint +
                          (r.verification.key_trusted ? " (given)" : " (embedded)"));
            !st.ok())
          std::fprintf(stderr, "warning: %s\n", st.message().c_str());
        if (!r.verification.ok()) ctx.exit_code = kExitProblems;
        if (ctx.json) {
          PrintJson({{"volumes_imported", r.volumes_imported},
                     {"volumes_refused", r.volumes_refused},
                     {"messages", r.messages},
                     {"imported", r.imported},
                     {"duplicates", r.duplicates},
                     {"deliveries", r.deliveries},
                     {"destroyed_not_restored", r.destroyed},
                     {"bytes", r.bytes},
                     {"verification", SetJson(r.verification)},
                     {"archived_messages", store->MessageCount()},
                     {"search_index", indexed}});
          return Status::Ok();
        }
        PrintProblems(r.verification, "REFUSED");
        std::printf("%s\n", KeyNote(r.verification).c_str());
        std::printf(
            "imported %llu messages (%s) from %llu volume(s); %llu duplicates (archived "
            "before); %llu deliveries recorded",
            static_cast<unsigned long long>(r.imported), HumanBytes(r.bytes).c_str(),
            static_cast<unsigned long long>(r.volumes_imported),
            static_cast<unsigned long long>(r.duplicates),
            static_cast<unsigned long long>(r.deliveries));
        if (r.destroyed)
          std::printf("; %llu destroyed here by a destruction batch, not brought back",
                      static_cast<unsigned long long>(r.destroyed));
        if (r.volumes_refused)
          std::printf("; %llu volume(s) REFUSED (damaged, see above)",
                      static_cast<unsigned long long>(r.volumes_refused));
        std::printf("\nthe archive holds %llu messages\n%s\n",
                    static_cast<unsigned long long>(store->MessageCount()), indexed.c_str());
        return Status::Ok();
      });
    });
  }
}

}  // namespace tessera::cli
