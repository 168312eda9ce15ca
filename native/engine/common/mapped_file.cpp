#include "common/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/error.h"

namespace vlac {

namespace {

int open_regular_file(const std::string& path, struct stat* st) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorCode::NotFound, "cannot open " + path + ": " + std::strerror(errno));
  if (::fstat(fd, st) != 0) {
    int err = errno;
    ::close(fd);
    fail(ErrorCode::NotFound, "cannot stat " + path + ": " + std::strerror(err));
  }
  if (!S_ISREG(st->st_mode)) {
    ::close(fd);
    fail(ErrorCode::NotFound, path + " is not a regular file");
  }
  return fd;
}

}  // namespace

MappedFile::MappedFile(const std::string& path) : path_(path) {
  struct stat st;
  int fd = open_regular_file(path, &st);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      fail(ErrorCode::NotFound, "cannot map " + path + ": " + std::strerror(err));
    }
    data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& other) noexcept
    : path_(std::move(other.path_)), data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

MappedFile& MappedFile::operator=(MappedFile&& other) noexcept {
  if (this != &other) {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(other.path_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

std::string read_text_file(const std::string& path) {
  struct stat st;
  int fd = open_regular_file(path, &st);
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::read(fd, &out[got], out.size() - got);
    if (n <= 0) {
      int err = errno;
      ::close(fd);
      fail(ErrorCode::NotFound, "cannot read " + path + ": " + (n == 0 ? "unexpected end" : std::strerror(err)));
    }
    got += static_cast<size_t>(n);
  }
  ::close(fd);
  return out;
}

bool is_regular_file(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

}  // namespace vlac
