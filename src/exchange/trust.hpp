// Who a certificate belongs to, under a registry: the one decision behind accepting a TLS
// peer, a signed header and a signed receipt. A certificate is trusted when it chains to
// one of the registry's anchors and is valid now, is not revoked, and is registered to an
// agency or a center.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/status.hpp"
#include "crypto/cms.hpp"
#include "crypto/x509.hpp"
#include "exchange/registry.hpp"

namespace tessera::exchange {

// The registry's trust anchors, parsed (Corruption naming the bad one).
Result<std::vector<crypto::Certificate>> TrustAnchors(const Registry& registry);

// What deciding trust under one registry needs, worked out once: the registered
// fingerprints and the parsed anchors. A host checking many certificates under the
// registry it installed builds one per registry; usable from several threads at once.
// A certificate's chain is verified once: later decisions on it check only that `now`
// still lies within the validity of the certificate and of every anchor (the registry,
// and so the index, is replaced when anchors or revocations change).
class TrustIndex {
 public:
  explicit TrustIndex(const Registry& registry);
  // PermissionDenied saying why when `cert` is not trusted at `now`.
  Result<Party> Identify(const crypto::Certificate& cert, int64_t now) const;
  // The registered certificate (an agency's or a center's, trusted or not: Identify
  // decides) that CMS names by `issuer_and_serial`; nullopt when none is. The registered
  // certificates are parsed on the first call.
  std::optional<crypto::Certificate> FindSigner(ByteView issuer_and_serial) const;
  // FindSigner as a look-up for OpenHeader; valid while this index lives.
  crypto::SignerLookup Signers() const;

 private:
  bool ChainVerifiedBefore(const std::string& fingerprint) const;

  std::set<std::string> revoked_;
  CertificateIndex parties_;
  Result<std::vector<crypto::Certificate>> anchors_;
  int64_t anchors_valid_from_ = 0;                       // the latest NotBefore of the anchors
  int64_t anchors_valid_until_ = 0;                      // the earliest NotAfter of the anchors
  mutable std::mutex verified_mu_;                       // guards verified_
  mutable std::set<std::string, std::less<>> verified_;  // fingerprints whose chain verified
  std::vector<std::string> registered_pems_;             // every agency's and center's
  mutable std::once_flag signers_built_;
  mutable std::map<Bytes, crypto::Certificate> signers_;  // by IssuerAndSerial
};

// TrustIndex(registry).Identify(cert, now), for a single decision.
Result<Party> IdentifyCertificate(const Registry& registry, const crypto::Certificate& cert,
                                  int64_t now);

// The name a party signs items with: the agency code, or "center:<id>".
std::string SignerName(const Party& party);

// The certificates of `agency` usable for encryption at `now` (valid, not revoked);
// FailedPrecondition when it has none.
Result<std::vector<crypto::Certificate>> EncryptionCertificates(const Registry& registry,
                                                                const std::string& agency,
                                                                int64_t now);

}  // namespace tessera::exchange
