#include "crypto/x509.hpp"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "crypto/hash.hpp"
#include "crypto/key_file.hpp"
#include "crypto/openssl_util.hpp"
#include "crypto/random.hpp"

namespace tessera::crypto {

namespace {

using internal::Bio;
using internal::BioText;
using internal::EmptyMemoryBio;
using internal::MemoryBio;
using internal::NoPassphrase;
using internal::Owned;

using Pkey = Owned<EVP_PKEY, EVP_PKEY_free>;
using X509Ptr = Owned<X509, X509_free>;
using Store = Owned<X509_STORE, X509_STORE_free>;
using StoreCtx = Owned<X509_STORE_CTX, X509_STORE_CTX_free>;
using Bignum = Owned<BIGNUM, BN_free>;
using GeneralNames = Owned<GENERAL_NAMES, GENERAL_NAMES_free>;
// sk_X509_free is a macro: it needs a function to point to. Frees the stack, not the
// certificates in it.
void FreeCertificateStack(STACK_OF(X509) * s) {
  sk_X509_free(s);
}
using CertificateStack = Owned<STACK_OF(X509), FreeCertificateStack>;

constexpr int64_t kSecondsPerDay = 24 * 60 * 60;

// Takes ownership of `x`.
std::shared_ptr<X509> Adopt(X509* x) {
  return std::shared_ptr<X509>(x, X509_free);
}

// RFC 2253 order and escaping, but UTF-8 left readable (agency names are Chinese).
std::string NameLine(const X509_NAME* name) {
  Bio bio = EmptyMemoryBio();
  if (X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
    internal::FatalOpenSslError("X509_NAME_print_ex");
  return BioText(bio.get());
}

int64_t TimeToUnix(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return 0;
  return static_cast<int64_t>(::timegm(&tm));
}

std::string Date(int64_t unix_seconds) {
  return FormatRfc3339(unix_seconds * 1000000000).substr(0, 10);
}

std::string LowerCase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// The NIST name of an EC key's curve ("P-256"), or OpenSSL's name when it has none.
std::string CurveName(const EVP_PKEY* key) {
  char group[64] = {};
  size_t len = 0;
  if (EVP_PKEY_get_group_name(key, group, sizeof(group), &len) != 1) return "unknown curve";
  const int nid = OBJ_sn2nid(group);
  if (const char* nist = nid != NID_undef ? EC_curve_nid2nist(nid) : nullptr) return nist;
  return group;
}

std::string DescribeKey(const EVP_PKEY* key) {
  if (key == nullptr) return "no key";
  switch (EVP_PKEY_get_base_id(key)) {
    case EVP_PKEY_RSA:
    case EVP_PKEY_RSA_PSS:
      return "RSA " + std::to_string(EVP_PKEY_get_bits(key));
    case EVP_PKEY_EC:
      return "ECDSA " + CurveName(key);
    case EVP_PKEY_ED25519:
      return "Ed25519";
    case EVP_PKEY_ED448:
      return "Ed448";
    case EVP_PKEY_DSA:
      return "DSA " + std::to_string(EVP_PKEY_get_bits(key));
    default:
      if (const char* name = OBJ_nid2sn(EVP_PKEY_get_base_id(key))) return name;
      return "an unknown key type";
  }
}

// Whether `key` is one tessera accepts; `why` says what it is otherwise.
bool KeyAccepted(const EVP_PKEY* key) {
  const int id = key != nullptr ? EVP_PKEY_get_base_id(key) : 0;
  if (id == EVP_PKEY_RSA) return EVP_PKEY_get_bits(key) >= 2048;
  if (id == EVP_PKEY_EC) return CurveName(key) == "P-256";
  return false;
}

constexpr const char* kAcceptedKeys = "RSA of 2048 bits or more, or ECDSA on P-256";

// The subjectAltName entries of type `type` (GEN_IPADD, GEN_DNS) as text.
std::vector<std::string> AltNames(X509* x, int type) {
  std::vector<std::string> out;
  GeneralNames names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return out;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
    if (name->type != type) continue;
    if (type == GEN_DNS) {
      const ASN1_IA5STRING* s = name->d.dNSName;
      out.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<size_t>(ASN1_STRING_length(s)));
    } else if (type == GEN_IPADD) {
      const ASN1_OCTET_STRING* ip = name->d.iPAddress;
      const int len = ASN1_STRING_length(ip);
      char text[INET6_ADDRSTRLEN] = {};
      const int family = len == 4 ? AF_INET : len == 16 ? AF_INET6 : 0;
      if (family != 0 && ::inet_ntop(family, ASN1_STRING_get0_data(ip), text, sizeof(text)))
        out.emplace_back(text);
    }
  }
  return out;
}

Status AddExtension(X509* x, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, ctx, nid, value);
  if (ext == nullptr)
    return Status::Internal(std::string("cannot make the certificate extension ") +
                            OBJ_nid2sn(nid) + ": " + internal::TakeOpenSslError());
  const int added = X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  if (added != 1) internal::FatalOpenSslError("X509_add_ext");
  return Status::Ok();
}

bool ValidDnsName(const std::string& name) {
  if (name.empty() || name.size() > 253 || name.front() == '.' || name.back() == '.') return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    // A wildcard only as the whole first label ("*.example.tw").
    if (c == '*' && i == 0 && name.size() > 2 && name[1] == '.') continue;
    if (!std::isalnum(c) && c != '-' && c != '.') return false;
  }
  return true;
}

Status AddSubjectAltNames(X509* x, const CertificateRequest& request) {
  if (request.ip_addresses.empty() && request.dns_names.empty()) return Status::Ok();
  GeneralNames names(sk_GENERAL_NAME_new_null());
  if (!names) internal::FatalOpenSslError("sk_GENERAL_NAME_new_null");
  // Built entry by entry rather than from "IP:...,DNS:..." text, so that a name cannot
  // smuggle in further entries.
  for (const std::string& ip : request.ip_addresses) {
    ASN1_OCTET_STRING* octets = a2i_IPADDRESS(ip.c_str());
    if (octets == nullptr) {
      internal::TakeOpenSslError();
      return Status::InvalidArgument("\"" + ip + "\" is not an IPv4 or IPv6 address");
    }
    GENERAL_NAME* name = GENERAL_NAME_new();
    if (name == nullptr) internal::FatalOpenSslError("GENERAL_NAME_new");
    GENERAL_NAME_set0_value(name, GEN_IPADD, octets);
    sk_GENERAL_NAME_push(names.get(), name);
  }
  for (const std::string& dns : request.dns_names) {
    if (!ValidDnsName(dns))
      return Status::InvalidArgument("\"" + dns +
                                     "\" is not a DNS name (letters, digits, '-' and '.')");
    ASN1_IA5STRING* text = ASN1_IA5STRING_new();
    if (text == nullptr || ASN1_STRING_set(text, dns.data(), static_cast<int>(dns.size())) != 1)
      internal::FatalOpenSslError("ASN1_STRING_set");
    GENERAL_NAME* name = GENERAL_NAME_new();
    if (name == nullptr) internal::FatalOpenSslError("GENERAL_NAME_new");
    GENERAL_NAME_set0_value(name, GEN_DNS, text);
    sk_GENERAL_NAME_push(names.get(), name);
  }
  if (X509_add1_ext_i2d(x, NID_subject_alt_name, names.get(), 0, X509V3_ADD_DEFAULT) != 1)
    internal::FatalOpenSslError("X509_add1_ext_i2d(subjectAltName)");
  return Status::Ok();
}

Status SetSubject(X509* x, const CertificateRequest& request) {
  if (request.common_name.empty())
    return Status::InvalidArgument("a certificate needs a common name (CN)");
  X509_NAME* name = X509_get_subject_name(x);
  auto add = [&](const char* field, const std::string& value) -> Status {
    if (X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                   reinterpret_cast<const unsigned char*>(value.data()),
                                   static_cast<int>(value.size()), -1, 0) != 1)
      return Status::InvalidArgument(std::string("cannot use \"") + value + "\" as " + field +
                                     ": " + internal::TakeOpenSslError());
    return Status::Ok();
  };
  if (!request.organization.empty()) TESSERA_RETURN_IF_ERROR(add("O", request.organization));
  return add("CN", request.common_name);
}

void SetRandomSerial(X509* x) {
  // 128 random bits, positive (the top bit clear) and never zero (RFC 5280 4.1.2.2).
  Bytes serial = RandomBytes(16);
  serial[0] = static_cast<uint8_t>((serial[0] & 0x7f) | 0x01);
  Bignum bn(BN_bin2bn(serial.data(), static_cast<int>(serial.size()), nullptr));
  if (!bn || BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(x)) == nullptr)
    internal::FatalOpenSslError("BN_to_ASN1_INTEGER");
}

std::string VerifyFailure(int error, X509* failed, int64_t at) {
  const std::string who =
      failed != nullptr ? "the certificate \"" + NameLine(X509_get_subject_name(failed)) + "\""
                        : "a certificate of the chain";
  const std::string checked = " (checked at " + FormatRfc3339(at * 1000000000) + ")";
  switch (error) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
      return who + " expired on " + Date(TimeToUnix(X509_get0_notAfter(failed))) + checked +
             "; its holder needs a new certificate from the CA";
    case X509_V_ERR_CERT_NOT_YET_VALID:
      return who + " is not valid yet: not before " +
             Date(TimeToUnix(X509_get0_notBefore(failed))) + checked + "; check this host's clock";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
      return who + " is not signed by a trusted CA (its issuer is \"" +
             (failed != nullptr ? NameLine(X509_get_issuer_name(failed)) : std::string("?")) +
             "\"); add that CA to the trust anchors only if it is one you trust";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
      return who +
             " has a signature that does not verify: it was altered or not issued "
             "by the CA it names";
    case X509_V_ERR_INVALID_CA:
      return who + " is used as a CA but is not a CA certificate";
    default:
      return who + " is not valid: " + X509_verify_cert_error_string(error);
  }
}

}  // namespace

Result<Certificate> Certificate::FromPem(std::string_view pem) {
  Bio bio = MemoryBio(pem);
  X509* x = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr);
  if (x == nullptr) {
    internal::TakeOpenSslError();
    return Status::InvalidArgument("no PEM \"CERTIFICATE\" block");
  }
  return Certificate(Adopt(x));
}

Result<std::vector<Certificate>> Certificate::AllFromPem(std::string_view pem) {
  Bio bio = MemoryBio(pem);
  std::vector<Certificate> out;
  ERR_clear_error();
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, NoPassphrase, nullptr))
    out.push_back(Certificate(Adopt(x)));
  // The loop ends at the end of the text (no further start line) or at a damaged block.
  const unsigned long error = ERR_peek_last_error();
  const bool at_end =
      ERR_GET_LIB(error) == ERR_LIB_PEM && ERR_GET_REASON(error) == PEM_R_NO_START_LINE;
  const std::string why = internal::TakeOpenSslError();
  if (!at_end && error != 0)
    return Status::InvalidArgument("certificate " + std::to_string(out.size() + 1) +
                                   " of the PEM text is damaged (" + why + ")");
  if (out.empty()) return Status::InvalidArgument("no PEM \"CERTIFICATE\" block");
  return out;
}

Certificate Certificate::Share(X509* x) {
  if (X509_up_ref(x) != 1) internal::FatalOpenSslError("X509_up_ref");
  return Certificate(Adopt(x));
}

Result<Certificate> Certificate::FromDer(ByteView der) {
  const unsigned char* p = der.data();
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (x == nullptr) {
    internal::TakeOpenSslError();
    return Status::InvalidArgument("not a DER X.509 certificate");
  }
  if (p != der.data() + der.size()) {
    X509_free(x);
    return Status::InvalidArgument("a DER X.509 certificate followed by unexpected bytes");
  }
  return Certificate(Adopt(x));
}

Result<Certificate> Certificate::Load(const std::filesystem::path& path) {
  auto data = ReadFile(path);
  if (!data.ok()) {
    if (data.status().code() == StatusCode::kNotFound)
      return Status::NotFound("the certificate file " + path.string() + " does not exist");
    return data.status();
  }
  const std::string_view text = AsString(*data);
  auto cert = text.find("-----BEGIN") != std::string_view::npos ? FromPem(text) : FromDer(*data);
  if (!cert.ok())
    return Status::InvalidArgument(path.string() + " holds no certificate (" +
                                   cert.status().message() + ")");
  return cert;
}

std::string Certificate::Pem() const {
  Bio bio = EmptyMemoryBio();
  if (PEM_write_bio_X509(bio.get(), x_.get()) != 1) internal::FatalOpenSslError("PEM_write_X509");
  return BioText(bio.get());
}

Bytes Certificate::Der() const {
  unsigned char* der = nullptr;
  const int n = i2d_X509(x_.get(), &der);
  if (n <= 0) internal::FatalOpenSslError("i2d_X509");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

std::string Certificate::Fingerprint() const {
  return HexEncode(Sha256(Der()));
}

std::string Certificate::Subject() const {
  return NameLine(X509_get_subject_name(x_.get()));
}

std::string Certificate::CommonName() const {
  const X509_NAME* name = X509_get_subject_name(x_.get());
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return "";
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int n = ASN1_STRING_to_UTF8(&utf8, value);
  if (n < 0) {
    internal::TakeOpenSslError();
    return "";
  }
  std::string out(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  return out;
}

std::string Certificate::Issuer() const {
  return NameLine(X509_get_issuer_name(x_.get()));
}

std::string Certificate::SerialHex() const {
  Bignum bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(x_.get()), nullptr));
  if (!bn) internal::FatalOpenSslError("ASN1_INTEGER_to_BN");
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) internal::FatalOpenSslError("BN_bn2hex");
  std::string out = LowerCase(hex);
  OPENSSL_free(hex);
  return out;
}

Bytes Certificate::IssuerAndSerial() const {
  return IssuerAndSerialKey(X509_get_issuer_name(x_.get()), X509_get0_serialNumber(x_.get()));
}

Bytes IssuerAndSerialKey(const X509_NAME* issuer, const ASN1_INTEGER* serial) {
  unsigned char* name_der = nullptr;
  const int name_len = i2d_X509_NAME(issuer, &name_der);
  if (name_len <= 0) internal::FatalOpenSslError("i2d_X509_NAME");
  Bytes out(name_der, name_der + name_len);
  OPENSSL_free(name_der);
  unsigned char* serial_der = nullptr;
  const int serial_len = i2d_ASN1_INTEGER(serial, &serial_der);
  if (serial_len <= 0) internal::FatalOpenSslError("i2d_ASN1_INTEGER");
  out.insert(out.end(), serial_der, serial_der + serial_len);
  OPENSSL_free(serial_der);
  return out;
}

int64_t Certificate::NotBefore() const {
  return TimeToUnix(X509_get0_notBefore(x_.get()));
}

int64_t Certificate::NotAfter() const {
  return TimeToUnix(X509_get0_notAfter(x_.get()));
}

std::string Certificate::KeyDescription() const {
  return DescribeKey(X509_get0_pubkey(x_.get()));
}

std::vector<std::string> Certificate::IpAddresses() const {
  return AltNames(x_.get(), GEN_IPADD);
}

std::vector<std::string> Certificate::DnsNames() const {
  return AltNames(x_.get(), GEN_DNS);
}

bool Certificate::IsCa() const {
  return (X509_get_extension_flags(x_.get()) & EXFLAG_CA) != 0;
}

bool Certificate::operator==(const Certificate& o) const {
  return X509_cmp(x_.get(), o.x_.get()) == 0;
}

Result<PrivateKey> PrivateKey::Generate(KeyKind kind) {
  EVP_PKEY* key = nullptr;
  switch (kind) {
    case KeyKind::kRsa2048:
      key = EVP_RSA_gen(2048);
      break;
    case KeyKind::kRsa3072:
      key = EVP_RSA_gen(3072);
      break;
    case KeyKind::kEcP256:
      key = EVP_EC_gen("P-256");
      break;
  }
  if (key == nullptr) internal::FatalOpenSslError("generating a private key");
  return PrivateKey(std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free));
}

Result<PrivateKey> PrivateKey::FromPem(std::string_view pem) {
  Bio bio = MemoryBio(pem);
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr);
  if (key == nullptr) {
    internal::TakeOpenSslError();
    return Status::InvalidArgument("not an unencrypted PEM private key");
  }
  const int id = EVP_PKEY_get_base_id(key);
  if (id != EVP_PKEY_RSA && id != EVP_PKEY_EC) {
    const std::string what = DescribeKey(key);
    EVP_PKEY_free(key);
    return Status::InvalidArgument("the private key is " + what + ", not an RSA or EC key");
  }
  return PrivateKey(std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free));
}

Result<PrivateKey> PrivateKey::Load(const std::filesystem::path& path, const std::string& what) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadPrivateKeyText(path, what));
  auto key = FromPem(text);
  SecureWipe(text.data(), text.size());
  if (!key.ok())
    return Status::Corruption(path.string() + " does not hold " + what + " (" +
                              key.status().message() + ")");
  return key;
}

Status PrivateKey::Save(const std::filesystem::path& path) const {
  // Secure-heap memory where OpenSSL has one, so the PEM text is wiped when freed.
  Bio bio(BIO_new(BIO_s_secmem()));
  if (!bio) bio = EmptyMemoryBio();
  if (PEM_write_bio_PrivateKey(bio.get(), k_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    internal::FatalOpenSslError("PEM_write_bio_PrivateKey");
  std::string pem = BioText(bio.get());
  Status st = WriteFileAtomic(path, std::string_view(pem), 0600);
  SecureWipe(pem.data(), pem.size());
  return st;
}

bool PrivateKey::Matches(const Certificate& cert) const {
  const EVP_PKEY* pub = X509_get0_pubkey(cert.native());
  const bool same = pub != nullptr && EVP_PKEY_eq(k_.get(), pub) == 1;
  internal::TakeOpenSslError();  // a type mismatch leaves an error behind
  return same;
}

Status CheckKeyPolicy(const Certificate& cert) {
  const EVP_PKEY* key = X509_get0_pubkey(cert.native());
  if (KeyAccepted(key)) return Status::Ok();
  return Status::InvalidArgument("the certificate \"" + cert.Subject() + "\" has a " +
                                 DescribeKey(key) + " key; tessera accepts only " + kAcceptedKeys +
                                 " (ask its CA for a certificate with such a key)");
}

Result<Certificate> IssueCertificate(const CertificateRequest& request,
                                     const PrivateKey& subject_key, const Certificate* issuer,
                                     const PrivateKey& issuer_key) {
  if (!KeyAccepted(subject_key.native()))
    return Status::InvalidArgument("cannot issue a certificate for a " +
                                   DescribeKey(subject_key.native()) + " key; " + kAcceptedKeys +
                                   " only");
  if (issuer != nullptr && !issuer_key.Matches(*issuer))
    return Status::InvalidArgument("the issuer key does not belong to the issuer certificate \"" +
                                   issuer->Subject() + "\"");
  if (issuer == nullptr && EVP_PKEY_eq(subject_key.native(), issuer_key.native()) != 1) {
    internal::TakeOpenSslError();
    return Status::InvalidArgument("a self-signed certificate must be signed by its own key");
  }
  if (issuer != nullptr && !issuer->IsCa())
    return Status::InvalidArgument("\"" + issuer->Subject() +
                                   "\" is not a CA certificate and cannot issue others");

  const int64_t not_before = request.not_before != 0 ? request.not_before : NowUnixSeconds();
  const int64_t not_after =
      request.not_after != 0 ? request.not_after : not_before + 365 * kSecondsPerDay;
  if (not_after <= not_before)
    return Status::InvalidArgument(
        "the certificate's validity would end (" + FormatRfc3339(not_after * 1000000000) +
        ") no later than it begins (" + FormatRfc3339(not_before * 1000000000) +
        "); give an end after the start");

  X509Ptr x(X509_new());
  if (!x) internal::FatalOpenSslError("X509_new");
  if (X509_set_version(x.get(), X509_VERSION_3) != 1)
    internal::FatalOpenSslError("X509_set_version");
  SetRandomSerial(x.get());
  if (ASN1_TIME_set(X509_getm_notBefore(x.get()), static_cast<time_t>(not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(x.get()), static_cast<time_t>(not_after)) == nullptr)
    return Status::InvalidArgument("the validity dates cannot be encoded: " +
                                   internal::TakeOpenSslError());
  TESSERA_RETURN_IF_ERROR(SetSubject(x.get(), request));
  const X509_NAME* issuer_name =
      issuer != nullptr ? X509_get_subject_name(issuer->native()) : X509_get_subject_name(x.get());
  if (X509_set_issuer_name(x.get(), issuer_name) != 1 ||
      X509_set_pubkey(x.get(), subject_key.native()) != 1)
    internal::FatalOpenSslError("X509_set_issuer_name");

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer != nullptr ? issuer->native() : x.get(), x.get(), nullptr, nullptr,
                 0);
  if (request.ca) {
    TESSERA_RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE"));
    TESSERA_RETURN_IF_ERROR(
        AddExtension(x.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
  } else {
    const bool rsa = EVP_PKEY_get_base_id(subject_key.native()) == EVP_PKEY_RSA;
    TESSERA_RETURN_IF_ERROR(
        AddExtension(x.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE"));
    TESSERA_RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_key_usage,
                                         rsa ? "critical,digitalSignature,keyEncipherment"
                                             : "critical,digitalSignature,keyAgreement"));
    TESSERA_RETURN_IF_ERROR(
        AddExtension(x.get(), &ctx, NID_ext_key_usage, "serverAuth,clientAuth,emailProtection"));
  }
  // The subject key identifier first: a self-signed certificate's authority key
  // identifier is computed from it.
  TESSERA_RETURN_IF_ERROR(AddExtension(x.get(), &ctx, NID_subject_key_identifier, "hash"));
  TESSERA_RETURN_IF_ERROR(
      AddExtension(x.get(), &ctx, NID_authority_key_identifier, "keyid:always"));
  TESSERA_RETURN_IF_ERROR(AddSubjectAltNames(x.get(), request));

  if (X509_sign(x.get(), issuer_key.native(), internal::Sha256Md()) <= 0)
    return Status::Internal("cannot sign the certificate: " + internal::TakeOpenSslError());
  // Parsed again from its encoding, so that what OpenSSL cached about the certificate
  // while it was being built (its extensions) is not kept half-done.
  unsigned char* der = nullptr;
  const int n = i2d_X509(x.get(), &der);
  if (n <= 0) internal::FatalOpenSslError("i2d_X509");
  auto issued = Certificate::FromDer(ByteView(der, static_cast<size_t>(n)));
  OPENSSL_free(der);
  return issued;
}

Status VerifyChain(const Certificate& leaf, const std::vector<Certificate>& intermediates,
                   const std::vector<Certificate>& anchors, int64_t at) {
  if (anchors.empty())
    return Status::FailedPrecondition("no trusted CA is configured, so the certificate \"" +
                                      leaf.Subject() + "\" cannot be checked");
  Store store(X509_STORE_new());
  if (!store) internal::FatalOpenSslError("X509_STORE_new");
  for (const Certificate& anchor : anchors) {
    if (X509_STORE_add_cert(store.get(), anchor.native()) != 1) {
      // The same anchor twice is harmless; OpenSSL 3 ignores it without an error.
      internal::TakeOpenSslError();
    }
  }
  CertificateStack untrusted(sk_X509_new_null());
  if (!untrusted) internal::FatalOpenSslError("sk_X509_new_null");
  for (const Certificate& c : intermediates) sk_X509_push(untrusted.get(), c.native());

  StoreCtx ctx(X509_STORE_CTX_new());
  if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf.native(), untrusted.get()) != 1)
    internal::FatalOpenSslError("X509_STORE_CTX_init");
  // Sets X509_V_FLAG_USE_CHECK_TIME; X509_V_FLAG_PARTIAL_CHAIN stays off, so every chain
  // must end at a self-signed anchor.
  X509_STORE_CTX_set_time(ctx.get(), 0, static_cast<time_t>(at));
  const int verified = X509_verify_cert(ctx.get());
  if (verified == 1) return Status::Ok();
  const int error = X509_STORE_CTX_get_error(ctx.get());
  X509* failed = X509_STORE_CTX_get_current_cert(ctx.get());
  internal::TakeOpenSslError();
  return Status::FailedPrecondition(
      VerifyFailure(error, failed != nullptr ? failed : leaf.native(), at));
}

}  // namespace tessera::crypto
