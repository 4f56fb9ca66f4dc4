// Byte buffers and their text forms.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.hpp"

namespace tessera {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view AsString(ByteView b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}
inline Bytes ToBytes(std::string_view s) {
  return Bytes(s.begin(), s.end());
}

// Lower-case hexadecimal.
std::string HexEncode(ByteView bytes);
Result<Bytes> HexDecode(std::string_view hex);

// Standard base64 (RFC 4648, with padding, canonical: the bits padding leaves over are zero);
// InvalidArgument on anything else.
std::string Base64Encode(ByteView bytes);
Result<Bytes> Base64Decode(std::string_view text);

// Little-endian fixed-width integers, for binary formats.
void PutU16(Bytes& out, uint16_t v);
void PutU32(Bytes& out, uint32_t v);
void PutU64(Bytes& out, uint64_t v);
uint16_t GetU16(const uint8_t* p);
uint32_t GetU32(const uint8_t* p);
uint64_t GetU64(const uint8_t* p);

// Overwrites the memory so that a secret does not linger after use.
void SecureWipe(void* data, size_t size);
inline void SecureWipe(Bytes& b) {
  SecureWipe(b.data(), b.size());
}

// A byte buffer for key material: wiped when destroyed.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(Bytes b) : b_(std::move(b)) {}
  explicit SecretBytes(ByteView v) : b_(v.begin(), v.end()) {}
  SecretBytes(const SecretBytes& o) : b_(o.b_) {}
  SecretBytes& operator=(const SecretBytes& o) {
    if (this != &o) {
      SecureWipe(b_);
      b_ = o.b_;
    }
    return *this;
  }
  SecretBytes(SecretBytes&& o) noexcept : b_(std::move(o.b_)) { o.b_.clear(); }
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      SecureWipe(b_);
      b_ = std::move(o.b_);
      o.b_.clear();
    }
    return *this;
  }
  ~SecretBytes() { SecureWipe(b_); }

  ByteView view() const { return b_; }
  const uint8_t* data() const { return b_.data(); }
  uint8_t* data() { return b_.data(); }
  size_t size() const { return b_.size(); }
  bool empty() const { return b_.empty(); }
  bool operator==(const SecretBytes& o) const { return b_ == o.b_; }

 private:
  Bytes b_;
};

}  // namespace tessera
