#include "server/totp.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>

#include "crypto/hash.hpp"

namespace tessera::server {
namespace {

constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// The value of a base32 letter (either case), or -1.
int Base32Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a';
  if (c >= '2' && c <= '7') return c - '2' + 26;
  return -1;
}

// HMAC-SHA-1 (RFC 2104), which RFC 6238 and every authenticator app use for TOTP. The
// crypto module offers only HMAC-SHA-256, and SHA-1's collision weakness does not touch
// HMAC, so it is called here directly. It cannot fail on valid input; should OpenSSL fail
// (memory exhausted, a broken installation) this aborts rather than return a wrong code.
std::array<uint8_t, 20> HmacSha1(ByteView key, ByteView data) {
  std::array<uint8_t, 20> out{};
  size_t length = 0;
  if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA1", nullptr, key.data(), key.size(), data.data(),
                data.size(), out.data(), out.size(), &length) == nullptr ||
      length != out.size()) {
    std::fprintf(stderr, "tessera: HMAC-SHA-1 failed in OpenSSL; aborting\n");
    std::abort();
  }
  return out;
}

// RFC 4226 HOTP: dynamic truncation of the HMAC of the big-endian counter.
uint32_t Hotp(ByteView secret, uint64_t counter) {
  std::array<uint8_t, 8> message{};
  for (int i = 7; i >= 0; --i) {
    message[i] = static_cast<uint8_t>(counter & 0xff);
    counter >>= 8;
  }
  const std::array<uint8_t, 20> mac = HmacSha1(secret, message);
  const int offset = mac[19] & 0x0f;
  return (uint32_t{mac[offset]} & 0x7f) << 24 | uint32_t{mac[offset + 1]} << 16 |
         uint32_t{mac[offset + 2]} << 8 | uint32_t{mac[offset + 3]};
}

std::string FormatCode(uint32_t value, int digits) {
  uint32_t modulus = 1;
  for (int i = 0; i < digits; ++i) modulus *= 10;
  std::string code(static_cast<size_t>(digits), '0');
  value %= modulus;
  for (int i = digits - 1; i >= 0; --i) {
    code[static_cast<size_t>(i)] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return code;
}

int64_t StepOf(int64_t unix_seconds) {
  return unix_seconds < 0 ? 0 : unix_seconds / kTotpStepSeconds;
}

void AppendPercentEncoded(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if ((b >= 'A' && b <= 'Z') || (b >= 'a' && b <= 'z') || (b >= '0' && b <= '9') || b == '-' ||
        b == '.' || b == '_' || b == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0x0f];
    }
  }
}

}  // namespace

std::string Base32Encode(ByteView bytes, bool pad) {
  std::string out;
  out.reserve((bytes.size() + 4) / 5 * 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (const uint8_t b : bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(buffer >> (bits - 5)) & 0x1f];
      bits -= 5;
    }
  }
  if (bits > 0) out += kAlphabet[(buffer << (5 - bits)) & 0x1f];
  if (pad)
    while (out.size() % 8 != 0) out += '=';
  return out;
}

Result<Bytes> Base32Decode(std::string_view text) {
  std::string letters;
  size_t padding = 0;
  for (const char c : text) {
    if (c == ' ') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding > 0)
      return Status::InvalidArgument(
          "base32 text has '=' padding before its end; padding may only close the text");
    if (Base32Value(c) < 0)
      return Status::InvalidArgument(
          "base32 text may hold only the letters A-Z (either case), the digits 2-7, '=' at "
          "the end and spaces; check the secret for a mistyped 0, 1, 8 or 9");
    letters += c;
  }
  // A final group of 8 characters carries 1..5 bytes in 2, 4, 5, 7 or 8 letters.
  const size_t tail = letters.size() % 8;
  if (tail == 1 || tail == 3 || tail == 6)
    return Status::InvalidArgument("base32 text of " + std::to_string(letters.size()) +
                                   " letters is not a whole number of bytes; a letter is "
                                   "missing or extra");
  if (padding > 0 && (tail == 0 || tail + padding != 8))
    return Status::InvalidArgument("base32 text has " + std::to_string(padding) +
                                   " '=' where its length calls for " +
                                   std::to_string(tail == 0 ? 0 : 8 - tail));
  Bytes out;
  out.reserve(letters.size() * 5 / 8);
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : letters) {
    buffer = (buffer << 5) | static_cast<uint32_t>(Base32Value(c));
    bits += 5;
    if (bits >= 8) {
      out.push_back(static_cast<uint8_t>(buffer >> (bits - 8)));
      bits -= 8;
    }
  }
  if ((buffer & ((1u << bits) - 1)) != 0)
    return Status::InvalidArgument(
        "base32 text ends in a letter whose unused bits are not zero; the last letter is "
        "probably mistyped");
  return out;
}

std::string TotpCode(ByteView secret, int64_t unix_seconds, int digits) {
  if (secret.empty() || digits < 6 || digits > 8) {
    std::fprintf(stderr, "tessera: TotpCode needs a secret and 6 to 8 digits (a bug); aborting\n");
    std::abort();
  }
  return FormatCode(Hotp(secret, static_cast<uint64_t>(StepOf(unix_seconds))), digits);
}

std::optional<int64_t> TotpMatchedStep(ByteView secret, std::string_view code, int64_t now,
                                       int window) {
  if (secret.empty() || code.size() != static_cast<size_t>(kTotpDigits) ||
      !std::all_of(code.begin(), code.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  window = std::clamp(window, 0, 10);
  const int64_t center = StepOf(now);
  // No early exit: every step of the window is computed and compared, whichever matches.
  int64_t matched = -1;
  for (int64_t step = center - window; step <= center + window; ++step) {
    if (step < 0) continue;
    const std::string candidate =
        FormatCode(Hotp(secret, static_cast<uint64_t>(step)), kTotpDigits);
    const bool equal = crypto::ConstantTimeEqual(AsBytes(candidate), AsBytes(code));
    if (equal && matched < 0) matched = step;
  }
  if (matched < 0) return std::nullopt;
  return matched;
}

bool TotpMatches(ByteView secret, std::string_view code, int64_t now, int window) {
  return TotpMatchedStep(secret, code, now, window).has_value();
}

std::string TotpUri(std::string_view issuer, std::string_view account,
                    std::string_view base32_secret) {
  std::string out = "otpauth://totp/";
  if (!issuer.empty()) {
    AppendPercentEncoded(out, issuer);
    out += ':';
  }
  AppendPercentEncoded(out, account);
  out += "?secret=";
  for (const char c : base32_secret)
    if (c != '=' && c != ' ') out += c;
  if (!issuer.empty()) {
    out += "&issuer=";
    AppendPercentEncoded(out, issuer);
  }
  out += "&algorithm=SHA1&digits=6&period=30";
  return out;
}

}  // namespace tessera::server
