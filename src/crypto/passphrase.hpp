// Keys from passphrases (scrypt, OpenSSL).
#pragma once

#include <cstdint>
#include <string_view>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::crypto {

struct ScryptParams {
  uint64_t n = 1 << 17;  // ~128 MiB, ~0.3 s here
  uint32_t r = 8;
  uint32_t p = 1;
};

// scrypt(passphrase, salt, n, r, p) giving `length` bytes. InvalidArgument for
// parameters scrypt does not allow (n not a power of two, r or p 0, ...), an empty salt
// or length 0; Internal if OpenSSL fails, typically for lack of memory (128 * r * n
// bytes are needed).
Result<SecretBytes> DeriveKeyFromPassphrase(std::string_view passphrase, ByteView salt,
                                            const ScryptParams& params, size_t length = 32);

}  // namespace tessera::crypto
