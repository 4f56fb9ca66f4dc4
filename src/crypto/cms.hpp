// CMS (RFC 5652) signing and encryption, as the exchange's end-to-end envelope uses them:
// SignedData with SHA-256, the content attached and the signer's certificate included;
// AuthEnvelopedData with AES-256-GCM content encryption (RFC 5083/5084), the key
// transported to every recipient certificate (RSA key transport, or ECDH key agreement
// for P-256). Only DER is produced or accepted.
//
// Verification here checks the signature and the signer certificate it names, not who
// the signer is: the caller decides whether that certificate is the one it expected
// (the exchange asks its registry).
#pragma once

#include <filesystem>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/x509.hpp"

namespace tessera::crypto {

Result<Bytes> CmsSign(ByteView content, const Certificate& signer, const PrivateKey& key);

struct CmsSigned {
  Bytes content;
  Certificate signer;
  int64_t signing_time = 0;  // Unix seconds, from the signed attributes
};
// Corruption when `der` is not SignedData or the signature does not verify.
Result<CmsSigned> CmsVerify(ByteView der);

// InvalidArgument when `recipients` is empty or holds an unusable key.
Result<Bytes> CmsEncrypt(ByteView content, const std::vector<Certificate>& recipients);
// PermissionDenied when no RecipientInfo is for `cert`; Corruption when the data or its
// authentication tag are damaged.
Result<Bytes> CmsDecrypt(ByteView der, const Certificate& cert, const PrivateKey& key);

// The same for documents too large to hold twice in memory: `in` is signed and then
// encrypted into `out` (written durably under a temporary name, then renamed), streaming
// through OpenSSL BIOs. Memory stays bounded for signing and encryption.
Status CmsSignAndEncryptFile(const std::filesystem::path& in, const std::filesystem::path& out,
                             const Certificate& signer, const PrivateKey& key,
                             const std::vector<Certificate>& recipients);
// Decrypts `in`, verifies the signature inside, and writes the signed content to `out`
// (durably); returns the signer's certificate and signing time (content left empty).
Result<CmsSigned> CmsDecryptAndVerifyFile(const std::filesystem::path& in,
                                          const std::filesystem::path& out,
                                          const Certificate& cert, const PrivateKey& key);

}  // namespace tessera::crypto
