#include "crypto/aead.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <string>

#include "crypto/openssl_util.hpp"
#include "crypto/random.hpp"

namespace tessera::crypto {
namespace {

struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// EVP_*Update take an int length, so large messages go through in slices.
constexpr size_t kMaxSlice = size_t{1} << 30;

Status CheckKey(ByteView key) {
  if (key.size() != kAeadKeySize) {
    return Status::InvalidArgument("AES-256-GCM key must be " + std::to_string(kAeadKeySize) +
                                   " bytes, got " + std::to_string(key.size()));
  }
  return Status::Ok();
}

Status OpenSslFailure(std::string_view what) {
  return Status::Internal(std::string(what) +
                          " failed in OpenSSL: " + internal::TakeOpenSslError());
}

// Feeds the associated data through the cipher.
bool AddAad(EVP_CIPHER_CTX* ctx, bool encrypt, ByteView aad) {
  for (size_t done = 0; done < aad.size();) {
    const size_t n = std::min(kMaxSlice, aad.size() - done);
    int written = 0;
    const int rc = encrypt ? EVP_EncryptUpdate(ctx, nullptr, &written, aad.data() + done, int(n))
                           : EVP_DecryptUpdate(ctx, nullptr, &written, aad.data() + done, int(n));
    if (rc != 1) return false;
    done += n;
  }
  return true;
}

// Walks consecutive bytes over a list of spans (uint8_t to write, const uint8_t to read).
template <typename T>
class SpanCursor {
 public:
  explicit SpanCursor(std::span<const std::span<T>> parts) : parts_(parts) {}
  // The next at most `max` bytes that lie in one span, consumed; empty at the end.
  std::span<T> Next(size_t max) {
    while (part_ < parts_.size() && at_ == parts_[part_].size()) {
      ++part_;
      at_ = 0;
    }
    if (part_ == parts_.size()) return {};
    std::span<T> piece = parts_[part_].subspan(at_, std::min(max, parts_[part_].size() - at_));
    at_ += piece.size();
    return piece;
  }

 private:
  std::span<const std::span<T>> parts_;
  size_t part_ = 0, at_ = 0;
};

// Encrypts `in` into the next in.size() bytes of `out`, in pieces where its spans end.
bool EncryptInto(EVP_CIPHER_CTX* ctx, ByteView in, SpanCursor<uint8_t>& out) {
  for (size_t done = 0; done < in.size();) {
    std::span<uint8_t> piece = out.Next(std::min(in.size() - done, kMaxSlice));
    int written = 0;
    // GCM is a stream mode: every byte in comes straight back out.
    if (piece.empty() ||
        EVP_EncryptUpdate(ctx, piece.data(), &written, in.data() + done, int(piece.size())) != 1 ||
        static_cast<size_t>(written) != piece.size())
      return false;
    done += piece.size();
  }
  return true;
}

// Decrypts the next out.size() bytes of `in` into `out`.
bool DecryptFrom(EVP_CIPHER_CTX* ctx, SpanCursor<const uint8_t>& in, std::span<uint8_t> out) {
  for (size_t done = 0; done < out.size();) {
    ByteView piece = in.Next(std::min(out.size() - done, kMaxSlice));
    int written = 0;
    if (piece.empty() ||
        EVP_DecryptUpdate(ctx, out.data() + done, &written, piece.data(), int(piece.size())) != 1 ||
        static_cast<size_t>(written) != piece.size())
      return false;
    done += piece.size();
  }
  return true;
}

// Copies `bytes` into the next bytes of `out`, or from the next bytes of `in` (the
// callers checked the sizes, so the spans never run out).
void CopyInto(ByteView bytes, SpanCursor<uint8_t>& out) {
  for (size_t done = 0; done < bytes.size();) {
    std::span<uint8_t> piece = out.Next(bytes.size() - done);
    if (piece.empty()) return;
    std::copy_n(bytes.data() + done, piece.size(), piece.data());
    done += piece.size();
  }
}
void CopyFrom(SpanCursor<const uint8_t>& in, std::span<uint8_t> out) {
  for (size_t done = 0; done < out.size();) {
    ByteView piece = in.Next(out.size() - done);
    if (piece.empty()) return;
    std::copy(piece.begin(), piece.end(), out.data() + done);
    done += piece.size();
  }
}

}  // namespace

// The nonce is random rather than a counter because keys are shared by independent
// processes with no common state; 96 random bits keep collisions negligible for far
// more messages per key than a backup produces.
Result<Bytes> AeadSeal(ByteView key, ByteView plaintext, ByteView aad) {
  return AeadSeal(key, {}, plaintext, aad);
}

Result<Bytes> AeadOpen(ByteView key, ByteView sealed, ByteView aad) {
  return AeadOpen(key, sealed, aad, {});
}

Result<Bytes> AeadSeal(ByteView key, ByteView head, ByteView plaintext, ByteView aad) {
  Bytes out(kAeadOverhead + head.size() + plaintext.size());
  const std::span<uint8_t> whole(out);
  TESSERA_RETURN_IF_ERROR(AeadSealInto(key, head, plaintext, aad, {&whole, 1}));
  return out;
}

Status AeadSealInto(ByteView key, ByteView head, ByteView body, ByteView aad,
                    std::span<const std::span<uint8_t>> out) {
  TESSERA_RETURN_IF_ERROR(CheckKey(key));
  size_t room = 0;
  for (const auto& part : out) room += part.size();
  if (room != kAeadOverhead + head.size() + body.size())
    return Status::InvalidArgument("AES-256-GCM: output space does not fit the sealed message");
  uint8_t nonce[kAeadNonceSize], tag[kAeadTagSize];
  FillRandom(nonce, kAeadNonceSize);
  SpanCursor<uint8_t> sealed(out);
  CopyInto(nonce, sealed);

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslFailure("AES-256-GCM context allocation");
  // The default GCM IV length is 12, so no EVP_CTRL_GCM_SET_IVLEN is needed.
  if (EVP_EncryptInit_ex2(ctx.get(), internal::Aes256GcmCipher(), key.data(), nonce, nullptr) !=
      1) {
    return OpenSslFailure("AES-256-GCM encryption setup");
  }
  if (!AddAad(ctx.get(), true, aad) || !EncryptInto(ctx.get(), head, sealed) ||
      !EncryptInto(ctx.get(), body, sealed)) {
    return OpenSslFailure("AES-256-GCM encryption");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), tag, &final_len) != 1 || final_len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(kAeadTagSize), tag) != 1) {
    return OpenSslFailure("AES-256-GCM encryption");
  }
  CopyInto(tag, sealed);
  return Status::Ok();
}

Result<Bytes> AeadOpen(ByteView key, ByteView sealed, ByteView aad, std::span<uint8_t> head) {
  return AeadOpenScattered(key, {&sealed, 1}, aad, head);
}

Result<Bytes> AeadOpenScattered(ByteView key, std::span<const ByteView> sealed, ByteView aad,
                                std::span<uint8_t> head) {
  TESSERA_RETURN_IF_ERROR(CheckKey(key));
  size_t size = 0;
  for (ByteView part : sealed) size += part.size();
  if (size < kAeadOverhead) {
    return Status::Corruption("encrypted data is truncated: " + std::to_string(size) +
                              " bytes, shorter than the " + std::to_string(kAeadOverhead) +
                              "-byte nonce and tag");
  }
  if (size < kAeadOverhead + head.size())
    return Status::Corruption("encrypted data is shorter than its format's leading bytes");
  SpanCursor<const uint8_t> in(sealed);
  uint8_t nonce[kAeadNonceSize];
  CopyFrom(in, nonce);

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslFailure("AES-256-GCM context allocation");
  if (EVP_DecryptInit_ex2(ctx.get(), internal::Aes256GcmCipher(), key.data(), nonce, nullptr) !=
      1) {
    return OpenSslFailure("AES-256-GCM decryption setup");
  }
  Bytes out(size - kAeadOverhead - head.size());
  const bool decrypted = AddAad(ctx.get(), false, aad) && DecryptFrom(ctx.get(), in, head) &&
                         DecryptFrom(ctx.get(), in, out);
  // OpenSSL's ctrl takes a non-const pointer but only reads the tag when setting it.
  uint8_t tag[kAeadTagSize];
  CopyFrom(in, tag);
  if (!decrypted ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, int(kAeadTagSize), tag) != 1) {
    SecureWipe(out);
    if (!head.empty()) SecureWipe(head.data(), head.size());
    return OpenSslFailure("AES-256-GCM decryption");
  }
  int final_len = 0;
  if (EVP_DecryptFinal_ex(ctx.get(), out.data() + out.size(), &final_len) != 1) {
    // Unauthenticated plaintext must never reach the caller, not even in freed memory.
    SecureWipe(out);
    if (!head.empty()) SecureWipe(head.data(), head.size());
    internal::TakeOpenSslError();
    return Status::Corruption(
        "encrypted data failed authentication: it was altered or damaged, or the key or "
        "associated data is wrong");
  }
  return out;
}

}  // namespace tessera::crypto
