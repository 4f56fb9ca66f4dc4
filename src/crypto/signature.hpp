// Ed25519 signatures (OpenSSL). A SigningKey signs; its PublicKey verifies, travels as a
// PEM "PUBLIC KEY" block (SubjectPublicKeyInfo), and is named by its fingerprint: the
// SHA-256 of that DER encoding in lower-case hex, the same as
//   openssl pkey -pubin -in key.pub.pem -outform DER | sha256sum
// so that anyone can compare it with a record kept apart, without tessera.
// Private key files are PEM PKCS#8 ("PRIVATE KEY"), unencrypted, readable by their owner
// only; one that others can read is refused, as crypto/key_file does for secret keys.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::crypto {

constexpr size_t kEd25519SignatureSize = 64;

class PublicKey {
 public:
  // A PEM "PUBLIC KEY" block holding an Ed25519 key; InvalidArgument otherwise.
  static Result<PublicKey> FromPem(std::string_view pem);
  static Result<PublicKey> Load(const std::filesystem::path& path);

  std::string Pem() const;
  std::string Fingerprint() const;
  // Whether `signature` is this key's signature of exactly `data`.
  bool Verify(ByteView data, ByteView signature) const;
  ByteView raw() const { return raw_; }
  bool operator==(const PublicKey& o) const { return raw_ == o.raw_; }

 private:
  friend class SigningKey;
  explicit PublicKey(Bytes raw) : raw_(std::move(raw)) {}
  Bytes raw_;  // the 32-byte Ed25519 public key
};

class SigningKey {
 public:
  static SigningKey Generate();
  // A PEM "PRIVATE KEY" block holding an Ed25519 key; InvalidArgument otherwise.
  static Result<SigningKey> FromPem(std::string_view pem);
  // Loads the key at `path`; `what` names it in errors ("the volume signing key").
  // PermissionDenied when others can read the file, Corruption when it holds no key.
  static Result<SigningKey> Load(const std::filesystem::path& path, const std::string& what);
  // Loads the key at `path`, or makes one and saves it there when there is none.
  static Result<SigningKey> LoadOrCreate(const std::filesystem::path& path,
                                         const std::string& what);

  // Writes the key to `path` durably, mode 0600.
  Status Save(const std::filesystem::path& path) const;
  Bytes Sign(ByteView data) const;
  PublicKey public_key() const;

 private:
  explicit SigningKey(SecretBytes seed) : seed_(std::move(seed)) {}
  std::string Pem() const;  // to be wiped by the caller
  SecretBytes seed_;        // the 32-byte Ed25519 private key
};

}  // namespace tessera::crypto
