// The second factor of the web console: RFC 4648 base32 (how authenticator apps show and
// take a secret) and RFC 6238 TOTP with HMAC-SHA-1, 30-second steps and 6 digits, the
// parameters every common authenticator app uses by default.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/bytes.hpp"
#include "base/status.hpp"

namespace tessera::server {

constexpr int64_t kTotpStepSeconds = 30;
constexpr int kTotpDigits = 6;

// Upper-case RFC 4648 base32 ("MZXW6YQ="), with '=' padding to a multiple of 8
// characters unless `pad` is false.
std::string Base32Encode(ByteView bytes, bool pad = true);
// The bytes of base32 text: letters of either case, padding optional (but if present, only
// at the end and as much as the length calls for), spaces ignored. InvalidArgument for any
// other character, a length no encoding has, misplaced or wrong padding, or unused trailing
// bits that are not zero (text that was not produced by an encoder).
Result<Bytes> Base32Decode(std::string_view text);

// The TOTP code of `secret` at `unix_seconds`: `digits` decimal digits (6 to 8), with
// leading zeros. `secret` must not be empty (an empty key is a caller's bug and aborts).
// Times before 1970 give the code of step 0.
std::string TotpCode(ByteView secret, int64_t unix_seconds, int digits = kTotpDigits);

// The time step (unix_seconds / 30) whose code `code` is, searching the steps from
// now - window to now + window (window is clamped to 0..10): clocks drift, and a code typed
// just before its step ends arrives in the next. nullopt when none matches, when `code` is
// not exactly 6 ASCII digits (the caller strips spaces it allows), or when `secret` is empty.
// Every candidate is computed and compared in constant time, so the time taken does not
// reveal how much of the code was right or which step matched. The step lets a verifier
// refuse a code it has accepted before (AccountStore does).
std::optional<int64_t> TotpMatchedStep(ByteView secret, std::string_view code, int64_t now,
                                       int window = 1);
// Whether `code` is the code of `secret` within ±`window` steps of `now` (TotpMatchedStep).
bool TotpMatches(ByteView secret, std::string_view code, int64_t now, int window = 1);

// The otpauth:// URI that an authenticator app reads from a QR code:
// otpauth://totp/<issuer>:<account>?secret=<base32>&issuer=<issuer>&algorithm=SHA1&digits=6&period=30
// with issuer and account percent-encoded as UTF-8 (all but A-Z a-z 0-9 - . _ ~). Padding
// and spaces are dropped from `base32_secret`, as the key URI format asks. With an empty
// issuer the label is the account alone and there is no issuer parameter.
std::string TotpUri(std::string_view issuer, std::string_view account,
                    std::string_view base32_secret);

}  // namespace tessera::server
