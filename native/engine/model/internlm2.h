// InternLM2 decoder (architecture.md §5): token embedding, pre-norm layers with GQA attention over a
// KV cache and rotate-half RoPE with dynamic NTK, SwiGLU FFN, final RMSNorm and an untied head.
// fp32 activations and residuals on bf16 weights (§12).
//
// A forward takes a batch of rows from one or more sequences: the linear layers run over all rows
// at once, RoPE and attention per sequence against its own cache. Prefill, decode and a batch of
// several sequences are the same call.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/checkpoint.h"
#include "model/linear_weight.h"

namespace vlac {

// One sequence's consecutive rows in a batched forward.
struct LlmSegment {
  int64_t rows = 0;
  int64_t past = 0;                 // tokens already in its cache: the position of its first row
  float* const* k_cache = nullptr;  // per layer, [capacity, kv_heads, head_dim]; K stored after RoPE
  float* const* v_cache = nullptr;  // per layer, same layout
};

// Sees the residual stream: index 0 = the input rows (embeddings after the image splice),
// index k = the output of layer k-1, for k = 1..layers (before the final norm).
using LayerObserver = std::function<void(int64_t index, const float* h, int64_t rows)>;

class InternLm2 {
 public:
  explicit InternLm2(const Checkpoint& checkpoint, const WeightOptions& weights = {});

  const LlmConfig& config() const { return config_; }

  // out [n, D] = tok_embeddings[ids]; ids outside [0, vocab) are a BadArgument.
  void embed(const int32_t* ids, int64_t n, float* out) const;

  // h [sum of segment rows, D] in place: the input rows become the last layer's output (before the
  // final norm). Appends each segment's K/V rows to its cache at past .. past+rows-1.
  // When no segment has more than LinearWeight::kDecodeRows rows (decode steps, batched or not) the
  // products run row by row, so a segment's output is bit-identical to a forward of it alone.
  void forward(float* h, const std::vector<LlmSegment>& segments, const LayerObserver* observer = nullptr) const;

  void final_norm(const float* h, int64_t rows, float* out) const;
  // logits [rows, vocab] of un-normed last-layer rows h: final norm, then the output head, each row
  // computed as a lone row's (LinearWeight::apply_rows): a sequence's logits do not depend on how
  // many others share the call.
  void head(const float* h, int64_t rows, float* logits) const;
  bool lm_head_is_int8() const { return output_.is_int8(); }
  uint64_t linear_weight_bytes() const;  // layers + LM head as held (model/linear_weight.h)

 private:
  struct Layer {
    const float* attention_norm;
    LinearWeight wqkv;  // de-interleaved at load into rows [Q (head-major) | K | V]
    LinearWeight wo;
    const float* ffn_norm;
    LinearWeight w1;  // gate
    LinearWeight w3;  // up
    LinearWeight w2;  // down
  };

  LlmConfig config_;
  const uint16_t* tok_embeddings_;
  const float* norm_;
  LinearWeight output_;
  std::vector<Layer> layers_;
};

// The fused GQA-interleaved wqkv rows (groups of [n_rep q-heads | k-head | v-head], §5.4) reordered
// to [all q-heads | all k-heads | all v-heads]; `cols` values per row.
std::vector<uint16_t> deinterleave_wqkv(const uint16_t* wqkv, int64_t num_heads, int64_t num_kv_heads,
                                        int64_t head_dim, int64_t cols);

}  // namespace vlac
