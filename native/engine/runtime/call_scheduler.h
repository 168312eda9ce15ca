// The scheduler of one model's generate calls (issue 17): the calls waiting when the decoder has
// room are encoded and prefilled together (prepare_calls: prefill batching), then their replies
// join the running DecodeGroup, which every step() advances by one token for all of them
// (continuous batching). A call is settled when its last reply ends. Its replies are those of
// generate_batch alone, bit for bit on the CPU (decode_group.h, cached_batch.h).
//
// Room: at most max_decoding replies decode at once (each holds its KV cache, up to max_context
// positions); a call with more replies than that is admitted alone, when nothing else decodes.
// One thread drives a scheduler (the model's inference thread).
#pragma once

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/cached_batch.h"
#include "runtime/decode_group.h"

namespace vlac {

// One generateBatch call: its requests (their buffers outlive the call), options and outcome.
struct GenerateCall {
  std::shared_ptr<const Model> model;
  ModelCaches* caches = nullptr;  // null: uncached
  BatchCall batch;
  GenerateOptions options;
  // Set when settled: the replies in request order and the stats, or the error.
  std::vector<GenerateResult> results;
  BatchStats stats;
  std::exception_ptr error;
  size_t prepared_with = 0;  // calls in the batch it was prepared in (itself included)
  size_t peak_decoding = 0;  // most replies (of every call) in one decode step it was part of
};

class CallScheduler {
 public:
  using Settled = std::function<void(const std::shared_ptr<GenerateCall>&)>;

  explicit CallScheduler(size_t max_decoding = 16) : max_decoding_(max_decoding) {}

  // Whether a call of `replies` requests may join now, with `pending` more already chosen to.
  bool has_room(size_t pending, size_t replies) const {
    return group_.empty() && pending == 0 ? true : group_.size() + pending + replies <= max_decoding_;
  }
  // Encodes and prefills the calls in one batch (all of one model), then their replies join the
  // decoder. A call dropped there, or refused by the decoder's checks, is settled at once.
  void admit(const std::vector<std::shared_ptr<GenerateCall>>& calls, const Settled& settled);
  // One token for every decoding reply; calls whose replies have all ended are settled. An error of
  // the step settles every decoding call with it.
  void step(const Settled& settled);
  bool idle() const { return group_.empty(); }
  size_t decoding() const { return group_.size(); }

 private:
  struct Active {
    std::shared_ptr<GenerateCall> call;
    std::vector<std::unique_ptr<Sequence>> sequences;
    size_t remaining = 0;
    std::chrono::steady_clock::time_point decode_start;
  };
  void settle_ended(const Settled& settled);

  size_t max_decoding_;
  DecodeGroup group_;
  std::vector<std::unique_ptr<Active>> active_;
};

}  // namespace vlac
