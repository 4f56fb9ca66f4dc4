// AES-256-GCM authenticated encryption (OpenSSL). A sealed message is
// nonce (12 bytes, random) || ciphertext || tag (16 bytes).
#pragma once

#include <span>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::crypto {

constexpr size_t kAeadKeySize = 32;
constexpr size_t kAeadNonceSize = 12;
constexpr size_t kAeadTagSize = 16;
constexpr size_t kAeadOverhead = kAeadNonceSize + kAeadTagSize;

// InvalidArgument if the key is not 32 bytes.
Result<Bytes> AeadSeal(ByteView key, ByteView plaintext, ByteView aad);
// Corruption if the message was altered, the AAD differs or the key is wrong.
Result<Bytes> AeadOpen(ByteView key, ByteView sealed, ByteView aad);

// The same for a plaintext in two parts, head ‖ body (say, a format's leading flag byte
// and a multi-megabyte payload), so that neither side copies the payload to join or split
// them. The sealed message is exactly AeadSeal(key, head ‖ body, aad).
Result<Bytes> AeadSeal(ByteView key, ByteView head, ByteView body, ByteView aad);
// The same sealed message written across `out`, whose spans together hold exactly
// kAeadOverhead + head.size() + body.size() bytes (say, the data shards of an erasure
// code), so that it is never assembled in one buffer. InvalidArgument for a wrong key
// or a wrong total size.
Status AeadSealInto(ByteView key, ByteView head, ByteView body, ByteView aad,
                    std::span<const std::span<uint8_t>> out);
// Opens it: the first head.size() plaintext bytes go to `head`, the rest is returned.
// Corruption as above, and when the plaintext is shorter than `head`.
Result<Bytes> AeadOpen(ByteView key, ByteView sealed, ByteView aad, std::span<uint8_t> head);
// The same for a sealed message that lies in pieces (say, the data shards of an erasure
// code), opened without joining them first.
Result<Bytes> AeadOpenScattered(ByteView key, std::span<const ByteView> sealed, ByteView aad,
                                std::span<uint8_t> head);

}  // namespace tessera::crypto
