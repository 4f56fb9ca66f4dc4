// server/totp.hpp: RFC 4648 base32 and RFC 6238 TOTP against the RFCs' own vectors, the
// window of accepted steps, and the otpauth:// URI.
#include "server/totp.hpp"

#include <gtest/gtest.h>

#include "crypto/random.hpp"
#include "status_matchers.hpp"

namespace tessera::server {
namespace {

const std::string kRfcSeed = "12345678901234567890";

TEST(Base32, EncodesRfc4648Vectors) {
  EXPECT_EQ(Base32Encode(AsBytes("")), "");
  EXPECT_EQ(Base32Encode(AsBytes("f")), "MY======");
  EXPECT_EQ(Base32Encode(AsBytes("fo")), "MZXQ====");
  EXPECT_EQ(Base32Encode(AsBytes("foo")), "MZXW6===");
  EXPECT_EQ(Base32Encode(AsBytes("foob")), "MZXW6YQ=");
  EXPECT_EQ(Base32Encode(AsBytes("fooba")), "MZXW6YTB");
  EXPECT_EQ(Base32Encode(AsBytes("foobar")), "MZXW6YTBOI======");
  EXPECT_EQ(Base32Encode(AsBytes("foobar"), /*pad=*/false), "MZXW6YTBOI");
  EXPECT_EQ(Base32Encode(AsBytes(kRfcSeed)), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
}

TEST(Base32, DecodesRfc4648VectorsAndLenientForms) {
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"MY======", "f"},
                                                         {"MZXQ====", "fo"},
                                                         {"MZXW6===", "foo"},
                                                         {"MZXW6YQ=", "foob"},
                                                         {"MZXW6YTB", "fooba"},
                                                         {"MZXW6YTBOI======", "foobar"}};
  for (const auto& [text, plain] : vectors) {
    auto decoded = Base32Decode(text);
    ASSERT_OK(decoded);
    EXPECT_EQ(AsString(*decoded), plain) << text;
  }
  // Lower case, no padding, spaces as authenticator apps show them.
  auto lenient = Base32Decode("mzxw 6ytb oi");
  ASSERT_OK(lenient);
  EXPECT_EQ(AsString(*lenient), "foobar");
  auto mixed = Base32Decode("gezd gnbv GY3T QOJQ gezd gnbv gy3t qojq");
  ASSERT_OK(mixed);
  EXPECT_EQ(AsString(*mixed), kRfcSeed);
}

TEST(Base32, RoundTripsRandomBytes) {
  for (size_t n = 0; n <= 41; ++n) {
    const Bytes bytes = crypto::RandomBytes(n);
    for (bool pad : {true, false}) {
      auto back = Base32Decode(Base32Encode(bytes, pad));
      ASSERT_OK(back);
      EXPECT_EQ(*back, bytes) << n;
    }
  }
}

TEST(Base32, RefusesBadInput) {
  for (const char* bad : {
           "MZXW6YT1",   // 1 is not in the alphabet
           "MZXW6YT0",   // nor 0
           "MZXW6YT8",   // nor 8
           "MZ-W6YTB",   // nor punctuation
           "MY==MY==",   // padding in the middle
           "MY=",        // too little padding for the length
           "MZXW6YQ==",  // too much
           "========",   // padding alone
           "M",          // no length has 1, 3 or 6 letters in the last group
           "MZX",        // ...
           "MZXW6Y",     // ...
           "MZ",         // unused trailing bits not zero (Z = 11001)
       }) {
    auto r = Base32Decode(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_OK(Base32Decode("MY"));  // the same length with zero trailing bits is fine
}

TEST(Totp, MatchesRfc6238AppendixB) {
  const ByteView seed = AsBytes(kRfcSeed);
  const std::pair<int64_t, const char*> vectors[] = {
      {59, "94287082"},         {1111111109, "07081804"}, {1111111111, "14050471"},
      {1234567890, "89005924"}, {2000000000, "69279037"}, {20000000000, "65353130"}};
  for (const auto& [time, code] : vectors) {
    EXPECT_EQ(TotpCode(seed, time, 8), code) << time;
    EXPECT_EQ(TotpCode(seed, time), std::string(code).substr(2)) << time;
    EXPECT_TRUE(TotpMatches(seed, std::string(code).substr(2), time)) << time;
  }
}

TEST(Totp, AcceptsOneStepEitherSideAndNoMore) {
  const ByteView seed = AsBytes(kRfcSeed);
  const int64_t now = 1111111111;  // step 37037037, 1 s into it
  const int64_t step = now / 30;
  for (int delta = -3; delta <= 3; ++delta) {
    const std::string code = TotpCode(seed, now + 30 * delta);
    const auto matched = TotpMatchedStep(seed, code, now);
    if (delta >= -1 && delta <= 1) {
      ASSERT_TRUE(matched.has_value()) << delta;
      EXPECT_EQ(*matched, step + delta);
      EXPECT_TRUE(TotpMatches(seed, code, now)) << delta;
    } else {
      EXPECT_FALSE(matched.has_value()) << delta;
      EXPECT_FALSE(TotpMatches(seed, code, now)) << delta;
      EXPECT_TRUE(TotpMatches(seed, code, now, /*window=*/3)) << delta;
    }
  }
  // Window 0: only the current step.
  EXPECT_TRUE(TotpMatches(seed, TotpCode(seed, now), now, 0));
  EXPECT_FALSE(TotpMatches(seed, TotpCode(seed, now - 30), now, 0));
}

TEST(Totp, RefusesMalformedCodes) {
  const ByteView seed = AsBytes(kRfcSeed);
  const int64_t now = 1111111111;
  const std::string code = TotpCode(seed, now);
  ASSERT_TRUE(TotpMatches(seed, code, now));
  EXPECT_FALSE(TotpMatches(seed, code.substr(0, 5), now));
  EXPECT_FALSE(TotpMatches(seed, code + "0", now));
  EXPECT_FALSE(TotpMatches(seed, TotpCode(seed, now, 8), now));  // 8 digits, right suffix
  EXPECT_FALSE(TotpMatches(seed, "", now));
  EXPECT_FALSE(TotpMatches(seed, code.substr(0, 3) + " " + code.substr(3), now));
  EXPECT_FALSE(TotpMatches(seed, "abcdef", now));
  std::string wrong = code;
  wrong[5] = wrong[5] == '9' ? '0' : static_cast<char>(wrong[5] + 1);
  EXPECT_FALSE(TotpMatches(seed, wrong, now));
  EXPECT_FALSE(TotpMatches(ByteView(), code, now));  // no secret matches nothing
  // Another secret, same time: not this code.
  EXPECT_FALSE(TotpMatches(AsBytes("12345678901234567891"), code, now));
}

TEST(Totp, UriPercentEncodesIssuerAndAccount) {
  EXPECT_EQ(TotpUri("Tessera 檔案", "alice@example.org", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "otpauth://totp/Tessera%20%E6%AA%94%E6%A1%88:alice%40example.org"
            "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Tessera%20%E6%AA%94%E6%A1%88"
            "&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(TotpUri("", "bob.lin", "MZXW6YQ="),
            "otpauth://totp/bob.lin?secret=MZXW6YQ&algorithm=SHA1&digits=6&period=30");
  EXPECT_EQ(TotpUri("a:b&c", "x/y", "MY"),
            "otpauth://totp/a%3Ab%26c:x%2Fy?secret=MY&issuer=a%3Ab%26c&algorithm=SHA1&digits=6"
            "&period=30");
}

}  // namespace
}  // namespace tessera::server
