#include "runtime/prefix_cache.h"

#include <algorithm>

#include "runtime/sequence.h"

namespace vlac {

uint64_t PrefixCache::bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return bytes_;
}

size_t PrefixCache::entries() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return lru_.size();
}

PrefixCache::Hit PrefixCache::find(const PositionKey* keys, int64_t n_keys, int64_t max_length) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto best = lru_.end();
  for (auto it = lru_.begin(); it != lru_.end(); ++it) {
    const int64_t len = static_cast<int64_t>(it->keys.size());
    if (len > n_keys || len > max_length || (best != lru_.end() && len <= static_cast<int64_t>(best->keys.size())))
      continue;
    if (std::equal(it->keys.begin(), it->keys.end(), keys)) best = it;
  }
  if (best == lru_.end()) return {};
  lru_.splice(lru_.begin(), lru_, best);
  return {best->snapshot, static_cast<int64_t>(best->keys.size())};
}

std::shared_ptr<const Sequence> PrefixCache::find_covering(const PositionKey* keys, int64_t length) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (length <= 0) return nullptr;
  for (auto it = lru_.begin(); it != lru_.end(); ++it)
    if (static_cast<int64_t>(it->keys.size()) >= length && std::equal(keys, keys + length, it->keys.begin())) {
      lru_.splice(lru_.begin(), lru_, it);
      return lru_.front().snapshot;
    }
  return nullptr;
}

void PrefixCache::insert(std::vector<PositionKey> keys, std::shared_ptr<const Sequence> snapshot,
                         uint64_t bytes_per_position) {
  const uint64_t size = static_cast<uint64_t>(keys.size()) * bytes_per_position;
  if (size > max_bytes_ || keys.empty()) return;
  snapshot->share_kv();  // its forks map its pages (a snapshot that is a fork stays one)
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = lru_.begin(); it != lru_.end(); ++it)
    if (it->keys == keys) {
      lru_.splice(lru_.begin(), lru_, it);
      return;
    }
  while (bytes_ + size > max_bytes_) {
    bytes_ -= lru_.back().bytes;
    lru_.pop_back();
  }
  lru_.push_front(Entry{std::move(keys), std::move(snapshot), size});
  bytes_ += size;
}

void PrefixCache::clear() {
  std::lock_guard<std::mutex> lock(mutex_);
  lru_.clear();
  bytes_ = 0;
}

}  // namespace vlac
