// A buffer mapped straight from the kernel (mmap) and unmapped when it ends, for the big buffers
// whose lifetimes cross calls or threads: N-API inputs and results, KV caches, workspace blocks.
//
// Why not malloc: glibc serves a big malloc with its own mmap only until the first such block is
// freed; from then on its mmap threshold rises to that block's size (up to 32 MiB), and blocks
// below it come from the malloc arenas, where blocks of staggered lifetimes (results freed by V8's
// GC, buffers handed between threads) fragment the arena and its freed pages stay resident: 10,000
// pairCritic calls grew RSS by 28 % that way (issue 19). A mapped buffer gives its pages back when
// it ends, and pages it never touches never become resident.
//
// Under AddressSanitizer it comes from malloc instead, so that its bounds are checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace vlac {

class PageBuffer {
 public:
  PageBuffer() = default;
  // `bytes` bytes (0: no mapping), 64-byte aligned, contents unspecified. OutOfMemory on failure.
  explicit PageBuffer(size_t bytes);
  PageBuffer(PageBuffer&& other) noexcept;
  PageBuffer& operator=(PageBuffer&& other) noexcept;
  PageBuffer(const PageBuffer&) = delete;
  PageBuffer& operator=(const PageBuffer&) = delete;
  ~PageBuffer();

  // Copy-on-write sharing, for KV caches (one prefix, many forks; every byte written once).
  // make_shareable moves the buffer into a shared-memory file mapped at a new address (data()
  // changes), keeping the bytes of `keep` ({offset, length} ranges; the rest then reads as zero),
  // and gives the old pages back. It returns false,
  // changing nothing, where there is no such file (an AddressSanitizer build, memfd_create failing,
  // e.g. out of descriptors): the caller then copies instead.
  bool make_shareable(const std::vector<std::pair<size_t, size_t>>& keep);
  // False in the builds whose buffers come from malloc (AddressSanitizer), where sharing never works.
  static bool sharing_supported();
  bool shareable() const { return fd_ >= 0; }
  // A private mapping of this shareable buffer: it reads this buffer's bytes, and what it writes is
  // its own (the kernel copies a page on its first write). Until it writes a page it also sees this
  // buffer's later writes to that page: sound only where neither rewrites a byte the other reads.
  // The file lives as long as any mapping of it.
  PageBuffer copy_on_write_view() const;

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  template <class T>
  T* as() {
    return reinterpret_cast<T*>(data_);
  }
  template <class T>
  const T* as() const {
    return reinterpret_cast<const T*>(data_);
  }

 private:
  void reset();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  int fd_ = -1;  // the shared-memory file this buffer is a shared mapping of (make_shareable)
};

}  // namespace vlac
