#include "crypto/signature.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>

#include "base/files.hpp"
#include "crypto/hash.hpp"
#include "crypto/key_file.hpp"
#include "crypto/openssl_util.hpp"
#include "crypto/random.hpp"

namespace tessera::crypto {

namespace {

constexpr size_t kEd25519KeySize = 32;

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using internal::Bio;
using internal::BioText;
using internal::MemoryBio;
using internal::NoPassphrase;

Pkey PrivatePkey(ByteView seed) {
  Pkey p(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, seed.data(), seed.size()));
  if (!p) internal::FatalOpenSslError("EVP_PKEY_new_raw_private_key");
  return p;
}

Pkey PublicPkey(ByteView raw) {
  Pkey p(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, raw.data(), raw.size()));
  if (!p) internal::FatalOpenSslError("EVP_PKEY_new_raw_public_key");
  return p;
}

}  // namespace

Result<PublicKey> PublicKey::FromPem(std::string_view pem) {
  Bio bio = MemoryBio(pem);
  Pkey p(PEM_read_bio_PUBKEY(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!p) {
    internal::TakeOpenSslError();
    return Status::InvalidArgument("not a PEM public key");
  }
  if (EVP_PKEY_get_id(p.get()) != EVP_PKEY_ED25519)
    return Status::InvalidArgument("the public key is not an Ed25519 key");
  Bytes raw(kEd25519KeySize);
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(p.get(), raw.data(), &len) != 1 || len != kEd25519KeySize)
    return Status::InvalidArgument("cannot read the Ed25519 public key: " +
                                   internal::TakeOpenSslError());
  return PublicKey(std::move(raw));
}

Result<PublicKey> PublicKey::Load(const std::filesystem::path& path) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadTextFile(path));
  auto key = FromPem(text);
  if (!key.ok())
    return Status::InvalidArgument(path.string() + ": " + key.status().message() +
                                   " (expected an Ed25519 \"PUBLIC KEY\" PEM file)");
  return key;
}

std::string PublicKey::Pem() const {
  Pkey p = PublicPkey(raw_);
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), p.get()) != 1)
    internal::FatalOpenSslError("PEM_write_bio_PUBKEY");
  return BioText(bio.get());
}

std::string PublicKey::Fingerprint() const {
  Pkey p = PublicPkey(raw_);
  unsigned char* der = nullptr;
  const int n = i2d_PUBKEY(p.get(), &der);
  if (n <= 0) internal::FatalOpenSslError("i2d_PUBKEY");
  const std::string hex = HexEncode(Sha256(ByteView(der, static_cast<size_t>(n))));
  OPENSSL_free(der);
  return hex;
}

bool PublicKey::Verify(ByteView data, ByteView signature) const {
  if (signature.size() != kEd25519SignatureSize) return false;
  Pkey p = PublicPkey(raw_);
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) internal::FatalOpenSslError("EVP_MD_CTX_new");
  // Ed25519 hashes internally: no digest is named.
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, p.get()) != 1)
    internal::FatalOpenSslError("EVP_DigestVerifyInit");
  const bool ok = EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), data.data(),
                                   data.size()) == 1;
  internal::TakeOpenSslError();  // a failed verification leaves an error behind
  return ok;
}

SigningKey SigningKey::Generate() {
  return SigningKey(SecretBytes(RandomBytes(kEd25519KeySize)));
}

Result<SigningKey> SigningKey::FromPem(std::string_view pem) {
  Bio bio = MemoryBio(pem);
  Pkey p(PEM_read_bio_PrivateKey(bio.get(), nullptr, NoPassphrase, nullptr));
  if (!p) {
    internal::TakeOpenSslError();
    return Status::InvalidArgument("not an unencrypted PEM private key");
  }
  if (EVP_PKEY_get_id(p.get()) != EVP_PKEY_ED25519)
    return Status::InvalidArgument("the private key is not an Ed25519 key");
  Bytes seed(kEd25519KeySize);
  size_t len = seed.size();
  if (EVP_PKEY_get_raw_private_key(p.get(), seed.data(), &len) != 1 || len != kEd25519KeySize) {
    SecureWipe(seed);
    return Status::InvalidArgument("cannot read the Ed25519 private key: " +
                                   internal::TakeOpenSslError());
  }
  return SigningKey(SecretBytes(std::move(seed)));
}

Result<SigningKey> SigningKey::Load(const std::filesystem::path& path, const std::string& what) {
  TESSERA_ASSIGN_OR_RETURN(std::string text, ReadPrivateKeyText(path, what));
  auto key = FromPem(text);
  SecureWipe(text.data(), text.size());
  if (!key.ok())
    return Status::Corruption(path.string() + " does not hold " + what + " (" +
                              key.status().message() + ")");
  return key;
}

Result<SigningKey> SigningKey::LoadOrCreate(const std::filesystem::path& path,
                                            const std::string& what) {
  auto key = Load(path, what);
  if (key.ok() || key.status().code() != StatusCode::kNotFound) return key;
  SigningKey made = Generate();
  TESSERA_RETURN_IF_ERROR(made.Save(path));
  return made;
}

std::string SigningKey::Pem() const {
  Pkey p = PrivatePkey(seed_.view());
  Bio bio(BIO_new(BIO_s_secmem()));
  if (!bio) bio.reset(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), p.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    internal::FatalOpenSslError("PEM_write_bio_PrivateKey");
  return BioText(bio.get());
}

Status SigningKey::Save(const std::filesystem::path& path) const {
  std::string pem = Pem();
  Status st = WriteFileAtomic(path, std::string_view(pem), 0600);
  SecureWipe(pem.data(), pem.size());
  return st;
}

Bytes SigningKey::Sign(ByteView data) const {
  Pkey p = PrivatePkey(seed_.view());
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx) internal::FatalOpenSslError("EVP_MD_CTX_new");
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, p.get()) != 1)
    internal::FatalOpenSslError("EVP_DigestSignInit");
  Bytes signature(kEd25519SignatureSize);
  size_t len = signature.size();
  if (EVP_DigestSign(ctx.get(), signature.data(), &len, data.data(), data.size()) != 1 ||
      len != kEd25519SignatureSize)
    internal::FatalOpenSslError("EVP_DigestSign");
  return signature;
}

PublicKey SigningKey::public_key() const {
  Pkey p = PrivatePkey(seed_.view());
  Bytes raw(kEd25519KeySize);
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(p.get(), raw.data(), &len) != 1 || len != kEd25519KeySize)
    internal::FatalOpenSslError("EVP_PKEY_get_raw_public_key");
  return PublicKey(std::move(raw));
}

}  // namespace tessera::crypto
