#include "runtime/call_scheduler.h"

#include <algorithm>

#include "common/error.h"
#include "runtime/model.h"

namespace vlac {

void CallScheduler::admit(const std::vector<std::shared_ptr<GenerateCall>>& calls, const Settled& settled) {
  if (calls.empty()) return;
  std::vector<BatchCall> batch;
  for (const auto& c : calls) {
    VLAC_CHECK(c->model == calls[0]->model && c->caches == calls[0]->caches, "one scheduler admits one model's calls");
    batch.push_back(c->batch);
  }
  std::vector<PreparedCall> prepared;
  try {
    prepared = prepare_calls(*calls[0]->model, batch, calls[0]->caches);
  } catch (...) {
    for (const auto& c : calls) {
      c->error = std::current_exception();
      settled(c);
    }
    return;
  }
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < calls.size(); ++i) {
    const std::shared_ptr<GenerateCall>& call = calls[i];
    PreparedCall& p = prepared[i];
    call->stats = p.stats;
    call->prepared_with = calls.size();
    try {
      if (p.error) std::rethrow_exception(p.error);
      for (const auto& s : p.sequences) DecodeGroup::check(*s, call->options);
    } catch (...) {
      call->error = std::current_exception();
      settled(call);
      continue;
    }
    auto a = std::make_unique<Active>();
    a->call = call;
    a->sequences = std::move(p.sequences);
    a->remaining = a->sequences.size();
    a->decode_start = now;
    call->results.assign(a->sequences.size(), GenerateResult{});
    Active* owner = a.get();
    for (size_t r = 0; r < owner->sequences.size(); ++r)
      group_.add(*owner->sequences[r], call->options, [owner, r](GenerateResult&& reply) {
        owner->call->results[r] = std::move(reply);
        --owner->remaining;
      });
    active_.push_back(std::move(a));
  }
  settle_ended(settled);  // calls without requests
}

void CallScheduler::step(const Settled& settled) {
  for (auto& a : active_) a->call->peak_decoding = std::max(a->call->peak_decoding, group_.size());
  try {
    group_.step();
  } catch (...) {
    const std::exception_ptr error = std::current_exception();
    group_.clear();
    std::vector<std::unique_ptr<Active>> failed;
    failed.swap(active_);
    for (auto& a : failed) {
      a->call->error = error;
      a->call->results.clear();
      settled(a->call);
    }
    return;
  }
  settle_ended(settled);
}

void CallScheduler::settle_ended(const Settled& settled) {
  const auto now = std::chrono::steady_clock::now();
  auto ended = std::stable_partition(active_.begin(), active_.end(), [](const auto& a) { return a->remaining > 0; });
  std::vector<std::unique_ptr<Active>> done(std::make_move_iterator(ended), std::make_move_iterator(active_.end()));
  active_.erase(ended, active_.end());
  for (auto& a : done) {
    a->call->stats.decode_ms = std::chrono::duration<double, std::milli>(now - a->decode_start).count();
    settled(a->call);  // its sequences end with `a`, after the call has its replies
  }
}

}  // namespace vlac
