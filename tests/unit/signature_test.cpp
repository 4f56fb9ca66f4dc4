// Ed25519 signatures (crypto/signature): sign and verify, PEM round trips, the fingerprint
// as openssl computes it, and key files that others can read refused.
#include "crypto/signature.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "base/files.hpp"
#include "crypto/hash.hpp"
#include "status_matchers.hpp"
#include "temp_dir.hpp"

namespace tessera::crypto {
namespace {

using ::testing::HasSubstr;

TEST(Signature, SignsAndVerifiesExactlyTheBytesSigned) {
  SigningKey key = SigningKey::Generate();
  const std::string text = "VOLUME.json 國稅局";
  const Bytes signature = key.Sign(AsBytes(text));
  EXPECT_EQ(signature.size(), kEd25519SignatureSize);
  PublicKey pub = key.public_key();
  EXPECT_TRUE(pub.Verify(AsBytes(text), signature));
  // One byte of the message, or of the signature, changed: no longer valid.
  std::string changed = text;
  changed[0] ^= 1;
  EXPECT_FALSE(pub.Verify(AsBytes(changed), signature));
  Bytes bad = signature;
  bad[10] ^= 0x80;
  EXPECT_FALSE(pub.Verify(AsBytes(text), bad));
  EXPECT_FALSE(pub.Verify(AsBytes(text), ByteView(signature.data(), 63)));
  // Another key's signature does not verify.
  EXPECT_FALSE(SigningKey::Generate().public_key().Verify(AsBytes(text), signature));
  // Empty input is signable too.
  EXPECT_TRUE(pub.Verify({}, key.Sign({})));
}

TEST(Signature, Ed25519IsDeterministicAndMatchesRfc8032) {
  // RFC 8032, section 7.1, TEST 1: the empty message.
  const std::string pem =
      "-----BEGIN PRIVATE KEY-----\n"
      "MC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n"
      "-----END PRIVATE KEY-----\n";
  auto key = SigningKey::FromPem(pem);
  ASSERT_OK(key);
  EXPECT_EQ(HexEncode(key->public_key().raw()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  EXPECT_EQ(HexEncode(key->Sign({})),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
}

TEST(Signature, PublicKeyPemRoundTripAndFingerprint) {
  SigningKey key = SigningKey::Generate();
  PublicKey pub = key.public_key();
  const std::string pem = pub.Pem();
  EXPECT_THAT(pem, HasSubstr("-----BEGIN PUBLIC KEY-----"));
  auto again = PublicKey::FromPem(pem);
  ASSERT_OK(again);
  EXPECT_TRUE(*again == pub);
  // The fingerprint is the SHA-256 of the DER SubjectPublicKeyInfo: for Ed25519 a fixed
  // 12-byte prefix followed by the raw key.
  Bytes der = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00};
  der.insert(der.end(), pub.raw().begin(), pub.raw().end());
  EXPECT_EQ(pub.Fingerprint(), HexEncode(Sha256(der)));
  EXPECT_EQ(pub.Fingerprint().size(), 64u);
  EXPECT_NE(pub.Fingerprint(), SigningKey::Generate().public_key().Fingerprint());
}

TEST(Signature, WhatIsNotAnEd25519KeyIsRefused) {
  EXPECT_FALSE(PublicKey::FromPem("").ok());
  EXPECT_FALSE(
      PublicKey::FromPem("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n").ok());
  // A private key where a public one is expected, and the other way round.
  SigningKey key = SigningKey::Generate();
  EXPECT_FALSE(SigningKey::FromPem(key.public_key().Pem()).ok());
  // Another key type of the same size: an X25519 public key.
  const std::string x25519 =
      "-----BEGIN PUBLIC KEY-----\n"
      "MCowBQYDK2VuAyEA3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t7e3t4=\n"
      "-----END PUBLIC KEY-----\n";
  auto wrong = PublicKey::FromPem(x25519);
  ASSERT_FALSE(wrong.ok());
  EXPECT_THAT(wrong.status().message(), HasSubstr("not an Ed25519"));
}

TEST(Signature, KeyFileIsCreatedOwnerOnlyLoadedAgainAndRefusedWhenOthersCanRead) {
  TempDir dir;
  const auto path = dir.path() / "volume-signing.pem";
  EXPECT_EQ(SigningKey::Load(path, "the test key").status().code(), StatusCode::kNotFound);
  auto made = SigningKey::LoadOrCreate(path, "the test key");
  ASSERT_OK(made);
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto text = ReadTextFile(path);
  ASSERT_OK(text);
  EXPECT_THAT(*text, HasSubstr("-----BEGIN PRIVATE KEY-----"));
  auto loaded = SigningKey::LoadOrCreate(path, "the test key");
  ASSERT_OK(loaded);
  EXPECT_TRUE(loaded->public_key() == made->public_key());

  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto refused = SigningKey::Load(path, "the test key");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_THAT(refused.status().message(), HasSubstr("the test key"));
  // LoadOrCreate must not replace it with a new key either.
  EXPECT_EQ(SigningKey::LoadOrCreate(path, "the test key").status().code(),
            StatusCode::kPermissionDenied);

  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_OK(WriteFileAtomic(path, std::string_view("not a key\n"), 0600));
  EXPECT_EQ(SigningKey::Load(path, "the test key").status().code(), StatusCode::kCorruption);
}

}  // namespace
}  // namespace tessera::crypto
