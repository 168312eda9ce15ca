#include "runtime/decode_group.h"

#include <algorithm>
#include <random>

#include "common/error.h"
#include "runtime/model.h"

namespace vlac {

void DecodeGroup::check(const Sequence& sequence, const GenerateOptions& o) {
  if (o.max_tokens < 0) fail(ErrorCode::BadArgument, "maxTokens must not be negative");
  if (!(o.temperature >= 0.0)) fail(ErrorCode::BadArgument, "temperature must be >= 0");
  if (o.top_k < 0) fail(ErrorCode::BadArgument, "topK must be >= 0");
  if (!(o.top_p > 0.0 && o.top_p <= 1.0)) fail(ErrorCode::BadArgument, "topP must be in (0, 1]");
  if (o.logprobs < 0 || o.logprobs > kMaxTopLogprobs)
    fail(ErrorCode::BadArgument, "logprobs must be in [0, " + std::to_string(kMaxTopLogprobs) + "]");
  if (sequence.length() == 0) fail(ErrorCode::BadArgument, "generate on an empty sequence: prefill a prompt first");
  if (!sequence.has_pending() && sequence.last_logits().empty())
    fail(ErrorCode::BadArgument, "generate on a sequence made by fork_prefix: prefill at least one token first");
  const Model& model = sequence.model();
  if (sequence.length() + o.max_tokens > model.max_context())
    fail(ErrorCode::ContextFull, "generate: " + std::to_string(sequence.length()) + " tokens in the sequence + maxTokens " +
                                     std::to_string(o.max_tokens) + " exceed maxContext " +
                                     std::to_string(model.max_context()));
}

void DecodeGroup::add(Sequence& sequence, const GenerateOptions& o, Done done) {
  check(sequence, o);
  const Model& model = sequence.model();
  for (const auto& m : members_)
    if (m->sequence == &sequence) fail(ErrorCode::BadArgument, "the sequence is already decoding");
  const uint64_t seed = o.seed ? *o.seed : (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  members_.push_back(std::make_unique<Member>(Member{&sequence, o, o.stop_ids ? *o.stop_ids : model.default_stop_ids(),
                                                     SamplingParams{o.temperature, o.top_k, o.top_p}, Rng(seed),
                                                     std::move(done), GenerateResult{}}));
}

void DecodeGroup::finish(Member& m, FinishReason reason) {
  m.result.finish_reason = reason;
  const size_t text_ids = m.result.ids.size() - (reason == FinishReason::Stop ? 1 : 0);
  m.result.text = m.sequence->model().tokenizer().decode(m.result.ids.data(), text_ids, false);
  m.done(std::move(m.result));
  m.sequence = nullptr;  // ended: removed at the end of the step
}

void DecodeGroup::step() {
  // Members at their token budget or told to stop end before the forward, as a lone generate would.
  stepping_.clear();  // kept across steps: a step allocates nothing of its own
  forward_.clear();
  for (auto& m : members_) {
    if (static_cast<int64_t>(m->result.ids.size()) >= m->options.max_tokens)
      finish(*m, FinishReason::Length);
    else if (m->options.should_abort && m->options.should_abort())
      finish(*m, FinishReason::Aborted);
    else
      stepping_.push_back(m.get());
  }
  for (Member* m : stepping_)
    if (m->sequence->has_pending()) forward_.push_back(PrefillRequest{m->sequence, nullptr, 0, nullptr, 0});
  prefill_batch(forward_);

  for (Member* m : stepping_) {
    Sequence& s = *m->sequence;
    const std::vector<float>& logits = s.last_logits();
    const int64_t vocab = static_cast<int64_t>(logits.size());
    const int32_t id = sample_token(logits.data(), vocab, m->params, m->rng);
    const double lse = log_sum_exp(logits.data(), vocab);
    GenerateStep st{id, static_cast<double>(logits[id]) - lse, top_logprobs(logits.data(), vocab, m->options.logprobs, lse)};
    s.pending_ = id;  // enters the cache with the next step's forward (sequence.h)
    s.tokens_.push_back(id);
    m->result.ids.push_back(id);
    if (m->options.on_step) m->options.on_step(st);
    m->result.steps.push_back(std::move(st));
    if (std::find(m->stops.begin(), m->stops.end(), id) != m->stops.end()) finish(*m, FinishReason::Stop);
  }
  members_.erase(std::remove_if(members_.begin(), members_.end(), [](const auto& m) { return m->sequence == nullptr; }),
                 members_.end());
}

}  // namespace vlac
