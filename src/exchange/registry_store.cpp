#include "exchange/registry_store.hpp"

#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>

#include "base/clock.hpp"
#include "base/file_lock.hpp"
#include "base/files.hpp"
#include "base/json_fields.hpp"

namespace tessera::exchange {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr char kDraftFile[] = "draft.json";
constexpr char kCurrentFile[] = "current.json";
constexpr char kPublishedDir[] = "published";
constexpr char kLockFile[] = "draft.lock";

std::string When(int64_t unix_seconds) {
  return FormatRfc3339(unix_seconds * 1000000000);
}

// The highest serial under published/ (0 when none): a publish interrupted before the
// draft recorded its serial must still not reuse it.
Result<uint64_t> HighestPublishedSerial(const fs::path& dir) {
  uint64_t highest = 0;
  std::error_code ec;
  if (!fs::exists(dir, ec)) return highest;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    constexpr std::string_view kPrefix = "registry-", kSuffix = ".json";
    if (name.size() <= kPrefix.size() + kSuffix.size() || name.rfind(kPrefix, 0) != 0 ||
        name.substr(name.size() - kSuffix.size()) != kSuffix)
      continue;
    const std::string digits =
        name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
    if (digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 19) continue;
    highest = std::max<uint64_t>(highest, std::stoull(digits));
  }
  if (ec) return Status::FromErrno("cannot list " + dir.string(), ec.value());
  return highest;
}

}  // namespace

Status ManagementStore::EditDraft(const std::function<Status(Registry&)>& edit) const {
  TESSERA_ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(dir_ / kLockFile, FileLock::Wait::kYes));
  TESSERA_ASSIGN_OR_RETURN(Registry draft, LoadDraft());
  TESSERA_RETURN_IF_ERROR(edit(draft));
  return SaveDraft(draft);
}

Result<ManagementStore> ManagementStore::Init(const fs::path& dir, const std::string& name) {
  std::error_code ec;
  if (fs::exists(dir / kDraftFile, ec))
    return Status::AlreadyExists(dir.string() + " already holds a registry draft; edit it, or " +
                                 "remove the directory to start a new network");
  TESSERA_RETURN_IF_ERROR(MakeDirs(dir, 0700));
  // An init cut short after making the key reuses it: no second key was ever handed out.
  TESSERA_ASSIGN_OR_RETURN(
      crypto::SigningKey key,
      crypto::SigningKey::LoadOrCreate(dir / kManagementKeyFile, "the management signing key"));
  TESSERA_RETURN_IF_ERROR(WriteFileAtomic(dir / kManagementPublicKeyFile, key.public_key().Pem()));
  ManagementStore store(dir);
  Registry draft;
  draft.network = name;
  TESSERA_RETURN_IF_ERROR(store.SaveDraft(draft));
  return store;
}

Result<ManagementStore> ManagementStore::Open(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir / kDraftFile, ec))
    return Status::NotFound("no exchange registry is kept in " + dir.string() +
                            ": run `tessera exchange registry init --network NAME` on the "
                            "management center");
  return ManagementStore(dir);
}

Result<crypto::PublicKey> ManagementStore::PublicKey() const {
  return crypto::PublicKey::Load(PublicKeyPath());
}

Result<Registry> ManagementStore::LoadDraft() const {
  const fs::path path = dir_ / kDraftFile;
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Status::Corruption(path.string() + " is not JSON (" + e.what() +
                              "): correct it, or restore it from the last publication");
  }
  Result<Registry> r = RegistryFromJson(j);
  if (!r.ok()) return r.status().WithContext(path.string());
  return r;
}

Status ManagementStore::SaveDraft(const Registry& draft) const {
  return WriteFileAtomic(dir_ / kDraftFile, JsonText(ToJson(draft), 2) + "\n");
}

Result<ManagementStore::Publication> ManagementStore::Publish(int64_t validity_seconds,
                                                              int64_t now) const {
  TESSERA_ASSIGN_OR_RETURN(FileLock lock, FileLock::Take(dir_ / kLockFile, FileLock::Wait::kYes));
  TESSERA_ASSIGN_OR_RETURN(Registry r, LoadDraft());
  if (validity_seconds == 0) validity_seconds = r.policy.registry_validity_seconds;
  if (validity_seconds < 600 || validity_seconds > 31 * 86400)
    return Status::InvalidArgument("a registry is valid from 10 minutes to 31 days, not " +
                                   std::to_string(validity_seconds) + " s");
  if (validity_seconds < 2 * r.policy.registry_poll_seconds)
    return Status::InvalidArgument("a registry valid for " + std::to_string(validity_seconds) +
                                   " s would expire before hosts, fetching every " +
                                   std::to_string(r.policy.registry_poll_seconds) +
                                   " s, had two chances to fetch the next: publish for longer");
  if (Status st = Validate(r); !st.ok())
    return Status::FailedPrecondition(
        "nothing was published: " + st.message() +
        "\ncorrect the draft (`tessera exchange registry agency set ...`, `center ...`) and "
        "publish again");
  TESSERA_ASSIGN_OR_RETURN(
      crypto::SigningKey key,
      crypto::SigningKey::Load(dir_ / kManagementKeyFile, "the management signing key"));
  const fs::path published = dir_ / kPublishedDir;
  TESSERA_ASSIGN_OR_RETURN(uint64_t highest, HighestPublishedSerial(published));
  r.serial = std::max(r.serial, highest) + 1;
  r.issued_at = now;
  r.expires_at = now + validity_seconds;
  Publication p;
  p.wire = SignRegistry(r, key);
  p.path = published / ("registry-" + std::to_string(r.serial) + ".json");
  TESSERA_RETURN_IF_ERROR(MakeDirs(published));
  TESSERA_RETURN_IF_ERROR(WriteFileAtomic(p.path, p.wire));
  TESSERA_RETURN_IF_ERROR(WriteFileAtomic(dir_ / kCurrentFile, p.wire));
  TESSERA_RETURN_IF_ERROR(SaveDraft(r));
  p.registry = std::move(r);
  return p;
}

Result<std::string> ManagementStore::Current() const {
  Result<std::string> text = ReadTextFile(dir_ / kCurrentFile);
  if (!text.ok() && text.status().code() == StatusCode::kNotFound)
    return Status::NotFound(
        "the registry has not been published yet: run `tessera exchange "
        "registry publish`");
  return text;
}

// --- every host -------------------------------------------------------------------------

fs::path HostRegistryPath(const fs::path& home) {
  return home / "exchange" / "registry.json";
}

fs::path HostManagementKeyPath(const fs::path& home) {
  return home / "exchange" / kManagementPublicKeyFile;
}

Result<crypto::PublicKey> HostManagementKey(const fs::path& home) {
  const fs::path path = HostManagementKeyPath(home);
  Result<crypto::PublicKey> key = crypto::PublicKey::Load(path);
  if (!key.ok() && key.status().code() == StatusCode::kNotFound)
    return Status::NotFound("this host has no management center key (" + path.string() +
                            "): install a registry with `tessera exchange registry install "
                            "FILE --key MANAGEMENT.pub.pem` first");
  return key;
}

Result<Registry> ReadHostRegistry(const fs::path& home, const crypto::PublicKey& management_key) {
  const fs::path path = HostRegistryPath(home);
  Result<std::string> wire = ReadTextFile(path);
  if (!wire.ok()) {
    if (wire.status().code() == StatusCode::kNotFound)
      return Status::NotFound("this host holds no exchange registry (" + path.string() +
                              "): fetch one from the management center, or install it with "
                              "`tessera exchange registry install FILE --key "
                              "MANAGEMENT.pub.pem`");
    return wire.status();
  }
  Result<Registry> r = VerifySignedRegistry(*wire, management_key);
  if (!r.ok()) return r.status().WithContext(path.string());
  return r;
}

Result<Registry> LoadHostRegistry(const fs::path& home, const crypto::PublicKey& management_key,
                                  int64_t now) {
  const fs::path path = HostRegistryPath(home);
  TESSERA_ASSIGN_OR_RETURN(std::string wire, ReadTextFile(path));
  Result<Registry> r = OpenSignedRegistry(wire, management_key, now);
  if (!r.ok()) return r.status().WithContext(path.string());
  return r;
}

Result<InstallReport> InstallRegistry(const fs::path& home, std::string_view wire,
                                      const crypto::PublicKey& management_key, int64_t now) {
  Result<crypto::PublicKey> recorded = HostManagementKey(home);
  if (recorded.ok() && !(*recorded == management_key))
    return Status::FailedPrecondition(
        "this host was set up with management center key " + recorded->Fingerprint() + ", not " +
        management_key.Fingerprint() +
        ": nothing installed. If the management center really changed its key (confirm the "
        "new fingerprint with it apart), remove " +
        HostManagementKeyPath(home).string() + " and install again with the new key");
  if (!recorded.ok() && recorded.status().code() != StatusCode::kNotFound) return recorded.status();

  TESSERA_ASSIGN_OR_RETURN(Registry offered, OpenSignedRegistry(wire, management_key, now));
  InstallReport report;
  const fs::path path = HostRegistryPath(home);
  Result<std::string> existing_wire = ReadTextFile(path);
  if (existing_wire.ok()) {
    Result<Registry> existing = VerifySignedRegistry(*existing_wire, management_key);
    if (existing.ok()) {
      report.had_previous = true;
      report.previous_serial = existing->serial;
      if (existing->network != offered.network)
        return Status::FailedPrecondition("the registry offered is of network '" + offered.network +
                                          "', and this host is in '" + existing->network +
                                          "': nothing installed");
      if (offered.serial < existing->serial)
        return Status::FailedPrecondition(
            "the registry offered is serial " + std::to_string(offered.serial) + " (issued " +
            When(offered.issued_at) + "), older than serial " + std::to_string(existing->serial) +
            " (issued " + When(existing->issued_at) +
            ") that this host holds: refused, since an older registry could bring back revoked "
            "certificates or withdrawn addresses; fetch the current one from the management "
            "center");
      if (offered.serial == existing->serial) {
        if (ToJson(offered) != ToJson(*existing))
          return Status::FailedPrecondition(
              "the registry offered has serial " + std::to_string(offered.serial) +
              ", like the one this host holds, but other contents: the management center "
              "never publishes two registries under one serial; refused, report it to the "
              "management center");
        report.unchanged = true;
      }
    } else {
      report.note = "the registry held before did not verify (" + existing.status().message() +
                    ") and was replaced";
    }
  } else if (existing_wire.status().code() != StatusCode::kNotFound) {
    return existing_wire.status();
  }

  TESSERA_RETURN_IF_ERROR(MakeDirs(path.parent_path()));
  if (!recorded.ok())
    TESSERA_RETURN_IF_ERROR(WriteFileAtomic(HostManagementKeyPath(home), management_key.Pem()));
  if (!report.unchanged) TESSERA_RETURN_IF_ERROR(WriteFileAtomic(path, wire));
  report.registry = std::move(offered);
  return report;
}

}  // namespace tessera::exchange
