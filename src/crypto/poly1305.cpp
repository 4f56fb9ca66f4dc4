#include "crypto/poly1305.hpp"

#include <openssl/evp.h>

#include <memory>

#include "crypto/openssl_util.hpp"

namespace tessera::crypto {
namespace {
struct MacCtxDeleter {
  void operator()(EVP_MAC_CTX* ctx) const { EVP_MAC_CTX_free(ctx); }
};
}  // namespace

Bytes Poly1305(ByteView one_time_key, std::initializer_list<ByteView> parts) {
  if (one_time_key.size() != kPoly1305KeySize)
    internal::FatalBug("Poly1305: the key must be 32 bytes");
  // EVP_MAC_CTX_free cleanses the key state.
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(internal::Poly1305Mac()));
  if (!ctx || EVP_MAC_init(ctx.get(), one_time_key.data(), one_time_key.size(), nullptr) != 1)
    internal::FatalOpenSslError("Poly1305 initialisation");
  for (ByteView part : parts) {
    if (part.empty()) continue;
    if (EVP_MAC_update(ctx.get(), part.data(), part.size()) != 1)
      internal::FatalOpenSslError("Poly1305 update");
  }
  Bytes tag(kPoly1305TagSize);
  size_t written = 0;
  if (EVP_MAC_final(ctx.get(), tag.data(), &written, tag.size()) != 1 ||
      written != kPoly1305TagSize)
    internal::FatalOpenSslError("Poly1305 finalisation");
  return tag;
}

}  // namespace tessera::crypto
