// CMS (RFC 5652) signing and encryption, as the exchange's end-to-end envelope uses them:
// SignedData with SHA-256, the content attached and the signer's certificate included
// (or, where the verifier holds it, only named by issuer and serial number);
// AuthEnvelopedData with AES-256-GCM content encryption (RFC 5083/5084), the key
// transported to every recipient certificate (RSA key transport, or ECDH key agreement
// for P-256). RSA recipients get the content key by RSAES-OAEP (SHA-256), EC recipients by
// ECDH with the X9.63 KDF over SHA-256 and AES-256 key wrap. Binary encodings only (no PEM
// or S/MIME): the in-memory functions produce DER; the streaming file variant writes BER
// with indefinite lengths, as streaming encoders must (`openssl cms -inform DER` reads
// both). Either is accepted.
//
// Verification here checks the signature and the signer certificate it names, not who
// the signer is: the caller decides whether that certificate is the one it expected
// (the exchange asks its registry).
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"
#include "crypto/x509.hpp"

namespace tessera::crypto {

// Whether SignedData carries the signer's certificate. A verifier that holds it already
// (the exchange's registry) needs only the signer's name, and with OpenSSL 3.0 parsing
// an embedded certificate costs more than checking the signature.
enum class SignerCertificate { kEmbed, kOmit };

Result<Bytes> CmsSign(ByteView content, const Certificate& signer, const PrivateKey& key,
                      SignerCertificate certificate = SignerCertificate::kEmbed);

struct CmsSigned {
  Bytes content;
  Certificate signer;
  int64_t signing_time = 0;  // Unix seconds, from the signed attributes
};
// Corruption when `der` is not SignedData with exactly one signer, or the signature does
// not verify.
Result<CmsSigned> CmsVerify(ByteView der);

// Finds the certificate a SignedData names its signer by (RFC 5652 IssuerAndSerialNumber,
// as Certificate::IssuerAndSerial encodes it); nullopt when the verifier knows none.
using SignerLookup = std::function<std::optional<Certificate>(ByteView issuer_and_serial)>;
// The same for SignedData that may omit the signer's certificate: an embedded one is
// used when there is one, else `lookup`'s. PermissionDenied when it finds none.
Result<CmsSigned> CmsVerify(ByteView der, const SignerLookup& lookup);
// A look-up that knows `certificate` alone (a host opening what it signed itself).
SignerLookup OnlySigner(Certificate certificate);

// InvalidArgument when `recipients` is empty or holds a key outside CheckKeyPolicy. (CmsSign
// likewise refuses such a signer, or a key that is not the signer certificate's.)
Result<Bytes> CmsEncrypt(ByteView content, const std::vector<Certificate>& recipients);
// PermissionDenied when no RecipientInfo is for `cert`, or `key` is not `cert`'s;
// Corruption when `der` is not AuthEnvelopedData or the data or its authentication tag
// are damaged.
Result<Bytes> CmsDecrypt(ByteView der, const Certificate& cert, const PrivateKey& key);

// The same for documents too large to hold twice in memory: `in` is signed and then
// encrypted into `out` (written durably under a temporary name, then renamed), streaming
// through OpenSSL BIOs. Memory stays bounded for signing and encryption: about 1 MiB
// above the process's baseline whatever the size (measured: +1.3 MiB for 100 MiB). `out`
// gets mode 0600. Errors as CmsSign and CmsEncrypt; NotFound when `in` does not exist.
Status CmsSignAndEncryptFile(const std::filesystem::path& in, const std::filesystem::path& out,
                             const Certificate& signer, const PrivateKey& key,
                             const std::vector<Certificate>& recipients);
// Decrypts `in`, verifies the signature inside, and writes the signed content to `out`
// (durably, mode 0600, and only once the tag and the signature have verified); returns the
// signer's certificate and signing time (content left empty). Errors as CmsDecrypt and
// CmsVerify; NotFound when `in` does not exist.
// Memory stays bounded here too, whatever the size: OpenSSL decodes a CMS structure only
// whole, so the content (ciphertext, then signed content) is read apart, streamed to
// OpenSSL as detached content, and only the rest of each structure (certificates,
// recipient and signer infos; at most 8 MiB, else Corruption) is decoded in memory. The
// decrypted SignedData waits in an unnamed temporary file next to `out`.
Result<CmsSigned> CmsDecryptAndVerifyFile(const std::filesystem::path& in,
                                          const std::filesystem::path& out, const Certificate& cert,
                                          const PrivateKey& key);

}  // namespace tessera::crypto
