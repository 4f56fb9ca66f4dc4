#include "crypto/hash.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <array>

#include "crypto/openssl_util.hpp"

namespace tessera::crypto {
namespace {

using internal::FatalOpenSslError;
using internal::Sha256Md;

constexpr size_t kSha256BlockSize = 64;

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtxPtr NewSha256Ctx() {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), Sha256Md(), nullptr) != 1) {
    FatalOpenSslError("SHA-256 initialisation");
  }
  return ctx;
}

void DigestUpdate(EVP_MD_CTX* ctx, ByteView data) {
  if (data.empty()) return;
  if (EVP_DigestUpdate(ctx, data.data(), data.size()) != 1) FatalOpenSslError("SHA-256 update");
}

void DigestFinal(EVP_MD_CTX* ctx, uint8_t* out) {
  if (EVP_DigestFinal_ex(ctx, out, nullptr) != 1) FatalOpenSslError("SHA-256 finalisation");
}

// One scratch context per thread, so that a MAC on the hot path costs no context
// allocation; the key-dependent state is cleared from it after every use.
EVP_MD_CTX* ThreadScratchCtx() {
  thread_local MdCtxPtr scratch = [] {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) FatalOpenSslError("allocating a digest context");
    return ctx;
  }();
  return scratch.get();
}

}  // namespace

Bytes Sha256(ByteView data) {
  Bytes out(kSha256Size);
  // EVP_Digest rejects a null pointer even with length 0.
  static const uint8_t kEmpty = 0;
  const uint8_t* p = data.empty() ? &kEmpty : data.data();
  if (EVP_Digest(p, data.size(), out.data(), nullptr, Sha256Md(), nullptr) != 1) {
    FatalOpenSslError("SHA-256");
  }
  return out;
}

struct Sha256Hasher::Impl {
  MdCtxPtr ctx;
};

Sha256Hasher::Sha256Hasher() : impl_(std::make_unique<Impl>(Impl{NewSha256Ctx()})) {}
Sha256Hasher::~Sha256Hasher() = default;

void Sha256Hasher::Update(ByteView data) {
  DigestUpdate(impl_->ctx.get(), data);
}

Bytes Sha256Hasher::Final() {
  Bytes out(kSha256Size);
  DigestFinal(impl_->ctx.get(), out.data());
  // Re-arm so that misuse after Final() hashes afresh instead of failing in OpenSSL.
  if (EVP_DigestInit_ex2(impl_->ctx.get(), Sha256Md(), nullptr) != 1) {
    FatalOpenSslError("SHA-256 initialisation");
  }
  return out;
}

// HMAC(K, m) = H((K' ^ opad) || H((K' ^ ipad) || m)). The two keyed prefixes are one
// block each, so their hash states are computed once here and each Mac() only copies
// them: no key schedule and no provider lookup per message.
struct HmacKey::Impl {
  MdCtxPtr inner;
  MdCtxPtr outer;
};

HmacKey::HmacKey(ByteView key) : impl_(std::make_unique<Impl>()) {
  std::array<uint8_t, kSha256BlockSize> block{};
  if (key.size() > kSha256BlockSize) {
    Bytes digest = Sha256(key);
    std::copy(digest.begin(), digest.end(), block.begin());
    SecureWipe(digest);
  } else if (!key.empty()) {
    std::copy(key.begin(), key.end(), block.begin());
  }
  for (auto& b : block) b ^= 0x36;
  impl_->inner = NewSha256Ctx();
  DigestUpdate(impl_->inner.get(), block);
  for (auto& b : block) b ^= 0x36 ^ 0x5c;
  impl_->outer = NewSha256Ctx();
  DigestUpdate(impl_->outer.get(), block);
  SecureWipe(block.data(), block.size());
}

// The provider frees (and cleanses) the precomputed states with the contexts.
HmacKey::~HmacKey() = default;

Bytes HmacKey::Mac(ByteView data) const {
  return Mac({data});
}

Bytes HmacKey::Mac(std::initializer_list<ByteView> parts) const {
  EVP_MD_CTX* ctx = ThreadScratchCtx();
  uint8_t inner_hash[kSha256Size];
  if (EVP_MD_CTX_copy_ex(ctx, impl_->inner.get()) != 1) FatalOpenSslError("HMAC state copy");
  for (ByteView part : parts) DigestUpdate(ctx, part);
  DigestFinal(ctx, inner_hash);
  if (EVP_MD_CTX_copy_ex(ctx, impl_->outer.get()) != 1) FatalOpenSslError("HMAC state copy");
  DigestUpdate(ctx, ByteView(inner_hash, sizeof(inner_hash)));
  Bytes out(kSha256Size);
  DigestFinal(ctx, out.data());
  EVP_MD_CTX_reset(ctx);
  return out;
}

Bytes HmacSha256(ByteView key, ByteView data) {
  return HmacKey(key).Mac(data);
}

SecretBytes Hkdf(ByteView ikm, ByteView salt, std::string_view info, size_t length) {
  if (length == 0) return SecretBytes();
  if (length > kHkdfMaxLength) {
    internal::FatalBug("Hkdf: asked for more output than HKDF-SHA-256 can produce");
  }
  // OpenSSL treats a null buffer as "parameter missing", even with length 0.
  static uint8_t kEmpty = 0;
  auto octets = [](const char* name, const void* data, size_t size) {
    void* p = size == 0 ? &kEmpty : const_cast<void*>(data);
    return OSSL_PARAM_construct_octet_string(name, p, size);
  };
  OSSL_PARAM params[5];
  size_t n = 0;
  params[n++] =
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(SN_sha256), 0);
  params[n++] = octets(OSSL_KDF_PARAM_KEY, ikm.data(), ikm.size());
  // An absent salt is, per RFC 5869, a block of zeros, which is what HMAC pads to anyway.
  if (!salt.empty()) params[n++] = octets(OSSL_KDF_PARAM_SALT, salt.data(), salt.size());
  if (!info.empty()) params[n++] = octets(OSSL_KDF_PARAM_INFO, info.data(), info.size());
  params[n] = OSSL_PARAM_construct_end();

  EVP_KDF_CTX* kctx = EVP_KDF_CTX_new(internal::HkdfKdf());
  if (kctx == nullptr) FatalOpenSslError("HKDF context allocation");
  SecretBytes out{Bytes(length)};
  const int rc = EVP_KDF_derive(kctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(kctx);  // cleanses the key material it copied
  if (rc != 1) FatalOpenSslError("HKDF-SHA-256");
  return out;
}

bool ConstantTimeEqual(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace tessera::crypto
