// The one safetensors writer (the reader is safetensors.h): an 8-byte little-endian header length,
// the JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}} padded with spaces to
// a multiple of 8 bytes (so every span starts as aligned as its offset), then the tensors' data in
// the order they were declared. Used by the random checkpoints and `vlac quantize`.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

namespace vlac {

// A file written front to back; every failure is a BadArgument naming the file.
class FileWriter {
 public:
  explicit FileWriter(const std::string& path);
  ~FileWriter();
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;
  void write(const void* data, size_t n);
  void close();

 private:
  std::string path_;
  FILE* f_;
};

class SafetensorsWriter {
 public:
  struct Tensor {
    std::string name;
    std::string dtype;  // safetensors spelling: "BF16", "F32", "I8", "I32", ...
    std::vector<int64_t> shape;
    uint64_t bytes;     // of its data
  };
  // Creates `path` and writes the header of `tensors`, laid out back to back in this order.
  SafetensorsWriter(const std::string& path, const std::vector<Tensor>& tensors,
                    const std::map<std::string, std::string>& metadata);
  // The next n bytes of tensor data (any split of the declared order).
  void write(const void* data, size_t n);
  // Closes the file; an Internal error unless exactly the declared data was written. Returns the
  // file's size.
  uint64_t close();

 private:
  FileWriter file_;
  uint64_t header_bytes_ = 0, data_bytes_ = 0, written_ = 0;
};

}  // namespace vlac
