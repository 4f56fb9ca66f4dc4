// Shamir secret sharing over GF(2^8) (the AES field, polynomial 0x11b), byte by byte:
// any `threshold` shares give the secret; fewer reveal nothing about it.
#pragma once

#include <cstdint>
#include <vector>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::crypto {

struct Share {
  uint8_t x = 0;  // the evaluation point, never 0
  Bytes y;        // as long as the secret
};

// One share for each x in `xs` (distinct, non-zero), threshold 1..xs.size(). With
// threshold 1 every share equals the secret.
Result<std::vector<Share>> ShamirSplit(ByteView secret, int threshold,
                                       const std::vector<uint8_t>& xs);
// Reconstructs from exactly the shares given (at least `threshold` of them for a correct
// result; the caller verifies the secret, e.g. against a key-check value).
// InvalidArgument on duplicate or zero x, or shares of different lengths.
Result<SecretBytes> ShamirCombine(const std::vector<Share>& shares);
// Evaluates the polynomial through `shares` at `x` (x == 0 gives the secret): issues a
// share for a new point from any `threshold` existing ones.
Result<Bytes> ShamirInterpolate(const std::vector<Share>& shares, uint8_t x);

}  // namespace tessera::crypto
