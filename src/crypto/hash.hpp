// SHA-256, HMAC-SHA-256 and HKDF-SHA-256 (OpenSSL). These cannot fail on valid input;
// should OpenSSL itself fail (memory exhausted, broken installation) they abort with a
// message rather than return a wrong digest or key.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::crypto {

constexpr size_t kSha256Size = 32;

Bytes Sha256(ByteView data);

// Incremental SHA-256.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void Update(ByteView data);
  Bytes Final();  // the hasher may not be used afterwards

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A file's SHA-256 and size, read in large pieces: NotFound when it cannot be opened,
// IOError when a read fails.
struct FileDigest {
  Bytes sha256;
  uint64_t size = 0;
};
Result<FileDigest> Sha256File(const std::filesystem::path& path);

Bytes HmacSha256(ByteView key, ByteView data);

// HMAC-SHA-256 under one key, reusable for many messages (the key schedule is done once).
// Mac() is safe to call from several threads at once.
class HmacKey {
 public:
  explicit HmacKey(ByteView key);
  ~HmacKey();
  HmacKey(const HmacKey&) = delete;
  HmacKey& operator=(const HmacKey&) = delete;
  Bytes Mac(ByteView data) const;
  // MAC over the concatenation of the parts, without copying them together.
  Bytes Mac(std::initializer_list<ByteView> parts) const;
  // The MACs of several messages, the same as Mac() of each; on a CPU with SHA
  // extensions two are computed at a time, in about two thirds of the time.
  std::vector<Bytes> MacMany(std::span<const ByteView> messages) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The most output HKDF-SHA-256 can produce (255 blocks).
constexpr size_t kHkdfMaxLength = 255 * kSha256Size;

// RFC 5869 HKDF-SHA-256; an empty salt means the RFC's default (zeros). `length` must be
// at most kHkdfMaxLength (a longer request is a bug and aborts); 0 gives empty output.
SecretBytes Hkdf(ByteView ikm, ByteView salt, std::string_view info, size_t length);

// Compares in time independent of where the inputs differ.
bool ConstantTimeEqual(ByteView a, ByteView b);

}  // namespace tessera::crypto
