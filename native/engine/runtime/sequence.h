// A sequence: one conversation's tokens and KV cache on a Model. prefill() appends prompt tokens
// (with image rows spliced into their <IMG_CONTEXT> positions), generate() decodes from where the
// sequence stands, fork() copies it. Not thread-safe: one call at a time per sequence.
//
// The last generated token is kept "pending": it counts in length() but enters the KV cache only
// with the next prefill or generate, so a reply never pays for a forward it does not use.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "model/internlm2.h"
#include "runtime/kv_cache.h"
#include "runtime/sampler.h"

namespace vlac {

class DecodeGroup;
class Model;
class Sequence;

// The most top logprobs a step reports (api.md §4: logprobs up to 20).
constexpr int kMaxTopLogprobs = 20;

struct GenerateStep {
  int32_t id;
  double logprob;                 // log_softmax of the fp32 logits at the chosen id
  std::vector<TokenLogprob> top;  // the `logprobs` best, best first
};

enum class FinishReason { Stop, Length, Aborted };
const char* finish_reason_name(FinishReason reason);  // "stop", "length", "aborted"

struct GenerateOptions {
  int64_t max_tokens = 32;
  double temperature = 0.0;            // 0 = greedy
  int64_t top_k = 0;                   // 0 = off
  double top_p = 1.0;                  // (0, 1]; 1 = off
  std::optional<uint64_t> seed;        // unset: a fresh random seed per call
  std::optional<std::vector<int32_t>> stop_ids;  // unset: Model::default_stop_ids()
  int logprobs = 0;                    // top logprobs per step, 0..kMaxTopLogprobs
  std::function<bool()> should_abort;  // polled before every step; true ends with FinishReason::Aborted
  std::function<void(const GenerateStep&)> on_step;  // called after each token is chosen
};

struct GenerateResult {
  std::vector<int32_t> ids;  // generated ids, including the stop id that ended them
  std::string text;          // ids without that stop id, decoded with special tokens kept (vlac-behavior.md §2.6)
  FinishReason finish_reason = FinishReason::Length;
  std::vector<GenerateStep> steps;  // one per id
};

// One sequence's share of a batched prefill.
struct PrefillRequest {
  Sequence* sequence = nullptr;
  const int32_t* ids = nullptr;
  int64_t n_ids = 0;
  // Rows replacing the <IMG_CONTEXT> ids of this request, in order, [n_image_rows, hidden]
  // (Model::encode_tiles of all its images); the count must equal those ids exactly.
  const float* image_rows = nullptr;
  int64_t n_image_rows = 0;
};

// The logits rows of a model's ended sequences (vocabulary-sized vectors), handed to the next
// sequence: a call makes one or a few sequences, and a fresh row each time was a big allocation
// per sequence beside the prefix cache's long-lived ones, the staggered lifetimes issue 19 traced
// RSS growth to. At most kIdle are kept. Thread-safe: a sequence may end on any thread (the
// inference thread, or the JS thread for a Sequence object).
class LogitsPool {
 public:
  static constexpr size_t kIdle = 4;

  LogitsPool() { idle_.reserve(kIdle); }   // giving back never allocates
  std::vector<float> take();               // empty, with the capacity an earlier sequence grew
  void give(std::vector<float> logits);

 private:
  std::mutex mutex_;
  std::vector<std::vector<float>> idle_;
};

class Sequence {
 public:
  explicit Sequence(std::shared_ptr<const Model> model);
  ~Sequence();  // its logits row goes back to the model's LogitsPool

  // Appends ids (BOS is the caller's: ids go in as given). BadArgument: an id outside the
  // vocabulary or an image-row count that differs from the <IMG_CONTEXT> count; ContextFull when
  // length() + n_ids > max_context. Both are raised before any work. Prefilling in several chunks
  // gives the same cache as one call, except past the dynamic-NTK threshold, where the reference
  // itself rotates each forward's keys with the base of the length that forward reaches.
  void prefill(const int32_t* ids, int64_t n_ids, const float* image_rows = nullptr, int64_t n_image_rows = 0,
               const LayerObserver* observer = nullptr);
  void prefill(const std::vector<int32_t>& ids) { prefill(ids.data(), static_cast<int64_t>(ids.size())); }

  // Decodes up to max_tokens tokens after the sequence's current end (a DecodeGroup of one).
  // BadArgument: options out of range or an empty sequence; ContextFull when length() + max_tokens >
  // max_context, before any work.
  GenerateResult generate(const GenerateOptions& options);

  // An independent copy: continuing either leaves the other as it was. The KV prefix is not
  // copied but mapped copy-on-write (KvCache::fork_from): forks of one sequence share its pages.
  std::unique_ptr<Sequence> fork() const;
  // A copy of the first n cached positions only (0 < n <= the cached positions): the KV of a
  // position depends on the positions before it alone, so this is the sequence a prefill of just
  // those n tokens would have made, except that it has no logits (the next prefill makes them).
  std::unique_ptr<Sequence> fork_prefix(int64_t n) const;

  // Moves the KV pages into a shared file (KvCache::share), so that forks map them instead of
  // copying: the prefix cache does it for the snapshots it stores. False for a fork (whose own forks
  // copy) or where sharing is not possible.
  bool share_kv() const;
  bool kv_shared() const { return cache_.shared(); }
  bool kv_view() const { return cache_.view(); }  // a fork mapping its parent's pages

  int64_t length() const { return cached_ + (pending_ ? 1 : 0); }
  // fp32 logits [vocab] of the last cached position; empty before the first prefill, stale while a
  // generated token is pending (has_pending()).
  const std::vector<float>& last_logits() const { return logits_; }
  bool has_pending() const { return pending_.has_value(); }
  const std::vector<int32_t>& tokens() const { return tokens_; }  // every id, prompt and generated
  const Model& model() const { return *model_; }

 private:
  friend void prefill_batch(const std::vector<PrefillRequest>& requests, const LayerObserver* observer);
  friend class DecodeGroup;  // appends the tokens it samples

  std::shared_ptr<const Model> model_;
  KvCache cache_;
  int64_t cached_ = 0;             // positions in the KV cache
  std::optional<int32_t> pending_;  // generated, not yet in the cache
  std::vector<float> logits_;       // of the last cached position, when !pending_
  std::vector<int32_t> tokens_;
};

// Prefills several sequences (of one model) in one forward: their rows go through the linear layers
// together, each attends over its own cache. Every request is validated before any work. A request
// of a sequence with a pending token gets that token as its first row. Each sequence's result is
// bit-identical to its prefill alone: requests of at most LinearWeight::kDecodeRows rows (decode
// steps) run in a forward of their own when longer ones share the call. `observer` sees the batch's
// residual stream, each forward's in turn (diagnostics and tests).
void prefill_batch(const std::vector<PrefillRequest>& requests, const LayerObserver* observer = nullptr);

}  // namespace vlac
