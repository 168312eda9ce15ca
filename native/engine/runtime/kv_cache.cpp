#include "runtime/kv_cache.h"

#include <cstring>

#include "common/error.h"

namespace vlac {

KvCache::KvCache(int64_t layers, int64_t capacity, int64_t kv_width)
    : layers_(layers), capacity_(capacity), kv_width_(kv_width) {
  try {
    storage_ = PageBuffer(static_cast<size_t>(bytes()));  // left uninitialised on purpose
  } catch (const Error&) {
    fail(ErrorCode::OutOfMemory, "KV cache: cannot allocate " + std::to_string(bytes()) + " bytes for " +
                                     std::to_string(capacity) + " positions");
  }
  point_layers();
}

void KvCache::point_layers() const {
  const size_t n = static_cast<size_t>(capacity_ * kv_width_);
  float* base = storage_.as<float>();
  k_.resize(static_cast<size_t>(layers_));
  v_.resize(static_cast<size_t>(layers_));
  for (int64_t l = 0; l < layers_; ++l) {
    k_[l] = base + (2 * l) * n;
    v_[l] = base + (2 * l + 1) * n;
  }
}

std::vector<std::pair<size_t, size_t>> KvCache::ranges(int64_t positions) const {
  const size_t layer_bytes = static_cast<size_t>(capacity_ * kv_width_) * sizeof(float);
  const size_t used = static_cast<size_t>(positions * kv_width_) * sizeof(float);
  std::vector<std::pair<size_t, size_t>> out;
  for (int64_t i = 0; i < 2 * layers_; ++i) out.emplace_back(static_cast<size_t>(i) * layer_bytes, used);
  return out;
}

bool KvCache::share(int64_t cached) const {
  if (storage_.shareable()) return true;
  if (view_ || !storage_.make_shareable(ranges(cached))) return false;
  point_layers();
  return true;
}

uint64_t KvCache::bytes() const {
  return static_cast<uint64_t>(2 * layers_) * static_cast<uint64_t>(capacity_ * kv_width_) * sizeof(float);
}

LlmSegment KvCache::segment(int64_t past, int64_t rows) {
  VLAC_CHECK(past >= 0 && rows >= 0 && past + rows <= capacity_, "KV cache segment beyond its capacity");
  LlmSegment s;
  s.rows = rows;
  s.past = past;
  s.k_cache = k_.data();
  s.v_cache = v_.data();
  return s;
}

void KvCache::fork_from(const KvCache& parent, int64_t parent_cached, int64_t n) {
  VLAC_CHECK(parent.layers_ == layers_ && parent.kv_width_ == kv_width_ && parent.capacity_ == capacity_ &&
                 n <= parent_cached && parent_cached <= capacity_,
             "KV cache fork between different geometries");
  if (parent.share(parent_cached)) {
    storage_ = parent.storage_.copy_on_write_view();
    view_ = true;
    point_layers();
    return;
  }
  const size_t bytes_n = static_cast<size_t>(n * kv_width_) * sizeof(float);
  for (int64_t l = 0; l < layers_; ++l) {
    std::memcpy(k_[l], parent.k_[l], bytes_n);
    std::memcpy(v_[l], parent.v_[l], bytes_n);
  }
}

}  // namespace vlac
