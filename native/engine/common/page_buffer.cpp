#include "common/page_buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "common/error.h"

#if defined(__SANITIZE_ADDRESS__)
#define VLAC_PAGE_BUFFER_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VLAC_PAGE_BUFFER_MALLOC 1
#endif
#endif

namespace vlac {

PageBuffer::PageBuffer(size_t bytes) {
  if (bytes == 0) return;
#ifdef VLAC_PAGE_BUFFER_MALLOC
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) fail(ErrorCode::OutOfMemory, "cannot allocate a buffer of " + std::to_string(bytes) + " bytes");
#else
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) fail(ErrorCode::OutOfMemory, "cannot map a buffer of " + std::to_string(bytes) + " bytes");
#endif
  data_ = static_cast<uint8_t*>(p);
  size_ = bytes;
}

PageBuffer::PageBuffer(PageBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

PageBuffer::~PageBuffer() { reset(); }

void PageBuffer::reset() {
  if (!data_) return;
#ifdef VLAC_PAGE_BUFFER_MALLOC
  std::free(data_);
#else
  munmap(data_, size_);
#endif
  data_ = nullptr;
  size_ = 0;
}

}  // namespace vlac
