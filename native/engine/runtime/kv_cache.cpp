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
  const size_t n = static_cast<size_t>(capacity * kv_width);
  float* base = storage_.as<float>();
  for (int64_t l = 0; l < layers; ++l) {
    k_.push_back(base + (2 * l) * n);
    v_.push_back(base + (2 * l + 1) * n);
  }
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

void KvCache::copy_prefix(const KvCache& other, int64_t n) {
  VLAC_CHECK(other.layers_ == layers_ && other.kv_width_ == kv_width_ && n <= capacity_ && n <= other.capacity_,
             "KV cache copy between different geometries");
  const size_t bytes_n = static_cast<size_t>(n * kv_width_) * sizeof(float);
  for (int64_t l = 0; l < layers_; ++l) {
    std::memcpy(k_[l], other.k_[l], bytes_n);
    std::memcpy(v_[l], other.v_[l], bytes_n);
  }
}

}  // namespace vlac
