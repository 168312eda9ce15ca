// One sequence's KV cache: per LLM layer, K and V as fp32 [capacity, kv_heads, head_dim], K stored
// after RoPE (architecture.md §5.7). One mapping sized to the model's maximum context (PageBuffer):
// pages are only touched as positions are written, so an unused tail costs address space, not
// memory, and they go back to the kernel with the sequence (RSS follows the live positions; a pool
// of reused mappings would keep every page its longest user touched, for each snapshot of the
// prefix cache too).
#pragma once

#include <cstdint>
#include <vector>

#include "common/page_buffer.h"
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
  PageBuffer storage_;  // layer after layer: K then V, capacity * kv_width floats each
  std::vector<float*> k_, v_;
};

}  // namespace vlac
