// Cryptographically secure random bytes (OpenSSL's DRBG). If the generator fails (it
// cannot be seeded), these abort with a message rather than return guessable bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/bytes.hpp"

namespace tessera::crypto {

Bytes RandomBytes(size_t n);
void FillRandom(uint8_t* out, size_t n);
// 32 random bytes as 64 hex digits: the ids of packs, snapshots and other objects.
std::string RandomId();

}  // namespace tessera::crypto
