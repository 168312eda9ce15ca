#include "runtime/sequence.h"

#include <algorithm>
#include <set>

#include "common/error.h"
#include "common/workspace.h"
#include "model/linear_weight.h"
#include "runtime/decode_group.h"
#include "runtime/model.h"

namespace vlac {

const char* finish_reason_name(FinishReason reason) {
  switch (reason) {
    case FinishReason::Stop: return "stop";
    case FinishReason::Length: return "length";
    case FinishReason::Aborted: return "aborted";
  }
  return "length";
}

std::vector<float> LogitsPool::take() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (idle_.empty()) return {};
  std::vector<float> logits = std::move(idle_.back());
  idle_.pop_back();
  return logits;
}

void LogitsPool::give(std::vector<float> logits) {
  logits.clear();
  std::lock_guard<std::mutex> lock(mutex_);
  if (idle_.size() < kIdle && logits.capacity() > 0) idle_.push_back(std::move(logits));
}

Sequence::Sequence(std::shared_ptr<const Model> model)
    : model_(std::move(model)),
      cache_(model_->config().llm.num_layers, model_->max_context(),
             model_->config().llm.num_kv_heads * model_->config().llm.head_dim()),
      logits_(model_->logits_pool().take()) {}

Sequence::~Sequence() { model_->logits_pool().give(std::move(logits_)); }

void prefill_batch(const std::vector<PrefillRequest>& requests, const LayerObserver* observer) {
  if (requests.empty()) return;
  const Model& model = requests[0].sequence->model();
  const InternLm2& llm = model.llm();
  const int64_t D = model.hidden_size(), vocab = model.config().llm.vocab_size;
  const int32_t img_context = model.image_context_id();

  // Everything is checked before any work, so a bad request changes no sequence.
  std::set<const Sequence*> seen;
  int64_t total_rows = 0;
  for (size_t r = 0; r < requests.size(); ++r) {
    const PrefillRequest& q = requests[r];
    const std::string where = requests.size() > 1 ? "prefill request " + std::to_string(r) + ": " : "prefill: ";
    VLAC_CHECK(q.sequence != nullptr, "prefill request without a sequence");
    if (&q.sequence->model() != &model) fail(ErrorCode::BadArgument, where + "sequences of different models");
    if (!seen.insert(q.sequence).second) fail(ErrorCode::BadArgument, where + "the same sequence twice in one batch");
    if (q.n_ids < 0 || (q.n_ids > 0 && q.ids == nullptr)) fail(ErrorCode::BadArgument, where + "no ids");
    int64_t image_slots = 0;
    for (int64_t i = 0; i < q.n_ids; ++i) {
      if (q.ids[i] < 0 || q.ids[i] >= vocab)
        fail(ErrorCode::BadArgument, where + "token id " + std::to_string(q.ids[i]) + " at index " +
                                         std::to_string(i) + " is outside the vocabulary [0, " +
                                         std::to_string(vocab) + ")");
      image_slots += q.ids[i] == img_context;
    }
    if (image_slots != q.n_image_rows || (q.n_image_rows > 0 && q.image_rows == nullptr))
      fail(ErrorCode::BadArgument, where + "the ids hold " + std::to_string(image_slots) +
                                       " <IMG_CONTEXT> tokens but " + std::to_string(q.n_image_rows) +
                                       " image embedding rows were given (" +
                                       std::to_string(model.image_tokens_per_tile()) + " per tile)");
    const int64_t length = q.sequence->length();
    if (length + q.n_ids > model.max_context())
      fail(ErrorCode::ContextFull, where + std::to_string(length) + " tokens in the sequence + " +
                                       std::to_string(q.n_ids) + " new exceed maxContext " +
                                       std::to_string(model.max_context()));
    total_rows += q.n_ids + (q.sequence->pending_ ? 1 : 0);
  }

  // Rows: per request [pending token?, ids...], embedded, image rows spliced in order.
  WorkspaceScope ws;
  float* h = ws.take<float>(static_cast<size_t>(total_rows * D));
  // Decode-sized segments (at most LinearWeight::kDecodeRows rows) go first and through a forward of
  // their own: a forward runs its products row by row only when all its segments are that short
  // (InternLm2::forward), so each segment's arithmetic depends on its own length alone.
  std::vector<LlmSegment> segments;
  std::vector<int64_t> last_row;
  std::vector<const PrefillRequest*> forwarded;
  int64_t row = 0, short_rows = 0;
  size_t n_short = 0;
  for (const bool short_pass : {true, false}) {
    for (const PrefillRequest& q : requests) {
      Sequence& s = *q.sequence;
      const int64_t rows = q.n_ids + (s.pending_ ? 1 : 0);
      if (rows == 0 || (rows <= LinearWeight::kDecodeRows) != short_pass) continue;
      float* dst = h + row * D;
      if (s.pending_) {
        const int32_t id = *s.pending_;
        llm.embed(&id, 1, dst);
        dst += D;
      }
      llm.embed(q.ids, q.n_ids, dst);
      int64_t next_image_row = 0;
      for (int64_t i = 0; i < q.n_ids; ++i) {
        if (q.ids[i] != img_context) continue;
        std::copy(q.image_rows + next_image_row * D, q.image_rows + (next_image_row + 1) * D, dst + i * D);
        ++next_image_row;
      }
      segments.push_back(s.cache_.segment(s.cached_, rows));
      row += rows;
      last_row.push_back(row - 1);
      forwarded.push_back(&q);
    }
    if (short_pass) {
      n_short = segments.size();
      short_rows = row;
    }
  }
  if (segments.empty()) return;

  if (n_short == 0 || n_short == segments.size()) {
    llm.forward(h, segments, observer);
  } else {
    llm.forward(h, std::vector<LlmSegment>(segments.begin(), segments.begin() + n_short), observer);
    llm.forward(h + short_rows * D, std::vector<LlmSegment>(segments.begin() + n_short, segments.end()), observer);
  }

  // Logits only where a sequence ends: the next token is chosen from them. The head runs row by
  // row (InternLm2::head), so a sequence's logits do not depend on how many others share its batch
  // (batch invariance: batchSize changes no reply, bit for bit), and its weights are read once for
  // every LinearWeight::kDecodeRows sequences.
  const int64_t n_last = static_cast<int64_t>(last_row.size());
  float* last = ws.take<float>(static_cast<size_t>(n_last * D));
  for (int64_t i = 0; i < n_last; ++i) std::copy(h + last_row[i] * D, h + (last_row[i] + 1) * D, last + i * D);
  float* logits = ws.take<float>(static_cast<size_t>(n_last * vocab));
  llm.head(last, n_last, logits);

  for (size_t i = 0; i < forwarded.size(); ++i) {
    const PrefillRequest& q = *forwarded[i];
    Sequence& s = *q.sequence;
    s.cached_ += segments[i].rows;
    s.pending_.reset();
    s.logits_.assign(logits + i * vocab, logits + (i + 1) * vocab);
    s.tokens_.insert(s.tokens_.end(), q.ids, q.ids + q.n_ids);
  }
}

void Sequence::prefill(const int32_t* ids, int64_t n_ids, const float* image_rows, int64_t n_image_rows,
                       const LayerObserver* observer) {
  PrefillRequest q;
  q.sequence = this;
  q.ids = ids;
  q.n_ids = n_ids;
  q.image_rows = image_rows;
  q.n_image_rows = n_image_rows;
  prefill_batch({q}, observer);
}

GenerateResult Sequence::generate(const GenerateOptions& options) {
  GenerateResult reply;
  DecodeGroup group;
  group.add(*this, options, [&reply](GenerateResult&& r) { reply = std::move(r); });
  while (!group.empty()) group.step();
  return reply;
}

bool Sequence::share_kv() const { return cache_.share(cached_); }

std::unique_ptr<Sequence> Sequence::fork() const {
  auto child = std::make_unique<Sequence>(model_);
  child->cache_.fork_from(cache_, cached_, cached_);
  child->cached_ = cached_;
  child->pending_ = pending_;
  child->logits_ = logits_;
  child->tokens_ = tokens_;
  return child;
}

std::unique_ptr<Sequence> Sequence::fork_prefix(int64_t n) const {
  VLAC_CHECK(n > 0 && n <= cached_, "fork_prefix: " + std::to_string(n) + " positions of a sequence with " +
                                        std::to_string(cached_) + " cached");
  auto child = std::make_unique<Sequence>(model_);
  child->cache_.fork_from(cache_, cached_, n);
  child->cached_ = n;
  child->tokens_.assign(tokens_.begin(), tokens_.begin() + n);
  return child;
}

}  // namespace vlac
