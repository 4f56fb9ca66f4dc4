#include "base/memory.hpp"

#include <malloc.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <vector>

namespace tessera {

namespace {
constexpr size_t kHugePage = size_t{2} << 20;

// Mappings freed recently, kept for the next buffer of about their size: every pack's
// shard files need one, and faulting a fresh mapping in (the kernel zeroes each huge page
// first) cost as much as the pack's encryption. A few, bounded in bytes, so that resident
// memory stays what the pipeline has in flight at its peak.
class MappingCache {
 public:
  struct Mapping {
    uint8_t* data = nullptr;
    size_t length = 0;
  };
  // A cached mapping of at least `length` bytes and less than twice that, if there is one.
  Mapping Take(size_t length) {
    std::lock_guard lock(mu_);
    for (size_t i = 0; i < cached_.size(); ++i) {
      if (cached_[i].length >= length && cached_[i].length < 2 * length) {
        Mapping m = cached_[i];
        cached_.erase(cached_.begin() + static_cast<std::ptrdiff_t>(i));
        cached_bytes_ -= m.length;
        return m;
      }
    }
    return {};
  }
  // Keeps the mapping if there is room; otherwise unmaps it.
  void Give(Mapping m) {
    {
      std::lock_guard lock(mu_);
      if (cached_.size() < kMaxMappings && cached_bytes_ + m.length <= kMaxBytes) {
        cached_.push_back(m);
        cached_bytes_ += m.length;
        return;
      }
    }
    ::munmap(m.data, m.length);
  }

 private:
  static constexpr size_t kMaxMappings = 4;
  static constexpr size_t kMaxBytes = size_t{64} << 20;
  std::mutex mu_;
  std::vector<Mapping> cached_;
  size_t cached_bytes_ = 0;
};

MappingCache& Mappings() {
  static auto* cache = new MappingCache;  // never destroyed: buffers may outlive main()
  return *cache;
}
}  // namespace

AlignedBuffer::AlignedBuffer(size_t size, size_t alignment) : size_(size) {
  if (size >= kHugePage) {
    const size_t length = (size + kHugePage - 1) / kHugePage * kHugePage;
    if (MappingCache::Mapping reused = Mappings().Take(length); reused.data != nullptr) {
      data_ = reused.data;
      mapped_ = reused.length;
      return;
    }
    // Over-map by one huge page to place the buffer on a huge-page boundary.
    void* p = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::bad_alloc();
    auto start = reinterpret_cast<uintptr_t>(p);
    const uintptr_t aligned = (start + kHugePage - 1) / kHugePage * kHugePage;
    if (aligned > start) ::munmap(p, aligned - start);
    const uintptr_t end = start + length + kHugePage;
    if (end > aligned + length)
      ::munmap(reinterpret_cast<void*>(aligned + length), end - aligned - length);
    data_ = reinterpret_cast<uint8_t*>(aligned);
    mapped_ = length;
    // Advice only: without huge pages the buffer works the same.
    (void)::madvise(data_, mapped_, MADV_HUGEPAGE);
    return;
  }
  // aligned_alloc wants a whole number of alignment units.
  const size_t rounded = (size + alignment - 1) / alignment * alignment;
  data_ = static_cast<uint8_t*>(std::aligned_alloc(alignment, rounded == 0 ? alignment : rounded));
  if (!data_) throw std::bad_alloc();
}

AlignedBuffer& AlignedBuffer::operator=(AlignedBuffer&& other) noexcept {
  if (this != &other) {
    this->~AlignedBuffer();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    mapped_ = std::exchange(other.mapped_, 0);
  }
  return *this;
}

AlignedBuffer::~AlignedBuffer() {
  if (mapped_ != 0)
    Mappings().Give({data_, mapped_});
  else
    std::free(data_);
  data_ = nullptr;
  mapped_ = 0;
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
