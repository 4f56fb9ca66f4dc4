#include "exchange/trust.hpp"

#include <algorithm>

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
      anchors_(TrustAnchors(registry)) {}

Result<Party> TrustIndex::Identify(const crypto::Certificate& cert, int64_t now) const {
  const std::string fingerprint = cert.Fingerprint();
  const std::string who = "certificate " + fingerprint.substr(0, 16) + " (" + cert.Subject() + ")";
  if (revoked_.count(fingerprint))
    return Status::PermissionDenied(who + " is revoked in the registry");
  std::optional<Party> party = parties_.Find(fingerprint);
  if (!party) return Status::PermissionDenied(who + " is not registered to any agency or center");
  if (!anchors_.ok()) return anchors_.status();
  Status chain = crypto::VerifyChain(cert, {}, *anchors_, now);
  if (!chain.ok()) return Status::PermissionDenied(who + ": " + chain.message());
  return *party;
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
