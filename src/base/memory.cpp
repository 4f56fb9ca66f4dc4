#include "base/memory.hpp"

#include <malloc.h>

#include <new>

namespace tessera {

AlignedBuffer::AlignedBuffer(size_t size, size_t alignment) : size_(size) {
  // aligned_alloc wants a whole number of alignment units.
  const size_t rounded = (size + alignment - 1) / alignment * alignment;
  data_.reset(
      static_cast<uint8_t*>(std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded)));
  if (!data_) throw std::bad_alloc();
}

void TuneAllocatorForLargeBuffers() {
  // A fixed threshold also stops glibc from raising it dynamically; 32 MiB is above every
  // buffer of the backup pipeline (packs, sealed objects, shard files), which then come
  // from the heap instead of a fresh mmap each. One arena: a second one lives in 64 MiB
  // heaps that glibc unmaps whenever one empties, so every buffer was faulted in anew
  // page by page (half of a verify's time on a virtual machine, and it came and went
  // with thread scheduling). The heap is not trimmed below 256 MiB: the peak of resident
  // memory is set by what is in use at once (bounded by the pipeline, ~150 MiB), and
  // returning it between packs only costs faults on the next one.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  mallopt(M_ARENA_MAX, 1);
}

}  // namespace tessera
