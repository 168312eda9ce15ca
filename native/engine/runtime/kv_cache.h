// One sequence's KV cache: per LLM layer, K and V as fp32 [capacity, kv_heads, head_dim], K stored
// after RoPE (architecture.md §5.7). Allocated once to the model's maximum context; pages are only
// touched as positions are written, so an unused tail costs address space, not memory.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "model/internlm2.h"

namespace vlac {

class KvCache {
 public:
  KvCache(int64_t layers, int64_t capacity, int64_t kv_width);

  int64_t capacity() const { return capacity_; }
  int64_t kv_width() const { return kv_width_; }     // kv_heads * head_dim floats per position
  uint64_t bytes() const;                            // the whole allocation

  // The segment of a batched forward that appends `rows` positions after `past` cached ones.
  LlmSegment segment(int64_t past, int64_t rows);

  // Copies positions [0, n) of every layer from `other` (same geometry).
  void copy_prefix(const KvCache& other, int64_t n);

 private:
  int64_t layers_, capacity_, kv_width_;
  std::vector<std::unique_ptr<float[]>> storage_;  // 2 per layer: K then V
  std::vector<float*> k_, v_;
};

}  // namespace vlac
