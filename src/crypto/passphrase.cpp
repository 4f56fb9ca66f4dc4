#include "crypto/passphrase.hpp"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <string>

#include "crypto/openssl_util.hpp"

namespace tessera::crypto {

Result<SecretBytes> DeriveKeyFromPassphrase(std::string_view passphrase, ByteView salt,
                                            const ScryptParams& params, size_t length) {
  if (params.n < 2 || (params.n & (params.n - 1)) != 0) {
    return Status::InvalidArgument("scrypt parameter n must be a power of two of at least 2, got " +
                                   std::to_string(params.n));
  }
  if (params.r == 0 || params.p == 0) {
    return Status::InvalidArgument("scrypt parameters r and p must be at least 1");
  }
  // RFC 7914's bound p <= (2^32 - 1) * 32 / (128 r), and a sane overall size.
  if (uint64_t{params.r} * params.p >= (uint64_t{1} << 30)) {
    return Status::InvalidArgument("scrypt parameters r * p must be below 2^30");
  }
  // RFC 7914 requires n < 2^(128 r / 8).
  if (params.r < 4 && params.n >= (uint64_t{1} << (16 * params.r))) {
    return Status::InvalidArgument("scrypt parameter n must be below 2^(16 r) = 2^" +
                                   std::to_string(16 * params.r));
  }
  // Also keeps the memory arithmetic below from overflowing.
  constexpr uint64_t kMaxMemory = uint64_t{1} << 40;
  if (params.n > kMaxMemory / 128 / params.r || params.p > kMaxMemory / 128 / params.r) {
    return Status::InvalidArgument("scrypt parameters would need more than 1 TiB of memory");
  }
  if (salt.empty()) return Status::InvalidArgument("scrypt salt is empty");
  if (length == 0) return Status::InvalidArgument("scrypt output length is 0");

  // scrypt needs 128 * r * n bytes for V plus 128 * r * p for B (and a little for XY);
  // OpenSSL refuses anything over 32 MiB unless told otherwise, which n = 2^17 exceeds.
  const uint64_t need = 128 * uint64_t{params.r} * (params.n + params.p + 2);
  const uint64_t maxmem = need + (uint64_t{1} << 20);

  static char kEmpty = 0;  // OpenSSL reads a null buffer as "missing", even at length 0
  char* pass = passphrase.empty() ? &kEmpty : const_cast<char*>(passphrase.data());
  uint64_t n = params.n;
  uint64_t maxmem_param = maxmem;
  uint32_t r = params.r;
  uint32_t p = params.p;
  OSSL_PARAM ossl_params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, pass, passphrase.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()),
                                        salt.size()),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
      OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
      OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem_param),
      OSSL_PARAM_construct_end(),
  };

  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "SCRYPT", nullptr);
  if (kdf == nullptr) {
    return Status::Internal("scrypt is not available in this OpenSSL: " +
                            internal::TakeOpenSslError());
  }
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) {
    return Status::Internal("scrypt context allocation failed: " + internal::TakeOpenSslError());
  }
  SecretBytes key{Bytes(length)};
  const int rc = EVP_KDF_derive(ctx, key.data(), key.size(), ossl_params);
  EVP_KDF_CTX_free(ctx);  // cleanses its copy of the passphrase
  if (rc != 1) {
    return Status::Internal(
        "deriving a key from the passphrase with scrypt failed (it needs " +
        std::to_string((maxmem >> 20) + 1) +
        " MiB of memory; check the memory limit of this process): " + internal::TakeOpenSslError());
  }
  return key;
}

}  // namespace tessera::crypto
