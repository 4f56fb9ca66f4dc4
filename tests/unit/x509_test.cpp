// X.509 (crypto/x509): a CA issuing RSA and EC leaves whose chains verify; expired,
// not-yet-valid and foreign certificates refused with messages that say which and why;
// the key policy; key files; and the fingerprint as the openssl command computes it.
#include "crypto/x509.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <string>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::crypto {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int64_t kDay = 24 * 60 * 60;

struct Issued {
  Certificate cert;
  PrivateKey key;
};

Issued MakeCa(const std::string& name, KeyKind kind = KeyKind::kEcP256) {
  auto key = PrivateKey::Generate(kind);
  EXPECT_OK(key);
  CertificateRequest request;
  request.common_name = name;
  request.organization = "Test";
  request.ca = true;
  auto cert = IssueCertificate(request, *key, nullptr, *key);
  EXPECT_OK(cert);
  return {*cert, *key};
}

Issued MakeLeaf(const Issued& ca, const std::string& name, KeyKind kind, int64_t not_before = 0,
                int64_t not_after = 0) {
  auto key = PrivateKey::Generate(kind);
  EXPECT_OK(key);
  CertificateRequest request;
  request.common_name = name;
  request.organization = "行政院";
  request.ip_addresses = {"192.0.2.10", "2001:db8::1"};
  request.dns_names = {"center.example.tw"};
  request.not_before = not_before;
  request.not_after = not_after;
  auto cert = IssueCertificate(request, *key, &ca.cert, ca.key);
  EXPECT_OK(cert);
  return {*cert, *key};
}

// Runs a shell command and returns what it printed on standard output.
std::string Shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  EXPECT_EQ(::pclose(pipe), 0) << command;
  return out;
}

TEST(X509, CaIssuesRsaAndEcLeavesThatVerify) {
  Issued ca = MakeCa("Test Root CA", KeyKind::kRsa2048);
  EXPECT_TRUE(ca.cert.IsCa());
  EXPECT_EQ(ca.cert.Subject(), ca.cert.Issuer());
  EXPECT_EQ(ca.cert.KeyDescription(), "RSA 2048");
  EXPECT_OK(CheckKeyPolicy(ca.cert));

  const int64_t now = NowUnixSeconds();
  Issued rsa = MakeLeaf(ca, "A00000000 國家發展委員會", KeyKind::kRsa2048);
  Issued ec = MakeLeaf(ca, "center-1", KeyKind::kEcP256);
  for (const Issued* leaf : {&rsa, &ec}) {
    EXPECT_FALSE(leaf->cert.IsCa());
    EXPECT_EQ(leaf->cert.Issuer(), ca.cert.Subject());
    EXPECT_THAT(leaf->cert.IpAddresses(), ElementsAre("192.0.2.10", "2001:db8::1"));
    EXPECT_THAT(leaf->cert.DnsNames(), ElementsAre("center.example.tw"));
    EXPECT_NEAR(static_cast<double>(leaf->cert.NotBefore()), static_cast<double>(now), 5);
    EXPECT_EQ(leaf->cert.NotAfter() - leaf->cert.NotBefore(), 365 * kDay);
    EXPECT_OK(CheckKeyPolicy(leaf->cert));
    EXPECT_OK(VerifyChain(leaf->cert, {}, {ca.cert}, now));
    EXPECT_TRUE(leaf->key.Matches(leaf->cert));
    EXPECT_FALSE(leaf->key.Matches(ca.cert));
  }
  EXPECT_EQ(rsa.cert.KeyDescription(), "RSA 2048");
  EXPECT_EQ(ec.cert.KeyDescription(), "ECDSA P-256");
  // Chinese names stay readable UTF-8, in RFC 2253 order (CN first).
  EXPECT_EQ(rsa.cert.CommonName(), "A00000000 國家發展委員會");
  EXPECT_EQ(rsa.cert.Subject(), "CN=A00000000 國家發展委員會,O=行政院");
  EXPECT_EQ(ca.cert.Subject(), "CN=Test Root CA,O=Test");
  // Random serials: 128 bits, different each time.
  EXPECT_GE(rsa.cert.SerialHex().size(), 30u);
  EXPECT_NE(rsa.cert.SerialHex(), ec.cert.SerialHex());
  EXPECT_NE(rsa.cert.Fingerprint(), ec.cert.Fingerprint());
  EXPECT_FALSE(rsa.cert == ec.cert);
}

TEST(X509, PemAndDerRoundTrip) {
  Issued ca = MakeCa("Round Trip CA");
  Issued leaf = MakeLeaf(ca, "host", KeyKind::kEcP256);
  auto from_pem = Certificate::FromPem(leaf.cert.Pem());
  ASSERT_OK(from_pem);
  EXPECT_TRUE(*from_pem == leaf.cert);
  auto from_der = Certificate::FromDer(leaf.cert.Der());
  ASSERT_OK(from_der);
  EXPECT_TRUE(*from_der == leaf.cert);
  EXPECT_EQ(from_der->Fingerprint(), leaf.cert.Fingerprint());

  // A chain file, with a stray line in between that is skipped.
  const std::string chain = leaf.cert.Pem() + "junk line\n" + ca.cert.Pem();
  auto all = Certificate::AllFromPem(chain);
  ASSERT_OK(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_TRUE((*all)[0] == leaf.cert);
  EXPECT_TRUE((*all)[1] == ca.cert);

  EXPECT_EQ(Certificate::FromPem("no certificate").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Certificate::AllFromPem("").status().code(), StatusCode::kInvalidArgument);
  Bytes der = leaf.cert.Der();
  der.push_back(0);
  EXPECT_EQ(Certificate::FromDer(der).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Certificate::FromDer(ByteView(der.data(), 10)).status().code(),
            StatusCode::kInvalidArgument);

  TempDir dir;
  EXPECT_EQ(Certificate::Load(dir.path() / "missing.pem").status().code(), StatusCode::kNotFound);
  ASSERT_OK(WriteFileAtomic(dir.path() / "cert.pem", std::string_view(leaf.cert.Pem())));
  auto loaded = Certificate::Load(dir.path() / "cert.pem");
  ASSERT_OK(loaded);
  EXPECT_TRUE(*loaded == leaf.cert);
  ASSERT_OK(WriteFileAtomic(dir.path() / "other.pem", std::string_view("hello\n")));
  auto none = Certificate::Load(dir.path() / "other.pem");
  EXPECT_EQ(none.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(none.status().message(), HasSubstr("other.pem"));
}

TEST(X509, FingerprintIsWhatOpensslPrints) {
  Issued ca = MakeCa("Fingerprint CA");
  TempDir dir;
  const auto path = dir.path() / "ca.pem";
  ASSERT_OK(WriteFileAtomic(path, std::string_view(ca.cert.Pem())));
  const std::string printed =
      Shell("openssl x509 -in '" + path.string() + "' -outform DER | sha256sum");
  ASSERT_GE(printed.size(), 64u);
  EXPECT_EQ(ca.cert.Fingerprint(), printed.substr(0, 64));
  // And the serial, apart from the case of the letters.
  std::string serial = Shell("openssl x509 -in '" + path.string() + "' -noout -serial");
  for (char& c : serial) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(serial, "serial=" + ca.cert.SerialHex() + "\n");
}

TEST(X509, ExpiredAndNotYetValidCertificatesAreRefusedSayingWhen) {
  const int64_t start = 1767225600;  // 2026-01-01T00:00:00Z
  const int64_t end = 1793491200;    // 2026-11-01T00:00:00Z
  auto ca_key = PrivateKey::Generate(KeyKind::kEcP256);
  ASSERT_OK(ca_key);
  CertificateRequest request;
  request.common_name = "Dated CA";
  request.ca = true;
  request.not_before = start - 10 * kDay;
  request.not_after = end + 400 * kDay;
  auto ca_cert = IssueCertificate(request, *ca_key, nullptr, *ca_key);
  ASSERT_OK(ca_cert);
  Issued ca{*ca_cert, *ca_key};
  Issued leaf = MakeLeaf(ca, "old-host", KeyKind::kEcP256, start, end);
  EXPECT_EQ(leaf.cert.NotBefore(), start);
  EXPECT_EQ(leaf.cert.NotAfter(), end);
  EXPECT_OK(VerifyChain(leaf.cert, {}, {ca.cert}, start + kDay));

  Status expired = VerifyChain(leaf.cert, {}, {ca.cert}, end + 1);
  EXPECT_EQ(expired.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(expired.message(), HasSubstr("CN=old-host"));
  EXPECT_THAT(expired.message(), HasSubstr("expired on 2026-11-01"));

  Status early = VerifyChain(leaf.cert, {}, {ca.cert}, start - kDay);
  EXPECT_EQ(early.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(early.message(), HasSubstr("CN=old-host"));
  EXPECT_THAT(early.message(), HasSubstr("not valid yet"));

  // A leaf still valid under an expired anchor: the anchor is named as the one that failed.
  Issued long_lived = MakeLeaf(ca, "long-lived", KeyKind::kEcP256, start, end + 1000 * kDay);
  EXPECT_OK(VerifyChain(long_lived.cert, {}, {ca.cert}, end));
  Status anchor_expired = VerifyChain(long_lived.cert, {}, {ca.cert}, end + 500 * kDay);
  EXPECT_EQ(anchor_expired.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(anchor_expired.message(), HasSubstr("CN=Dated CA"));
  EXPECT_THAT(anchor_expired.message(), HasSubstr("expired on 2027-12-06"));

  // The validity must end after it begins.
  CertificateRequest backwards;
  backwards.common_name = "x";
  backwards.not_before = end;
  backwards.not_after = start;
  EXPECT_EQ(IssueCertificate(backwards, leaf.key, &ca.cert, ca.key).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(X509, LeafOfAnotherCaIsRefused) {
  Issued ca = MakeCa("Our CA");
  Issued other_ca = MakeCa("Their CA");
  Issued stranger = MakeLeaf(other_ca, "stranger", KeyKind::kEcP256);
  const int64_t now = NowUnixSeconds();
  Status refused = VerifyChain(stranger.cert, {}, {ca.cert}, now);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.message(), HasSubstr("CN=stranger"));
  EXPECT_THAT(refused.message(), HasSubstr("not signed by a trusted CA"));
  EXPECT_THAT(refused.message(), HasSubstr("Their CA"));
  // A self-signed certificate that is no anchor, and no anchors at all.
  EXPECT_EQ(VerifyChain(other_ca.cert, {}, {ca.cert}, now).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(VerifyChain(stranger.cert, {}, {}, now).code(), StatusCode::kFailedPrecondition);
  // Trusting both CAs accepts it.
  EXPECT_OK(VerifyChain(stranger.cert, {}, {ca.cert, other_ca.cert}, now));
}

TEST(X509, IntermediateCaChainsAndIsNotAnAnchorByItself) {
  Issued root = MakeCa("GRCA Test Root");
  auto inter_key = PrivateKey::Generate(KeyKind::kEcP256);
  ASSERT_OK(inter_key);
  CertificateRequest request;
  request.common_name = "GCA Test";
  request.ca = true;
  auto inter_cert = IssueCertificate(request, *inter_key, &root.cert, root.key);
  ASSERT_OK(inter_cert);
  Issued inter{*inter_cert, *inter_key};
  Issued leaf = MakeLeaf(inter, "agency", KeyKind::kRsa2048);
  const int64_t now = NowUnixSeconds();
  EXPECT_OK(VerifyChain(leaf.cert, {inter.cert}, {root.cert}, now));
  EXPECT_EQ(VerifyChain(leaf.cert, {}, {root.cert}, now).code(), StatusCode::kFailedPrecondition);
  // No partial chains: an intermediate configured as an anchor is not enough.
  EXPECT_EQ(VerifyChain(leaf.cert, {}, {inter.cert}, now).code(), StatusCode::kFailedPrecondition);
  // A leaf cannot issue.
  CertificateRequest sub;
  sub.common_name = "sub";
  EXPECT_EQ(IssueCertificate(sub, *inter_key, &leaf.cert, leaf.key).status().code(),
            StatusCode::kInvalidArgument);
  // Nor can a CA certificate with a key that is not its own.
  EXPECT_EQ(IssueCertificate(sub, leaf.key, &root.cert, inter.key).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(X509, KeyPolicyRefusesRsa1024AndOtherCurves) {
  // A certificate with an RSA-1024 key, made with OpenSSL directly (tessera does not
  // issue one).
  EVP_PKEY* weak = EVP_RSA_gen(1024);
  ASSERT_NE(weak, nullptr);
  X509* x = X509_new();
  ASSERT_NE(x, nullptr);
  X509_set_version(x, X509_VERSION_3);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("weak"), -1, -1, 0);
  X509_set_issuer_name(x, X509_get_subject_name(x));
  X509_set_pubkey(x, weak);
  ASSERT_GT(X509_sign(x, weak, EVP_sha256()), 0);
  unsigned char* der = nullptr;
  const int n = i2d_X509(x, &der);
  ASSERT_GT(n, 0);
  auto cert = Certificate::FromDer(ByteView(der, static_cast<size_t>(n)));
  OPENSSL_free(der);
  X509_free(x);
  ASSERT_OK(cert);
  EXPECT_EQ(cert->KeyDescription(), "RSA 1024");
  Status refused = CheckKeyPolicy(*cert);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(refused.message(), HasSubstr("CN=weak"));
  EXPECT_THAT(refused.message(), HasSubstr("RSA 1024"));
  EXPECT_THAT(refused.message(), HasSubstr("2048"));

  // Nor does IssueCertificate certify such a key, or one on P-384.
  Issued ca = MakeCa("Policy CA");
  CertificateRequest request;
  request.common_name = "weak";
  EVP_PKEY* p384 = EVP_EC_gen("P-384");
  ASSERT_NE(p384, nullptr);
  for (EVP_PKEY* key : {weak, p384}) {
    unsigned char* pem = nullptr;
    BIO* bio = BIO_new(BIO_s_mem());
    ASSERT_EQ(PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
    const long len = BIO_get_mem_data(bio, &pem);
    auto loaded = PrivateKey::FromPem(std::string_view(reinterpret_cast<char*>(pem), len));
    BIO_free(bio);
    ASSERT_OK(loaded);
    EXPECT_EQ(IssueCertificate(request, *loaded, &ca.cert, ca.key).status().code(),
              StatusCode::kInvalidArgument);
  }
  EVP_PKEY_free(weak);
  EVP_PKEY_free(p384);
}

TEST(X509, KeyFileIsOwnerOnlyAndRefusedWhenOthersCanRead) {
  TempDir dir;
  const auto path = dir.path() / "agency.key";
  EXPECT_EQ(PrivateKey::Load(path, "the agency key").status().code(), StatusCode::kNotFound);
  for (KeyKind kind : {KeyKind::kEcP256, KeyKind::kRsa2048}) {
    auto key = PrivateKey::Generate(kind);
    ASSERT_OK(key);
    ASSERT_OK(key->Save(path));
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto text = ReadTextFile(path);
    ASSERT_OK(text);
    EXPECT_THAT(*text, HasSubstr("-----BEGIN PRIVATE KEY-----"));
    auto loaded = PrivateKey::Load(path, "the agency key");
    ASSERT_OK(loaded);
    Issued ca = MakeCa("Key CA");
    CertificateRequest request;
    request.common_name = "holder";
    auto cert = IssueCertificate(request, *key, &ca.cert, ca.key);
    ASSERT_OK(cert);
    EXPECT_TRUE(loaded->Matches(*cert));
    EXPECT_FALSE(loaded->Matches(ca.cert));
  }
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  auto refused = PrivateKey::Load(path, "the agency key");
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(), HasSubstr("the agency key"));
  ASSERT_EQ(::chmod(path.c_str(), 0604), 0);
  EXPECT_EQ(PrivateKey::Load(path, "the agency key").status().code(),
            StatusCode::kPermissionDenied);

  ASSERT_OK(WriteFileAtomic(path, std::string_view("not a key\n"), 0600));
  EXPECT_EQ(PrivateKey::Load(path, "the agency key").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(PrivateKey::FromPem("").status().code(), StatusCode::kInvalidArgument);
}

TEST(X509, MalformedRequestsAreRefused) {
  Issued ca = MakeCa("Request CA");
  auto key = PrivateKey::Generate(KeyKind::kEcP256);
  ASSERT_OK(key);
  CertificateRequest request;
  request.common_name = "";
  EXPECT_EQ(IssueCertificate(request, *key, &ca.cert, ca.key).status().code(),
            StatusCode::kInvalidArgument);
  request.common_name = "host";
  request.ip_addresses = {"10.0.0.300"};
  EXPECT_EQ(IssueCertificate(request, *key, &ca.cert, ca.key).status().code(),
            StatusCode::kInvalidArgument);
  request.ip_addresses = {};
  request.dns_names = {"a.example,IP:1.2.3.4"};
  EXPECT_EQ(IssueCertificate(request, *key, &ca.cert, ca.key).status().code(),
            StatusCode::kInvalidArgument);
  // Self-signed with another key than the subject's.
  request.dns_names = {};
  EXPECT_EQ(IssueCertificate(request, *key, nullptr, ca.key).status().code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tessera::crypto
