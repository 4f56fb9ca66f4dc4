// Process-wide memory settings for programs that move pack-sized buffers around.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace tessera {

// A heap buffer of `size` bytes starting at a multiple of `alignment` (a power of two),
// left uninitialised: for data that is written in full before it is read, where zeroing
// megabytes first costs as much as the work on them, and for direct I/O.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  AlignedBuffer(size_t size, size_t alignment);
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_ = 0;
};

// Makes glibc keep freed multi-megabyte buffers for reuse instead of returning them to
// the kernel and faulting fresh zero pages in for the next one (which costs more than
// the cryptography on them), with a single arena so that resident memory stays close to
// the peak in use. Call once at start-up, before threads exist.
void TuneAllocatorForLargeBuffers();

}  // namespace tessera
