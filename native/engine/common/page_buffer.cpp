#include "common/page_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>

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
    : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)), fd_(std::exchange(other.fd_, -1)) {}

PageBuffer& PageBuffer::operator=(PageBuffer&& other) noexcept {
  if (this != &other) {
    reset();
    data_ = std::exchange(other.data_, nullptr);
    size_ = std::exchange(other.size_, 0);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

PageBuffer::~PageBuffer() { reset(); }

void PageBuffer::reset() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (!data_) return;
#ifdef VLAC_PAGE_BUFFER_MALLOC
  std::free(data_);
#else
  munmap(data_, size_);
#endif
  data_ = nullptr;
  size_ = 0;
}

bool PageBuffer::sharing_supported() {
#ifdef VLAC_PAGE_BUFFER_MALLOC
  return false;
#else
  return true;
#endif
}

bool PageBuffer::make_shareable(const std::vector<std::pair<size_t, size_t>>& keep) {
#ifdef VLAC_PAGE_BUFFER_MALLOC
  (void)keep;
  return false;
#else
  if (fd_ >= 0) return true;
  if (!data_) return false;
  const int fd = memfd_create("vlac-kv", MFD_CLOEXEC);
  if (fd < 0) return false;
  void* p = ftruncate(fd, static_cast<off_t>(size_)) == 0
                ? mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
                : MAP_FAILED;
  if (p == MAP_FAILED) {
    close(fd);
    return false;
  }
  auto* shared = static_cast<uint8_t*>(p);
  for (const auto& [offset, length] : keep) std::memcpy(shared + offset, data_ + offset, length);
  munmap(data_, size_);
  data_ = shared;  // a new address: the owner re-derives its pointers
  fd_ = fd;
  return true;
#endif
}

PageBuffer PageBuffer::copy_on_write_view() const {
  VLAC_CHECK(fd_ >= 0, "copy_on_write_view of a buffer that is not shareable");
  PageBuffer view;
  void* p = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd_, 0);
  if (p == MAP_FAILED) fail(ErrorCode::OutOfMemory, "cannot map a view of " + std::to_string(size_) + " bytes");
  view.data_ = static_cast<uint8_t*>(p);
  view.size_ = size_;
  return view;
}

}  // namespace vlac
