// X.509 certificates and their private keys (OpenSSL), as the exchange uses them: agency
// and host certificates issued by a government CA (GCA) or by the test CA `tessera pki`
// makes, checked against configured trust anchors. Accepted keys: RSA of 2048 bits or more
// and ECDSA on P-256 (CheckKeyPolicy). A certificate is named by its fingerprint: the
// SHA-256 of its DER encoding in lower-case hex, the same as
//   openssl x509 -in cert.pem -outform DER | sha256sum
// Revocation is not looked up here: the exchange registry lists revoked certificates,
// so a host never rejects a valid peer because a CRL or OCSP responder is out of reach.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

typedef struct x509_st X509;
typedef struct X509_name_st X509_NAME;
typedef struct asn1_string_st ASN1_INTEGER;
typedef struct evp_pkey_st EVP_PKEY;

namespace tessera::crypto {

class Certificate {
 public:
  // The first PEM "CERTIFICATE" block of `pem`; InvalidArgument when there is none.
  static Result<Certificate> FromPem(std::string_view pem);
  // Every certificate in `pem`, in order (a chain file); InvalidArgument when none.
  static Result<std::vector<Certificate>> AllFromPem(std::string_view pem);
  static Result<Certificate> FromDer(ByteView der);
  // Another reference to a certificate OpenSSL has already parsed (say, one inside a CMS
  // structure): no copy and no second parse, which with OpenSSL 3.0 costs more than a
  // signature check (every parse looks up a key decoder). `x` must not be null.
  static Certificate Share(X509* x);
  // NotFound when the file is missing, InvalidArgument naming it when it holds none.
  static Result<Certificate> Load(const std::filesystem::path& path);

  std::string Pem() const;
  Bytes Der() const;
  std::string Fingerprint() const;
  std::string Subject() const;     // one line, RFC 2253 ("CN=...,O=...")
  std::string CommonName() const;  // "" when there is none
  std::string Issuer() const;
  std::string SerialHex() const;  // lower-case hex, as `openssl x509 -serial` but lower case
  // The DER of the issuer's name followed by the DER of the serial number: what CMS
  // names a signer or recipient by (IssuerAndSerialNumber), as a look-up key.
  Bytes IssuerAndSerial() const;
  int64_t NotBefore() const;  // Unix seconds
  int64_t NotAfter() const;
  std::string KeyDescription() const;            // "RSA 2048", "ECDSA P-256", ...
  std::vector<std::string> IpAddresses() const;  // subjectAltName iPAddress entries
  std::vector<std::string> DnsNames() const;     // subjectAltName dNSName entries
  bool IsCa() const;                             // basicConstraints CA:TRUE

  // Not owned: valid as long as this Certificate (or a copy of it) lives.
  X509* native() const { return x_.get(); }
  bool operator==(const Certificate& o) const;

 private:
  explicit Certificate(std::shared_ptr<X509> x) : x_(std::move(x)) {}
  std::shared_ptr<X509> x_;
};

// Certificate::IssuerAndSerial's encoding of a name and a serial number OpenSSL parsed
// elsewhere (a CMS signer's identifier).
Bytes IssuerAndSerialKey(const X509_NAME* issuer, const ASN1_INTEGER* serial);

enum class KeyKind { kRsa2048, kRsa3072, kEcP256 };

class PrivateKey {
 public:
  static Result<PrivateKey> Generate(KeyKind kind);
  // A PEM PKCS#8 "PRIVATE KEY" (or traditional RSA/EC) block; InvalidArgument otherwise.
  static Result<PrivateKey> FromPem(std::string_view pem);
  // `what` names the key in errors ("the agency key"). PermissionDenied when others can
  // read the file (the key must then be taken as exposed), NotFound, or Corruption.
  static Result<PrivateKey> Load(const std::filesystem::path& path, const std::string& what);

  // Writes PEM PKCS#8 durably with mode 0600 (temporary name, fsync, rename).
  Status Save(const std::filesystem::path& path) const;
  // Whether `cert` carries this key's public half.
  bool Matches(const Certificate& cert) const;

  EVP_PKEY* native() const { return k_.get(); }

 private:
  explicit PrivateKey(std::shared_ptr<EVP_PKEY> k) : k_(std::move(k)) {}
  std::shared_ptr<EVP_PKEY> k_;
};

// RSA of 2048 bits or more, or ECDSA on P-256; InvalidArgument saying which key it is and
// what is accepted otherwise.
Status CheckKeyPolicy(const Certificate& cert);

struct CertificateRequest {
  std::string common_name;                // an agency's 機關代碼 and name, or a host name
  std::string organization;               // O=
  std::vector<std::string> ip_addresses;  // subjectAltName iPAddress
  std::vector<std::string> dns_names;     // subjectAltName dNSName
  bool ca = false;                        // a CA certificate (keyCertSign, cRLSign)
  int64_t not_before = 0;                 // Unix seconds; 0: now
  int64_t not_after = 0;                  // Unix seconds; 0: not_before + 365 days
};

// A certificate for `subject_key` signed by `issuer_key` (SHA-256), issued by `issuer`,
// or self-signed when `issuer` is null. Leaf certificates get digitalSignature,
// keyEncipherment (RSA) or keyAgreement (EC), and extendedKeyUsage serverAuth, clientAuth
// and emailProtection, so one certificate serves TLS, signing and encryption. Every
// certificate gets a random 128-bit serial and subject/authority key identifiers.
// InvalidArgument when the subject key is outside CheckKeyPolicy, `issuer_key` is not the
// issuer's (or, self-signed, the subject's) key, `issuer` is not a CA, the validity ends
// before it begins, or an IP address or DNS name is malformed.
Result<Certificate> IssueCertificate(const CertificateRequest& request,
                                     const PrivateKey& subject_key, const Certificate* issuer,
                                     const PrivateKey& issuer_key);

// Whether `leaf` chains to one of `anchors` (through `intermediates`) and every
// certificate on the way is valid at `at` (Unix seconds). FailedPrecondition saying
// which certificate failed and why ("expired on 2026-11-01", "not signed by a trusted
// CA") otherwise.
Status VerifyChain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                   const std::vector<Certificate>& anchors, int64_t at);

}  // namespace tessera::crypto
