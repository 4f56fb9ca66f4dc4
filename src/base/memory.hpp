// Process-wide memory settings for programs that move pack-sized buffers around.
#pragma once

namespace tessera {

// Makes glibc keep freed multi-megabyte buffers for reuse instead of returning them to
// the kernel and faulting fresh zero pages in for the next one (which costs more than
// the cryptography on them), with a single arena so that resident memory stays close to
// the peak in use. Call once at start-up, before threads exist.
void TuneAllocatorForLargeBuffers();

}  // namespace tessera
