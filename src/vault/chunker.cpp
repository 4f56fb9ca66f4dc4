#include "vault/chunker.hpp"

#include <algorithm>
#include <bit>

namespace tessera::vault {

namespace {
// The top `bits` bits set: the gear hash's high bits depend on the last 64 bytes seen.
uint64_t TopBits(int bits) {
  return bits <= 0 ? 0 : ~uint64_t{0} << (64 - bits);
}
}  // namespace

Chunker::Chunker(const std::array<uint64_t, 256>& gear, ChunkerParams params)
    : gear_(gear), params_(params) {
  int bits = std::countr_zero(params.avg_size);
  // Normalised chunking: harder to cut before the average size, easier after, which
  // narrows the size distribution around the average.
  mask_small_ = TopBits(bits + 2);
  mask_large_ = TopBits(bits - 2);
}

size_t Chunker::Cut(const uint8_t* data, size_t len) const {
  if (len <= params_.min_size) return len;
  size_t end = std::min(len, params_.max_size);
  size_t normal = std::min(end, params_.avg_size);
  uint64_t fp = 0;
  // Warm the hash over the 64 bytes before min_size so that the first candidate
  // boundary already depends on a full window.
  size_t i = params_.min_size - 64;
  for (; i < params_.min_size; ++i) fp = (fp << 1) + gear_[data[i]];
  for (; i < normal; ++i) {
    fp = (fp << 1) + gear_[data[i]];
    if ((fp & mask_small_) == 0) return i + 1;
  }
  for (; i < end; ++i) {
    fp = (fp << 1) + gear_[data[i]];
    if ((fp & mask_large_) == 0) return i + 1;
  }
  return end;
}

}  // namespace tessera::vault
