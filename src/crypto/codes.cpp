#include "crypto/codes.hpp"

#include <cstdio>
#include <string>
#include <vector>

namespace tessera::crypto {
namespace {

constexpr char kAlphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
constexpr size_t kGroupSize = 4;
constexpr size_t kCheckSymbols = 4;  // 20 bits of CRC

// The checksum is a CRC over the 5-bit symbols, generator x^20 + x^3 + 1 (primitive).
// A degree-20 CRC catches every error burst of up to 20 bits, so any change confined to
// four neighbouring characters (one wrong character, two swapped neighbours) is always
// detected, and other errors slip through with probability 2^-20. The non-zero initial
// value makes leading zeros count.
constexpr uint32_t kCrcPoly = 0x00009;  // x^3 + 1; the x^20 term is implicit
constexpr uint32_t kCrcMask = 0xFFFFF;
constexpr uint32_t kCrcInit = 0xFFFFF;

uint32_t Crc20(const std::vector<uint8_t>& symbols) {
  uint32_t crc = kCrcInit;
  for (uint8_t sym : symbols) {
    for (int bit = 4; bit >= 0; --bit) {
      const uint32_t in = (sym >> bit) & 1u;
      const uint32_t top = (crc >> 19) & 1u;
      crc = (crc << 1) & kCrcMask;
      if (top ^ in) crc ^= kCrcPoly;
    }
  }
  return crc;
}

// The value of a code character, or -1 if it is not one.
int SymbolValue(char c) {
  if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  // Letters that people confuse with digits are read as the digits.
  if (c == 'O') return 0;
  if (c == 'I' || c == 'L') return 1;
  for (int v = 0; v < 32; ++v) {
    if (kAlphabet[v] == c) return v;
  }
  return -1;
}

bool IsSeparator(char c) {
  return c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// Number of symbols that encode `bytes` bytes.
size_t SymbolsFor(size_t bytes) {
  return (bytes * 8 + 4) / 5;
}

std::string Describe(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("'") + c + "'";
  char buf[16];
  std::snprintf(buf, sizeof(buf), "byte 0x%02x", u);
  return buf;
}

}  // namespace

std::string EncodeCode(ByteView payload) {
  std::vector<uint8_t> symbols;
  symbols.reserve(SymbolsFor(payload.size()) + kCheckSymbols);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : payload) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      symbols.push_back(static_cast<uint8_t>((acc >> bits) & 31u));
    }
  }
  if (bits > 0) symbols.push_back(static_cast<uint8_t>((acc << (5 - bits)) & 31u));
  const size_t data_symbols = symbols.size();
  const uint32_t crc = Crc20(symbols);
  for (int i = static_cast<int>(kCheckSymbols) - 1; i >= 0; --i) {
    symbols.push_back(static_cast<uint8_t>((crc >> (5 * i)) & 31u));
  }

  std::string out;
  out.reserve(symbols.size() + symbols.size() / kGroupSize + 1);
  // Data in groups of four (the last may be shorter), then the checksum as its own group.
  for (size_t i = 0; i < symbols.size(); ++i) {
    const bool group_start = i == data_symbols || (i < data_symbols && i % kGroupSize == 0);
    if (i > 0 && group_start) out.push_back('-');
    out.push_back(kAlphabet[symbols[i]]);
  }
  return out;
}

Result<Bytes> DecodeCode(std::string_view code) {
  std::vector<uint8_t> symbols;
  symbols.reserve(code.size());
  for (size_t i = 0; i < code.size(); ++i) {
    const char c = code[i];
    if (IsSeparator(c)) continue;
    const int v = SymbolValue(c);
    if (v < 0) {
      return Status::InvalidArgument("recovery code has an invalid character " + Describe(c) +
                                     " at position " + std::to_string(i + 1) +
                                     ": only digits and the letters A-Z except U are used; "
                                     "check for a typo");
    }
    symbols.push_back(static_cast<uint8_t>(v));
  }
  if (symbols.empty()) return Status::InvalidArgument("recovery code is empty");
  if (symbols.size() < kCheckSymbols) {
    return Status::InvalidArgument("recovery code is too short (" + std::to_string(symbols.size()) +
                                   " characters): part of it is missing");
  }
  const size_t data_symbols = symbols.size() - kCheckSymbols;
  const size_t bytes = data_symbols * 5 / 8;
  if (SymbolsFor(bytes) != data_symbols) {
    return Status::InvalidArgument("recovery code has the wrong number of characters (" +
                                   std::to_string(symbols.size()) +
                                   "): a character is missing or extra");
  }

  uint32_t expected = 0;
  for (size_t i = data_symbols; i < symbols.size(); ++i) expected = (expected << 5) | symbols[i];
  symbols.resize(data_symbols);
  if (Crc20(symbols) != expected) {
    return Status::InvalidArgument("recovery code checksum does not match: check for a typo");
  }

  Bytes out;
  out.reserve(bytes);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t sym : symbols) {
    acc = ((acc << 5) | sym) & 0xFFFu;  // at most 12 bits are ever pending
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<uint8_t>(acc >> bits));
    }
  }
  // The encoder pads with zero bits; anything else is not a code it produced. The CRC
  // covers these bits, so this only fires on a code that was made up, not mistyped.
  if ((acc & ((1u << bits) - 1)) != 0) {
    return Status::InvalidArgument(
        "recovery code is malformed: its last data character "
        "has bits set that must be zero");
  }
  return out;
}

}  // namespace tessera::crypto
