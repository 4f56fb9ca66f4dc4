// Internal to the crypto module: turning OpenSSL failures into messages, and the
// algorithms fetched once per process. Not part of the module's contract.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include <memory>
#include <string>
#include <string_view>

#include "base/bytes.hpp"

namespace tessera::crypto::internal {

// An OpenSSL object owned by a unique_ptr that frees it with `Free`
// (Owned<BIO, BIO_free_all>).
template <auto Free>
struct Freer {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
template <typename T, auto Free>
using Owned = std::unique_ptr<T, Freer<Free>>;

using Bio = Owned<BIO, BIO_free_all>;
// A read-only BIO over `data`, which is not copied and must outlive it (empty is fine).
Bio MemoryBio(std::string_view data);
Bio MemoryBio(ByteView data);
// An empty BIO that grows as it is written to.
Bio EmptyMemoryBio();
// What a memory BIO holds.
std::string BioText(BIO* bio);
Bytes BioBytes(BIO* bio);

// OpenSSL's passphrase callback that never asks (its default prompts on the terminal):
// an encrypted PEM simply does not load.
int NoPassphrase(char* buf, int size, int rwflag, void* userdata);

// The text of the most recent OpenSSL error, or "unknown OpenSSL error"; empties
// OpenSSL's error queue so that a stale error is not blamed on a later call.
std::string TakeOpenSslError();

// For failures that a function's contract gives no way to report (out of memory, a
// broken OpenSSL installation): prints `what` and the OpenSSL error to stderr and
// aborts, because returning would hand the caller a wrong digest, key or random bytes.
[[noreturn]] void FatalOpenSslError(std::string_view what);

// For a caller breaking a documented precondition that the contract gives no way to
// report: prints `message` to stderr and aborts.
[[noreturn]] void FatalBug(std::string_view message);

// Algorithms fetched once and kept for the life of the process: an implicit fetch on
// every call (EVP_sha256() and friends) takes a lock and a lookup each time.
const EVP_MD* Sha256Md();
const EVP_CIPHER* Aes256GcmCipher();
EVP_KDF* HkdfKdf();
EVP_MAC* Poly1305Mac();

}  // namespace tessera::crypto::internal
