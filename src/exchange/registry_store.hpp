// Where the exchange registry (exchange/registry.hpp) lives on disk.
//
// The management center keeps its editable copy under one directory (the CLI uses
// <home>/exchange/management):
//   draft.json                        the registry being edited (registry JSON)
//   management.key                    the Ed25519 signing key, PKCS#8 PEM, mode 0600
//   management.pub.pem                its public half, handed to every host at setup
//   published/registry-<serial>.json  every publication in the signed wire form, kept
//   current.json                      the latest publication: what hosts fetch
// Every host (exchange center, agency gateway) keeps the copy it fetched, as fetched, in
// <home>/exchange/registry.json, and the management center's public key it was set up
// with in <home>/exchange/management.pub.pem. Every file is written durably (temporary
// name, fsync, rename, fsync of the directory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "base/status.hpp"
#include "crypto/signature.hpp"
#include "exchange/registry.hpp"

namespace tessera::exchange {

inline constexpr char kManagementKeyFile[] = "management.key";
inline constexpr char kManagementPublicKeyFile[] = "management.pub.pem";

class ManagementStore {
 public:
  // Makes the signing key and a draft with no parties for network `name` under `dir`.
  // AlreadyExists when `dir` already holds a draft.
  static Result<ManagementStore> Init(const std::filesystem::path& dir, const std::string& name);
  // NotFound, saying to run `init`, when `dir` holds no draft.
  static Result<ManagementStore> Open(const std::filesystem::path& dir);

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path PublicKeyPath() const { return dir_ / kManagementPublicKeyFile; }
  Result<crypto::PublicKey> PublicKey() const;

  Result<Registry> LoadDraft() const;
  Status SaveDraft(const Registry& draft) const;
  // Loads the draft, applies `edit` and saves the result unless `edit` fails, holding a
  // lock (<dir>/draft.lock) so that two operators editing at once lose neither change.
  // Publish takes the same lock.
  Status EditDraft(const std::function<Status(Registry&)>& edit) const;

  struct Publication {
    Registry registry;           // as signed
    std::filesystem::path path;  // published/registry-<serial>.json
    std::string wire;
  };
  // Signs the draft as the next serial (one more than any published before), issued at
  // `now` and expiring `validity_seconds` later (the policy's registry_validity_seconds
  // when 0), and writes it to published/ and current.json; the draft then records that
  // serial. FailedPrecondition listing every problem when the draft does not Validate:
  // nothing invalid is ever published.
  Result<Publication> Publish(int64_t validity_seconds, int64_t now) const;
  // The latest publication's wire form; NotFound before the first one.
  Result<std::string> Current() const;

 private:
  explicit ManagementStore(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

// --- every host -------------------------------------------------------------------------

std::filesystem::path HostRegistryPath(const std::filesystem::path& home);
std::filesystem::path HostManagementKeyPath(const std::filesystem::path& home);

struct InstallReport {
  Registry registry;          // the registry now installed
  bool had_previous = false;  // a verified registry was installed before
  uint64_t previous_serial = 0;
  bool unchanged = false;  // the same publication was installed already
  std::string note;        // what an operator should know (a damaged copy replaced)
};

// Stores `wire`, a fetched registry, as this host's registry once it verifies with
// `management_key` and has not expired at `now` (OpenSignedRegistry's errors). The first
// install records `management_key` as the host's; later ones must use the same key
// (FailedPrecondition otherwise: a key change is deliberate, see the message). Refuses
// (FailedPrecondition) an older serial than the one installed (rollback), another
// publication under the same serial, and a registry of another network.
Result<InstallReport> InstallRegistry(const std::filesystem::path& home, std::string_view wire,
                                      const crypto::PublicKey& management_key, int64_t now);

// The management key recorded by the first install; NotFound before it.
Result<crypto::PublicKey> HostManagementKey(const std::filesystem::path& home);

// This host's registry, verified with `management_key`: NotFound when none is installed,
// Corruption when it does not verify, FailedPrecondition once it has expired at `now`
// (fail closed: no exchange without a current registry).
Result<Registry> LoadHostRegistry(const std::filesystem::path& home,
                                  const crypto::PublicKey& management_key, int64_t now);
// The same, expired or not: for reports that say how long ago it expired.
Result<Registry> ReadHostRegistry(const std::filesystem::path& home,
                                  const crypto::PublicKey& management_key);

}  // namespace tessera::exchange
