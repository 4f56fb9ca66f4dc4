#include "vault/compression.hpp"

#include <zstd.h>

#include <cmath>
#include <memory>

namespace tessera::vault {

namespace {
struct CCtxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};
ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxDeleter> ctx(ZSTD_createCCtx());
  return ctx.get();
}
ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxDeleter> ctx(ZSTD_createDCtx());
  return ctx.get();
}
constexpr size_t kProbeSize = 4 * 1024;  // per sample
constexpr size_t kProbeSamples = 4;
// Bits per byte of a sample's byte histogram above which it is taken for random. Random
// (compressed, encrypted) bytes measure ~7.95 in 4 KiB (the estimate falls short of 8 by
// about 255 / (2 · 4096 · ln 2)); text, code, tables and zeros measure far less.
constexpr double kRandomEntropy = 7.8;

double SampleEntropy(const uint8_t* p, size_t n) {
  // Four tables, so that runs of one byte value do not wait on their own increments.
  uint32_t counts[4][256] = {};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    counts[0][p[i]]++;
    counts[1][p[i + 1]]++;
    counts[2][p[i + 2]]++;
    counts[3][p[i + 3]]++;
  }
  for (; i < n; ++i) counts[0][p[i]]++;
  double bits = 0;
  for (int b = 0; b < 256; ++b) {
    const uint32_t c = counts[0][b] + counts[1][b] + counts[2][b] + counts[3][b];
    if (c == 0) continue;
    const double q = static_cast<double>(c) / static_cast<double>(n);
    bits -= q * std::log2(q);
  }
  return bits;
}
}  // namespace

std::optional<ByteView> CompressIfWorthwhile(ByteView in, int level) {
  if (in.size() < 64) return std::nullopt;
  // Samples spread over the input are looked at first: random or already-compressed data
  // is common in backups (archives, media) and compressing it would be wasted time. One
  // sample is not enough: a chunk of a disk image mixes random, text and zero extents. A
  // byte histogram costs a fraction of compressing the samples (which took 6 % of the
  // zstd time of every compressible chunk).
  if (in.size() > 2 * kProbeSamples * kProbeSize) {
    bool all_random = true;
    for (size_t i = 0; i < kProbeSamples && all_random; ++i) {
      const size_t at = i * (in.size() - kProbeSize) / (kProbeSamples - 1);
      all_random = SampleEntropy(in.data() + at, kProbeSize) > kRandomEntropy;
    }
    if (all_random) return std::nullopt;
  }
  ZSTD_CCtx* cctx = ThreadCCtx();
  // Scratch space that only grows: zero-filling a fresh bound-sized buffer for every
  // chunk would cost more than compressing it.
  thread_local Bytes scratch;
  size_t bound = ZSTD_compressBound(in.size());
  if (scratch.size() < bound) scratch.resize(bound);
  size_t n = ZSTD_compressCCtx(cctx, scratch.data(), scratch.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n) || n > in.size() * 97 / 100) return std::nullopt;
  return ByteView(scratch.data(), n);
}

Result<Bytes> Decompress(ByteView in, size_t max_size) {
  unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) return Status::Corruption("not zstd-compressed data");
  if (size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_size)
    return Status::Corruption("compressed data declares an implausible size");
  Bytes out(static_cast<size_t>(size));
  size_t n = ZSTD_decompressDCtx(ThreadDCtx(), out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n) || n != out.size())
    return Status::Corruption(std::string("cannot decompress: ") + ZSTD_getErrorName(n));
  return out;
}

}  // namespace tessera::vault
