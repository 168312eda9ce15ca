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
};

}  // namespace vlac
