#include "guard/signed_text.hpp"

#include "base/bytes.hpp"

namespace tessera::guard {

TextSignature SignText(std::string_view canonical, const crypto::SigningKey& key) {
  return {key.public_key().Fingerprint(), HexEncode(key.Sign(AsBytes(canonical)))};
}

Status VerifyTextSignature(std::string_view canonical, const TextSignature& s,
                           const crypto::PublicKey& trusted, const std::string& what) {
  if (s.key != trusted.Fingerprint())
    return Status::PermissionDenied(what + " is signed by key " + s.key.substr(0, 16) +
                                    ", not the trusted key " + trusted.Fingerprint().substr(0, 16));
  auto signature = HexDecode(s.signature);
  if (!signature.ok() || !trusted.Verify(AsBytes(canonical), *signature))
    return Status::Corruption(what + "'s signature does not verify: it was altered after signing");
  return Status::Ok();
}

}  // namespace tessera::guard
