// One sequence's KV cache: per LLM layer, K and V as fp32 [capacity, kv_heads, head_dim], K stored
// after RoPE (architecture.md §5.7). One mapping sized to the model's maximum context (PageBuffer):
// pages are only touched as positions are written, so an unused tail costs address space, not
// memory, and they go back to the kernel with the sequence (RSS follows the live positions; a pool
// of reused mappings would keep every page its longest user touched, for each snapshot of the
// prefix cache too). A fork maps its parent's pages copy-on-write (fork_from).
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

  // This cache (same geometry, nothing cached yet) holds positions [0, n) of every layer as `parent`
  // does, parent having `parent_cached` >= n positions: a copy-on-write view of the parent's pages,
  // which move into a shared file the first time (share), so that forking costs no copy and the
  // prefix is resident once however many forks read it. A view's own pages are never shared again
  // (that would copy the whole prefix into a new file, slower than copying it for the one fork a
  // stream's snapshot gets): forking a view, or a cache that cannot share, copies.
  // Sound because a position is written once: neither side rewrites a position the other reads.
  void fork_from(const KvCache& parent, int64_t parent_cached, int64_t n);
  // Moves positions [0, cached) of a cache with pages of its own (not a view) into a shared file
  // (one copy), so that its forks are views; false for a view or where no file can be made.
  // Logically const: the contents stay; the mapping moves (only between forwards, on the
  // sequence's thread).
  bool share(int64_t cached) const;
  bool shared() const { return storage_.shareable(); }
  bool view() const { return view_; }

 private:
  void point_layers() const;  // k_, v_ from storage_'s address
  std::vector<std::pair<size_t, size_t>> ranges(int64_t positions) const;  // the bytes of [0, positions)

  int64_t layers_, capacity_, kv_width_;
  mutable PageBuffer storage_;  // layer after layer: K then V, capacity * kv_width floats each
  mutable std::vector<float*> k_, v_;
  bool view_ = false;  // storage_ maps another cache's file copy-on-write
};

}  // namespace vlac
