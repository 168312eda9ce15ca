// Writes a pre-quantized checkpoint (issue 16; format in docs/int8.md): the Linears that
// weights 'int8' quantizes (checkpoint.h is_quantizable_linear), as I8 [N, K] row-major codes in the
// checkpoint's own row order plus an F32 [N] "<name>.scale" per output channel and, for a Linear
// with outlier input columns (ops/int8.h), "<name>.outlier_columns" (I32 [n]) and
// "<name>.outlier_weights" (F32 [n, N]); every other tensor the architecture uses as BF16; one
// model.safetensors (model/safetensors_writer.h) with __metadata__ {"format": "pt",
// "vlac_quantization": kInt8Quantization}; and the folder's other files (config.json, tokenizer,
// generation config) copied. Checkpoint::open reads it back without re-quantizing; the codes are
// exactly those quantize-on-load computes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace vlac {

struct QuantizeCheckpointOptions {
  bool quantize_lm_head = true;
  // After each tensor: (tensors written, tensors in all).
  std::function<void(int64_t done, int64_t total)> on_progress;
};

struct QuantizeCheckpointReport {
  int64_t quantized = 0;       // tensors stored I8
  uint64_t bytes_written = 0;  // of model.safetensors
  double seconds = 0;
};

// Errors: the Checkpoint::open codes for `in_dir`; BadArgument when in_dir is already pre-quantized,
// out_dir equals in_dir, or out_dir cannot be written.
QuantizeCheckpointReport quantize_checkpoint(const std::string& in_dir, const std::string& out_dir,
                                             const QuantizeCheckpointOptions& options = {});

}  // namespace vlac
