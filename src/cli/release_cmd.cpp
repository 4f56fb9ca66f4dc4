// `tessera release ...`: the publisher's signing key, signing a release directory, and
// verifying one before it is installed (guard/release.hpp).
#include <cstdio>
#include <filesystem>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "cli/cli.hpp"
#include "crypto/signature.hpp"
#include "guard/release.hpp"

namespace tessera::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

void AddKeyCommand(CLI::App& release, Context& ctx) {
  auto* cmd = release.add_subcommand(
      "key", "Make a publisher's signing key: PREFIX.key (keep it offline) and PREFIX.pub.pem");
  auto prefix = std::make_shared<std::string>();
  cmd->add_option("--out", *prefix, "PREFIX of the two files")->required();
  cmd->callback([&ctx, prefix] {
    Run(ctx, [&]() -> Status {
      const fs::path key_path = *prefix + ".key";
      const fs::path pub_path = *prefix + ".pub.pem";
      std::error_code ec;
      if (fs::exists(key_path, ec))
        return Status::AlreadyExists(key_path.string() + " exists: it is not overwritten");
      const crypto::SigningKey key = crypto::SigningKey::Generate();
      TESSERA_RETURN_IF_ERROR(key.Save(key_path));
      TESSERA_RETURN_IF_ERROR(WriteFileAtomic(pub_path, key.public_key().Pem(), 0644));
      if (ctx.json) {
        PrintJson({{"key", key_path.string()},
                   {"public_key", pub_path.string()},
                   {"fingerprint", key.public_key().Fingerprint()}});
        return Status::Ok();
      }
      std::printf("signing key %s, public key %s, fingerprint %s\n", key_path.c_str(),
                  pub_path.c_str(), key.public_key().Fingerprint().c_str());
      return Status::Ok();
    });
  });
}

void AddSignCommand(CLI::App& release, Context& ctx) {
  struct Options {
    std::string dir, version, key, out;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = release.add_subcommand(
      "sign", "Sign a release: every file below DIR with its SHA-256, size and mode");
  cmd->add_option("dir", o->dir, "The release directory (as it will be installed)")->required();
  cmd->add_option("--version", o->version, "The release's version")->required();
  cmd->add_option("--key", o->key, "The publisher's signing key (from `release key`)")->required();
  cmd->add_option("--out", o->out, "Where to write the signed release (outside DIR)")->required();
  cmd->callback([&ctx, o] {
    Run(ctx, [&]() -> Status {
      TESSERA_ASSIGN_OR_RETURN(crypto::SigningKey key,
                               crypto::SigningKey::Load(o->key, "the publisher's signing key"));
      TESSERA_ASSIGN_OR_RETURN(guard::ReleaseManifest manifest,
                               guard::ScanRelease(o->dir, o->version, NowUnixSeconds()));
      const guard::SignedRelease signed_release = guard::SignRelease(std::move(manifest), key);
      TESSERA_RETURN_IF_ERROR(WriteFileAtomic(o->out, signed_release.ToJson() + "\n", 0644));
      const std::string hash = signed_release.manifest.Sha256();
      if (ctx.json) {
        PrintJson({{"version", o->version},
                   {"files", signed_release.manifest.files.size()},
                   {"manifest_sha256", hash},
                   {"out", o->out}});
        return Status::Ok();
      }
      std::printf("release %s: %zu files signed into %s; manifest SHA-256 %s\n", o->version.c_str(),
                  signed_release.manifest.files.size(), o->out.c_str(), hash.c_str());
      return Status::Ok();
    });
  });
}

void AddVerifyCommand(CLI::App& release, Context& ctx) {
  struct Options {
    std::string dir, release, key;
  };
  auto o = std::make_shared<Options>();
  auto* cmd = release.add_subcommand(
      "verify",
      "Verify a release directory before installing it: signed by the trusted key, every "
      "file present and unchanged, none added; exit 4 otherwise");
  cmd->add_option("dir", o->dir, "The release directory")->required();
  cmd->add_option("--release", o->release, "The signed release (from `release sign`)")->required();
  cmd->add_option("--key", o->key, "The publisher's public key (PEM), from a copy kept apart")
      ->required();
  cmd->callback([&ctx, o] {
    Run(ctx, [&]() -> Status {
      TESSERA_ASSIGN_OR_RETURN(crypto::PublicKey key, crypto::PublicKey::Load(o->key));
      TESSERA_ASSIGN_OR_RETURN(guard::SignedRelease release,
                               guard::SignedRelease::Load(o->release));
      TESSERA_ASSIGN_OR_RETURN(guard::ReleaseCheck check,
                               guard::VerifyRelease(release, key, o->dir));
      if (!check.problems.empty()) ctx.exit_code = kExitProblems;
      const std::string hash = release.manifest.Sha256();
      if (ctx.json) {
        PrintJson({{"ok", check.problems.empty()},
                   {"version", release.manifest.version},
                   {"files", check.files},
                   {"manifest_sha256", hash},
                   {"problems", check.problems}});
        return Status::Ok();
      }
      for (const std::string& p : check.problems) std::printf("PROBLEM: %s\n", p.c_str());
      std::printf("release %s: %zu files checked; manifest SHA-256 %s; %s\n",
                  release.manifest.version.c_str(), check.files, hash.c_str(),
                  check.problems.empty() ? "release OK" : "release NOT as signed");
      return Status::Ok();
    });
  });
}

}  // namespace

void AddReleaseCommands(CLI::App& app, Context& ctx) {
  auto* release = app.add_subcommand(
      "release", "Signed releases: sign a release directory, verify one before installing it");
  release->require_subcommand(1);
  AddKeyCommand(*release, ctx);
  AddSignCommand(*release, ctx);
  AddVerifyCommand(*release, ctx);
}

}  // namespace tessera::cli
