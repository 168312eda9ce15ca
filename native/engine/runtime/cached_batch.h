// The task layer's batched model call (encode every request's tiles, prefill every prompt in one
// batched forward, decode the replies together) with the frame-embedding and prefix KV caches in front of the
// pure model calls. The replies are identical to the uncached path, bit for bit on the CPU:
// - Frame cache: only tiles missing from the cache (and not repeated in the batch) go through the
//   ViT, in one batched pass; the ViT's arithmetic per tile does not depend on its batch.
// - Prefix cache: a request forks the longest stored prefix of its prompt (token ids and tile
//   hashes, PrefixCache) and prefills the rest. After a request's prompt is known, the snapshot it
//   stores is the prefix up to the start of its second-to-last image run: for a VLAC pair prompt
//   that is everything up to and including `Image-1: <img>` (system prompt, reference frames, frame
//   0), which every pair of a trajectory and every tick of a stream shares (vlac-behavior.md §9).
//   Requests of one batch that share that prefix prefill it once.
// - Rule: a prompt longer than max_position_embeddings (with dynamic NTK) takes the uncached prefill,
//   because there the reference rotates each forward's keys with the base of the length that
//   forward reaches, so a prefix prefilled on its own is not the prefix of the one-shot prefill.
//   Below it every forward of both paths uses rope_theta, and decode steps are the same in both.
#pragma once

#include <atomic>
#include <exception>
#include <memory>
#include <cstdint>
#include <functional>
#include <vector>

#include "runtime/frame_cache.h"
#include "runtime/prefix_cache.h"
#include "runtime/sequence.h"

namespace vlac {

class Model;

struct CacheOptions {
  uint64_t frame_bytes = uint64_t{256} << 20;   // api.md §1 cache.frameBytes; 0 disables
  uint64_t prefix_bytes = uint64_t{512} << 20;  // api.md §1 cache.prefixBytes; 0 disables
};

// What a call (or all calls so far) did. Image tiles: hits came from the cache (or repeat a tile of
// the same batch), misses went through the ViT. Prefill: prefix_hits requests started from a
// snapshot stored by an earlier call; prefilled_tokens went through the LLM (each computed once, a
// prefix shared by several requests of the batch included); prefix_tokens_reused = prompt tokens -
// prefilled_tokens, the positions copied from a snapshot instead of computed.
struct CacheCounters {
  uint64_t frame_hits = 0, frame_misses = 0, prefix_hits = 0, prefix_tokens_reused = 0, prefilled_tokens = 0;
};

// The caches of one model (one inference thread uses them; bytes() and counters() may be read from
// another thread).
class ModelCaches {
 public:
  explicit ModelCaches(const CacheOptions& options = {})
      : frames_(options.frame_bytes), prefixes_(options.prefix_bytes) {}
  FrameCache& frames() { return frames_; }
  PrefixCache& prefixes() { return prefixes_; }
  uint64_t bytes() const { return frames_.bytes() + prefixes_.bytes(); }
  CacheCounters counters() const;
  void add(const CacheCounters& delta);

 private:
  FrameCache frames_;
  PrefixCache prefixes_;
  std::atomic<uint64_t> frame_hits_{0}, frame_misses_{0}, prefix_hits_{0}, prefix_tokens_reused_{0},
      prefilled_tokens_{0};
};

struct BatchRequest {
  const int32_t* ids = nullptr;
  int64_t n_ids = 0;
  const uint8_t* tiles = nullptr;  // uint8 HWC RGB [n_tiles, S, S, 3], in prompt order
  int64_t n_tiles = 0;             // n_tiles x image_tokens_per_tile() == the <IMG_CONTEXT> count
};

struct BatchStats {
  double encode_ms = 0, prefill_ms = 0, decode_ms = 0;  // of the batch the call was part of
  CacheCounters counts;  // this call's
};

// One caller's requests in a batch of several callers' (the scheduler's prefill batching).
// `after_encode` runs between the image encoding and the prefill (the caller's abort check: it
// throws to drop this call, and the other calls go on).
struct BatchCall {
  std::vector<BatchRequest> requests;
  std::function<void()> after_encode;
};

struct PreparedCall {
  std::vector<std::unique_ptr<Sequence>> sequences;  // one per request, prefilled, ready to decode
  BatchStats stats;                                   // encode and prefill (decode_ms is the decoder's)
  std::exception_ptr error;  // the call was dropped: a bad request (before any work) or its after_encode
};

// The image encoding and prefill of several calls in one batch: every call's missing tiles in one
// ViT pass, every kept prompt's uncached part in one batched forward. Each call's reply sequences
// are those it would get alone (bit for bit on the CPU), its counters are its own requests'.
// Errors of a call's requests drop that call only; errors of the batched work (encode_tiles,
// prefill_batch) are thrown, before the stage that raises them changes any cache.
std::vector<PreparedCall> prepare_calls(const Model& model, const std::vector<BatchCall>& calls,
                                        ModelCaches* caches);

// One call: prepare_calls, then every reply decoded together (DecodeGroup). `caches` null (or both
// disabled): the uncached path. Errors: prepare_calls' and generate's.
std::vector<GenerateResult> generate_batch(const Model& model, const std::vector<BatchRequest>& requests,
                                           const GenerateOptions& options, ModelCaches* caches,
                                           BatchStats* stats = nullptr, const std::function<void()>& after_encode = {});

// The key of each prompt position (PositionKey) given the tile hashes of the prompt's tiles in order.
std::vector<PositionKey> position_keys(const Model& model, const int32_t* ids, int64_t n_ids,
                                       const std::vector<ContentHash>& tiles);

}  // namespace vlac
