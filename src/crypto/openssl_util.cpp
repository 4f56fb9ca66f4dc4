#include "crypto/openssl_util.hpp"

#include <openssl/err.h>

#include <cstdio>
#include <cstdlib>

namespace tessera::crypto::internal {

Bio MemoryBio(std::string_view data) {
  static const char kNothing = 0;  // BIO_new_mem_buf refuses a null pointer
  Bio bio(BIO_new_mem_buf(data.empty() ? &kNothing : data.data(), static_cast<int>(data.size())));
  if (!bio) FatalOpenSslError("BIO_new_mem_buf");
  return bio;
}

Bio MemoryBio(ByteView data) {
  return MemoryBio(std::string_view(reinterpret_cast<const char*>(data.data()), data.size()));
}

Bio EmptyMemoryBio() {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!bio) FatalOpenSslError("BIO_new");
  return bio;
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

Bytes BioBytes(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return Bytes(data, data + n);
}

int NoPassphrase(char*, int, int, void*) {
  return -1;
}

std::string TakeOpenSslError() {
  unsigned long last = 0;
  // The last error is the most specific; earlier ones are usually its causes.
  while (unsigned long e = ERR_get_error()) last = e;
  if (last == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(last, buf, sizeof(buf));
  return buf;
}

void FatalOpenSslError(std::string_view what) {
  std::string error = TakeOpenSslError();
  std::fprintf(stderr,
               "tessera: fatal: %.*s failed (%s); this means memory is exhausted or the "
               "OpenSSL installation is broken\n",
               static_cast<int>(what.size()), what.data(), error.c_str());
  std::fflush(stderr);
  std::abort();
}

void FatalBug(std::string_view message) {
  std::fprintf(stderr, "tessera: fatal: %.*s (this is a bug in tessera)\n",
               static_cast<int>(message.size()), message.data());
  std::fflush(stderr);
  std::abort();
}

// The fetched objects are deliberately never freed: they are needed until exit, and
// freeing them from a static destructor could race with OpenSSL's own exit cleanup.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (m == nullptr) FatalOpenSslError("fetching SHA-256 from OpenSSL");
    return m;
  }();
  return md;
}

const EVP_CIPHER* Aes256GcmCipher() {
  static const EVP_CIPHER* cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (c == nullptr) FatalOpenSslError("fetching AES-256-GCM from OpenSSL");
    return c;
  }();
  return cipher;
}

EVP_KDF* HkdfKdf() {
  static EVP_KDF* kdf = [] {
    EVP_KDF* k = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    if (k == nullptr) FatalOpenSslError("fetching HKDF from OpenSSL");
    return k;
  }();
  return kdf;
}

EVP_MAC* Poly1305Mac() {
  static EVP_MAC* mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "POLY1305", nullptr);
    if (m == nullptr) FatalOpenSslError("fetching Poly1305 from OpenSSL");
    return m;
  }();
  return mac;
}

}  // namespace tessera::crypto::internal
