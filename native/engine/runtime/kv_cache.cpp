#include "runtime/kv_cache.h"

#include <cstring>
#include <utility>

#include "common/error.h"

namespace vlac {

SequenceBufferPool::SequenceBufferPool() {
  kv_.reserve(kIdle);
  logits_.reserve(kIdle);
}

PageBuffer SequenceBufferPool::take_kv(size_t bytes) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (size_t i = 0; i < kv_.size(); ++i)
      if (kv_[i].size() == bytes) {
        PageBuffer kv = std::move(kv_[i]);
        kv_.erase(kv_.begin() + static_cast<std::ptrdiff_t>(i));
        return kv;
      }
  }
  return PageBuffer(bytes);
}

void SequenceBufferPool::give_kv(PageBuffer kv) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (kv_.size() < kIdle) kv_.push_back(std::move(kv));
}

std::vector<float> SequenceBufferPool::take_logits() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (logits_.empty()) return {};
  std::vector<float> logits = std::move(logits_.back());
  logits_.pop_back();
  return logits;
}

void SequenceBufferPool::give_logits(std::vector<float> logits) {
  logits.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  if (logits_.size() < kIdle && logits.capacity() > 0) logits_.push_back(std::move(logits));
}

KvCache::KvCache(SequenceBufferPool& pool, int64_t layers, int64_t capacity, int64_t kv_width)
    : pool_(pool), layers_(layers), capacity_(capacity), kv_width_(kv_width) {
  try {
    storage_ = pool_.take_kv(static_cast<size_t>(bytes()));  // left uninitialised on purpose
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

KvCache::~KvCache() { pool_.give_kv(std::move(storage_)); }

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
