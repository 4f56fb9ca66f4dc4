#include "base/memory.hpp"

#include <malloc.h>

namespace tessera {

void TuneAllocatorForLargeBuffers() {
  // A fixed threshold also stops glibc from raising it dynamically; 32 MiB is above every
  // buffer of the backup pipeline (packs, sealed objects, shard files), which then come
  // from the heap without a page fault per page on every reuse. Freed memory above 32 MiB
  // goes back to the system, and two arenas are enough for the pipeline's threads: both
  // keep the peak RSS of a backup under 200 MiB (bench/RESULTS.md).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 32 << 20);
  mallopt(M_ARENA_MAX, 2);
}

}  // namespace tessera
