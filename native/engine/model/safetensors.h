// The one safetensors reader: an 8-byte little-endian header length, a JSON header
// {name: {dtype, shape, data_offsets:[begin,end]}, "__metadata__": {...}}, then the data.
// Everything is validated (header length vs file size, JSON, dtype names, shape x dtype = span,
// spans inside the data and non-overlapping): ErrorCode::BadWeights naming the file and tensor.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/mapped_file.h"

namespace vlac {

enum class DType { BF16, F16, F32, F64, I8, U8, I16, I32, I64, BOOL };
const char* dtype_name(DType t);   // safetensors spelling: "BF16", ...
size_t dtype_size(DType t);

struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data;  // inside the mapping; may be unaligned for odd offsets
  size_t nbytes;
  int64_t numel() const;
};

class SafetensorsFile {
 public:
  // Maps and validates `path` (NotFound if it cannot be opened; BadWeights if malformed).
  explicit SafetensorsFile(const std::string& path);
  // Validates a header + data held in memory (used by the fuzzer); `label` names it in errors.
  static std::map<std::string, TensorView> parse(const uint8_t* bytes, size_t size, const std::string& label,
                                                 std::map<std::string, std::string>* metadata = nullptr);

  const std::string& path() const { return file_.path(); }
  const std::map<std::string, TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorView& tensor(const std::string& name) const;  // BadWeights if absent... see has()
  bool has(const std::string& name) const { return tensors_.count(name) != 0; }

 private:
  MappedFile file_;
  std::map<std::string, TensorView> tensors_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace vlac
