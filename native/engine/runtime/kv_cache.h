// One sequence's KV cache: per LLM layer, K and V as fp32 [capacity, kv_heads, head_dim], K stored
// after RoPE (architecture.md §5.7). One mapping sized to the model's maximum context (PageBuffer):
// pages are only touched as positions are written, so an unused tail costs address space, not
// memory. The mapping comes from the model's SequenceBufferPool and goes back to it.
#pragma once

#include <cstdint>
#include <mutex>
#include <vector>

#include "common/page_buffer.h"
#include "model/internlm2.h"

namespace vlac {

// The idle per-sequence buffers of one model (KV mappings, logits rows), handed to the next
// sequence: a call makes one or a few sequences, and mapping their KV caches and allocating their
// logits anew each time is the churn issue 19 measured. At most kIdle of each are kept; an idle
// KV mapping keeps the pages its longest sequence touched. Thread-safe: a sequence may end on any
// thread (the inference thread, or the JS thread for a Sequence object).
class SequenceBufferPool {
 public:
  static constexpr size_t kIdle = 4;

  SequenceBufferPool();  // room for kIdle of each reserved: giving back never allocates
  PageBuffer take_kv(size_t bytes);  // an idle mapping of exactly `bytes`, else a new one
  void give_kv(PageBuffer kv);
  std::vector<float> take_logits();  // empty, with the capacity an earlier sequence grew
  void give_logits(std::vector<float> logits);

 private:
  std::mutex mutex_;
  std::vector<PageBuffer> kv_;
  std::vector<std::vector<float>> logits_;
};

class KvCache {
 public:
  KvCache(SequenceBufferPool& pool, int64_t layers, int64_t capacity, int64_t kv_width);
  ~KvCache();
  KvCache(const KvCache&) = delete;
  KvCache& operator=(const KvCache&) = delete;

  int64_t capacity() const { return capacity_; }
  int64_t kv_width() const { return kv_width_; }     // kv_heads * head_dim floats per position
  uint64_t bytes() const;                            // the whole allocation

  // The segment of a batched forward that appends `rows` positions after `past` cached ones.
  LlmSegment segment(int64_t past, int64_t rows);

  // Copies positions [0, n) of every layer from `other` (same geometry).
  void copy_prefix(const KvCache& other, int64_t n);

 private:
  SequenceBufferPool& pool_;
  int64_t layers_, capacity_, kv_width_;
  PageBuffer storage_;  // layer after layer: K then V, capacity * kv_width floats each
  std::vector<float*> k_, v_;
};

}  // namespace vlac
