// A read-only memory mapping of a whole file. Opening reports ERR_VLAC_NOT_FOUND for a missing
// path, a directory, or anything that cannot be opened for reading.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vlac {

class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& other) noexcept;
  MappedFile& operator=(MappedFile&& other) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a whole (small) file into a string; same errors as MappedFile.
std::string read_text_file(const std::string& path);
bool is_regular_file(const std::string& path);
std::string join_path(const std::string& dir, const std::string& name);

}  // namespace vlac
