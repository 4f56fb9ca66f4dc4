// libFuzzer target for DecodeCode, which parses text typed in by people. Besides not
// crashing, every accepted code must be canonical: re-encoding what it decodes to gives
// the same characters, so no two different codes stand for the same payload.
//
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
//     tests/fuzz/codes_fuzz.cpp src/crypto/codes.cpp src/base/status.cpp -o codes_fuzz
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/codes.hpp"

namespace {

// What DecodeCode reads: separators dropped, upper case, O->0 and I/L->1.
std::string Normalize(std::string_view code) {
  std::string out;
  for (char c : code) {
    if (c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (c == 'O') c = '0';
    if (c == 'I' || c == 'L') c = '1';
    out.push_back(c);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  auto decoded = tessera::crypto::DecodeCode(input);
  if (!decoded.ok()) {
    if (decoded.status().message().empty()) __builtin_trap();
    return 0;
  }
  if (Normalize(tessera::crypto::EncodeCode(*decoded)) != Normalize(input)) __builtin_trap();
  return 0;
}
