// CMS (crypto/cms): SignedData and AuthEnvelopedData round trips for RSA and EC
// certificates and several recipients; damage and strangers refused with the right code;
// what the openssl command line makes is read, and what tessera makes the openssl command
// line reads; the streaming file variants on a 40 MB file, in bounded memory.
#include "crypto/cms.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>

#include "base/clock.hpp"
#include "base/files.hpp"
#include "crypto/hash.hpp"
#include "crypto/random.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::crypto {
namespace {

// The streaming file variants hold a few buffers, not the document; under
// AddressSanitizer, freed memory sits in quarantine and every block carries redzones, so
// the bound is looser (still below the 40 MB document).
#if defined(__SANITIZE_ADDRESS__)
constexpr int64_t kStreamingGrowth = 32 << 20;
#else
constexpr int64_t kStreamingGrowth = 16 << 20;
#endif

using ::testing::HasSubstr;
namespace fs = std::filesystem;

struct Party {
  Certificate cert;
  PrivateKey key;
};

Party MakeParty(const Party* ca, const std::string& name, KeyKind kind) {
  auto key = PrivateKey::Generate(kind);
  EXPECT_OK(key);
  CertificateRequest request;
  request.common_name = name;
  request.ca = ca == nullptr;
  auto cert = ca == nullptr ? IssueCertificate(request, *key, nullptr, *key)
                            : IssueCertificate(request, *key, &ca->cert, ca->key);
  EXPECT_OK(cert);
  return {*cert, *key};
}

// Runs a shell command; its exit status.
int Shell(const std::string& command) {
  return std::system((command + " 2>/dev/null").c_str());
}

std::string Quote(const fs::path& p) {
  return "'" + p.string() + "'";
}

int64_t MaxRssBytes() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<int64_t>(usage.ru_maxrss) * 1024;
}

class Cms : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ca_ = new Party(MakeParty(nullptr, "CMS Test CA", KeyKind::kEcP256));
    rsa_ = new Party(MakeParty(ca_, "A01 RSA agency", KeyKind::kRsa2048));
    ec_ = new Party(MakeParty(ca_, "A02 EC agency", KeyKind::kEcP256));
    rsa2_ = new Party(MakeParty(ca_, "A03 second RSA agency", KeyKind::kRsa2048));
    stranger_ = new Party(MakeParty(ca_, "A04 stranger", KeyKind::kEcP256));
  }
  static void TearDownTestSuite() {
    for (Party* p : {ca_, rsa_, ec_, rsa2_, stranger_}) delete p;
  }

  // Writes a party's certificate and key where the openssl command can read them.
  void WriteParty(const Party& p, const std::string& name) {
    ASSERT_OK(WriteFileAtomic(dir_.path() / (name + ".pem"), std::string_view(p.cert.Pem())));
    ASSERT_OK(p.key.Save(dir_.path() / (name + ".key")));
  }
  fs::path Path(const std::string& name) const { return dir_.path() / name; }

  static Party* ca_;
  static Party* rsa_;
  static Party* ec_;
  static Party* rsa2_;
  static Party* stranger_;
  TempDir dir_;
};
Party* Cms::ca_ = nullptr;
Party* Cms::rsa_ = nullptr;
Party* Cms::ec_ = nullptr;
Party* Cms::rsa2_ = nullptr;
Party* Cms::stranger_ = nullptr;

const std::string kDocument = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><公文>函 測試</公文>";

TEST_F(Cms, SignAndVerifyRsaAndEc) {
  for (const Party* signer : {rsa_, ec_}) {
    const int64_t before = NowUnixSeconds();
    auto signed_der = CmsSign(AsBytes(kDocument), signer->cert, signer->key);
    const int64_t after = NowUnixSeconds();
    ASSERT_OK(signed_der);
    auto verified = CmsVerify(*signed_der);
    ASSERT_OK(verified);
    EXPECT_EQ(AsString(verified->content), kDocument);
    EXPECT_TRUE(verified->signer == signer->cert);
    EXPECT_GE(verified->signing_time, before);
    EXPECT_LE(verified->signing_time, after);
  }
  // Empty content signs too.
  auto empty = CmsSign({}, ec_->cert, ec_->key);
  ASSERT_OK(empty);
  auto verified = CmsVerify(*empty);
  ASSERT_OK(verified);
  EXPECT_TRUE(verified->content.empty());
  // A key that is not the certificate's is refused.
  EXPECT_EQ(CmsSign(AsBytes(kDocument), ec_->cert, rsa_->key).status().code(),
            StatusCode::kInvalidArgument);
}

// SignedData without the signer's certificate verifies only against the certificate the
// verifier finds under the issuer and serial it names; an embedded certificate, when
// there is one, is used whatever the look-up would say.
TEST_F(Cms, SignerCertificateOmittedIsFoundByIssuerAndSerial) {
  for (const Party* signer : {rsa_, ec_}) {
    auto omitted = CmsSign(AsBytes(kDocument), signer->cert, signer->key, SignerCertificate::kOmit);
    ASSERT_OK(omitted);
    auto embedded = CmsSign(AsBytes(kDocument), signer->cert, signer->key);
    ASSERT_OK(embedded);
    EXPECT_LT(omitted->size() + signer->cert.Der().size() / 2, embedded->size());
    int lookups = 0;
    Bytes asked;
    auto registry = [&](ByteView issuer_and_serial) -> std::optional<Certificate> {
      ++lookups;
      asked.assign(issuer_and_serial.begin(), issuer_and_serial.end());
      for (const Party* p : {rsa_, ec_, rsa2_})
        if (p->cert.IssuerAndSerial() == asked) return p->cert;
      return std::nullopt;
    };
    auto verified = CmsVerify(*omitted, registry);
    ASSERT_OK(verified);
    EXPECT_EQ(lookups, 1);
    EXPECT_EQ(asked, signer->cert.IssuerAndSerial());
    EXPECT_EQ(AsString(verified->content), kDocument);
    EXPECT_TRUE(verified->signer == signer->cert);
    // Without a look-up there is no certificate to check the signature with.
    EXPECT_EQ(CmsVerify(*omitted).status().code(), StatusCode::kCorruption);
    // A verifier that knows no such signer refuses it.
    auto unknown = CmsVerify(*omitted, [](ByteView) { return std::optional<Certificate>(); });
    EXPECT_EQ(unknown.status().code(), StatusCode::kPermissionDenied);
    // Another certificate under that name does not verify the signature.
    auto impostor = CmsVerify(*omitted, [&](ByteView) { return std::optional(stranger_->cert); });
    EXPECT_EQ(impostor.status().code(), StatusCode::kCorruption);
    // An embedded certificate is used, not the look-up.
    lookups = 0;
    auto with_certificate = CmsVerify(*embedded, [&](ByteView) {
      ++lookups;
      return std::optional(stranger_->cert);
    });
    ASSERT_OK(with_certificate);
    EXPECT_EQ(lookups, 0);
    EXPECT_TRUE(with_certificate->signer == signer->cert);
  }
  // The key names every certificate apart, and is the same for a certificate parsed anew.
  EXPECT_NE(rsa_->cert.IssuerAndSerial(), ec_->cert.IssuerAndSerial());
  auto reparsed = Certificate::FromDer(ec_->cert.Der());
  ASSERT_OK(reparsed);
  EXPECT_EQ(reparsed->IssuerAndSerial(), ec_->cert.IssuerAndSerial());
}

TEST_F(Cms, TamperedSignedDataIsCorruption) {
  auto signed_der = CmsSign(AsBytes(kDocument), ec_->cert, ec_->key);
  ASSERT_OK(signed_der);
  // One byte of the attached content changed.
  const std::string der(AsString(*signed_der));
  const size_t at = der.find("測試");
  ASSERT_NE(at, std::string::npos);
  Bytes altered = *signed_der;
  altered[at] ^= 0x01;
  auto refused = CmsVerify(altered);
  EXPECT_EQ(refused.status().code(), StatusCode::kCorruption);
  EXPECT_THAT(refused.status().message(), HasSubstr("does not verify"));
  // One byte of the signature at the end changed.
  altered = *signed_der;
  altered[altered.size() - 3] ^= 0x40;
  EXPECT_EQ(CmsVerify(altered).status().code(), StatusCode::kCorruption);
  // Cut short, not CMS, and CMS of another type.
  EXPECT_EQ(CmsVerify(ByteView(signed_der->data(), signed_der->size() - 10)).status().code(),
            StatusCode::kCorruption);
  EXPECT_EQ(CmsVerify(AsBytes(kDocument)).status().code(), StatusCode::kCorruption);
  auto encrypted = CmsEncrypt(AsBytes(kDocument), {ec_->cert});
  ASSERT_OK(encrypted);
  EXPECT_EQ(CmsVerify(*encrypted).status().code(), StatusCode::kCorruption);
}

TEST_F(Cms, EncryptAndDecryptForOneAndThreeRecipients) {
  const Bytes content = RandomBytes(100000);
  for (const Party* recipient : {rsa_, ec_}) {
    auto der = CmsEncrypt(content, {recipient->cert});
    ASSERT_OK(der);
    auto plain = CmsDecrypt(*der, recipient->cert, recipient->key);
    ASSERT_OK(plain);
    EXPECT_EQ(*plain, content);
    // Encryption is randomised: the same content twice gives different ciphertexts.
    auto again = CmsEncrypt(content, {recipient->cert});
    ASSERT_OK(again);
    EXPECT_NE(*again, *der);
  }
  auto der = CmsEncrypt(content, {rsa_->cert, ec_->cert, rsa2_->cert});
  ASSERT_OK(der);
  for (const Party* recipient : {rsa_, ec_, rsa2_}) {
    auto plain = CmsDecrypt(*der, recipient->cert, recipient->key);
    ASSERT_OK(plain);
    EXPECT_EQ(*plain, content);
  }
  // A third party cannot decrypt; nor can a recipient's certificate with another key.
  auto stranger = CmsDecrypt(*der, stranger_->cert, stranger_->key);
  EXPECT_EQ(stranger.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(stranger.status().message(), HasSubstr("A04 stranger"));
  EXPECT_EQ(CmsDecrypt(*der, rsa_->cert, rsa2_->key).status().code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(CmsDecrypt(*der, ec_->cert, stranger_->key).status().code(),
            StatusCode::kPermissionDenied);

  EXPECT_EQ(CmsEncrypt(content, {}).status().code(), StatusCode::kInvalidArgument);
}

TEST_F(Cms, DamagedCiphertextOrTagIsCorruption) {
  const Bytes content = RandomBytes(5000);
  for (const Party* recipient : {rsa_, ec_}) {
    auto der = CmsEncrypt(content, {recipient->cert});
    ASSERT_OK(der);
    // The encrypted content lies just before the 16-byte tag at the end.
    Bytes altered = *der;
    altered[altered.size() - 1000] ^= 0x01;
    auto refused = CmsDecrypt(altered, recipient->cert, recipient->key);
    EXPECT_EQ(refused.status().code(), StatusCode::kCorruption);
    EXPECT_THAT(refused.status().message(), HasSubstr("damaged or was altered"));
    altered = *der;
    altered[altered.size() - 1] ^= 0x80;  // the tag
    EXPECT_EQ(CmsDecrypt(altered, recipient->cert, recipient->key).status().code(),
              StatusCode::kCorruption);
    EXPECT_EQ(CmsDecrypt(ByteView(der->data(), der->size() - 20), recipient->cert, recipient->key)
                  .status()
                  .code(),
              StatusCode::kCorruption);
  }
  EXPECT_EQ(CmsDecrypt(AsBytes(kDocument), ec_->cert, ec_->key).status().code(),
            StatusCode::kCorruption);
}

TEST_F(Cms, OpensslCommandReadsWhatTesseraMakes) {
  WriteParty(*rsa_, "rsa");
  WriteParty(*ec_, "ec");
  const Bytes content = RandomBytes(70000);
  for (const std::string name : {"rsa", "ec"}) {
    const Party* party = name == "rsa" ? rsa_ : ec_;
    // Encrypted for both: each decrypts with the openssl command.
    auto encrypted = CmsEncrypt(content, {rsa_->cert, ec_->cert});
    ASSERT_OK(encrypted);
    ASSERT_OK(WriteFileAtomic(Path("enc.der"), *encrypted));
    ASSERT_EQ(Shell("openssl cms -decrypt -inform DER -in " + Quote(Path("enc.der")) + " -recip " +
                    Quote(Path(name + ".pem")) + " -inkey " + Quote(Path(name + ".key")) +
                    " -out " + Quote(Path("dec"))),
              0)
        << name;
    // The key transport is RSA-OAEP and the ECDH KDF SHA-256, not OpenSSL's defaults.
    ASSERT_EQ(Shell("openssl cms -cmsout -print -inform DER -in " + Quote(Path("enc.der")) + " > " +
                    Quote(Path("print"))),
              0);
    auto printed = ReadTextFile(Path("print"));
    ASSERT_OK(printed);
    EXPECT_THAT(*printed, HasSubstr("id-smime-ct-authEnvelopedData"));
    EXPECT_THAT(*printed, HasSubstr("rsaesOaep"));
    EXPECT_THAT(*printed, HasSubstr("dhSinglePass-stdDH-sha256kdf-scheme"));
    EXPECT_THAT(*printed, HasSubstr("aes-256-gcm"));
    auto decrypted = ReadFile(Path("dec"));
    ASSERT_OK(decrypted);
    EXPECT_EQ(*decrypted, content);

    // Signed: the openssl command verifies the signature and gives the content back.
    auto signed_der = CmsSign(content, party->cert, party->key);
    ASSERT_OK(signed_der);
    ASSERT_OK(WriteFileAtomic(Path("signed.der"), *signed_der));
    ASSERT_EQ(Shell("openssl cms -verify -inform DER -noverify -binary -in " +
                    Quote(Path("signed.der")) + " -out " + Quote(Path("content"))),
              0)
        << name;
    auto verified = ReadFile(Path("content"));
    ASSERT_OK(verified);
    EXPECT_EQ(*verified, content);
    // A damaged signature fails there too (the check above is not vacuous).
    Bytes altered = *signed_der;
    altered[altered.size() - 3] ^= 0x40;
    ASSERT_OK(WriteFileAtomic(Path("bad.der"), altered));
    EXPECT_NE(Shell("openssl cms -verify -inform DER -noverify -binary -in " +
                    Quote(Path("bad.der")) + " -out /dev/null"),
              0);
  }
}

TEST_F(Cms, TesseraReadsWhatOpensslCommandMakes) {
  WriteParty(*rsa_, "rsa");
  WriteParty(*ec_, "ec");
  const Bytes content = RandomBytes(70000);
  ASSERT_OK(WriteFileAtomic(Path("plain"), content));
  ASSERT_EQ(Shell("openssl cms -encrypt -aes-256-gcm -binary -outform DER -in " +
                  Quote(Path("plain")) + " -out " + Quote(Path("enc.der")) + " " +
                  Quote(Path("rsa.pem")) + " " + Quote(Path("ec.pem"))),
            0);
  auto encrypted = ReadFile(Path("enc.der"));
  ASSERT_OK(encrypted);
  for (const Party* party : {rsa_, ec_}) {
    auto plain = CmsDecrypt(*encrypted, party->cert, party->key);
    ASSERT_OK(plain);
    EXPECT_EQ(*plain, content);
  }
  EXPECT_EQ(CmsDecrypt(*encrypted, stranger_->cert, stranger_->key).status().code(),
            StatusCode::kPermissionDenied);

  for (const std::string name : {"rsa", "ec"}) {
    const Party* party = name == "rsa" ? rsa_ : ec_;
    ASSERT_EQ(Shell("openssl cms -sign -nodetach -binary -outform DER -md sha256 -signer " +
                    Quote(Path(name + ".pem")) + " -inkey " + Quote(Path(name + ".key")) + " -in " +
                    Quote(Path("plain")) + " -out " + Quote(Path("signed.der"))),
              0);
    auto signed_der = ReadFile(Path("signed.der"));
    ASSERT_OK(signed_der);
    auto verified = CmsVerify(*signed_der);
    ASSERT_OK(verified);
    EXPECT_EQ(verified->content, content);
    EXPECT_TRUE(verified->signer == party->cert);
    EXPECT_GT(verified->signing_time, 0);
  }
}

// Writes `size` random bytes to `path` a megabyte at a time; their SHA-256.
Bytes WriteRandomFile(const fs::path& path, size_t size) {
  std::ofstream out(path, std::ios::binary);
  Sha256Hasher hasher;
  for (size_t done = 0; done < size;) {
    const Bytes chunk = RandomBytes(std::min<size_t>(1 << 20, size - done));
    out.write(reinterpret_cast<const char*>(chunk.data()),
              static_cast<std::streamsize>(chunk.size()));
    hasher.Update(chunk);
    done += chunk.size();
  }
  return hasher.Final();
}

Bytes HashFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  Sha256Hasher hasher;
  std::vector<char> buffer(1 << 20);
  while (in.read(buffer.data(), static_cast<std::streamsize>(buffer.size())) || in.gcount() > 0)
    hasher.Update(AsBytes(std::string_view(buffer.data(), static_cast<size_t>(in.gcount()))));
  return hasher.Final();
}

TEST_F(Cms, FileVariantsRoundTripFortyMegabytesInBoundedMemory) {
  constexpr size_t kSize = 40u << 20;
  const Bytes digest = WriteRandomFile(Path("document"), kSize);

  const int64_t started = NowUnixSeconds();
  const int64_t before_encrypt = MaxRssBytes();
  ASSERT_OK(CmsSignAndEncryptFile(Path("document"), Path("document.p7m"), ec_->cert, ec_->key,
                                  {rsa_->cert, ec_->cert, rsa2_->cert}));
  const int64_t encrypt_growth = MaxRssBytes() - before_encrypt;
  EXPECT_LT(encrypt_growth, kStreamingGrowth) << "signing and encrypting took " << encrypt_growth;
  struct stat st {};
  ASSERT_EQ(::stat(Path("document.p7m").c_str(), &st), 0);
  EXPECT_GT(static_cast<size_t>(st.st_size), kSize);
  EXPECT_EQ(st.st_mode & 0777, 0600u);

  const int64_t before_decrypt = MaxRssBytes();
  auto verified =
      CmsDecryptAndVerifyFile(Path("document.p7m"), Path("document.out"), rsa2_->cert, rsa2_->key);
  const int64_t decrypt_growth = MaxRssBytes() - before_decrypt;
  ASSERT_OK(verified);
  EXPECT_TRUE(verified->signer == ec_->cert);
  EXPECT_TRUE(verified->content.empty());
  EXPECT_GE(verified->signing_time, started);
  EXPECT_LE(verified->signing_time, NowUnixSeconds());
  EXPECT_EQ(HashFile(Path("document.out")), digest);
  EXPECT_LT(decrypt_growth, kStreamingGrowth) << "decrypting and verifying took " << decrypt_growth;

  // The openssl command reads the streamed (BER) output too.
  WriteParty(*ec_, "ec");
  ASSERT_EQ(Shell("openssl cms -decrypt -inform DER -in " + Quote(Path("document.p7m")) +
                  " -recip " + Quote(Path("ec.pem")) + " -inkey " + Quote(Path("ec.key")) +
                  " | openssl cms -verify -inform DER -noverify -binary -out " +
                  Quote(Path("by-openssl"))),
            0);
  EXPECT_EQ(HashFile(Path("by-openssl")), digest);
}

TEST_F(Cms, FileVariantsRefuseStrangersAndDamageLeavingNoOutput) {
  const Bytes content = RandomBytes(300000);
  ASSERT_OK(WriteFileAtomic(Path("document"), content));
  ASSERT_OK(CmsSignAndEncryptFile(Path("document"), Path("document.p7m"), rsa_->cert, rsa_->key,
                                  {ec_->cert}));
  EXPECT_EQ(
      CmsDecryptAndVerifyFile(Path("document.p7m"), Path("out"), stranger_->cert, stranger_->key)
          .status()
          .code(),
      StatusCode::kPermissionDenied);
  auto encrypted = ReadFile(Path("document.p7m"));
  ASSERT_OK(encrypted);
  Bytes altered = *encrypted;
  altered[altered.size() / 2] ^= 0x04;
  ASSERT_OK(WriteFileAtomic(Path("altered.p7m"), altered));
  auto damaged = CmsDecryptAndVerifyFile(Path("altered.p7m"), Path("out"), ec_->cert, ec_->key);
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption);
  // Nothing was left behind: no output, no temporary file.
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir_.path())) {
    (void)entry;
    ++files;
  }
  EXPECT_EQ(files, 3u);
  EXPECT_FALSE(fs::exists(Path("out")));
  EXPECT_EQ(
      CmsDecryptAndVerifyFile(Path("missing"), Path("out"), ec_->cert, ec_->key).status().code(),
      StatusCode::kNotFound);

  auto verified = CmsDecryptAndVerifyFile(Path("document.p7m"), Path("out"), ec_->cert, ec_->key);
  ASSERT_OK(verified);
  EXPECT_TRUE(verified->signer == rsa_->cert);
  auto out = ReadFile(Path("out"));
  ASSERT_OK(out);
  EXPECT_EQ(*out, content);
}

// The file variant reads the content apart from the rest of the structure: whatever way
// the structure is damaged, cut or extended, it is Corruption and nothing is written.
TEST_F(Cms, FileVariantRefusesCutExtendedAndReshapedStructures) {
  const Bytes content = RandomBytes(300000);
  ASSERT_OK(WriteFileAtomic(Path("document"), content));
  ASSERT_OK(CmsSignAndEncryptFile(Path("document"), Path("document.p7m"), rsa_->cert, rsa_->key,
                                  {ec_->cert}));
  auto encrypted = ReadFile(Path("document.p7m"));
  ASSERT_OK(encrypted);
  const Bytes& e = *encrypted;
  auto refused = [&](const Bytes& bytes, const std::string& what) {
    ASSERT_OK(WriteFileAtomic(Path("bad.p7m"), bytes));
    auto r = CmsDecryptAndVerifyFile(Path("bad.p7m"), Path("out"), ec_->cert, ec_->key);
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << what << ": " << r.status().ToString();
    EXPECT_FALSE(fs::exists(Path("out"))) << what;
  };
  for (size_t cut : {size_t{1}, size_t{2}, size_t{20}, e.size() / 2, e.size() - 10})
    refused(Bytes(e.begin(), e.end() - static_cast<std::ptrdiff_t>(cut)),
            "cut by " + std::to_string(cut));
  Bytes extended = e;
  extended.push_back(0);
  refused(extended, "a byte after the structure");
  refused(Bytes(), "empty");
  refused(ToBytes(kDocument), "not BER");
  // The streamed ciphertext comes in pieces, each an OCTET STRING with its own header:
  // turn the tag of one into another type, then make its length run past the file.
  // A piece's header: 04 82 (an OCTET STRING with a 2-byte length) where the piece it
  // announces is followed by another such header.
  size_t header = 0;
  for (size_t i = e.size() / 2; i + 8 < e.size() && header == 0; ++i) {
    if (e[i] != 0x04 || e[i + 1] != 0x82) continue;
    const size_t next = i + 4 + (size_t{e[i + 2]} << 8 | e[i + 3]);
    if (next + 2 < e.size() && e[next] == 0x04 && e[next + 1] == 0x82) header = i;
  }
  ASSERT_NE(header, 0u);
  Bytes retagged = e;
  retagged[header] = 0x05;
  refused(retagged, "a piece that is not an OCTET STRING");
  Bytes lengthened = e;
  lengthened[header + 2] = 0xff;
  refused(lengthened, "a piece longer than its element");
}

// What tessera's in-memory functions make (DER, the content in one piece) and what the
// openssl command makes with and without -stream (BER with indefinite lengths, the
// content in pieces) all read with the file variant.
TEST_F(Cms, FileVariantReadsDerAndWhatOpensslCommandMakes) {
  WriteParty(*rsa_, "rsa");
  WriteParty(*ec_, "ec");
  const Bytes content = RandomBytes(200000);
  ASSERT_OK(WriteFileAtomic(Path("plain"), content));

  auto signed_der = CmsSign(content, rsa_->cert, rsa_->key);
  ASSERT_OK(signed_der);
  auto der = CmsEncrypt(*signed_der, {ec_->cert});
  ASSERT_OK(der);
  ASSERT_OK(WriteFileAtomic(Path("der.p7m"), *der));
  auto from_der = CmsDecryptAndVerifyFile(Path("der.p7m"), Path("from-der"), ec_->cert, ec_->key);
  ASSERT_OK(from_der);
  EXPECT_TRUE(from_der->signer == rsa_->cert);
  auto plain = ReadFile(Path("from-der"));
  ASSERT_OK(plain);
  EXPECT_EQ(*plain, content);

  for (const std::string stream : {"", " -stream"}) {
    ASSERT_EQ(Shell("openssl cms -sign -nodetach -binary -outform DER -md sha256" + stream +
                    " -signer " + Quote(Path("ec.pem")) + " -inkey " + Quote(Path("ec.key")) +
                    " -in " + Quote(Path("plain")) + " -out " + Quote(Path("signed"))),
              0);
    ASSERT_EQ(Shell("openssl cms -encrypt -aes-256-gcm -binary -outform DER" + stream + " -in " +
                    Quote(Path("signed")) + " -out " + Quote(Path("enc.p7m")) + " " +
                    Quote(Path("rsa.pem"))),
              0);
    fs::remove(Path("from-openssl"));
    auto opened =
        CmsDecryptAndVerifyFile(Path("enc.p7m"), Path("from-openssl"), rsa_->cert, rsa_->key);
    ASSERT_TRUE(opened.ok()) << stream << ": " << opened.status().ToString();
    EXPECT_TRUE(opened->signer == ec_->cert);
    auto got = ReadFile(Path("from-openssl"));
    ASSERT_OK(got);
    EXPECT_EQ(*got, content) << stream;
  }
}

}  // namespace
}  // namespace tessera::crypto
