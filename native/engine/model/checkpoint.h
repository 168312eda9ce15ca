// A checkpoint folder: config.json + safetensors weights (one file, or shards with
// model.safetensors.index.json), memory-mapped and validated against what the config implies
// (architecture.md §1-§2). Tensor names are the checkpoint's own.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "model/config.h"
#include "model/safetensors.h"

namespace vlac {

class Checkpoint {
 public:
  // Opens and validates everything: errors are vlac::Error with the api.md §7 code
  // (NotFound, BadConfig, BadWeights, MissingTensor, TensorShape).
  static std::unique_ptr<Checkpoint> open(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const ModelConfig& config() const { return config_; }

  // A tensor the architecture uses, as bf16 bits (F16/F32 checkpoints are converted once at load).
  // `name` must be one of the required names; anything else is an internal error.
  const uint16_t* bf16(const std::string& name) const;
  // The same tensor widened to fp32 (small tensors: norms, biases, embeddings tables are not
  // widened by callers; this allocates and caches on first use and is thread-safe).
  const float* f32(const std::string& name) const;
  const std::vector<int64_t>& shape(const std::string& name) const;
  bool has(const std::string& name) const;

  // Pre-quantized checkpoints (docs/int8.md): a Linear weight stored as I8 [N, K] row-major codes
  // with an F32 [N] "<name>.scale" and, when it has outlier input columns, "<name>.outlier_columns"
  // (I32 [n]) and "<name>.outlier_weights" (F32 [n, N]), in a file whose __metadata__ has
  // "vlac_quantization": kInt8Quantization (or kInt8QuantizationV1, which has no outlier columns).
  // bf16()/f32() of such a tensor are an internal error.
  bool is_int8(const std::string& name) const;
  const int8_t* int8(const std::string& name) const;
  const float* int8_scale(const std::string& name) const;
  const std::vector<int32_t>& int8_outlier_columns(const std::string& name) const;  // empty: none
  const std::vector<float>& int8_outlier_weights(const std::string& name) const;
  // Drops the resident pages of a tensor's mapped data once the caller holds its own copy (a
  // quantized or repacked Linear): they are read back from the file if the tensor is read again.
  // Only whole pages inside the tensor's span are dropped. Owned (converted) tensors are untouched.
  void release_pages(const std::string& name) const;
  // The file's "vlac_quantization" when the checkpoint holds I8 Linears, else "".
  const std::string& quantization() const { return quantization_; }

  std::string stored_dtype() const { return stored_dtype_; }  // "bf16" | "f16" | "f32" | "mixed"
  const std::vector<std::string>& unused_tensors() const { return unused_; }
  uint64_t weight_bytes() const;  // bytes of the bf16 weights the engine uses (I8 Linears: codes + scales)
  uint64_t non_linear_weight_bytes() const;  // the same without the quantizable Linears

  ~Checkpoint();

 private:
  Checkpoint() = default;
  struct Entry;
  std::string dir_;
  ModelConfig config_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, std::unique_ptr<Entry>> tensors_;
  std::vector<std::string> unused_;
  std::string stored_dtype_;
  std::string quantization_;
};

// The metadata value of a pre-quantized checkpoint, and the tensors that may be stored I8: the
// Linear weights of the ViT blocks, the projector, the LLM layers and the LM head.
// v2 (written by quantize_checkpoint) adds the outlier input columns of ops/int8.h; v1 files still
// load (they have none).
constexpr const char* kInt8Quantization = "int8-per-channel-outliers-v2";
constexpr const char* kInt8QuantizationV1 = "int8-per-channel-v1";
bool is_quantizable_linear(const std::string& name);

// The tensors the architecture needs for `config`, with their shapes (architecture.md §2).
std::map<std::string, std::vector<int64_t>> required_tensor_shapes(const ModelConfig& config);

// model.safetensors.index.json text -> {tensor name: shard file name}. BadWeights naming `path` when it
// is not JSON, has no "weight_map" object, names no shard, or a shard outside the folder.
std::map<std::string, std::string> parse_safetensors_index(const std::string& text, const std::string& path);

}  // namespace vlac
