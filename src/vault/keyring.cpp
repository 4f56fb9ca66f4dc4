#include "vault/keyring.hpp"

#include <sys/stat.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/files.hpp"
#include "base/json_fields.hpp"
#include "crypto/aead.hpp"
#include "crypto/codes.hpp"
#include "crypto/random.hpp"
#include "crypto/shamir.hpp"
#include "vault/keys.hpp"

namespace tessera::vault {

using nlohmann::json;

namespace {
Bytes ShareAad(const std::string& vault_id, int index, int epoch) {
  return ToBytes("tessera share v1|" + vault_id + "|" + std::to_string(index) + "|" +
                 std::to_string(epoch));
}
constexpr size_t kCodeVaultTag = 4;  // bytes of the vault id in each recovery code
}  // namespace

Bytes SerializeDescriptor(const StoreDescriptor& d) {
  json j = {{"format", "tessera-store"},
            {"version", 1},
            {"vault_id", d.vault_id},
            {"k", d.k},
            {"n", d.n},
            {"index", d.index},
            {"epoch", d.epoch},
            {"custodians", d.custodians},
            {"quorum", d.quorum},
            {"key_check", HexEncode(d.key_check)}};
  if (!d.share.empty()) j["share"] = HexEncode(d.share);
  if (!d.wrapped_share.empty()) j["wrapped_share"] = HexEncode(d.wrapped_share);
  std::string s = j.dump(2);
  return Bytes(s.begin(), s.end());
}

Result<StoreDescriptor> ParseDescriptor(ByteView data) {
  try {
    json j = json::parse(AsString(data));
    if (j.value("format", "") != "tessera-store")
      return Status::Corruption("not a tessera store descriptor");
    if (OptionalInt<int>(j, "version", 0) != 1)
      return Status::Corruption("store descriptor version is not supported by this tessera");
    StoreDescriptor d;
    d.vault_id = j.at("vault_id").get<std::string>();
    d.k = RequiredInt<int>(j, "k");
    d.n = RequiredInt<int>(j, "n");
    d.index = RequiredInt<int>(j, "index");
    d.epoch = OptionalInt<int>(j, "epoch", 1);
    d.custodians = OptionalInt<int>(j, "custodians", 0);
    d.quorum = OptionalInt<int>(j, "quorum", 0);
    TESSERA_ASSIGN_OR_RETURN(d.key_check, HexDecode(j.at("key_check").get<std::string>()));
    if (j.contains("share")) {
      TESSERA_ASSIGN_OR_RETURN(d.share, HexDecode(j["share"].get<std::string>()));
    }
    if (j.contains("wrapped_share")) {
      TESSERA_ASSIGN_OR_RETURN(d.wrapped_share, HexDecode(j["wrapped_share"].get<std::string>()));
    }
    if (d.k < 1 || d.n < d.k || d.index < 0 || d.index >= d.n)
      return Status::Corruption("store descriptor has an impossible geometry");
    return d;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("store descriptor is not valid: ") + e.what());
  }
}

Result<NewKeys> IssueKeys(const VaultConfig& config, const SecretBytes* existing_master,
                          const SecretBytes* existing_custodian_key, int epoch) {
  NewKeys out;
  out.master =
      existing_master ? *existing_master : SecretBytes(crypto::RandomBytes(kMasterKeySize));
  VaultKeys keys(out.master);
  std::vector<uint8_t> xs;
  for (int i = 0; i < config.n; ++i) xs.push_back(static_cast<uint8_t>(i + 1));
  TESSERA_ASSIGN_OR_RETURN(std::vector<crypto::Share> shares,
                           crypto::ShamirSplit(out.master.view(), config.k, xs));
  if (config.custodians > 0) {
    out.custodian_key =
        existing_custodian_key ? *existing_custodian_key : SecretBytes(crypto::RandomBytes(32));
    if (!existing_custodian_key) {
      std::vector<uint8_t> cxs;
      for (int i = 0; i < config.custodians; ++i) cxs.push_back(static_cast<uint8_t>(i + 1));
      TESSERA_ASSIGN_OR_RETURN(std::vector<crypto::Share> cshares,
                               crypto::ShamirSplit(out.custodian_key.view(), config.quorum, cxs));
      Bytes tag = HexDecode(config.vault_id).value();
      for (auto& cs : cshares) {
        Bytes payload(tag.begin(), tag.begin() + kCodeVaultTag);
        payload.push_back(cs.x);
        payload.insert(payload.end(), cs.y.begin(), cs.y.end());
        out.recovery_codes.push_back(crypto::EncodeCode(payload));
        SecureWipe(payload);
        SecureWipe(cs.y);
      }
    }
  }
  for (int i = 0; i < config.n; ++i) {
    StoreDescriptor d;
    d.vault_id = config.vault_id;
    d.k = config.k;
    d.n = config.n;
    d.index = i;
    d.epoch = epoch;
    d.custodians = config.custodians;
    d.quorum = config.quorum;
    d.key_check = keys.KeyCheck();
    if (config.custodians > 0) {
      TESSERA_ASSIGN_OR_RETURN(d.wrapped_share,
                               crypto::AeadSeal(out.custodian_key.view(), shares[i].y,
                                                ShareAad(config.vault_id, i, epoch)));
    } else {
      d.share = shares[i].y;
    }
    SecureWipe(shares[i].y);
    out.descriptors.push_back(std::move(d));
  }
  return out;
}

Result<SecretBytes> RecoverMasterKey(const std::vector<StoreDescriptor>& descriptors,
                                     const std::vector<std::string>& recovery_codes,
                                     const SecretBytes* custodian_key) {
  if (descriptors.empty()) return Status::InvalidArgument("no store descriptors to recover from");
  // Shares of different epochs do not combine. Use the newest epoch, or the newest one
  // with k shares: a re-issue cut short leaves fewer than k of the new epoch on the
  // stores, and the old one must still open the vault then.
  const StoreDescriptor& first = descriptors.front();
  std::map<int, std::set<int>> by_epoch;
  for (auto& d : descriptors)
    if (d.vault_id == first.vault_id) by_epoch[d.epoch].insert(d.index);
  int epoch = by_epoch.rbegin()->first;
  for (auto it = by_epoch.rbegin(); it != by_epoch.rend(); ++it)
    if (static_cast<int>(it->second.size()) >= first.k) {
      epoch = it->first;
      break;
    }
  std::map<int, const StoreDescriptor*> usable;
  for (auto& d : descriptors) {
    if (d.vault_id != first.vault_id)
      return Status::InvalidArgument("the stores given belong to different vaults (" +
                                     first.vault_id + " and " + d.vault_id + ")");
    if (d.k != first.k || d.n != first.n || d.custodians != first.custodians ||
        d.quorum != first.quorum)
      return Status::Corruption(
          "the store descriptors disagree about the vault's geometry "
          "(one was altered); leave that store out");
    if (d.epoch == epoch) usable[d.index] = &d;
  }
  if (static_cast<int>(usable.size()) < first.k)
    return Status::FailedPrecondition("only " + std::to_string(usable.size()) +
                                      " stores with current key shares were given; " +
                                      std::to_string(first.k) + " are needed");
  SecretBytes ckey;
  if (first.custodians > 0) {
    if (custodian_key && !custodian_key->empty()) {
      ckey = *custodian_key;
    } else {
      std::vector<crypto::Share> cshares;
      Bytes tag = HexDecode(first.vault_id).value();
      tag.resize(kCodeVaultTag);
      for (const std::string& code : recovery_codes) {
        auto payload = crypto::DecodeCode(code);
        if (!payload.ok()) return payload.status().WithContext("recovery code");
        if (payload->size() != kCodeVaultTag + 1 + 32 ||
            !std::equal(tag.begin(), tag.end(), payload->begin()))
          return Status::InvalidArgument("a recovery code belongs to another vault");
        crypto::Share s;
        s.x = (*payload)[kCodeVaultTag];
        s.y.assign(payload->begin() + kCodeVaultTag + 1, payload->end());
        cshares.push_back(std::move(s));
      }
      if (static_cast<int>(cshares.size()) < first.quorum)
        return Status::FailedPrecondition(
            "this vault needs recovery codes from " + std::to_string(first.quorum) + " of its " +
            std::to_string(first.custodians) + " custodians (--code), " +
            std::to_string(cshares.size()) + " given");
      TESSERA_ASSIGN_OR_RETURN(ckey, crypto::ShamirCombine(cshares));
    }
  }
  std::vector<crypto::Share> shares;
  for (auto& [index, d] : usable) {
    if (static_cast<int>(shares.size()) == first.k) break;
    crypto::Share s;
    s.x = static_cast<uint8_t>(index + 1);
    if (first.custodians > 0) {
      auto y =
          crypto::AeadOpen(ckey.view(), d->wrapped_share, ShareAad(d->vault_id, index, d->epoch));
      if (!y.ok())
        return Status::PermissionDenied(
            "the recovery codes do not unlock the key shares (wrong or mistyped codes)");
      s.y = std::move(*y);
    } else {
      s.y = d->share;
    }
    shares.push_back(std::move(s));
  }
  TESSERA_ASSIGN_OR_RETURN(SecretBytes master, crypto::ShamirCombine(shares));
  for (auto& s : shares) SecureWipe(s.y);
  VaultKeys keys(master);
  if (keys.KeyCheck() != first.key_check)
    return Status::Corruption(
        "the key shares do not combine to this vault's key (a descriptor was altered or "
        "comes from another vault)");
  return master;
}

Status WriteKeyFile(const std::string& path, const std::string& vault_id, const SecretBytes& master,
                    const SecretBytes& custodian_key, const std::optional<std::string>& passphrase,
                    const crypto::ScryptParams& params) {
  Bytes secret(master.view().begin(), master.view().end());
  secret.insert(secret.end(), custodian_key.view().begin(), custodian_key.view().end());
  json j = {{"format", "tessera-key"}, {"version", 1}, {"vault_id", vault_id}};
  if (passphrase) {
    Bytes salt = crypto::RandomBytes(16);
    TESSERA_ASSIGN_OR_RETURN(SecretBytes kek,
                             crypto::DeriveKeyFromPassphrase(*passphrase, salt, params));
    TESSERA_ASSIGN_OR_RETURN(
        Bytes sealed, crypto::AeadSeal(kek.view(), secret, ToBytes("tessera key " + vault_id)));
    j["protection"] = "scrypt";
    j["scrypt"] = {{"salt", HexEncode(salt)}, {"n", params.n}, {"r", params.r}, {"p", params.p}};
    j["sealed"] = HexEncode(sealed);
  } else {
    j["protection"] = "none";
    j["key"] = HexEncode(secret);
  }
  SecureWipe(secret);
  std::string text = j.dump(2);
  Status st = WriteFileAtomic(path, text, 0600);
  SecureWipe(text.data(), text.size());
  return st;
}

Result<LoadedKey> ReadKeyFile(const std::string& path, const std::string& vault_id,
                              const std::optional<std::string>& passphrase) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0)
    return Status::PermissionDenied("key file " + path + " is readable by others; run: chmod 600 " +
                                    path);
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  Bytes secret;
  try {
    json j = json::parse(text);
    SecureWipe(text.data(), text.size());
    if (j.value("format", "") != "tessera-key")
      return Status::Corruption("key file " + path + " is not a tessera key file");
    if (OptionalInt<int>(j, "version", 0) != 1)
      return Status::Corruption("key file " + path +
                                " has a format version this tessera does not know");
    if (j.value("vault_id", "") != vault_id)
      return Status::InvalidArgument("key file " + path + " belongs to another vault");
    if (j.value("protection", "") == "scrypt") {
      if (!passphrase)
        return Status::PermissionDenied(
            "the vault key is protected by a passphrase: set TESSERA_PASSPHRASE");
      crypto::ScryptParams params;
      params.n = RequiredInt<uint64_t>(j["scrypt"], "n");
      params.r = RequiredInt<uint32_t>(j["scrypt"], "r");
      params.p = RequiredInt<uint32_t>(j["scrypt"], "p");
      TESSERA_ASSIGN_OR_RETURN(Bytes salt, HexDecode(j["scrypt"].at("salt").get<std::string>()));
      TESSERA_ASSIGN_OR_RETURN(SecretBytes kek,
                               crypto::DeriveKeyFromPassphrase(*passphrase, salt, params));
      TESSERA_ASSIGN_OR_RETURN(Bytes sealed, HexDecode(j.at("sealed").get<std::string>()));
      auto opened = crypto::AeadOpen(kek.view(), sealed, ToBytes("tessera key " + vault_id));
      if (!opened.ok()) return Status::PermissionDenied("wrong passphrase for the vault key");
      secret = std::move(*opened);
    } else {
      TESSERA_ASSIGN_OR_RETURN(secret, HexDecode(j.at("key").get<std::string>()));
    }
  } catch (const std::exception& e) {
    return Status::Corruption("key file " + path + " is damaged: " + e.what());
  }
  if (secret.size() != kMasterKeySize && secret.size() != 2 * kMasterKeySize)
    return Status::Corruption("key file " + path + " holds a key of the wrong size");
  LoadedKey out;
  out.master = SecretBytes(ByteView(secret).subspan(0, kMasterKeySize));
  if (secret.size() > kMasterKeySize)
    out.custodian_key = SecretBytes(ByteView(secret).subspan(kMasterKeySize));
  SecureWipe(secret);
  return out;
}

}  // namespace tessera::vault
