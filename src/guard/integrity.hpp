// Host integrity (seed 002 §5: detect intrusion into and tampering with the system's
// directories and files): a baseline records every file, directory and symbolic link
// below the chosen paths (SHA-256 of the content or link target, size, permission bits,
// owner and group), signed with the host's integrity key; a check scans the same paths
// again and reports what was added, removed or changed, and how.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "base/progress.hpp"
#include "base/status.hpp"
#include "crypto/signature.hpp"
#include "guard/signed_text.hpp"

namespace tessera::guard {

// Where an installation keeps them by default: <home>/guard/integrity-baseline.json, the
// signing key integrity.key (0600) and its public half integrity.pub.pem beside it.
std::filesystem::path IntegrityBaselinePath(const std::filesystem::path& home);
std::filesystem::path IntegrityKeyPath(const std::filesystem::path& home);
std::filesystem::path IntegrityPublicKeyPath(const std::filesystem::path& home);

struct IntegrityEntry {
  std::string path;    // absolute
  char type = 'f';     // 'f' file, 'd' directory, 'l' symbolic link
  std::string sha256;  // of the content ('f') or the link's target text ('l'); "" for 'd'
  uint64_t size = 0;
  uint32_t mode = 0;  // permission bits
  uint32_t uid = 0;
  uint32_t gid = 0;
};

struct Baseline {
  int64_t created_at = 0;               // Unix seconds
  std::vector<std::string> roots;       // absolute paths as given
  std::vector<std::string> excluded;    // absolute paths left out, with all below them
  std::vector<IntegrityEntry> entries;  // sorted by path
  std::string CanonicalJson() const;
};

struct SignedBaseline {
  Baseline baseline;
  TextSignature signature;
  std::string ToJson() const;
  // Corruption naming what is wrong when `text` is not a baseline ToJson wrote.
  static Result<SignedBaseline> FromJson(std::string_view text);
  // NotFound (saying how to record one) when there is no file; InvalidArgument naming it
  // when it holds no baseline.
  static Result<SignedBaseline> Load(const std::filesystem::path& path);
};

// Scans `roots` (each a directory or a file; made absolute) except `excluded`.
// NotFound naming a root that does not exist; an entry that cannot be read is an IOError
// naming it. `progress` (may be null) counts files and bytes hashed.
Result<Baseline> ScanIntegrity(const std::vector<std::filesystem::path>& roots,
                               const std::vector<std::filesystem::path>& excluded, int64_t now,
                               Progress* progress);
SignedBaseline SignBaseline(Baseline baseline, const crypto::SigningKey& key);
Status VerifyBaselineSignature(const SignedBaseline& b, const crypto::PublicKey& trusted);

struct IntegrityChange {
  enum class Kind { kAdded, kRemoved, kChanged };
  Kind kind;
  std::string path;
  std::string detail;            // for kChanged: what differs ("content", "mode 0644 -> 0666", ...)
  std::string ToString() const;  // "changed /opt/tessera/bin/tessera: content (SHA-256 ...)"
};
// What differs between the recorded baseline and a scan of the same roots now.
std::vector<IntegrityChange> CompareIntegrity(const Baseline& recorded, const Baseline& now);

struct IntegrityReport {
  size_t entries = 0;             // in the baseline
  uint64_t files = 0, bytes = 0;  // hashed by this check
  double seconds = 0;             // how long it took
  std::vector<IntegrityChange> changes;
  std::vector<std::string> problems;  // every finding: the signature, the scan, each change
  // For the audit log: "clean: N entries as recorded", or "K finding(s): ...; ...".
  std::string Outcome() const;
};
// Checks the tree against the baseline in `baseline_file`, whose signature must verify with
// the public key in `key_file`: an altered baseline, a scan that fails and every change
// are findings. An error when the baseline (SignedBaseline::Load) or the key cannot be read.
Result<IntegrityReport> CheckIntegrity(const std::filesystem::path& baseline_file,
                                       const std::filesystem::path& key_file, Progress* progress);

}  // namespace tessera::guard
