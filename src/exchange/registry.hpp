// The exchange registry: who takes part in one exchange network and on what terms. The
// management center (管理層) keeps it and publishes it signed, with an expiry; every
// exchange center and agency gateway fetches it, checks the signature against the
// management center's public key it was given at setup, and fails closed once the copy
// it holds has expired (X-Road's signed global configuration, without its separate
// revocation look-ups: revoked certificates are listed here).
//
// Wire form (docs/exchange-protocol.md, "Registry"): a JSON object
//   {"format":"tessera-registry-signed","version":1,"registry":"<the registry JSON text>",
//    "key":"<fingerprint of the signing key>","signature":"<hex Ed25519 signature of the
//    registry text's UTF-8 bytes>"}
// so the signed bytes are exactly the string carried, whatever JSON library reads it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.hpp"
#include "crypto/signature.hpp"

namespace tessera::exchange {

// The largest max_message_bytes a registry may set: what libclamav scans whole.
inline constexpr uint64_t kMaxPolicyMessageBytes = uint64_t{2} << 30;

struct Policy {
  int64_t max_clock_skew_seconds = 30;               // hosts refuse to sign beyond it
  uint64_t max_message_bytes = uint64_t{256} << 20;  // an envelope, all attachments in
  std::vector<int> certificate_warning_days = {60, 30, 7};
  int64_t delivery_expiry_seconds = 7 * 86400;  // undelivered → "expired" receipt
  int64_t registry_validity_seconds = 86400;    // publish: expires = issued + this
  int64_t registry_poll_seconds = 300;          // hosts fetch this often
};

// Reasons a center or the management center may suspend an agency (seed 002, 中止服務).
// Stored as their codes: "certificate-expired", "certificate-lost", "security-incident",
// "malware", "refused-audit", "other".
std::vector<std::string> SuspensionReasonCodes();

struct Suspension {
  std::string reason;  // a code from SuspensionReasonCodes()
  std::string note;    // free text
  std::string by;      // who suspended
  int64_t at = 0;      // Unix seconds
};

struct Agency {
  std::string code;         // 機關代碼, opaque token (e.g. "A15060000H")
  std::string name;         // 全銜
  std::string home_center;  // the id of the exchange center it connects to
  std::string group;        // its agency group ("" for none): VPN ranges apply
  // PEM certificates: its gateway's TLS client certificate, signing and encryption keys.
  // More than one during a key rollover; documents are encrypted to every valid one.
  std::vector<std::string> certificates;
  // Fixed source addresses ("203.0.113.7"), one-to-one. A range ("10.8.0.0/24") only
  // where `ranges_allowed` says the registry granted one.
  std::vector<std::string> addresses;
  bool ranges_allowed = false;
  std::optional<Suspension> suspension;  // suspended by the management center
};

struct Center {
  std::string id;                         // "center-north"
  std::string url;                        // "https://203.0.113.1:7443"
  std::vector<std::string> addresses;     // its fixed source addresses (for forwarding)
  std::vector<std::string> certificates;  // PEM TLS certificates
};

struct AgencyGroup {
  std::string name;
  std::vector<std::string> vpn_ranges;  // remote-work ranges its agencies may connect from
};

struct ReleaseHash {
  std::string version;
  std::string sha256;  // of the release manifest (issue #5)
};

struct Registry {
  int version = 1;
  std::string network;  // the name of this exchange network
  uint64_t serial = 0;  // increases with every publication
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  Policy policy;
  std::vector<std::string> trust_anchors;         // PEM CA certificates
  std::vector<std::string> revoked_fingerprints;  // certificate fingerprints
  std::vector<Center> centers;
  std::vector<Agency> agencies;
  std::vector<AgencyGroup> groups;
  std::vector<ReleaseHash> releases;

  const Agency* FindAgency(std::string_view code) const;
  std::vector<std::string> ReleaseHashes() const;  // each listed release's manifest SHA-256
  const Center* FindCenter(std::string_view id) const;
  const AgencyGroup* FindGroup(std::string_view name) const;
};

// Who a certificate fingerprint is registered to.
struct Party {
  enum class Kind { kAgency, kCenter };
  Kind kind = Kind::kAgency;
  std::string id;  // agency code or center id
};
// `fingerprint` as NormalizeFingerprint accepts it. A revoked certificate never matches;
// a suspended agency still does (callers check Agency::suspension and say why they refuse).
// It reads every registered certificate on each call: for a host answering connections,
// CertificateIndex does the same with the fingerprints computed once.
std::optional<Party> FindByCertificate(const Registry& registry, std::string_view fingerprint);

// FindByCertificate over a registry that does not change (a host builds one per
// registry it installs); safe to use from several threads at once.
class CertificateIndex {
 public:
  explicit CertificateIndex(const Registry& registry);
  std::optional<Party> Find(std::string_view fingerprint) const;

 private:
  std::map<std::string, Party, std::less<>> parties_;  // by fingerprint, revoked left out
};

// Whether `ip` (dotted IPv4 or IPv6 text) is a registered source address of `party`: one
// of its fixed addresses, a range it was granted, or a VPN range of its agency group.
// An IPv4-mapped IPv6 address ("::ffff:203.0.113.7") is its IPv4 address. A range in an
// agency's addresses without `ranges_allowed` grants nothing.
bool AddressAllowed(const Registry& registry, const Party& party, std::string_view ip);

// Checks what must hold for the registry to be used at all: unique codes and ids, home
// centers that exist, parseable certificates and addresses, ranges only where allowed.
Status Validate(const Registry& registry);
// Every problem Validate finds, one sentence each naming the agency, center or group
// (empty when there is none): InvalidArgument from Validate lists them all.
std::vector<std::string> ValidationProblems(const Registry& registry);

// What the registry uses of a registered PEM certificate. InvalidArgument when `pem`
// holds no certificate.
struct CertificateSummary {
  std::string fingerprint;  // SHA-256 of the DER, lower-case hex (crypto/x509.hpp)
  std::string subject;
  int64_t not_after = 0;  // Unix seconds
  std::string key;        // "RSA 2048", "ECDSA P-256", ...
  Status key_policy;      // crypto::CheckKeyPolicy: OK, or why the key is refused
};
Result<CertificateSummary> SummarizeCertificate(std::string_view pem);

// A certificate fingerprint as people copy it ("AB:CD:..." from `openssl x509
// -fingerprint -sha256`, or lower-case hex) in the registry's form: 64 lower-case hex
// digits. InvalidArgument otherwise.
Result<std::string> NormalizeFingerprint(std::string_view text);

// Whether `text` is an IPv4 or IPv6 address ("203.0.113.7"), or a range in CIDR form
// ("10.8.0.0/24", host bits zero); InvalidArgument saying what is wrong otherwise.
Status CheckAddress(std::string_view text);
Status CheckRange(std::string_view text);

nlohmann::json ToJson(const Registry& registry);
Result<Registry> RegistryFromJson(const nlohmann::json& j);

// The wire form above, for a registry whose serial, issued_at and expires_at are set.
std::string SignRegistry(const Registry& registry, const crypto::SigningKey& key);
// Opens the wire form: Corruption when it is damaged or the signature does not verify
// with `management_key`; FailedPrecondition "the registry expired at ..., fetch a new
// one" when `now` is past expires_at (the caller then fails closed).
Result<Registry> OpenSignedRegistry(std::string_view wire, const crypto::PublicKey& management_key,
                                    int64_t now);
// The same without the expiry check: what a host needs to compare serials (an expired
// copy's serial still counts against rollback) and to show an expired copy's contents.
Result<Registry> VerifySignedRegistry(std::string_view wire,
                                      const crypto::PublicKey& management_key);

}  // namespace tessera::exchange
