// The frame-embedding cache: the LLM rows of a tile (ViT + projector output, image_tokens x hidden
// floats), keyed by a 128-bit content hash of the tile's exact uint8 pixels, so that a frame used by
// many pairs goes through the ViT once. The key is the pixels, never the placeholder tokens: two
// different images must not share rows (anchors.md C.1). Bounded by bytes, least recently used
// entries evicted first. A mutex guards every call: the inference thread uses it, and the JS thread
// may read bytes() and the counters for info.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace vlac {

// Two independent 64-bit halves (XXH64-style streams with different seeds) of one content hash.
struct ContentHash {
  uint64_t lo = 0, hi = 0;
  bool operator==(const ContentHash& o) const { return lo == o.lo && hi == o.hi; }
  bool operator!=(const ContentHash& o) const { return !(*this == o); }
};

struct ContentHashHasher {
  size_t operator()(const ContentHash& h) const { return static_cast<size_t>(h.lo ^ (h.hi * 0x9E3779B97F4A7C15ull)); }
};

// The 128-bit hash of `n` bytes: XXH64 of them with seed 0 (lo) and with seed 0x9E3779B97F4A7C15 (hi).
ContentHash content_hash(const uint8_t* bytes, size_t n);

using TileRows = std::shared_ptr<const std::vector<float>>;

class FrameCache {
 public:
  explicit FrameCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  bool enabled() const { return max_bytes_ > 0; }
  uint64_t max_bytes() const { return max_bytes_; }
  uint64_t bytes() const;
  size_t entries() const;

  // The rows of a tile, or null; a hit makes the entry the most recently used. The returned rows
  // stay valid after an eviction (shared ownership), so a batch may hold them while inserting.
  TileRows find(const ContentHash& tile);
  // Stores rows (evicting the least recently used entries until they fit); rows larger than the
  // whole budget are not stored. Re-inserting a present key only refreshes it.
  void insert(const ContentHash& tile, TileRows rows);
  void clear();

 private:
  struct Entry {
    ContentHash key;
    TileRows rows;
    uint64_t bytes;
  };
  mutable std::mutex mutex_;
  const uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::list<Entry> lru_;  // most recently used first
  std::unordered_map<ContentHash, std::list<Entry>::iterator, ContentHashHasher> index_;
};

}  // namespace vlac
