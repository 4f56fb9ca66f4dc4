#include "crypto/shamir.hpp"

#include <array>
#include <string>

#include "crypto/random.hpp"

namespace tessera::crypto {
namespace {

// GF(2^8) multiplication modulo x^8 + x^4 + x^3 + x + 1 (0x11b), without branches or
// table lookups that depend on the operands, so secret bytes do not leak via timing.
uint8_t GfMul(uint8_t a, uint8_t b) {
  unsigned p = 0;
  unsigned aa = a;
  for (int i = 0; i < 8; ++i) {
    p ^= aa & (0u - ((b >> i) & 1u));
    // Multiply aa by x, reducing when the top bit falls out.
    aa = (aa << 1) ^ (0x11bu & (0u - ((aa >> 7) & 1u)));
  }
  return static_cast<uint8_t>(p);
}

// a^254 = a^-1 for a != 0 (the multiplicative group has order 255).
uint8_t GfInv(uint8_t a) {
  uint8_t result = 1;
  uint8_t base = a;
  for (int e = 254; e > 0; e >>= 1) {
    if (e & 1) result = GfMul(result, base);
    base = GfMul(base, base);
  }
  return result;
}

Status CheckShares(const std::vector<Share>& shares) {
  if (shares.empty()) return Status::InvalidArgument("no shares given");
  if (shares.size() > 255) return Status::InvalidArgument("more than 255 shares given");
  std::array<bool, 256> seen{};
  const size_t len = shares[0].y.size();
  for (const Share& s : shares) {
    if (s.x == 0) return Status::InvalidArgument("a share has x = 0, which is never valid");
    if (seen[s.x]) {
      return Status::InvalidArgument("share " + std::to_string(s.x) + " is given more than once");
    }
    seen[s.x] = true;
    if (s.y.size() != len) {
      return Status::InvalidArgument("shares have different lengths (" + std::to_string(len) +
                                     " and " + std::to_string(s.y.size()) +
                                     " bytes): they do not belong to the same secret");
    }
  }
  if (len == 0) return Status::InvalidArgument("shares are empty");
  return Status::Ok();
}

// Lagrange interpolation at `x` of the polynomials through the shares, into `out`.
void Interpolate(const std::vector<Share>& shares, uint8_t x, uint8_t* out) {
  const size_t len = shares[0].y.size();
  std::fill(out, out + len, uint8_t{0});
  for (size_t j = 0; j < shares.size(); ++j) {
    // The basis polynomial l_j(x) = prod_{m != j} (x - x_m) / (x_j - x_m); in GF(2^8)
    // subtraction is xor. The x values are public, so this needs no secrecy.
    uint8_t num = 1, den = 1;
    for (size_t m = 0; m < shares.size(); ++m) {
      if (m == j) continue;
      num = GfMul(num, x ^ shares[m].x);
      den = GfMul(den, shares[j].x ^ shares[m].x);
    }
    const uint8_t basis = GfMul(num, GfInv(den));
    const uint8_t* y = shares[j].y.data();
    for (size_t i = 0; i < len; ++i) out[i] ^= GfMul(basis, y[i]);
  }
}

}  // namespace

Result<std::vector<Share>> ShamirSplit(ByteView secret, int threshold,
                                       const std::vector<uint8_t>& xs) {
  if (secret.empty()) return Status::InvalidArgument("cannot split an empty secret");
  if (xs.empty() || xs.size() > 255) {
    return Status::InvalidArgument("the number of shares must be 1..255, got " +
                                   std::to_string(xs.size()));
  }
  if (threshold < 1 || static_cast<size_t>(threshold) > xs.size()) {
    return Status::InvalidArgument("threshold must be between 1 and the number of shares (" +
                                   std::to_string(xs.size()) + "), got " +
                                   std::to_string(threshold));
  }
  std::array<bool, 256> seen{};
  for (uint8_t x : xs) {
    if (x == 0) return Status::InvalidArgument("share x = 0 would be the secret itself");
    if (seen[x]) {
      return Status::InvalidArgument("share x = " + std::to_string(x) + " is repeated");
    }
    seen[x] = true;
  }

  // For byte i the polynomial is secret[i] + c[i][0] x + ... + c[i][k-2] x^(k-1), every
  // coefficient uniformly random (a zero top coefficient is as likely as any other,
  // which is what makes fewer than k shares independent of the secret).
  const size_t len = secret.size();
  const size_t degree = static_cast<size_t>(threshold) - 1;
  SecretBytes coeffs{Bytes(len * degree)};  // wiped when it goes out of scope
  if (!coeffs.empty()) FillRandom(coeffs.data(), coeffs.size());

  std::vector<Share> shares;
  shares.reserve(xs.size());
  for (uint8_t x : xs) {
    Share share{x, Bytes(len)};
    for (size_t i = 0; i < len; ++i) {
      const uint8_t* c = coeffs.data() + i * degree;
      // Horner's rule from the top coefficient down.
      uint8_t acc = 0;
      for (size_t d = degree; d > 0; --d) acc = GfMul(acc, x) ^ c[d - 1];
      share.y[i] = GfMul(acc, x) ^ secret[i];
    }
    shares.push_back(std::move(share));
  }
  return shares;
}

Result<SecretBytes> ShamirCombine(const std::vector<Share>& shares) {
  TESSERA_RETURN_IF_ERROR(CheckShares(shares));
  SecretBytes secret{Bytes(shares[0].y.size())};
  Interpolate(shares, 0, secret.data());
  return secret;
}

Result<Bytes> ShamirInterpolate(const std::vector<Share>& shares, uint8_t x) {
  TESSERA_RETURN_IF_ERROR(CheckShares(shares));
  Bytes out(shares[0].y.size());
  Interpolate(shares, x, out.data());
  return out;
}

}  // namespace tessera::crypto
