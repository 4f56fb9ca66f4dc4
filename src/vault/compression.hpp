// zstd compression of chunks and objects. Incompressible data is detected cheaply (the
// byte entropy of a few samples) and stored as it is, so random data costs no zstd time.
#pragma once

#include <optional>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::vault {

// The compressed form of `in` when compressing pays (at least 3% smaller); nullopt when
// `in` should be stored raw. The bytes are in per-thread memory that the next call on
// the same thread reuses: callers copy them where they go, once. Thread-safe (one zstd
// context per thread). Level 1: on the benchmark's data set it took ~0.8 CPU-s (15 %)
// less than level 3, restic's default, for a vault 0.6 % larger; compression is the
// largest share of a backup's CPU time.
std::optional<ByteView> CompressIfWorthwhile(ByteView in, int level = 1);
// Corruption if `in` is not a zstd frame or its content would exceed `max_size`.
Result<Bytes> Decompress(ByteView in, size_t max_size);

}  // namespace tessera::vault
