// Poly1305 (RFC 8439), a one-time authenticator: fast (several GB/s), but secure only if
// each 32-byte key authenticates a single message. Callers derive a fresh key per message
// (for instance with HMAC over a random nonce); never use a long-lived key here.
#pragma once

#include <cstddef>
#include <initializer_list>

#include "base/bytes.hpp"

namespace tessera::crypto {

constexpr size_t kPoly1305KeySize = 32;
constexpr size_t kPoly1305TagSize = 16;

// The 16-byte tag of the concatenation of `parts` under `one_time_key` (32 bytes; any
// other size is a bug and aborts).
Bytes Poly1305(ByteView one_time_key, std::initializer_list<ByteView> parts);

}  // namespace tessera::crypto
