// A Linear layer's weight as the networks hold it: bf16 (a view of the checkpoint, or owned when the
// load reorders it), or int8 per output channel (ops/int8.h), quantized once at load (issue 16).
// apply() picks the product: bf16 -> ops::linear; int8 -> W8A16 for decode-sized batches (M <= 4,
// weight streaming dominates) and W8A8 with per-token activation scales above (prefill, ViT,
// projector).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "ops/int8.h"

namespace vlac {

enum class WeightFormat { Bf16, Int8 };
const char* weight_format_name(WeightFormat format);  // "bf16" | "int8"

// How the networks store their Linear weights. With Int8 every Linear of the ViT blocks, projector
// and LLM is int8 (the LM head unless quantize_lm_head is false); the patch embedding (a convolution,
// 0.6 M weights), norms, embeddings and biases stay as they are.
struct WeightOptions {
  WeightFormat format = WeightFormat::Bf16;
  bool quantize_lm_head = true;
  // Load option precision 'bf16': the bf16 products of more than kDecodeRows rows (ViT, projector,
  // prefill) round their activations to bf16 first (ops::linear_bf16), as the PyTorch bf16 path does;
  // decode keeps fp32 activations. Int8 weights ignore it.
  bool bf16_activations = false;
};

class LinearWeight {
 public:
  // Rows up to which a product runs a GEMV (bf16: ops::linear's; int8: the weight-only W8A16), with
  // each row's sums in the same order whatever the row count; above it a GEMM, which sums differently.
  static constexpr int64_t kDecodeRows = 4;

  LinearWeight() = default;
  // w: bf16 [N, K]; the view must outlive this object unless quantized.
  LinearWeight(const uint16_t* w, int64_t N, int64_t K, bool int8);
  // An owned bf16 weight (e.g. reordered at load).
  LinearWeight(std::vector<uint16_t> w, int64_t N, int64_t K, bool int8);
  // A pre-quantized weight.
  explicit LinearWeight(ops::QuantizedWeight q);

  // y [M, N] = x [M, K] · Wᵀ (+ bias).
  void apply(const float* x, int64_t M, const float* bias, float* y) const;
  // The same with the decode product for any M: rows in chunks of at most kDecodeRows, each row
  // computed exactly as a product of that row alone (a batched decode step of M sequences, whose
  // replies must not depend on how many share the step).
  void apply_rows(const float* x, int64_t M, const float* bias, float* y) const;

  // Whether bf16 products of more than kDecodeRows rows run ops::linear_bf16 (WeightOptions).
  void set_bf16_activations(bool on) { bf16_activations_ = on; }

  bool is_int8() const { return q_.has_value(); }
  int64_t N() const { return N_; }
  int64_t K() const { return K_; }
  const ops::QuantizedWeight* quantized() const { return q_ ? &*q_ : nullptr; }
  size_t bytes() const;  // the weight bytes a product reads

 private:
  const uint16_t* bf16_ = nullptr;
  std::vector<uint16_t> owned_;
  std::optional<ops::QuantizedWeight> q_;
  int64_t N_ = 0, K_ = 0;
  bool bf16_activations_ = false;
};

// The Linear `name` [N, K] of a checkpoint: its stored codes when the checkpoint is pre-quantized
// (Checkpoint::is_int8), else its bf16 weight, quantized when `int8`.
LinearWeight load_linear(const Checkpoint& ck, const std::string& name, int64_t N, int64_t K, bool int8);

// The stored codes, scales and outlier columns of a pre-quantized Linear `name` [N, K], repacked;
// with row_order, row n is the checkpoint's row row_order[n] (the LLM's GQA-interleaved wqkv).
ops::QuantizedWeight stored_int8_linear(const Checkpoint& ck, const std::string& name, int64_t N, int64_t K,
                                        const std::vector<int64_t>& row_order = {});

}  // namespace vlac
