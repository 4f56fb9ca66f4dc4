#include "crypto/random.hpp"

#include <openssl/rand.h>

#include <climits>

#include "crypto/openssl_util.hpp"

namespace tessera::crypto {

void FillRandom(uint8_t* out, size_t n) {
  while (n > 0) {
    const int chunk = n > static_cast<size_t>(INT_MAX) ? INT_MAX : static_cast<int>(n);
    // Continuing without randomness would silently produce guessable keys and nonces.
    if (RAND_bytes(out, chunk) != 1) internal::FatalOpenSslError("RAND_bytes");
    out += chunk;
    n -= static_cast<size_t>(chunk);
  }
}

Bytes RandomBytes(size_t n) {
  Bytes out(n);
  FillRandom(out.data(), out.size());
  return out;
}

std::string RandomId() {
  return HexEncode(RandomBytes(32));
}

}  // namespace tessera::crypto
