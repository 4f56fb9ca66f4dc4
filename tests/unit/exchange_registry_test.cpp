// The exchange registry (exchange/registry, exchange/registry_store): the JSON model round
// trip, every problem Validate must catch, certificate and address look-ups (IPv4, IPv6,
// mapped IPv4, ranges only where granted, group VPN ranges), the signed wire form refusing
// a changed byte, another key and an expired copy, and the stores: publishing refuses an
// invalid draft, serials grow, hosts refuse rollback and another management key.
#include "exchange/registry.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "crypto/cms.hpp"
#include "crypto/x509.hpp"
#include "exchange/envelope.hpp"
#include "exchange/registry_store.hpp"
#include "exchange/trust.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::exchange {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// Self-signed test certificates (ECDSA P-256, and one RSA 1024 that key policy refuses),
// valid until 2126, made with `openssl req -x509`; their fingerprints as
// `openssl x509 -outform DER | sha256sum` computes them.
const std::string kCertA = R"(-----BEGIN CERTIFICATE-----
MIIBeTCCAR+gAwIBAgIUPCREO9WfY3EXTSYW0akttcaq9bgwCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGdGVzdC1hMCAXDTI2MTIwMzE1NTg0MVoYDzIxMjYxMTA5MTU1
ODQxWjARMQ8wDQYDVQQDDAZ0ZXN0LWEwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AAQMFJ19XQ16BGPpFkJjnlGVF4aYgnFvw0EUn2t+4wAEZqL6Cg0nbX0m4FFLSewA
GTmFNDS44HbUQyiMI9J8Fq0Mo1MwUTAdBgNVHQ4EFgQUw3lkovO7i5lbvNoEuakb
WhS3M68wHwYDVR0jBBgwFoAUw3lkovO7i5lbvNoEuakbWhS3M68wDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAJVwC9mu+mfyvAiPVncMeATYrdEz6o
lWBK4utz/QMXZAIhAL2dHoMlvs4y9dhVCpDYU0EmA/xDbfsOpfDHGZ9rzN9H
-----END CERTIFICATE-----
)";
const std::string kCertB = R"(-----BEGIN CERTIFICATE-----
MIIBeTCCAR+gAwIBAgIUEetXragSskYBYYJcj409VsCLFjkwCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGdGVzdC1iMCAXDTI2MTIwMzE1NTg0MVoYDzIxMjYxMTA5MTU1
ODQxWjARMQ8wDQYDVQQDDAZ0ZXN0LWIwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AATvcJzZsS3ATdsUT91NxORC3sDoG4HT4lI4Ts8GLr1Wlu7FuWDgqhFpU3PJWNLK
c0BVjvDd++OBzVEQY5uQIgu3o1MwUTAdBgNVHQ4EFgQUrUBU0Uo9Fvsac+hO19Wq
Hv6uyTUwHwYDVR0jBBgwFoAUrUBU0Uo9Fvsac+hO19WqHv6uyTUwDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiAjYLr1Pwv7OPKZIMZ9CzGEKP7R436n
TkaOXhpt5OzeagIhAMLD5AJyYhPxADrsNxmxrGOKMclspxVs2X/HbEk5I5d+
-----END CERTIFICATE-----
)";
const std::string kCertC = R"(-----BEGIN CERTIFICATE-----
MIIBeTCCAR+gAwIBAgIUYX5VxD8dEvLyaQ1+iVpnR1je1awwCgYIKoZIzj0EAwIw
ETEPMA0GA1UEAwwGdGVzdC1jMCAXDTI2MTIwMzE1NTg0MVoYDzIxMjYxMTA5MTU1
ODQxWjARMQ8wDQYDVQQDDAZ0ZXN0LWMwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC
AAREAYOKf3b65B+C2ITvghtPq/nT18O56jANJoaC4iYD8JLwu3iA2dzgkwj5IrOp
oxEeiQJyTBXO9LZQZYAAf9Efo1MwUTAdBgNVHQ4EFgQUudkSbQR/TH1hlm7dpYmt
DLj7q7UwHwYDVR0jBBgwFoAUudkSbQR/TH1hlm7dpYmtDLj7q7UwDwYDVR0TAQH/
BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA5JLC/P5EGhvZip1iinmy2r6PFwL6
vB1tBwAHcroYKyQCIEW73oGRjYwE4CpXxpMvcxxsL4cAad1FAZEgTmLz8rz+
-----END CERTIFICATE-----
)";
const std::string kCertWeakRsa1024 = R"(-----BEGIN CERTIFICATE-----
MIIB/DCCAWWgAwIBAgIUKwUZ4uP648NNOD9JFH332MFmofQwDQYJKoZIhvcNAQEL
BQAwDzENMAsGA1UEAwwEd2VhazAgFw0yNjEyMDMxNTU4NDFaGA8yMTI2MTEwOTE1
NTg0MVowDzENMAsGA1UEAwwEd2VhazCBnzANBgkqhkiG9w0BAQEFAAOBjQAwgYkC
gYEAyakgpdxSXWbzSfSrLeAIaVvHW8TpGTWX4GdE5jht8vEtdSkEX/2GCnW+5JzA
YOt55MzhLr/9AMhTjNTPLap+EbpARM4+H1DZn3pXcE/08VGzB6h+RxCo7eDdUoL3
JU6ikLAz/wkW+UVGgshQNcG1nYjJwjZeBdzpmqJLFKq5qHcCAwEAAaNTMFEwHQYD
VR0OBBYEFE8XBi0rN7KNtthJZo/1L/mQ0KsnMB8GA1UdIwQYMBaAFE8XBi0rN7KN
tthJZo/1L/mQ0KsnMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADgYEA
HdHLClIde0K2Xr5fo7NJOLu9LxtkA/2k48pyvASkVXjuDIXrezcQRO9BqXYRzylj
XRtta7Jt8cUfoi+doEO306UQbjel80CMrr9Kkx1TdNQXXwUEWRq9UQAW1GDZpCAB
HI1jlEfs/qUgrkSNsRCbrSwgno2XHBKzmoin2gAmJyY=
-----END CERTIFICATE-----
)";
constexpr char kFingerprintA[] = "d61f99c2a0e081aa24b1e31177940312dffa57da54a564dbce53cda002917291";
constexpr char kFingerprintB[] = "ef6cf3a1ae9edf33457f111b086f3fed7b16282e6aa385b016fd6a16b41d58c3";
constexpr char kFingerprintC[] = "c7bb141121d8c741a79163fa7e43c06a0907cab7ba5510f91f07502ca7b95934";

constexpr int64_t kNow = 1796000000;  // 2026-11-30T00:53:20Z

// A registry that validates: two centers, three agencies (one granted a range, one in a
// group with VPN ranges, one on IPv6), a trust anchor.
Registry Sample() {
  Registry r;
  r.network = "gov-test";
  r.serial = 7;
  r.issued_at = kNow - 60;
  r.expires_at = kNow + 86400;
  r.trust_anchors = {kCertC};
  r.centers = {{"center-north", "https://203.0.113.1:7443", {"203.0.113.1"}, {kCertC}},
               {"center-south", "https://[2001:db8::1]:7443", {"2001:db8::1"}, {}}};
  r.groups = {{"remote", {"10.8.0.0/24", "2001:db8:100::/48"}}};
  Agency tax;
  tax.code = "A15060000H";
  tax.name = "財政部北區國稅局";
  tax.home_center = "center-north";
  tax.certificates = {kCertA};
  tax.addresses = {"203.0.113.7", "198.51.100.0/28"};
  tax.ranges_allowed = true;
  Agency labor;
  labor.code = "A17000000J";
  labor.name = "勞動部";
  labor.home_center = "center-north";
  labor.group = "remote";
  labor.certificates = {kCertB};
  labor.addresses = {"203.0.113.8"};
  Agency six;
  six.code = "A20000000I";
  six.name = "IPv6 agency";
  six.home_center = "center-south";
  six.addresses = {"2001:db8:5::7"};
  six.suspension = Suspension{"security-incident", "phishing", "alice (uid 1000)", kNow - 10};
  r.agencies = {tax, labor, six};
  r.releases = {{"0.1.0", std::string(64, 'a')}};
  return r;
}

// A leaf (not CA) certificate, from crypto/x509.
std::string LeafCertificate() {
  Result<crypto::PrivateKey> key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
  EXPECT_OK(key);
  crypto::CertificateRequest request;
  request.common_name = "leaf";
  Result<crypto::Certificate> cert = crypto::IssueCertificate(request, *key, nullptr, *key);
  EXPECT_OK(cert);
  return cert->Pem();
}

Party AgencyParty(const std::string& code) {
  return {Party::Kind::kAgency, code};
}

TEST(Registry, JsonRoundTripKeepsEveryField) {
  Registry r = Sample();
  r.policy.max_clock_skew_seconds = 45;
  r.policy.max_message_bytes = 64 << 20;
  r.policy.certificate_warning_days = {90, 14};
  r.policy.delivery_expiry_seconds = 3 * 86400;
  r.policy.registry_validity_seconds = 7200;
  r.policy.registry_poll_seconds = 120;
  r.revoked_fingerprints = {kFingerprintB};
  const json j = ToJson(r);
  Result<Registry> back = RegistryFromJson(j);
  ASSERT_OK(back);
  EXPECT_EQ(ToJson(*back), j);
  EXPECT_EQ(back->network, "gov-test");
  EXPECT_EQ(back->serial, 7u);
  EXPECT_EQ(back->policy.certificate_warning_days, (std::vector<int>{90, 14}));
  EXPECT_EQ(back->policy.registry_poll_seconds, 120);
  ASSERT_EQ(back->agencies.size(), 3u);
  EXPECT_EQ(back->agencies[0].name, "財政部北區國稅局");
  EXPECT_TRUE(back->agencies[0].ranges_allowed);
  EXPECT_FALSE(back->agencies[0].suspension);
  ASSERT_TRUE(back->agencies[2].suspension);
  EXPECT_EQ(back->agencies[2].suspension->reason, "security-incident");
  EXPECT_EQ(back->agencies[2].suspension->at, kNow - 10);
  EXPECT_EQ(back->groups[0].vpn_ranges[1], "2001:db8:100::/48");
  EXPECT_EQ(back->releases[0].sha256, std::string(64, 'a'));
  EXPECT_EQ(back->centers[0].certificates[0], kCertC);
}

TEST(Registry, JsonIgnoresUnknownFieldsButNotAnotherVersion) {
  json j = ToJson(Sample());
  j["added_by_a_later_release"] = {{"x", 1}};
  j["agencies"][0]["future_field"] = "ignored";
  Result<Registry> r = RegistryFromJson(j);
  ASSERT_OK(r);
  EXPECT_EQ(r->agencies[0].code, "A15060000H");

  j["version"] = 2;
  Result<Registry> newer = RegistryFromJson(j);
  ASSERT_FALSE(newer.ok());
  EXPECT_EQ(newer.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(newer.status().message(), HasSubstr("upgrade tessera"));

  j.erase("version");
  EXPECT_EQ(RegistryFromJson(j).status().code(), StatusCode::kCorruption);
  j["version"] = 1;
  j["agencies"][0]["addresses"] = "203.0.113.7";  // not a list
  Result<Registry> bad = RegistryFromJson(j);
  EXPECT_EQ(bad.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(bad.status().message(), HasSubstr("agencies[0].addresses"));
  EXPECT_EQ(RegistryFromJson(json::array()).status().code(), StatusCode::kCorruption);
  j["agencies"][0]["addresses"] = json::array();
  j["serial"] = -1;
  EXPECT_EQ(RegistryFromJson(j).status().code(), StatusCode::kCorruption);
}

TEST(Registry, SampleValidates) {
  EXPECT_OK(Validate(Sample()));
  EXPECT_TRUE(ValidationProblems(Sample()).empty());
}

struct Breakage {
  const char* what;
  std::function<void(Registry&)> change;
  const char* problem;  // a part of the problem reported
};

TEST(Registry, ValidateCatchesEachProblem) {
  const std::vector<Breakage> cases = {
      {"agency code twice", [](Registry& r) { r.agencies[1].code = r.agencies[0].code; },
       "agency A15060000H is listed twice"},
      {"center id twice", [](Registry& r) { r.centers[1].id = "center-north"; },
       "center 'center-north' is listed twice"},
      {"home center missing", [](Registry& r) { r.agencies[0].home_center = "center-east"; },
       "home center 'center-east' is not registered"},
      {"group missing", [](Registry& r) { r.agencies[0].group = "nobody"; },
       "group 'nobody' does not exist"},
      {"certificate not PEM", [](Registry& r) { r.agencies[0].certificates = {"garbage"}; },
       "agency A15060000H certificate 1: no PEM"},
      {"weak key", [](Registry& r) { r.agencies[1].certificates = {kCertWeakRsa1024}; },
       "has a RSA 1024 key"},
      {"trust anchor not a CA", [](Registry& r) { r.trust_anchors = {LeafCertificate()}; },
       "is not a CA certificate"},
      {"certificate registered twice", [](Registry& r) { r.agencies[1].certificates = {kCertA}; },
       "is also registered to agency A15060000H"},
      {"trust anchor not PEM", [](Registry& r) { r.trust_anchors = {"x"}; }, "trust anchor 1"},
      {"address not IP", [](Registry& r) { r.agencies[1].addresses = {"203.0.113.300"}; },
       "'203.0.113.300' is not an IP address"},
      {"host name", [](Registry& r) { r.centers[0].addresses = {"center.example"}; },
       "'center.example' is not an IP address"},
      {"range not granted", [](Registry& r) { r.agencies[0].ranges_allowed = false; },
       "'198.51.100.0/28' is a range, and the agency was not granted ranges"},
      {"range with host bits", [](Registry& r) { r.agencies[0].addresses = {"198.51.100.1/28"}; },
       "write 198.51.100.0/28"},
      {"prefix too long", [](Registry& r) { r.groups[0].vpn_ranges = {"10.8.0.0/33"}; },
       "the prefix must be 0 to 32"},
      {"VPN range not a range", [](Registry& r) { r.groups[0].vpn_ranges = {"10.8.0.1"}; },
       "group 'remote' VPN range"},
      {"center range", [](Registry& r) { r.centers[0].addresses = {"203.0.113.0/24"}; },
       "only fixed addresses"},
      {"center without address", [](Registry& r) { r.centers[0].addresses.clear(); },
       "has no fixed address"},
      {"center URL", [](Registry& r) { r.centers[0].url = "http://203.0.113.1"; },
       "must start with https://"},
      {"agency code with space", [](Registry& r) { r.agencies[0].code = "A 1"; },
       "a code (機關代碼) is 1 to 64"},
      {"agency without name", [](Registry& r) { r.agencies[0].name = ""; }, "has no name"},
      {"no network", [](Registry& r) { r.network = ""; }, "the network has no name"},
      {"suspension reason", [](Registry& r) { r.agencies[2].suspension->reason = "bored"; },
       "suspension reason 'bored'"},
      {"revoked fingerprint", [](Registry& r) { r.revoked_fingerprints = {"AB:CD"}; },
       "revoked fingerprint 'AB:CD'"},
      {"clock skew", [](Registry& r) { r.policy.max_clock_skew_seconds = 0; },
       "max_clock_skew_seconds is 0"},
      {"message size", [](Registry& r) { r.policy.max_message_bytes = 0; },
       "max_message_bytes is 0"},
      {"message size past what a scan covers",
       [](Registry& r) { r.policy.max_message_bytes = kMaxPolicyMessageBytes + 1; },
       "it must be from 1 KiB to 2 GiB"},
      {"warning days", [](Registry& r) { r.policy.certificate_warning_days = {-1}; },
       "a certificate warning is -1"},
      {"delivery expiry", [](Registry& r) { r.policy.delivery_expiry_seconds = 0; },
       "delivery_expiry_seconds is 0"},
      {"validity", [](Registry& r) { r.policy.registry_validity_seconds = 60; },
       "registry_validity_seconds is 60"},
      {"poll beyond half the validity",
       [](Registry& r) { r.policy.registry_poll_seconds = r.policy.registry_validity_seconds; },
       "at most half of registry_validity_seconds"},
      {"expiry before issue", [](Registry& r) { r.expires_at = r.issued_at - 1; },
       "expires_at is before issued_at"},
      {"release hash", [](Registry& r) { r.releases[0].sha256 = "abc"; }, "release '0.1.0'"},
      {"version", [](Registry& r) { r.version = 2; }, "version is 2"},
  };
  for (const auto& c : cases) {
    Registry r = Sample();
    c.change(r);
    const std::vector<std::string> problems = ValidationProblems(r);
    EXPECT_THAT(problems, ::testing::Contains(HasSubstr(c.problem))) << c.what;
    Status st = Validate(r);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << c.what;
    EXPECT_THAT(st.message(), HasSubstr(c.problem)) << c.what;
  }
}

TEST(Registry, ValidateListsEveryProblem) {
  Registry r = Sample();
  r.agencies[0].home_center = "center-east";
  r.agencies[1].addresses = {"not-an-address"};
  Status st = Validate(r);
  EXPECT_THAT(st.message(), HasSubstr("2 problem(s)"));
  EXPECT_THAT(st.message(), HasSubstr("center-east"));
  EXPECT_THAT(st.message(), HasSubstr("not-an-address"));
}

TEST(Registry, CertificateFingerprintIsOpensslsSha256OfTheDer) {
  Result<CertificateSummary> a = SummarizeCertificate(kCertA);
  ASSERT_OK(a);
  EXPECT_EQ(a->fingerprint, kFingerprintA);
  EXPECT_EQ(a->subject, "CN=test-a");
  EXPECT_EQ(a->key, "ECDSA P-256");
  EXPECT_EQ(a->not_after, 4949913521);  // 2126-11-09T15:58:41Z
  EXPECT_OK(a->key_policy);
  Result<CertificateSummary> weak = SummarizeCertificate(kCertWeakRsa1024);
  ASSERT_OK(weak);
  EXPECT_EQ(weak->key_policy.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(SummarizeCertificate("no certificate").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(*NormalizeFingerprint("D6:1F:99:C2:A0:E0:81:AA:24:B1:E3:11:77:94:03:12:DF:FA:57:DA:"
                                  "54:A5:64:DB:CE:53:CD:A0:02:91:72:91"),
            kFingerprintA);
  EXPECT_FALSE(NormalizeFingerprint("d61f99").ok());
  EXPECT_FALSE(NormalizeFingerprint(std::string(64, 'g')).ok());
}

TEST(Registry, FindByCertificate) {
  Registry r = Sample();
  std::optional<Party> p = FindByCertificate(r, kFingerprintA);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, Party::Kind::kAgency);
  EXPECT_EQ(p->id, "A15060000H");
  p = FindByCertificate(r, kFingerprintC);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->kind, Party::Kind::kCenter);
  EXPECT_EQ(p->id, "center-north");
  // As openssl prints it: upper case with colons.
  std::string colons;
  for (size_t i = 0; i < 64; i += 2)
    colons += (i ? ":" : "") + std::string(kFingerprintB).substr(i, 2);
  for (auto& c : colons) c = static_cast<char>(std::toupper(c));
  p = FindByCertificate(r, colons);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, "A17000000J");
  EXPECT_FALSE(FindByCertificate(r, std::string(64, '0')));
  EXPECT_FALSE(FindByCertificate(r, "not a fingerprint"));
  {
    const CertificateIndex index(r);
    for (const char* f : {kFingerprintA, kFingerprintB, kFingerprintC}) {
      std::optional<Party> indexed = index.Find(f);
      ASSERT_TRUE(indexed) << f;
      EXPECT_EQ(indexed->id, FindByCertificate(r, f)->id);
      EXPECT_EQ(indexed->kind, FindByCertificate(r, f)->kind);
    }
    EXPECT_EQ(index.Find(colons)->id, "A17000000J");
    EXPECT_FALSE(index.Find(std::string(64, '0')));
  }

  // Revoked: never matches, while the agency's other (rollover) certificate still does.
  r.agencies[0].certificates.push_back(kCertB);
  r.agencies[1].certificates.clear();
  r.revoked_fingerprints = {kFingerprintA};
  EXPECT_FALSE(FindByCertificate(r, kFingerprintA));
  p = FindByCertificate(r, kFingerprintB);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, "A15060000H");
  const CertificateIndex index(r);
  EXPECT_FALSE(index.Find(kFingerprintA));
  ASSERT_TRUE(index.Find(kFingerprintB));
  EXPECT_EQ(index.Find(kFingerprintB)->id, "A15060000H");
}

TEST(Registry, AddressAllowedFixedAddressesAndGrantedRanges) {
  Registry r = Sample();
  const Party tax = AgencyParty("A15060000H");
  EXPECT_TRUE(AddressAllowed(r, tax, "203.0.113.7"));
  EXPECT_FALSE(AddressAllowed(r, tax, "203.0.113.8"));  // another agency's address
  EXPECT_FALSE(AddressAllowed(r, tax, "203.0.113.70"));
  EXPECT_TRUE(AddressAllowed(r, tax, "198.51.100.0"));
  EXPECT_TRUE(AddressAllowed(r, tax, "198.51.100.15"));
  EXPECT_FALSE(AddressAllowed(r, tax, "198.51.100.16"));
  EXPECT_FALSE(AddressAllowed(r, tax, "10.8.0.5"));  // not in the VPN group
  EXPECT_FALSE(AddressAllowed(r, tax, "garbage"));
  EXPECT_FALSE(AddressAllowed(r, tax, ""));
  EXPECT_FALSE(AddressAllowed(r, tax, "203.0.113.7/32"));
  // The same range without the grant grants nothing (fail closed, even unvalidated).
  r.agencies[0].ranges_allowed = false;
  EXPECT_FALSE(AddressAllowed(r, tax, "198.51.100.15"));
  EXPECT_TRUE(AddressAllowed(r, tax, "203.0.113.7"));
  // Unknown parties have no address.
  EXPECT_FALSE(AddressAllowed(r, AgencyParty("A99999999Z"), "203.0.113.7"));
}

TEST(Registry, AddressAllowedGroupVpnRanges) {
  Registry r = Sample();
  const Party labor = AgencyParty("A17000000J");
  EXPECT_TRUE(AddressAllowed(r, labor, "203.0.113.8"));
  EXPECT_TRUE(AddressAllowed(r, labor, "10.8.0.200"));
  EXPECT_FALSE(AddressAllowed(r, labor, "10.8.1.1"));
  EXPECT_TRUE(AddressAllowed(r, labor, "2001:db8:100:ffff::1"));
  EXPECT_FALSE(AddressAllowed(r, labor, "2001:db8:101::1"));
  r.agencies[1].group.clear();
  EXPECT_FALSE(AddressAllowed(r, labor, "10.8.0.200"));
}

TEST(Registry, AddressAllowedIpv6AndMappedIpv4) {
  Registry r = Sample();
  const Party six = AgencyParty("A20000000I");
  EXPECT_TRUE(AddressAllowed(r, six, "2001:db8:5::7"));
  EXPECT_TRUE(AddressAllowed(r, six, "2001:0db8:0005:0000:0000:0000:0000:0007"));
  EXPECT_FALSE(AddressAllowed(r, six, "2001:db8:5::8"));
  // A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d.
  const Party tax = AgencyParty("A15060000H");
  EXPECT_TRUE(AddressAllowed(r, tax, "::ffff:203.0.113.7"));
  EXPECT_TRUE(AddressAllowed(r, tax, "::FFFF:198.51.100.3"));
  EXPECT_FALSE(AddressAllowed(r, tax, "::ffff:203.0.113.9"));
  EXPECT_TRUE(AddressAllowed(r, AgencyParty("A17000000J"), "::ffff:10.8.0.1"));
  // A registered mapped address is the IPv4 address too; IPv4 never matches IPv6 otherwise.
  r.agencies[1].addresses = {"::ffff:192.0.2.4"};
  EXPECT_TRUE(AddressAllowed(r, AgencyParty("A17000000J"), "192.0.2.4"));
  EXPECT_FALSE(AddressAllowed(r, tax, "::203.0.113.7"));
  // Centers: their fixed addresses.
  EXPECT_TRUE(AddressAllowed(r, {Party::Kind::kCenter, "center-south"}, "2001:db8::1"));
  EXPECT_FALSE(AddressAllowed(r, {Party::Kind::kCenter, "center-south"}, "203.0.113.1"));
  EXPECT_TRUE(AddressAllowed(r, {Party::Kind::kCenter, "center-north"}, "203.0.113.1"));
}

TEST(Registry, RangeChecks) {
  EXPECT_OK(CheckRange("10.8.0.0/24"));
  EXPECT_OK(CheckRange("0.0.0.0/0"));
  EXPECT_OK(CheckRange("2001:db8::/32"));
  EXPECT_OK(CheckRange("::ffff:10.8.0.0/120"));
  EXPECT_FALSE(CheckRange("::ffff:10.8.0.0/64").ok());
  EXPECT_FALSE(CheckRange("10.8.0.0").ok());
  EXPECT_FALSE(CheckRange("10.8.0.0/").ok());
  EXPECT_FALSE(CheckRange("10.8.0.0/-1").ok());
  EXPECT_FALSE(CheckRange("2001:db8::1/32").ok());
  EXPECT_FALSE(CheckRange("2001:db8::/129").ok());
  EXPECT_OK(CheckAddress("203.0.113.7"));
  EXPECT_FALSE(CheckAddress("203.0.113").ok());
  EXPECT_FALSE(CheckAddress("fe80::1%eth0").ok());
}

TEST(Registry, SignedWireFormOpensWithTheManagementKey) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  const Registry r = Sample();
  const std::string wire = SignRegistry(r, key);
  const json j = json::parse(wire);
  EXPECT_EQ(j["format"], "tessera-registry-signed");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["key"], key.public_key().Fingerprint());
  // The signature covers exactly the text carried.
  const std::string text = j["registry"];
  Result<Bytes> sig = HexDecode(j["signature"].get<std::string>());
  ASSERT_OK(sig);
  EXPECT_TRUE(key.public_key().Verify(AsBytes(text), *sig));

  Result<Registry> opened = OpenSignedRegistry(wire, key.public_key(), kNow);
  ASSERT_OK(opened);
  EXPECT_EQ(ToJson(*opened), ToJson(r));
}

TEST(Registry, SignedWireFormRefusesChangesAnotherKeyAndExpiry) {
  crypto::SigningKey key = crypto::SigningKey::Generate();
  const std::string wire = SignRegistry(Sample(), key);

  // One byte of the registry text changed: an address an attacker would like to add.
  std::string changed = wire;
  const size_t at = changed.find("203.0.113.7");
  ASSERT_NE(at, std::string::npos);
  changed[at + 10] = '9';
  Result<Registry> r = OpenSignedRegistry(changed, key.public_key(), kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(r.status().message(), HasSubstr("does not verify"));

  // The signature changed.
  json j = json::parse(wire);
  std::string signature = j["signature"];
  signature[0] = signature[0] == '0' ? '1' : '0';
  j["signature"] = signature;
  EXPECT_EQ(OpenSignedRegistry(j.dump(), key.public_key(), kNow).status().code(),
            StatusCode::kCorruption);

  // Signed by another key (its own fingerprint in "key"), or re-labelled with ours.
  crypto::SigningKey other = crypto::SigningKey::Generate();
  const std::string forged = SignRegistry(Sample(), other);
  r = OpenSignedRegistry(forged, key.public_key(), kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(r.status().message(), HasSubstr(key.public_key().Fingerprint()));
  json relabelled = json::parse(forged);
  relabelled["key"] = key.public_key().Fingerprint();
  EXPECT_EQ(OpenSignedRegistry(relabelled.dump(), key.public_key(), kNow).status().code(),
            StatusCode::kCorruption);

  // Damaged beyond JSON, cut short, not a registry.
  EXPECT_EQ(
      OpenSignedRegistry(wire.substr(0, wire.size() / 2), key.public_key(), kNow).status().code(),
      StatusCode::kCorruption);
  EXPECT_EQ(OpenSignedRegistry("{\"format\":\"other\"}", key.public_key(), kNow).status().code(),
            StatusCode::kCorruption);

  // Expired: at expires_at and after, with when and what to do.
  const Registry sample = Sample();
  EXPECT_OK(OpenSignedRegistry(wire, key.public_key(), sample.expires_at - 1));
  r = OpenSignedRegistry(wire, key.public_key(), sample.expires_at);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("expired at 2026-12-01T00:53:20Z"));
  EXPECT_THAT(r.status().message(), HasSubstr("fetch a new one"));
  // Expiry does not hide the serial from rollback checks.
  Result<Registry> verified = VerifySignedRegistry(wire, key.public_key());
  ASSERT_OK(verified);
  EXPECT_EQ(verified->serial, 7u);
}

// --- the stores ---------------------------------------------------------------------

class RegistryStoreTest : public ::testing::Test {
 protected:
  TempDir dir_;
  std::filesystem::path management() const { return dir_.path() / "management"; }
  std::filesystem::path host() const { return dir_.path() / "host"; }

  ManagementStore InitWithSample() {
    Result<ManagementStore> store = ManagementStore::Init(management(), "gov-test");
    EXPECT_OK(store);
    Registry r = Sample();
    r.serial = 0;
    r.issued_at = r.expires_at = 0;
    EXPECT_OK(store->SaveDraft(r));
    return *store;
  }
};

TEST_F(RegistryStoreTest, InitMakesAnOwnerOnlyKeyAndAnEmptyDraft) {
  Result<ManagementStore> store = ManagementStore::Init(management(), "gov-test");
  ASSERT_OK(store);
  struct stat st {};
  ASSERT_EQ(::stat((management() / kManagementKeyFile).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  Result<crypto::PublicKey> pub = store->PublicKey();
  ASSERT_OK(pub);
  Result<Registry> draft = store->LoadDraft();
  ASSERT_OK(draft);
  EXPECT_EQ(draft->network, "gov-test");
  EXPECT_TRUE(draft->agencies.empty());
  EXPECT_EQ(ManagementStore::Init(management(), "again").status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_EQ(ManagementStore::Open(dir_.path() / "nothing").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(store->Current().status().code(), StatusCode::kNotFound);
}

TEST_F(RegistryStoreTest, ConcurrentEditsLoseNothing) {
  ManagementStore store = InitWithSample();
  auto add = [&](const std::string& prefix) {
    for (int i = 0; i < 15; ++i)
      EXPECT_OK(store.EditDraft([&](Registry& r) {
        Agency a = r.agencies[0];
        a.code = prefix + std::to_string(i);
        a.certificates.clear();
        r.agencies.push_back(a);
        return Status::Ok();
      }));
  };
  std::thread one(add, "X"), two(add, "Y");
  one.join();
  two.join();
  EXPECT_EQ(store.LoadDraft()->agencies.size(), 3u + 30u);
  // A failed edit saves nothing.
  EXPECT_EQ(store
                .EditDraft([](Registry& r) {
                  r.agencies.clear();
                  return Status::InvalidArgument("no");
                })
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(store.LoadDraft()->agencies.size(), 33u);
}

TEST_F(RegistryStoreTest, PublishRefusesAnInvalidDraftAndNumbersPublications) {
  ManagementStore store = InitWithSample();
  Result<Registry> draft = store.LoadDraft();
  ASSERT_OK(draft);
  Registry broken = *draft;
  broken.agencies[0].home_center = "center-east";
  broken.agencies[1].addresses = {"not-an-address"};
  ASSERT_OK(store.SaveDraft(broken));
  Result<ManagementStore::Publication> refused = store.Publish(0, kNow);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("center-east"));
  EXPECT_THAT(refused.status().message(), HasSubstr("not-an-address"));
  EXPECT_FALSE(std::filesystem::exists(management() / "current.json"));
  EXPECT_FALSE(std::filesystem::exists(management() / "published"));

  ASSERT_OK(store.SaveDraft(*draft));
  Result<ManagementStore::Publication> first = store.Publish(0, kNow);
  ASSERT_OK(first);
  EXPECT_EQ(first->registry.serial, 1u);
  EXPECT_EQ(first->registry.issued_at, kNow);
  EXPECT_EQ(first->registry.expires_at, kNow + 86400);  // the policy's validity
  EXPECT_EQ(first->path, management() / "published" / "registry-1.json");
  Result<std::string> current = store.Current();
  ASSERT_OK(current);
  EXPECT_EQ(*current, first->wire);
  Result<crypto::PublicKey> pub = store.PublicKey();
  ASSERT_OK(pub);
  EXPECT_OK(OpenSignedRegistry(*current, *pub, kNow + 100));

  Result<ManagementStore::Publication> second = store.Publish(3600, kNow + 10);
  ASSERT_OK(second);
  EXPECT_EQ(second->registry.serial, 2u);
  EXPECT_EQ(second->registry.expires_at, kNow + 10 + 3600);
  EXPECT_TRUE(std::filesystem::exists(management() / "published" / "registry-1.json"));
  EXPECT_EQ(*ReadTextFile(management() / "published" / "registry-2.json"), second->wire);
  EXPECT_EQ(store.LoadDraft()->serial, 2u);
  // A publish whose draft lost its serial (cut short) still does not reuse one.
  Registry reset = *store.LoadDraft();
  reset.serial = 0;
  ASSERT_OK(store.SaveDraft(reset));
  Result<ManagementStore::Publication> third = store.Publish(0, kNow + 20);
  ASSERT_OK(third);
  EXPECT_EQ(third->registry.serial, 3u);
  // Validity out of bounds, or too short for the hosts' polling.
  EXPECT_EQ(store.Publish(60, kNow).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(RegistryStoreTest, HostInstallsVerifiesAndRefusesRollback) {
  ManagementStore store = InitWithSample();
  Result<crypto::PublicKey> pub = store.PublicKey();
  ASSERT_OK(pub);
  Result<ManagementStore::Publication> one = store.Publish(0, kNow);
  ASSERT_OK(one);
  Result<ManagementStore::Publication> two = store.Publish(0, kNow + 1);
  ASSERT_OK(two);

  EXPECT_EQ(LoadHostRegistry(host(), *pub, kNow).status().code(), StatusCode::kNotFound);
  Result<InstallReport> installed = InstallRegistry(host(), two->wire, *pub, kNow + 2);
  ASSERT_OK(installed);
  EXPECT_FALSE(installed->had_previous);
  EXPECT_EQ(installed->registry.serial, 2u);
  EXPECT_EQ(*ReadTextFile(HostRegistryPath(host())), two->wire);
  Result<crypto::PublicKey> recorded = HostManagementKey(host());
  ASSERT_OK(recorded);
  EXPECT_TRUE(*recorded == *pub);

  // Rollback to serial 1: refused, and serial 2 stays.
  Result<InstallReport> rollback = InstallRegistry(host(), one->wire, *pub, kNow + 3);
  EXPECT_EQ(rollback.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(rollback.status().message(), HasSubstr("older than serial 2"));
  EXPECT_EQ(*ReadTextFile(HostRegistryPath(host())), two->wire);

  // The same again: nothing changes.
  Result<InstallReport> again = InstallRegistry(host(), two->wire, *pub, kNow + 3);
  ASSERT_OK(again);
  EXPECT_TRUE(again->unchanged);

  // Another management key: refused even with a valid signature of its own.
  TempDir other_dir;
  Result<ManagementStore> other = ManagementStore::Init(other_dir.path(), "gov-test");
  ASSERT_OK(other);
  Registry r = Sample();
  r.serial = 9;
  ASSERT_OK(other->SaveDraft(r));
  Result<ManagementStore::Publication> foreign = other->Publish(0, kNow);
  ASSERT_OK(foreign);
  Result<InstallReport> refused =
      InstallRegistry(host(), foreign->wire, *other->PublicKey(), kNow + 3);
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("set up with management center key"));
  EXPECT_EQ(InstallRegistry(host(), foreign->wire, *pub, kNow + 3).status().code(),
            StatusCode::kCorruption);

  // A newer serial replaces it; an expired one is refused.
  Result<ManagementStore::Publication> three = store.Publish(0, kNow + 5);
  ASSERT_OK(three);
  EXPECT_EQ(InstallRegistry(host(), three->wire, *pub, three->registry.expires_at).status().code(),
            StatusCode::kFailedPrecondition);
  Result<InstallReport> newer = InstallRegistry(host(), three->wire, *pub, kNow + 6);
  ASSERT_OK(newer);
  EXPECT_TRUE(newer->had_previous);
  EXPECT_EQ(newer->previous_serial, 2u);
  EXPECT_EQ(newer->registry.serial, 3u);

  // Loading fails closed once expired.
  EXPECT_OK(LoadHostRegistry(host(), *pub, kNow + 7));
  Result<Registry> expired = LoadHostRegistry(host(), *pub, three->registry.expires_at + 1);
  EXPECT_EQ(expired.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(expired.status().message(), HasSubstr("expired at"));
  Result<Registry> still = ReadHostRegistry(host(), *pub);
  ASSERT_OK(still);
  EXPECT_EQ(still->serial, 3u);
}

TEST_F(RegistryStoreTest, HostRefusesAnotherNetworkAndASerialReused) {
  ManagementStore store = InitWithSample();
  Result<crypto::PublicKey> pub = store.PublicKey();
  ASSERT_OK(pub);
  Result<ManagementStore::Publication> one = store.Publish(0, kNow);
  ASSERT_OK(one);
  ASSERT_OK(InstallRegistry(host(), one->wire, *pub, kNow));
  crypto::SigningKey key = *crypto::SigningKey::Load(management() / kManagementKeyFile, "key");

  Registry renamed = one->registry;
  renamed.network = "gov-other";
  renamed.serial = 5;
  Result<InstallReport> r = InstallRegistry(host(), SignRegistry(renamed, key), *pub, kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("gov-other"));

  Registry reused = one->registry;
  reused.agencies.pop_back();
  r = InstallRegistry(host(), SignRegistry(reused, key), *pub, kNow);
  EXPECT_EQ(r.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("other contents"));
}

// A trust decision is remembered only within the validity of the certificate and the
// anchors: a certificate identified once is refused the moment it expires, one that does
// not chain to an anchor is refused every time, and a revoked one never gets as far as its chain.
// A test CA's certificate and key, valid from `not_before` to `not_after` (0: the defaults).
struct TestCa {
  crypto::Certificate cert;
  crypto::PrivateKey key;
};
TestCa MakeTestCa(const std::string& name, int64_t not_before = 0, int64_t not_after = 0) {
  auto key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
  EXPECT_OK(key);
  crypto::CertificateRequest request;
  request.common_name = name;
  request.ca = true;
  request.not_before = not_before;
  request.not_after = not_after;
  auto cert = crypto::IssueCertificate(request, *key, nullptr, *key);
  EXPECT_OK(cert);
  return {*cert, *key};
}

TEST(TrustIndex, IdentifiesRegisteredCertificatesAndNeverRemembersPastExpiry) {
  const TestCa test_ca = MakeTestCa("test CA", kNow - 86400, kNow + 10 * 86400);
  const crypto::Certificate* ca = &test_ca.cert;
  const crypto::PrivateKey* ca_key = &test_ca.key;
  auto issue = [&](const std::string& name, int64_t not_after, const crypto::Certificate* issuer,
                   const crypto::PrivateKey& issuer_key) -> crypto::Certificate {
    auto key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
    EXPECT_OK(key);
    crypto::CertificateRequest request;
    request.common_name = name;
    request.not_before = kNow - 3600;
    request.not_after = not_after;
    auto cert = crypto::IssueCertificate(request, *key, issuer, issuer_key);
    EXPECT_OK(cert);
    return *cert;
  };
  const crypto::Certificate tax = issue("tax", kNow + 86400, ca, *ca_key);
  const crypto::Certificate labor = issue("labor", kNow + 86400, ca, *ca_key);
  const TestCa other = MakeTestCa("another CA", kNow - 86400, kNow + 10 * 86400);
  const crypto::Certificate* other_ca = &other.cert;
  const crypto::PrivateKey* other_ca_key = &other.key;
  const crypto::Certificate foreign = issue("foreign", kNow + 86400, other_ca, *other_ca_key);

  Registry r = Sample();
  r.trust_anchors = {ca->Pem()};
  r.agencies[0].certificates = {tax.Pem(), foreign.Pem()};
  r.agencies[1].certificates = {labor.Pem()};
  r.revoked_fingerprints = {labor.Fingerprint()};
  const TrustIndex index(r);

  for (int round = 0; round < 2; ++round) {
    Result<Party> party = index.Identify(tax, kNow);
    ASSERT_OK(party);
    EXPECT_EQ(party->id, "A15060000H");
    Result<Party> refused = index.Identify(foreign, kNow);
    EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
    refused = index.Identify(labor, kNow);
    EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
    EXPECT_THAT(refused.status().message(), HasSubstr("revoked"));
  }
  // Past the certificate's end, and past the anchor's, though the chain verified before.
  EXPECT_EQ(index.Identify(tax, kNow + 2 * 86400).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(index.Identify(tax, kNow - 7200).status().code(), StatusCode::kPermissionDenied);
  const crypto::Certificate long_lived = issue("long", kNow + 100 * 86400, ca, *ca_key);
  r.agencies[0].certificates = {long_lived.Pem()};
  const TrustIndex later(r);
  EXPECT_OK(later.Identify(long_lived, kNow));
  EXPECT_EQ(later.Identify(long_lived, kNow + 20 * 86400).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_OK(later.Identify(long_lived, kNow));
}

// A routing header carries no certificate, only its signer's name: a host opens it with
// the registered certificate its trust index finds, and a host that does not know the
// signer cannot. Headers sealed with the certificate inside (earlier versions) still open.
TEST(TrustIndex, FindsTheRegisteredSignerOfARoutingHeader) {
  const TestCa test_ca = MakeTestCa("test CA");
  const crypto::Certificate* ca = &test_ca.cert;
  const crypto::PrivateKey* ca_key = &test_ca.key;
  auto key = crypto::PrivateKey::Generate(crypto::KeyKind::kEcP256);
  ASSERT_OK(key);
  crypto::CertificateRequest request;
  request.common_name = "A15060000H";
  auto cert = crypto::IssueCertificate(request, *key, ca, *ca_key);
  ASSERT_OK(cert);

  Registry r = Sample();
  r.trust_anchors = {ca->Pem()};
  r.agencies[0].certificates = {cert->Pem()};
  const TrustIndex index(r);
  RoutingHeader h;
  h.id = NewItemId();
  h.from = "A15060000H";
  h.to = {"A17000000J"};
  h.created_at = kNow;
  h.payload_sha256 = std::string(64, 'a');
  h.payload_size = 1;
  auto sealed = SealHeader(h, *cert, *key);
  ASSERT_OK(sealed);
  auto opened = OpenHeader(*sealed, index.Signers());
  ASSERT_OK(opened);
  EXPECT_TRUE(opened->signer == *cert);
  EXPECT_EQ(opened->header.id, h.id);
  ASSERT_OK(index.Identify(opened->signer, NowUnixSeconds()));

  Registry without = r;
  without.agencies[0].certificates.clear();
  const TrustIndex stranger(without);
  EXPECT_EQ(OpenHeader(*sealed, stranger.Signers()).status().code(), StatusCode::kPermissionDenied);

  // As earlier versions sealed headers: the certificate inside, whoever the look-up knows.
  nlohmann::json j = {{"format", "tessera-item-header"},
                      {"version", 1},
                      {"kind", "document"},
                      {"id", h.id},
                      {"from", h.from},
                      {"to", h.to},
                      {"created_at", h.created_at},
                      {"payload_sha256", h.payload_sha256},
                      {"payload_size", h.payload_size}};
  auto embedded = crypto::CmsSign(AsBytes(j.dump()), *cert, *key);
  ASSERT_OK(embedded);
  EXPECT_LT(sealed->size() + cert->Der().size() / 2, embedded->size())
      << "the certificate is not in a sealed header";
  auto old_form = OpenHeader(*embedded, stranger.Signers());
  ASSERT_OK(old_form);
  EXPECT_TRUE(old_form->signer == *cert);
}

}  // namespace
}  // namespace tessera::exchange
