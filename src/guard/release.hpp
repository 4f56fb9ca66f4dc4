// Signed releases (更版檢核碼驗證): a release is a directory of files (the program, its
// helpers, data); its manifest lists every file below it with its SHA-256, size and mode,
// with the version and date, and the publisher signs the manifest (Ed25519). Before an
// update is installed, the files are verified against a manifest signed by the key the
// host trusts (a copy of the publisher's public key kept apart); the management center
// publishes each release's manifest hash in its registry (exchange/registry.hpp).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"
#include "crypto/signature.hpp"

namespace tessera::guard {

struct ReleaseFile {
  std::string path;    // relative to the release directory, '/'-separated
  std::string sha256;  // lower-case hex; for a symbolic link, of its target text
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits (0755, ...)
  bool symlink = false;
};

struct ReleaseManifest {
  std::string version;
  int64_t date = 0;                // Unix seconds
  std::vector<ReleaseFile> files;  // sorted by path
  // The exact bytes signed, and what the registry's release hash is taken over.
  std::string CanonicalJson() const;
  std::string Sha256() const;  // of CanonicalJson(), lower-case hex
};

struct SignedRelease {
  ReleaseManifest manifest;
  std::string key;        // fingerprint of the signing key (crypto::PublicKey::Fingerprint)
  std::string signature;  // Ed25519 over manifest.CanonicalJson(), hex
  std::string ToJson() const;
  // Corruption naming what is wrong when `text` is not a release ToJson wrote.
  static Result<SignedRelease> FromJson(std::string_view text);
  // The release in `path`: NotFound when there is none, InvalidArgument naming the file
  // when it holds none.
  static Result<SignedRelease> Load(const std::filesystem::path& path);
};

// The manifest of every regular file and symbolic link below `dir` (other kinds are
// refused: InvalidArgument naming one). NotFound when `dir` does not exist.
Result<ReleaseManifest> ScanRelease(const std::filesystem::path& dir, std::string version,
                                    int64_t date);
SignedRelease SignRelease(ReleaseManifest manifest, const crypto::SigningKey& key);

// PermissionDenied when `release` is signed by another key than `trusted`, Corruption when
// its signature does not verify (the manifest was altered).
Status VerifyReleaseSignature(const SignedRelease& release, const crypto::PublicKey& trusted);

struct ReleaseCheck {
  size_t files = 0;                   // files checked
  std::vector<std::string> problems;  // empty when the release is intact and signed
};
// Whether `release` is signed by `trusted` and `dir` holds exactly its files, unchanged:
// a problem for a bad signature, another key, a missing, changed or added file.
Result<ReleaseCheck> VerifyRelease(const SignedRelease& release, const crypto::PublicKey& trusted,
                                   const std::filesystem::path& dir);

// The release a host runs, as its settings name it ([guard.release] of tessera.toml).
struct InstalledRelease {
  std::filesystem::path release;    // the signed release file it was installed from
  std::filesystem::path directory;  // where that release is installed
  std::filesystem::path key;        // the publisher's public key (PEM), kept apart
  bool refuse = true;               // policy: refuse to run when a problem is found, or warn
};
struct InstalledReleaseCheck {
  std::string version;          // as the release file says ("" when it cannot be read)
  std::string manifest_sha256;  // the release hash a registry lists
  size_t files = 0;
  std::vector<std::string> problems;  // empty: this host runs that release, unaltered
};
// Whether this host runs the release its settings name: the release file signed by the
// key, every file of it in place and unchanged (VerifyRelease), `program` (the running
// executable) one of them, and, when `listed` holds the registry's release hashes, its
// manifest hash among them (nullopt: no registry to check against). A file that cannot be
// read is a problem too, so that a host set to warn still runs.
// The executable of this process (/proc/self/exe), for CheckInstalledRelease.
std::filesystem::path RunningProgram();
InstalledReleaseCheck CheckInstalledRelease(const InstalledRelease& installed,
                                            const std::filesystem::path& program,
                                            const std::optional<std::vector<std::string>>& listed);

}  // namespace tessera::guard
