// The SHA-256 compression function on the CPU's SHA extensions (x86 SHA-NI), for one
// message or two at once. OpenSSL uses the same instructions but hashes one message at a
// time, which leaves the SHA unit waiting on each round's result: two independent
// messages interleaved run in nearly the time of one. Callers hash two messages (for
// instance two chunks' ids) at a time through this; everything else uses hash.hpp.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tessera::crypto::sha256_ni {

// Whether this CPU has the instructions; every function below requires it.
bool Available();

// The state of one SHA-256 computation: H0..H7 as FIPS 180-4 defines them.
using State = uint32_t[8];

// Processes `blocks` 64-byte blocks of `data` into `state`.
void Compress(State& state, const uint8_t* data, size_t blocks);
// The same for two messages of `blocks` blocks each, interleaved.
void Compress2(State& a, const uint8_t* data_a, State& b, const uint8_t* data_b, size_t blocks);

}  // namespace tessera::crypto::sha256_ni
