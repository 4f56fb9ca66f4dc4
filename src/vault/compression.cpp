#include "vault/compression.hpp"

#include <zstd.h>

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
constexpr size_t kProbeSize = 16 * 1024;  // per sample
constexpr size_t kProbeSamples = 4;
}  // namespace

std::optional<ByteView> CompressIfWorthwhile(ByteView in, int level) {
  if (in.size() < 64) return std::nullopt;
  ZSTD_CCtx* cctx = ThreadCCtx();
  // Scratch space that only grows: zero-filling a fresh bound-sized buffer for every
  // chunk would cost more than compressing it.
  thread_local Bytes scratch;
  size_t bound = ZSTD_compressBound(in.size());
  if (scratch.size() < bound) scratch.resize(bound);
  // Probe samples spread over the input first: random or already-compressed data is
  // common in backups (archives, media) and compressing it all would be wasted time. One
  // sample is not enough: a chunk of a disk image mixes random, text and zero extents.
  if (in.size() > 2 * kProbeSamples * kProbeSize) {
    bool any_compresses = false;
    for (size_t i = 0; i < kProbeSamples && !any_compresses; ++i) {
      const size_t at = i * (in.size() - kProbeSize) / (kProbeSamples - 1);
      size_t n = ZSTD_compressCCtx(cctx, scratch.data(), scratch.size(), in.data() + at, kProbeSize,
                                   level);
      any_compresses = !ZSTD_isError(n) && n <= kProbeSize * 97 / 100;
    }
    if (!any_compresses) return std::nullopt;
  }
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
