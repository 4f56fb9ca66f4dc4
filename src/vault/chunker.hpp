// Content-defined chunking (FastCDC with normalised chunking): the same bytes give the
// same boundaries wherever they stand in a file, so an insertion changes only the chunks
// around it. The gear table comes from the vault key, so boundaries reveal nothing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace tessera::vault {

struct ChunkerParams {
  size_t min_size = 512 * 1024;
  size_t avg_size = 1024 * 1024;  // a power of two
  size_t max_size = 8 * 1024 * 1024;
};

class Chunker {
 public:
  Chunker(const std::array<uint64_t, 256>& gear, ChunkerParams params);
  // Length of the next chunk at the start of data[0, len). The caller passes at least
  // max_size bytes unless the input ends within them (then the rest is one final chunk
  // if no boundary is found).
  size_t Cut(const uint8_t* data, size_t len) const;
  const ChunkerParams& params() const { return params_; }

 private:
  const std::array<uint64_t, 256>& gear_;
  ChunkerParams params_;
  uint64_t mask_small_, mask_large_;
};

}  // namespace tessera::vault
