// Offline volumes: the messages of a date range exported to self-describing tar files that
// can be verified and imported again years later, without the archive's database or key.
// A volume holds VOLUME.json (the manifest: every message's SHA-256, size, headers and
// deliveries, Bcc recipients included), VOLUME.sig (an Ed25519 signature of VOLUME.json's
// exact bytes), README.txt (how to check it with openssl and sha256sum alone), the signing
// public key, SHA256SUMS, and the messages in clear as received (messages/<sha256>.eml).
// Volumes are not encrypted: whoever holds the media can read the mail.
// Exporting only reads the archive; verifying reads only the volumes; importing verifies
// first and refuses, naming why, every volume that fails. Format: docs/archive-format.md,
// "Volume format".
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/message_store.hpp"
#include "base/bytes.hpp"
#include "base/progress.hpp"
#include "base/status.hpp"
#include "crypto/signature.hpp"

namespace tessera::archive {

inline constexpr char kVolumeFormat[] = "tessera-volume";
inline constexpr int kVolumeFormatVersion = 1;
inline constexpr uint64_t kDefaultVolumeSize = uint64_t{4} << 30;
inline constexpr uint64_t kMinVolumeSize = uint64_t{64} << 10;
// Where the archive keeps the key its volumes are signed with (created on first export).
inline constexpr char kVolumeSigningKeyFile[] = "volume-signing.pem";
// The signing public key, written next to the volumes (and into each of them).
inline constexpr char kVolumePublicKeyFile[] = "volume-signing.pub.pem";

// "4G", "700M", "700MiB", "64K", "1048576": bytes (K, M, G, T are powers of 1024).
// InvalidArgument for anything else, or less than kMinVolumeSize.
Result<uint64_t> ParseVolumeSize(std::string_view text);

struct VolumeMessage {
  std::string path;  // inside the tar: "messages/<sha256>.eml"
  Bytes sha256;
  uint64_t size = 0;
  std::optional<int64_t> date;  // the Date header, Unix seconds
  int64_t first_seen = 0;       // when the exporting archive first stored it
  std::string message_id, subject, from;
  std::vector<Delivery> deliveries;
  int64_t id = 0;  // in the exporting archive; not part of the manifest
};

struct VolumeManifest {
  int version = kVolumeFormatVersion;
  std::string tool;              // "tessera 0.1.0"
  std::string set;               // random id shared by the volumes of one export
  std::string created_at;        // RFC 3339, UTC
  std::optional<int64_t> after;  // the exported range, Unix seconds: after inclusive,
  int64_t before = 0;            // before exclusive
  int number = 0, count = 0;     // this is volume `number` of `count`
  std::string public_key_pem, fingerprint;
  std::map<std::string, Bytes> files;  // the other members (README.txt ...) and their SHA-256
  std::vector<VolumeMessage> messages;
};

// The manifest's exact bytes, as signed.
std::string VolumeManifestText(const VolumeManifest& manifest);
// Corruption, saying what is wrong, for anything that is not a manifest this tessera reads
// (an unknown format version included).
Result<VolumeManifest> ParseVolumeManifest(ByteView text);

struct VolumeExportOptions {
  std::optional<int64_t> after;  // Unix seconds, inclusive
  int64_t before = 0;            // Unix seconds, exclusive
  uint64_t volume_size = kDefaultVolumeSize;
};

// Which messages go into which volume: those dated (by the Date header, else by when first
// archived) in the range, oldest first, split so that no volume exceeds the size — except
// one that holds a single message larger than that alone.
struct VolumePlan {
  std::vector<std::vector<VolumeMessage>> volumes;
  uint64_t messages = 0, bytes = 0;  // bytes: of the raw messages
  std::vector<std::string> notes;    // volumes over the size, and why
};

// Reads only the database. InvalidArgument when the range is empty (after >= before).
Result<VolumePlan> PlanVolumes(MessageStore& store, const VolumeExportOptions& options);

struct VolumeFile {
  std::filesystem::path path;
  int number = 0;
  uint64_t messages = 0, size = 0;  // size: of the tar file
};

struct VolumeExportReport {
  std::vector<VolumeFile> files;
  uint64_t messages = 0, bytes = 0;
  std::string set, fingerprint;
};

// Writes the planned volumes to `dir` as tessera-volume-<first>-<last>-NNN.tar (the local
// dates of their first and last message), and the public key as volume-signing.pub.pem.
// `dir` is created if needed; one that holds volumes already is refused (AlreadyExists).
// Every message is read through the store, so checked against its SHA-256. Each volume
// appears whole or not at all; on failure the volumes of this export are removed again.
Result<VolumeExportReport> WriteVolumes(MessageStore& store, const VolumePlan& plan,
                                        const VolumeExportOptions& options,
                                        const crypto::SigningKey& key,
                                        const std::filesystem::path& dir, Progress* progress);

struct VolumeCheck {
  std::filesystem::path path;
  int number = 0, count = 0;  // 0 when the manifest could not be read
  std::string set, fingerprint;
  uint64_t messages = 0, bytes = 0;
  std::vector<std::string> problems;  // empty when the volume is intact
  // When the signature holds (whatever else is wrong): what the volume claims to hold.
  std::optional<VolumeManifest> manifest;
};

struct VolumeSetReport {
  std::vector<VolumeCheck> volumes;   // in file-name order
  std::vector<std::string> problems;  // of the set: volumes missing, several exports or keys
  bool key_trusted = false;           // checked against a key given, not the embedded one
  std::string fingerprint;            // of the key the signatures were checked against
  bool ok() const;
  uint64_t messages() const;
};

// Checks every tessera-volume-*.tar in `dir`: the manifest parses, its signature holds
// (under `trusted` when given, else under the key the manifest names, which proves
// integrity, not origin), every listed file is there with its SHA-256 and size, nothing
// else is, and the set is complete. Damage is reported in the result (never a crash,
// whatever the files hold); an error only when `dir` cannot be read or holds no volume.
Result<VolumeSetReport> VerifyVolumes(const std::filesystem::path& dir,
                                      const crypto::PublicKey* trusted, Progress* progress);

struct VolumeImportReport {
  VolumeSetReport verification;
  uint64_t volumes_imported = 0, volumes_refused = 0;
  uint64_t messages = 0;    // read from the volumes imported
  uint64_t imported = 0;    // new to this archive
  uint64_t duplicates = 0;  // archived here before (their new deliveries are still recorded)
  uint64_t deliveries = 0;  // deliveries recorded now
  uint64_t destroyed = 0;   // destroyed here by a destruction batch: not brought back
  uint64_t bytes = 0;
};

// Verifies `dir` as VerifyVolumes does, then adds the messages of every intact volume with
// their deliveries (committed in groups; messages archived before are recognised, and
// deliveries recorded before are not recorded twice). A volume that fails verification is
// refused whole. A storage failure stops the import, the groups before it committed.
Result<VolumeImportReport> ImportVolumes(MessageStore& store, const std::filesystem::path& dir,
                                         const crypto::PublicKey* trusted, Progress* verifying,
                                         Progress* importing);

}  // namespace tessera::archive
