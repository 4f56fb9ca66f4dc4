#include "exchange/trust.hpp"

#include <algorithm>
#include <limits>

namespace tessera::exchange {

Result<std::vector<crypto::Certificate>> TrustAnchors(const Registry& registry) {
  std::vector<crypto::Certificate> anchors;
  for (const std::string& pem : registry.trust_anchors) {
    auto cert = crypto::Certificate::FromPem(pem);
    if (!cert.ok())
      return Status::Corruption("a trust anchor of the registry cannot be read: " +
                                cert.status().message());
    anchors.push_back(std::move(cert).value());
  }
  if (anchors.empty())
    return Status::FailedPrecondition(
        "the registry lists no trust anchors: add the CA with `tessera exchange registry "
        "anchor add` and publish again");
  return anchors;
}

TrustIndex::TrustIndex(const Registry& registry)
    : revoked_(registry.revoked_fingerprints.begin(), registry.revoked_fingerprints.end()),
      parties_(registry),
      anchors_(TrustAnchors(registry)) {
  for (const Agency& a : registry.agencies)
    registered_pems_.insert(registered_pems_.end(), a.certificates.begin(), a.certificates.end());
  for (const Center& c : registry.centers)
    registered_pems_.insert(registered_pems_.end(), c.certificates.begin(), c.certificates.end());
  if (!anchors_.ok()) return;
  anchors_valid_from_ = std::numeric_limits<int64_t>::min();
  anchors_valid_until_ = std::numeric_limits<int64_t>::max();
  for (const crypto::Certificate& a : *anchors_) {
    anchors_valid_from_ = std::max(anchors_valid_from_, a.NotBefore());
    anchors_valid_until_ = std::min(anchors_valid_until_, a.NotAfter());
  }
}

bool TrustIndex::ChainVerifiedBefore(const std::string& fingerprint) const {
  std::lock_guard lock(verified_mu_);
  return verified_.count(fingerprint) > 0;
}

Result<Party> TrustIndex::Identify(const crypto::Certificate& cert, int64_t now) const {
  const std::string fingerprint = cert.Fingerprint();
  auto who = [&] {
    return "certificate " + fingerprint.substr(0, 16) + " (" + cert.Subject() + ")";
  };
  if (revoked_.count(fingerprint))
    return Status::PermissionDenied(who() + " is revoked in the registry");
  std::optional<Party> party = parties_.Find(fingerprint);
  if (!party) return Status::PermissionDenied(who() + " is not registered to any agency or center");
  if (!anchors_.ok()) return anchors_.status();
  // Verifying the chain is a signature check; a registered certificate is seen again and
  // again (every item its agency sends), and its chain, once verified, holds for as long
  // as every certificate in it is within its validity.
  const bool within_validity = now >= cert.NotBefore() && now <= cert.NotAfter() &&
                               now >= anchors_valid_from_ && now <= anchors_valid_until_;
  if (within_validity && ChainVerifiedBefore(fingerprint)) return *party;
  Status chain = crypto::VerifyChain(cert, {}, *anchors_, now);
  if (!chain.ok()) return Status::PermissionDenied(who() + ": " + chain.message());
  if (within_validity) {
    std::lock_guard lock(verified_mu_);
    verified_.insert(fingerprint);
  }
  return *party;
}

std::optional<crypto::Certificate> TrustIndex::FindSigner(ByteView issuer_and_serial) const {
  std::call_once(signers_built_, [this] {
    for (const std::string& pem : registered_pems_)
      if (auto cert = crypto::Certificate::FromPem(pem); cert.ok())
        signers_.emplace(cert->IssuerAndSerial(), *cert);
  });
  auto it = signers_.find(Bytes(issuer_and_serial.begin(), issuer_and_serial.end()));
  if (it == signers_.end()) return std::nullopt;
  return it->second;
}

crypto::SignerLookup TrustIndex::Signers() const {
  return [this](ByteView issuer_and_serial) { return FindSigner(issuer_and_serial); };
}

Result<Party> IdentifyCertificate(const Registry& registry, const crypto::Certificate& cert,
                                  int64_t now) {
  return TrustIndex(registry).Identify(cert, now);
}

std::string SignerName(const Party& party) {
  return party.kind == Party::Kind::kCenter ? "center:" + party.id : party.id;
}

Result<std::vector<crypto::Certificate>> EncryptionCertificates(const Registry& registry,
                                                                const std::string& agency,
                                                                int64_t now) {
  const Agency* a = registry.FindAgency(agency);
  if (a == nullptr) return Status::NotFound("agency " + agency + " is not in the registry");
  std::vector<crypto::Certificate> out;
  std::string why;
  for (const std::string& pem : a->certificates) {
    auto cert = crypto::Certificate::FromPem(pem);
    if (!cert.ok()) continue;
    auto party = IdentifyCertificate(registry, *cert, now);
    if (party.ok())
      out.push_back(std::move(cert).value());
    else
      why = party.status().message();
  }
  if (out.empty())
    return Status::FailedPrecondition("agency " + agency +
                                      " has no valid certificate in the registry" +
                                      (why.empty() ? "" : " (" + why + ")"));
  return out;
}

}  // namespace tessera::exchange
