// The prefix KV cache: snapshots of prefilled sequences, keyed by what determines their KV exactly:
// per position, the token id, or for an <IMG_CONTEXT> position the content hash of the tile whose
// row it holds (so different images never share KV, anchors.md C.1). A request forks the longest
// stored prefix of its prompt and prefills only the rest. Bounded by bytes (each snapshot costs its
// length x the KV bytes of one position, KvCache geometry), least recently used evicted first.
//
// A stored snapshot's KV pages live in a shared file (Sequence::share_kv), and a fork maps them
// copy-on-write (Sequence::fork, fork_prefix): forking copies nothing and the prefix is resident
// once, however many requests decode from it. A snapshot that is itself a fork (a stream's next
// prefix, built on the trajectory's shared one) maps that one's file and is copied when forked.
// The budget counts each snapshot's positions; a fork still alive keeps an evicted snapshot's
// pages until it ends.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <vector>

#include "runtime/frame_cache.h"

namespace vlac {

class Sequence;

// The identity of one prompt position: {id, 0} for a text token, the tile's ContentHash for an
// image row. The row's index inside its tile needs no key: equal keys before a position mean an
// equal count of image rows before it. A text key equals an image key only if a tile hash has a
// zero high half and a low half below 2^31, a 2^-95 chance.
using PositionKey = ContentHash;

class PrefixCache {
 public:
  explicit PrefixCache(uint64_t max_bytes) : max_bytes_(max_bytes) {}

  bool enabled() const { return max_bytes_ > 0; }
  uint64_t max_bytes() const { return max_bytes_; }
  uint64_t bytes() const;
  size_t entries() const;

  struct Hit {
    std::shared_ptr<const Sequence> sequence;  // prefilled with exactly the first `length` positions
    int64_t length = 0;
  };
  // The longest stored snapshot whose keys are a prefix of `keys` and whose length is at most
  // max_length (a request keeps at least one position to prefill: its logits come from it); a hit
  // becomes the most recently used. length 0: none.
  Hit find(const PositionKey* keys, int64_t n_keys, int64_t max_length);
  // A stored snapshot of at least `length` positions whose first `length` keys are `keys` (the
  // most recently used such one, which becomes the most recently used), or null: its
  // Sequence::fork_prefix(length) is the prefix `keys` describes. The background prefill of a
  // stream (runtime/prefetch.h) finds the shared prefix of a trajectory inside the previous
  // push's longer snapshot when the budget holds only one of them.
  std::shared_ptr<const Sequence> find_covering(const PositionKey* keys, int64_t length);

  // Stores a snapshot of keys.size() positions (a sequence with no pending token), evicting the
  // least recently used until it fits; `bytes_per_position` is the KV cost of one position. A
  // snapshot larger than the budget, or one already stored, is not added.
  void insert(std::vector<PositionKey> keys, std::shared_ptr<const Sequence> snapshot, uint64_t bytes_per_position);
  void clear();

 private:
  struct Entry {
    std::vector<PositionKey> keys;
    std::shared_ptr<const Sequence> snapshot;
    uint64_t bytes;
  };
  mutable std::mutex mutex_;
  const uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  std::list<Entry> lru_;  // most recently used first
};

}  // namespace vlac
