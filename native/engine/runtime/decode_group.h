// Sequences decoding together (continuous batching, issue 17): each step() runs one forward over
// the pending tokens of every member, then samples each member's next token with its own options.
// Members join between steps (add) and leave when they finish; Sequence::generate is a group of one.
//
// The replies do not depend on the company a sequence keeps: a decode step's forward runs its
// products row by row (InternLm2::forward), attention and RoPE per sequence, the head per sequence
// (prefill_batch), and each member has its own generator. So a reply decoded in a group equals the
// reply of Sequence::generate alone, bit for bit on the CPU.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/sampler.h"
#include "runtime/sequence.h"

namespace vlac {

class DecodeGroup {
 public:
  using Done = std::function<void(GenerateResult&&)>;

  // Adds `sequence` (it must outlive its membership) to decode with `options`; `done` receives the
  // reply once it ends (stop id, max_tokens, or should_abort), from the step() that ends it.
  // Errors, raised before it joins: those of Sequence::generate's checks (BadArgument, ContextFull).
  void add(Sequence& sequence, const GenerateOptions& options, Done done);
  // add's checks of a sequence and its options alone (not whether it already decodes here).
  static void check(const Sequence& sequence, const GenerateOptions& options);

  // One token for every member (members that end are removed after their `done` runs). An error
  // of the batched forward leaves every member as it was before the step and is rethrown; the
  // caller then ends them (fail_all).
  void step();
  // Removes every member without calling `done` (after step() threw).
  void clear() { members_.clear(); }

  size_t size() const { return members_.size(); }
  bool empty() const { return members_.empty(); }

 private:
  struct Member {
    Sequence* sequence;
    GenerateOptions options;
    std::vector<int32_t> stops;
    SamplingParams params;
    Rng rng;
    Done done;
    GenerateResult result;
  };
  void finish(Member& m, FinishReason reason);

  std::vector<std::unique_ptr<Member>> members_;
  std::vector<Member*> stepping_;         // step(): the members that take a token
  std::vector<PrefillRequest> forward_;   // step(): their pending tokens' forward
};

}  // namespace vlac
