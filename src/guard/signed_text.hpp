// A detached Ed25519 signature over the canonical text of a document (a release manifest,
// an integrity baseline), named by the fingerprint of the key that made it.
#pragma once

#include <string>
#include <string_view>

#include "base/status.hpp"
#include "crypto/signature.hpp"

namespace tessera::guard {

struct TextSignature {
  std::string key;        // fingerprint of the signing key (crypto::PublicKey::Fingerprint)
  std::string signature;  // Ed25519 over the canonical text, hex
};

TextSignature SignText(std::string_view canonical, const crypto::SigningKey& key);

// PermissionDenied when `s` was made by another key than `trusted`, Corruption when it does
// not verify (the text was altered after signing); `what` names the document ("the release").
Status VerifyTextSignature(std::string_view canonical, const TextSignature& s,
                           const crypto::PublicKey& trusted, const std::string& what);

}  // namespace tessera::guard
