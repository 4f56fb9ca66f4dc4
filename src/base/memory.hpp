// Process-wide memory settings for programs that move pack-sized buffers around.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

namespace tessera {

// A buffer of `size` bytes starting at a multiple of `alignment` (a power of two, at most
// 2 MiB), left uninitialised: for data that is written in full before it is read, where
// zeroing megabytes first costs as much as the work on them, and for direct I/O. Buffers
// of 2 MiB and more are mapped on their own in transparent huge pages where the kernel
// offers them: first touching a pack-sized buffer page by page cost a tenth of a backup's
// time on a virtual machine. A freed one is kept for reuse by the next of about its size
// (at most a few, 64 MiB in all); the rest are returned to the kernel at once.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(size_t size, size_t alignment);
  AlignedBuffer(AlignedBuffer&& other) noexcept { *this = std::move(other); }
  AlignedBuffer& operator=(AlignedBuffer&& other) noexcept;
  ~AlignedBuffer();
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  size_t mapped_ = 0;  // the length of its own mapping, or 0 for heap memory
};

// Makes glibc keep freed multi-megabyte buffers for reuse instead of returning them to
// the kernel and faulting fresh zero pages in for the next one (which costs more than
// the cryptography on them), with a single arena so that resident memory stays close to
// the peak in use. Call once at start-up, before threads exist.
void TuneAllocatorForLargeBuffers();

}  // namespace tessera
