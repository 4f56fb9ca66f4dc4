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

// Feeds `in` through the cipher; `out` may be null only for AAD.
bool UpdateSliced(EVP_CIPHER_CTX* ctx, bool encrypt, uint8_t* out, ByteView in) {
  size_t done = 0;
  while (done < in.size()) {
    const size_t n = std::min(kMaxSlice, in.size() - done);
    int written = 0;
    uint8_t* dst = out == nullptr ? nullptr : out + done;
    const int rc = encrypt ? EVP_EncryptUpdate(ctx, dst, &written, in.data() + done, int(n))
                           : EVP_DecryptUpdate(ctx, dst, &written, in.data() + done, int(n));
    // GCM is a stream mode: every byte in comes straight back out.
    if (rc != 1 || (out != nullptr && static_cast<size_t>(written) != n)) return false;
    done += n;
  }
  return true;
}

// Writes consecutive bytes across a list of spans.
class ScatteredOutput {
 public:
  explicit ScatteredOutput(std::span<const std::span<uint8_t>> parts) : parts_(parts) {}
  // Room left in the current span (skipping exhausted ones); 0 at the very end.
  size_t Room() {
    while (part_ < parts_.size() && at_ == parts_[part_].size()) {
      ++part_;
      at_ = 0;
    }
    return part_ < parts_.size() ? parts_[part_].size() - at_ : 0;
  }
  uint8_t* Here() { return parts_[part_].data() + at_; }
  void Advance(size_t n) { at_ += n; }
  void Write(ByteView bytes) {
    for (size_t done = 0; done < bytes.size();) {
      const size_t n = std::min(Room(), bytes.size() - done);
      if (n == 0) return;  // no room left: the caller checked the total size
      std::copy_n(bytes.data() + done, n, Here());
      Advance(n);
      done += n;
    }
  }

 private:
  std::span<const std::span<uint8_t>> parts_;
  size_t part_ = 0, at_ = 0;
};

// Encrypts `in` into `out`, piece by piece where the output spans end.
bool EncryptScattered(EVP_CIPHER_CTX* ctx, ByteView in, ScatteredOutput& out) {
  for (size_t done = 0; done < in.size();) {
    const size_t n = std::min({out.Room(), in.size() - done, kMaxSlice});
    int written = 0;
    if (n == 0 || EVP_EncryptUpdate(ctx, out.Here(), &written, in.data() + done, int(n)) != 1 ||
        static_cast<size_t>(written) != n)
      return false;
    out.Advance(n);
    done += n;
  }
  return true;
}

// Reads consecutive bytes from a list of spans.
class ScatteredInput {
 public:
  explicit ScatteredInput(std::span<const ByteView> parts) : parts_(parts) {}
  // The next at most `max` bytes that lie in one span, consumed.
  ByteView Take(size_t max) {
    while (part_ < parts_.size() && at_ == parts_[part_].size()) {
      ++part_;
      at_ = 0;
    }
    if (part_ == parts_.size()) return {};
    ByteView piece = parts_[part_].subspan(at_, std::min(max, parts_[part_].size() - at_));
    at_ += piece.size();
    return piece;
  }
  // Fills `out` with the next `n` bytes (the caller checked that they are there).
  void Read(uint8_t* out, size_t n) {
    while (n > 0) {
      ByteView piece = Take(n);
      if (piece.empty()) return;
      std::copy(piece.begin(), piece.end(), out);
      out += piece.size();
      n -= piece.size();
    }
  }

 private:
  std::span<const ByteView> parts_;
  size_t part_ = 0, at_ = 0;
};

// Decrypts the next `n` bytes of `in` to `out`.
bool DecryptScattered(EVP_CIPHER_CTX* ctx, ScatteredInput& in, size_t n, uint8_t* out) {
  while (n > 0) {
    ByteView piece = in.Take(std::min(n, kMaxSlice));
    int written = 0;
    if (piece.empty() ||
        EVP_DecryptUpdate(ctx, out, &written, piece.data(), int(piece.size())) != 1 ||
        static_cast<size_t>(written) != piece.size())
      return false;
    out += piece.size();
    n -= piece.size();
  }
  return true;
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
  ScatteredOutput sealed(out);
  sealed.Write(nonce);

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslFailure("AES-256-GCM context allocation");
  // The default GCM IV length is 12, so no EVP_CTRL_GCM_SET_IVLEN is needed.
  if (EVP_EncryptInit_ex2(ctx.get(), internal::Aes256GcmCipher(), key.data(), nonce, nullptr) !=
      1) {
    return OpenSslFailure("AES-256-GCM encryption setup");
  }
  if (!UpdateSliced(ctx.get(), true, nullptr, aad) || !EncryptScattered(ctx.get(), head, sealed) ||
      !EncryptScattered(ctx.get(), body, sealed)) {
    return OpenSslFailure("AES-256-GCM encryption");
  }
  int final_len = 0;
  if (EVP_EncryptFinal_ex(ctx.get(), tag, &final_len) != 1 || final_len != 0 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, int(kAeadTagSize), tag) != 1) {
    return OpenSslFailure("AES-256-GCM encryption");
  }
  sealed.Write(tag);
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
  ScatteredInput in(sealed);
  uint8_t nonce[kAeadNonceSize];
  in.Read(nonce, kAeadNonceSize);

  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) return OpenSslFailure("AES-256-GCM context allocation");
  if (EVP_DecryptInit_ex2(ctx.get(), internal::Aes256GcmCipher(), key.data(), nonce, nullptr) !=
      1) {
    return OpenSslFailure("AES-256-GCM decryption setup");
  }
  Bytes out(size - kAeadOverhead - head.size());
  const bool decrypted = UpdateSliced(ctx.get(), false, nullptr, aad) &&
                         DecryptScattered(ctx.get(), in, head.size(), head.data()) &&
                         DecryptScattered(ctx.get(), in, out.size(), out.data());
  // OpenSSL's ctrl takes a non-const pointer but only reads the tag when setting it.
  uint8_t tag[kAeadTagSize];
  in.Read(tag, kAeadTagSize);
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
