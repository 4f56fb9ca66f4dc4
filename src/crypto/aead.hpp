// AES-256-GCM authenticated encryption (OpenSSL). A sealed message is
// nonce (12 bytes, random) || ciphertext || tag (16 bytes).
#pragma once

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

}  // namespace tessera::crypto
