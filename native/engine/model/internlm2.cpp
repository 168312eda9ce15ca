#include "model/internlm2.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string>

#include "common/error.h"
#include "common/workspace.h"
#include "model/rope.h"
#include "ops/ops.h"

namespace vlac {

namespace {

// deinterleave_wqkv for rows of any element type (bf16 weights, int8 codes, their scales with cols 1).
template <class T>
std::vector<T> deinterleave_rows(const T* wqkv, int64_t num_heads, int64_t num_kv_heads, int64_t head_dim,
                                 int64_t cols) {
  const int64_t n_rep = num_heads / num_kv_heads, group_rows = (n_rep + 2) * head_dim;
  std::vector<T> out(static_cast<size_t>((num_heads + 2 * num_kv_heads) * head_dim * cols));
  auto copy_head = [&](int64_t src_row, int64_t dst_row) {
    std::memcpy(out.data() + dst_row * cols, wqkv + src_row * cols, sizeof(T) * head_dim * cols);
  };
  const int64_t k_base = num_heads * head_dim, v_base = k_base + num_kv_heads * head_dim;
  for (int64_t g = 0; g < num_kv_heads; ++g) {
    for (int64_t s = 0; s < n_rep; ++s) copy_head(g * group_rows + s * head_dim, (g * n_rep + s) * head_dim);
    copy_head(g * group_rows + n_rep * head_dim, k_base + g * head_dim);
    copy_head(g * group_rows + (n_rep + 1) * head_dim, v_base + g * head_dim);
  }
  return out;
}

}  // namespace

std::vector<uint16_t> deinterleave_wqkv(const uint16_t* wqkv, int64_t num_heads, int64_t num_kv_heads,
                                        int64_t head_dim, int64_t cols) {
  return deinterleave_rows(wqkv, num_heads, num_kv_heads, head_dim, cols);
}

InternLm2::InternLm2(const Checkpoint& ck, const WeightOptions& weights) : config_(ck.config().llm) {
  const LlmConfig& c = config_;
  const bool int8 = weights.format == WeightFormat::Int8;
  const int64_t D = c.hidden_size, q_width = c.num_heads * c.head_dim();
  const int64_t qkv_rows = q_width + 2 * c.num_kv_heads * c.head_dim();
  tok_embeddings_ = ck.bf16("language_model.model.tok_embeddings.weight");
  norm_ = ck.f32("language_model.model.norm.weight");
  output_ = load_linear(ck, "language_model.output.weight", c.vocab_size, D, int8 && weights.quantize_lm_head);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    const std::string p = "language_model.model.layers." + std::to_string(i) + ".";
    Layer l;
    l.attention_norm = ck.f32(p + "attention_norm.weight");
    const std::string wqkv = p + "attention.wqkv.weight";
    if (ck.is_int8(wqkv)) {  // per-row codes, scales and outlier weights reorder like the rows they quantize
      std::vector<int64_t> rows(static_cast<size_t>(qkv_rows));
      std::iota(rows.begin(), rows.end(), int64_t(0));
      l.wqkv = LinearWeight(stored_int8_linear(
          ck, wqkv, qkv_rows, D, deinterleave_rows(rows.data(), c.num_heads, c.num_kv_heads, c.head_dim(), 1)));
    } else {
      l.wqkv = LinearWeight(deinterleave_wqkv(ck.bf16(wqkv), c.num_heads, c.num_kv_heads, c.head_dim(), D), qkv_rows,
                            D, int8);
    }
    ck.release_pages(wqkv);  // the engine holds the reordered copy
    l.wo = load_linear(ck, p + "attention.wo.weight", D, q_width, int8);
    l.ffn_norm = ck.f32(p + "ffn_norm.weight");
    l.w1 = load_linear(ck, p + "feed_forward.w1.weight", c.intermediate_size, D, int8);
    l.w3 = load_linear(ck, p + "feed_forward.w3.weight", c.intermediate_size, D, int8);
    l.w2 = load_linear(ck, p + "feed_forward.w2.weight", D, c.intermediate_size, int8);
    for (LinearWeight* w : {&l.wqkv, &l.wo, &l.w1, &l.w3, &l.w2}) w->set_bf16_activations(weights.bf16_activations);
    layers_.push_back(std::move(l));
  }
}

void InternLm2::embed(const int32_t* ids, int64_t n, float* out) const {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= config_.vocab_size)
      fail(ErrorCode::BadArgument, "token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                                       " is outside the vocabulary [0, " + std::to_string(config_.vocab_size) + ")");
  ops::embedding(tok_embeddings_, config_.hidden_size, ids, n, out);
}

void InternLm2::forward(float* h, const std::vector<LlmSegment>& segments, const LayerObserver* observer) const {
  const LlmConfig& c = config_;
  const int64_t D = c.hidden_size, hd = c.head_dim(), Hq = c.num_heads, Hkv = c.num_kv_heads;
  const int64_t F = c.intermediate_size, q_width = Hq * hd, kv_width = Hkv * hd, W = q_width + 2 * kv_width;
  const float eps = static_cast<float>(c.rms_norm_eps), scale = 1.0f / std::sqrt(static_cast<float>(hd));
  int64_t rows = 0, longest = 0;
  for (const auto& s : segments) {
    rows += s.rows;
    longest = std::max(longest, s.rows);
  }
  // A forward of decode-sized segments (a batched decode step) runs every product row by row, as
  // each segment alone would: its rows then do not depend on the batch (LinearWeight::apply_rows).
  const bool row_wise = longest <= LinearWeight::kDecodeRows;
  auto product = [&](const LinearWeight& w, const float* in, float* out) {
    if (row_wise)
      w.apply_rows(in, rows, nullptr, out);
    else
      w.apply(in, rows, nullptr, out);
  };

  // RoPE tables per segment, once for all layers: the base depends on the KV length this forward
  // reaches (dynamic NTK); cached keys keep the rotation they were stored with.
  WorkspaceScope ws;
  std::vector<float*> cos(segments.size()), sin(segments.size());
  for (size_t s = 0; s < segments.size(); ++s) {
    const int64_t n = segments[s].rows, past = segments[s].past;
    cos[s] = ws.take<float>(static_cast<size_t>(n * hd / 2));
    sin[s] = ws.take<float>(static_cast<size_t>(n * hd / 2));
    rope_tables(rope_base(c, past + n), hd, past, n, cos[s], sin[s]);
  }

  float* x = ws.take<float>(static_cast<size_t>(rows * D));
  float* qkv = ws.take<float>(static_cast<size_t>(rows * W));
  float* attn = ws.take<float>(static_cast<size_t>(rows * q_width));
  float* gate = ws.take<float>(static_cast<size_t>(rows * F));
  float* up = ws.take<float>(static_cast<size_t>(rows * F));
  if (observer) (*observer)(0, h, rows);
  for (size_t li = 0; li < layers_.size(); ++li) {
    const Layer& l = layers_[li];
    ops::rmsnorm(h, rows, D, l.attention_norm, eps, x);
    product(l.wqkv, x, qkv);
    int64_t r0 = 0;
    for (size_t s = 0; s < segments.size(); ++s) {
      const LlmSegment& seg = segments[s];
      float* q = qkv + r0 * W;
      float* k = q + q_width;
      float* v = k + kv_width;
      ops::rope(q, seg.rows, Hq, hd, W, cos[s], sin[s]);
      ops::rope(k, seg.rows, Hkv, hd, W, cos[s], sin[s]);
      float* kc = seg.k_cache[li];
      float* vc = seg.v_cache[li];
      for (int64_t t = 0; t < seg.rows; ++t) {
        std::memcpy(kc + (seg.past + t) * kv_width, k + t * W, sizeof(float) * kv_width);
        std::memcpy(vc + (seg.past + t) * kv_width, v + t * W, sizeof(float) * kv_width);
      }
      ops::attention(q, W, kc, vc, kv_width, seg.rows, seg.past + seg.rows, Hq, Hkv, hd, scale, true, seg.past,
                     attn + r0 * q_width);
      r0 += seg.rows;
    }
    product(l.wo, attn, x);
    ops::add(h, x, rows * D);

    ops::rmsnorm(h, rows, D, l.ffn_norm, eps, x);
    product(l.w1, x, gate);
    product(l.w3, x, up);
    ops::swiglu(gate, up, gate, rows * F);
    product(l.w2, gate, x);
    ops::add(h, x, rows * D);
    if (observer) (*observer)(static_cast<int64_t>(li) + 1, h, rows);
  }
}

uint64_t InternLm2::linear_weight_bytes() const {
  uint64_t n = output_.bytes();
  for (const Layer& l : layers_) n += l.wqkv.bytes() + l.wo.bytes() + l.w1.bytes() + l.w3.bytes() + l.w2.bytes();
  return n;
}

void InternLm2::final_norm(const float* h, int64_t rows, float* out) const {
  ops::rmsnorm(h, rows, config_.hidden_size, norm_, static_cast<float>(config_.rms_norm_eps), out);
}

void InternLm2::head(const float* h, int64_t rows, float* logits) const {
  WorkspaceScope ws;
  float* normed = ws.take<float>(static_cast<size_t>(rows * config_.hidden_size));
  final_norm(h, rows, normed);
  output_.apply_rows(normed, rows, nullptr, logits);
}

}  // namespace vlac
