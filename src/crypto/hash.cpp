#include "crypto/hash.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <fstream>

#include "crypto/openssl_util.hpp"
#include "crypto/sha256_ni.hpp"

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
// them: no key schedule and no provider lookup per message. Where the CPU has SHA
// extensions the states are also kept as plain words, for Mac2().
struct HmacKey::Impl {
  MdCtxPtr inner;
  MdCtxPtr outer;
  bool has_words = false;
  sha256_ni::State inner_words{}, outer_words{};
  ~Impl() {
    SecureWipe(inner_words, sizeof(inner_words));
    SecureWipe(outer_words, sizeof(outer_words));
  }
};

namespace {

constexpr sha256_ni::State kSha256Initial = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                             0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};

// The last block or two of a message hashed after `prefix_bytes` bytes of earlier blocks:
// its final partial block, the padding and the length in bits. Returns the block count.
size_t PaddedTail(ByteView message, uint64_t prefix_bytes, uint8_t (&out)[2 * kSha256BlockSize]) {
  const size_t tail = message.size() % kSha256BlockSize;
  const size_t blocks = tail + 9 <= kSha256BlockSize ? 1 : 2;
  std::memset(out, 0, sizeof(out));
  if (tail != 0) std::memcpy(out, message.data() + message.size() - tail, tail);
  out[tail] = 0x80;
  const uint64_t bits = (prefix_bytes + message.size()) * 8;
  for (int i = 0; i < 8; ++i)
    out[blocks * kSha256BlockSize - 1 - i] = static_cast<uint8_t>(bits >> (8 * i));
  return blocks;
}

void StateToDigest(const sha256_ni::State& s, uint8_t* out) {
  for (int i = 0; i < 8; ++i) {
    out[4 * i] = static_cast<uint8_t>(s[i] >> 24);
    out[4 * i + 1] = static_cast<uint8_t>(s[i] >> 16);
    out[4 * i + 2] = static_cast<uint8_t>(s[i] >> 8);
    out[4 * i + 3] = static_cast<uint8_t>(s[i]);
  }
}

}  // namespace

HmacKey::HmacKey(ByteView key) : impl_(std::make_unique<Impl>()) {
  std::array<uint8_t, kSha256BlockSize> block{};
  if (key.size() > kSha256BlockSize) {
    Bytes digest = Sha256(key);
    std::copy(digest.begin(), digest.end(), block.begin());
    SecureWipe(digest);
  } else if (!key.empty()) {
    std::copy(key.begin(), key.end(), block.begin());
  }
  impl_->has_words = sha256_ni::Available();
  if (impl_->has_words) {
    std::copy(std::begin(kSha256Initial), std::end(kSha256Initial), impl_->inner_words);
    std::copy(std::begin(kSha256Initial), std::end(kSha256Initial), impl_->outer_words);
  }
  for (auto& b : block) b ^= 0x36;
  impl_->inner = NewSha256Ctx();
  DigestUpdate(impl_->inner.get(), block);
  if (impl_->has_words) sha256_ni::Compress(impl_->inner_words, block.data(), 1);
  for (auto& b : block) b ^= 0x36 ^ 0x5c;
  impl_->outer = NewSha256Ctx();
  DigestUpdate(impl_->outer.get(), block);
  if (impl_->has_words) sha256_ni::Compress(impl_->outer_words, block.data(), 1);
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

std::vector<Bytes> HmacKey::MacMany(std::span<const ByteView> messages) const {
  std::vector<Bytes> out;
  out.reserve(messages.size());
  if (!impl_->has_words) {
    for (ByteView m : messages) out.push_back(Mac(m));
    return out;
  }
  out.resize(messages.size());
  // Two lanes, each hashing one message's whole blocks; a lane whose message has no whole
  // block left finishes it (padding, outer hash) alone and takes the next message, so
  // that messages of different lengths still share the two-at-a-time compression.
  struct Lane {
    size_t message = 0;     // index into messages, or messages.size() when idle
    size_t next_block = 0;  // of that message
    size_t blocks = 0;      // whole blocks in that message
    sha256_ni::State state;
  };
  size_t next_message = 0;
  auto start = [&](Lane& lane) {
    lane.message = next_message < messages.size() ? next_message++ : messages.size();
    lane.next_block = 0;
    lane.blocks =
        lane.message < messages.size() ? messages[lane.message].size() / kSha256BlockSize : 0;
    std::copy(std::begin(impl_->inner_words), std::end(impl_->inner_words), lane.state);
  };
  auto block_at = [&](const Lane& lane) {
    return messages[lane.message].data() + lane.next_block * kSha256BlockSize;
  };
  auto finish = [&](Lane& lane) {
    const ByteView m = messages[lane.message];
    uint8_t tail[2 * kSha256BlockSize];
    sha256_ni::Compress(lane.state, tail, PaddedTail(m, kSha256BlockSize, tail));
    uint8_t inner_digest[kSha256Size];
    StateToDigest(lane.state, inner_digest);
    PaddedTail(ByteView(inner_digest, kSha256Size), kSha256BlockSize, tail);
    std::copy(std::begin(impl_->outer_words), std::end(impl_->outer_words), lane.state);
    sha256_ni::Compress(lane.state, tail, 1);
    out[lane.message].resize(kSha256Size);
    StateToDigest(lane.state, out[lane.message].data());
    SecureWipe(lane.state, sizeof(lane.state));
  };
  Lane lanes[2];
  start(lanes[0]);
  start(lanes[1]);
  while (lanes[0].message < messages.size() || lanes[1].message < messages.size()) {
    for (Lane& lane : lanes) {
      // A lane with no whole block left finishes its message and starts the next.
      while (lane.message < messages.size() && lane.next_block == lane.blocks) {
        finish(lane);
        start(lane);
      }
    }
    Lane& a = lanes[0];
    Lane& b = lanes[1];
    const bool a_busy = a.message < messages.size(), b_busy = b.message < messages.size();
    if (a_busy && b_busy) {
      const size_t n = std::min(a.blocks - a.next_block, b.blocks - b.next_block);
      sha256_ni::Compress2(a.state, block_at(a), b.state, block_at(b), n);
      a.next_block += n;
      b.next_block += n;
    } else if (a_busy || b_busy) {
      Lane& lane = a_busy ? a : b;
      sha256_ni::Compress(lane.state, block_at(lane), lane.blocks - lane.next_block);
      lane.next_block = lane.blocks;
    }
  }
  return out;
}

Result<FileDigest> Sha256File(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound("cannot read " + path.string());
  constexpr size_t kPiece = 256 * 1024;
  auto buf = std::make_unique_for_overwrite<char[]>(kPiece);
  Sha256Hasher hasher;
  FileDigest digest;
  while (in) {
    in.read(buf.get(), static_cast<std::streamsize>(kPiece));
    const auto n = static_cast<size_t>(in.gcount());
    hasher.Update(ByteView(reinterpret_cast<const uint8_t*>(buf.get()), n));
    digest.size += n;
  }
  if (in.bad()) return Status::IOError("cannot read " + path.string());
  digest.sha256 = hasher.Final();
  return digest;
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
