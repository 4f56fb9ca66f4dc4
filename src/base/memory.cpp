#include "base/memory.hpp"

#include <malloc.h>

namespace tessera {

void TuneAllocatorForLargeBuffers() {
  // A fixed threshold also stops glibc from raising it dynamically; 32 MiB is above every
  // buffer of the backup pipeline (packs, sealed objects, shard files).
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 64 << 20);
  mallopt(M_ARENA_MAX, 4);
}

}  // namespace tessera
