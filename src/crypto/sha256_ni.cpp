#include "crypto/sha256_ni.hpp"

#include <cstdio>
#include <cstdlib>
#include <utility>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace tessera::crypto::sha256_ni {

#if defined(__x86_64__)

bool Available() {
  static const bool available = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    const bool ssse3 = (ecx >> 9) & 1, sse41 = (ecx >> 19) & 1;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return false;
    const bool sha = (ebx >> 29) & 1;
    return ssse3 && sse41 && sha;
  }();
  return available;
}

namespace {

#define TESSERA_SHA_TARGET __attribute__((target("sha,sse4.1,ssse3")))
#define TESSERA_SHA_INLINE TESSERA_SHA_TARGET inline __attribute__((always_inline))

alignas(16) constexpr uint32_t kRoundConstants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};

// The instructions keep the state as ABEF and CDGH, and the message schedule in four
// registers of four words each, W[g % 4] holding words 4g..4g+3 of round group g.
struct Lane {
  __m128i abef, cdgh, saved_abef, saved_cdgh;
  __m128i w[4];
};

TESSERA_SHA_INLINE void LoadState(Lane& l, const State& s) {
  __m128i abcd = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&s[0]));
  __m128i efgh = _mm_loadu_si128(reinterpret_cast<const __m128i*>(&s[4]));
  abcd = _mm_shuffle_epi32(abcd, 0xB1);  // CDAB
  efgh = _mm_shuffle_epi32(efgh, 0x1B);  // EFGH reversed: HGFE
  l.abef = _mm_alignr_epi8(abcd, efgh, 8);
  l.cdgh = _mm_blend_epi16(efgh, abcd, 0xF0);
}

TESSERA_SHA_INLINE void StoreState(const Lane& l, State& s) {
  __m128i feba = _mm_shuffle_epi32(l.abef, 0x1B);
  __m128i dchg = _mm_shuffle_epi32(l.cdgh, 0xB1);
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&s[0]), _mm_blend_epi16(feba, dchg, 0xF0));
  _mm_storeu_si128(reinterpret_cast<__m128i*>(&s[4]), _mm_alignr_epi8(dchg, feba, 8));
}

TESSERA_SHA_INLINE void BeginBlock(Lane& l, const uint8_t* block) {
  const __m128i big_endian = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  l.saved_abef = l.abef;
  l.saved_cdgh = l.cdgh;
  for (int i = 0; i < 4; ++i)
    l.w[i] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(block + 16 * i)),
                              big_endian);
}

TESSERA_SHA_INLINE void EndBlock(Lane& l) {
  l.abef = _mm_add_epi32(l.abef, l.saved_abef);
  l.cdgh = _mm_add_epi32(l.cdgh, l.saved_cdgh);
}

// Rounds 4g..4g+3, and the part of the message schedule that is due meanwhile: words of
// group g+1 completed (from group 3 on), and the first half of a later group's.
template <int g>
TESSERA_SHA_INLINE void RoundGroup(Lane& l) {
  __m128i msg = _mm_add_epi32(
      l.w[g % 4], _mm_load_si128(reinterpret_cast<const __m128i*>(&kRoundConstants[4 * g])));
  l.cdgh = _mm_sha256rnds2_epu32(l.cdgh, l.abef, msg);
  if constexpr (g >= 3 && g <= 14) {
    const __m128i w7 = _mm_alignr_epi8(l.w[g % 4], l.w[(g + 3) % 4], 4);
    l.w[(g + 1) % 4] = _mm_sha256msg2_epu32(_mm_add_epi32(l.w[(g + 1) % 4], w7), l.w[g % 4]);
  }
  msg = _mm_shuffle_epi32(msg, 0x0E);
  l.abef = _mm_sha256rnds2_epu32(l.abef, l.cdgh, msg);
  if constexpr (g >= 1 && g <= 12)
    l.w[(g + 3) % 4] = _mm_sha256msg1_epu32(l.w[(g + 3) % 4], l.w[g % 4]);
}

template <int... g>
TESSERA_SHA_INLINE void AllRounds(Lane& l, std::integer_sequence<int, g...>) {
  (RoundGroup<g>(l), ...);
}

// The two lanes' groups alternate, so that each one's rounds fill the other's latency.
template <int... g>
TESSERA_SHA_INLINE void AllRounds2(Lane& a, Lane& b, std::integer_sequence<int, g...>) {
  ((RoundGroup<g>(a), RoundGroup<g>(b)), ...);
}

}  // namespace

TESSERA_SHA_TARGET void Compress(State& state, const uint8_t* data, size_t blocks) {
  if (blocks == 0) return;
  Lane l;
  LoadState(l, state);
  for (size_t i = 0; i < blocks; ++i) {
    BeginBlock(l, data + 64 * i);
    AllRounds(l, std::make_integer_sequence<int, 16>{});
    EndBlock(l);
  }
  StoreState(l, state);
}

TESSERA_SHA_TARGET void Compress2(State& a, const uint8_t* data_a, State& b, const uint8_t* data_b,
                                  size_t blocks) {
  if (blocks == 0) return;
  Lane la, lb;
  LoadState(la, a);
  LoadState(lb, b);
  for (size_t i = 0; i < blocks; ++i) {
    BeginBlock(la, data_a + 64 * i);
    BeginBlock(lb, data_b + 64 * i);
    AllRounds2(la, lb, std::make_integer_sequence<int, 16>{});
    EndBlock(la);
    EndBlock(lb);
  }
  StoreState(la, a);
  StoreState(lb, b);
}

#else  // not x86-64: callers use OpenSSL

bool Available() {
  return false;
}

[[noreturn]] static void NotAvailable() {
  std::fputs("tessera: bug: SHA extensions used on a CPU without them\n", stderr);
  std::abort();
}

void Compress(State&, const uint8_t*, size_t) {
  NotAvailable();
}

void Compress2(State&, const uint8_t*, State&, const uint8_t*, size_t) {
  NotAvailable();
}

#endif

}  // namespace tessera::crypto::sha256_ni
