// Continuous batching (runtime/decode_group.h) and the batched preparation of several callers'
// calls (prepare_calls, cached_batch.h) on the tiny-a checkpoint: replies decoded together, joining
// at different steps and with their own options, are bit-identical to each decoded alone; a caller
// dropped from a merged batch does not disturb the others.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/cached_batch.h"
#include "runtime/call_scheduler.h"
#include "runtime/decode_group.h"
#include "runtime/model.h"
#include "runtime/sequence.h"
#include "support/runtime_fixture.h"

using namespace vlac;
using namespace vlac::test;

namespace {

// A prompt of tiny-a's golden cases, prefilled (with its image rows) into a fresh sequence.
std::unique_ptr<Sequence> prefilled(const Model& model, const std::string& name) {
  const std::vector<int32_t> ids = case_ids(name);
  const std::vector<uint8_t> tiles = case_tiles(name);
  const int64_t n_tiles = static_cast<int64_t>(golden_case(name)["images"].size());
  const std::vector<float> rows = n_tiles ? model.encode_tiles(tiles.data(), n_tiles) : std::vector<float>{};
  auto seq = model.create_sequence();
  seq->prefill(ids.data(), static_cast<int64_t>(ids.size()), rows.empty() ? nullptr : rows.data(),
               static_cast<int64_t>(rows.size()) / model.hidden_size());
  return seq;
}

// Nine members with their own options: greedy and sampled, 1..8 tokens, 0/5/20 top logprobs, one
// with a stop id it meets on its third token. More than LinearWeight::kDecodeRows decode together.
struct Member {
  std::string prompt;
  GenerateOptions options;
  int joins_at;  // the group's step at which it is added
};

std::vector<Member> members(const Model& model) {
  std::vector<Member> m = {
      {"text", greedy(8), 0},         {"one-image", greedy(6), 0},      {"two-image", sampled(7, 11), 0},
      {"text", sampled(5, 12), 1},    {"one-image", greedy(1), 1},      {"two-image", greedy(3), 2},
      {"text", greedy(4), 2},         {"one-image", sampled(8, 13), 3}, {"two-image", greedy(6), 5},
  };
  m[1].options.logprobs = 20;
  m[4].options.logprobs = 0;
  // Member 6 stops at the third token its lone run chooses.
  auto probe = prefilled(model, m[6].prompt);
  const GenerateResult alone = probe->generate(m[6].options);
  m[6].options.stop_ids = std::vector<int32_t>{alone.ids[2]};
  return m;
}

void check_group_equals_alone(const Model& model) {
  const std::vector<Member> ms = members(model);
  std::vector<GenerateResult> alone;
  for (const Member& m : ms) alone.push_back(prefilled(model, m.prompt)->generate(m.options));

  std::vector<std::unique_ptr<Sequence>> seqs;
  for (const Member& m : ms) seqs.push_back(prefilled(model, m.prompt));
  std::vector<GenerateResult> together(ms.size());
  std::vector<bool> done(ms.size(), false);
  DecodeGroup group;
  size_t most = 0;
  for (int step = 0; step < 64 && (step <= 5 || !group.empty()); ++step) {
    for (size_t i = 0; i < ms.size(); ++i)
      if (ms[i].joins_at == step)
        group.add(*seqs[i], ms[i].options, [&, i](GenerateResult&& r) {
          together[i] = std::move(r);
          done[i] = true;
        });
    most = std::max(most, group.size());
    group.step();
  }
  CHECK(most > 4);
  for (size_t i = 0; i < ms.size(); ++i) {
    CAPTURE(i);
    REQUIRE(done[i]);
    check_identical(together[i], alone[i]);
  }
  CHECK(together[6].finish_reason == FinishReason::Stop);
  CHECK(together[6].ids.size() == 3);
  CHECK(together[0].finish_reason == FinishReason::Length);
}

}  // namespace

TEST_CASE("sequences decoded in one group, joining at different steps, reply bit for bit as each alone") {
  check_group_equals_alone(*tiny_model());
}

TEST_CASE("decoding in a group stays bitwise equal to decoding alone with int8 weights and with bf16 activations") {
  WeightOptions int8;
  int8.format = WeightFormat::Int8;
  check_group_equals_alone(*tiny_model(2048, int8));
  WeightOptions bf16;
  bf16.bf16_activations = true;
  check_group_equals_alone(*tiny_model(2048, bf16));
}

TEST_CASE("a member told to stop leaves the group with finish reason aborted and the others go on") {
  auto model = tiny_model();
  auto a = prefilled(*model, "text");
  auto b = prefilled(*model, "one-image");
  const GenerateResult b_alone = prefilled(*model, "one-image")->generate(greedy(5));
  int steps = 0;
  GenerateOptions stop_after_two = greedy(8);
  stop_after_two.should_abort = [&steps] { return steps >= 2; };
  GenerateResult ra, rb;
  DecodeGroup group;
  group.add(*a, stop_after_two, [&](GenerateResult&& r) { ra = std::move(r); });
  group.add(*b, greedy(5), [&](GenerateResult&& r) { rb = std::move(r); });
  while (!group.empty()) {
    group.step();
    ++steps;
  }
  CHECK(ra.finish_reason == FinishReason::Aborted);
  CHECK(ra.ids.size() == 2);
  check_identical(rb, b_alone);
}

TEST_CASE("a group refuses a bad member before it joins and keeps the others") {
  auto model = tiny_model();
  auto a = prefilled(*model, "text");
  auto empty = model->create_sequence();
  DecodeGroup group;
  group.add(*a, greedy(2), [](GenerateResult&&) {});
  CHECK_THROWS_AS(group.add(*empty, greedy(2), [](GenerateResult&&) {}), vlac::Error);
  CHECK_THROWS_AS(group.add(*a, greedy(2), [](GenerateResult&&) {}), vlac::Error);  // already decoding
  GenerateOptions too_long = greedy(model->max_context());
  auto b = prefilled(*model, "text");
  CHECK_THROWS_AS(group.add(*b, too_long, [](GenerateResult&&) {}), vlac::Error);
  CHECK(group.size() == 1);
}

TEST_CASE("calls prepared in one batch get the sequences and counters each gets alone, and a dropped call leaves the rest") {
  auto model = tiny_model();
  const std::vector<int32_t> pair = case_ids("two-image"), one = case_ids("one-image");
  const std::vector<uint8_t> pair_tiles = case_tiles("two-image"), one_tiles = case_tiles("one-image");
  std::vector<int32_t> bad = one;
  bad.back() = 1 << 30;
  const BatchRequest p{pair.data(), static_cast<int64_t>(pair.size()), pair_tiles.data(), 2};
  const BatchRequest o{one.data(), static_cast<int64_t>(one.size()), one_tiles.data(), 1};
  const BatchRequest x{bad.data(), static_cast<int64_t>(bad.size()), one_tiles.data(), 1};

  // Alone, each with fresh caches.
  std::vector<std::vector<GenerateResult>> alone;
  std::vector<CacheCounters> alone_counts;
  for (const auto& call : std::vector<std::vector<BatchRequest>>{{p, o}, {o}}) {
    ModelCaches caches;
    BatchStats st;
    alone.push_back(generate_batch(*model, call, greedy(4), &caches, &st));
    alone_counts.push_back(st.counts);
  }

  // Merged: call 0 (p, o), call 1 (o), call 2 with a bad request, call 3 aborted after the encoding.
  std::vector<BatchCall> calls = {{{p, o}, {}}, {{o}, {}}, {{x}, {}}, {{p}, [] { fail(ErrorCode::Aborted, "stop"); }}};
  ModelCaches caches;
  std::vector<PreparedCall> prepared = prepare_calls(*model, calls, &caches);
  REQUIRE(prepared.size() == 4);
  CHECK_FALSE(prepared[0].error);
  CHECK_FALSE(prepared[1].error);
  CHECK(prepared[2].error);
  CHECK(prepared[3].error);
  CHECK(prepared[2].sequences.empty());
  CHECK(prepared[3].sequences.empty());
  for (size_t c = 0; c < 2; ++c) {
    REQUIRE(prepared[c].sequences.size() == alone[c].size());
    for (size_t r = 0; r < alone[c].size(); ++r) check_identical(prepared[c].sequences[r]->generate(greedy(4)), alone[c][r]);
  }
  // Call 0's counters are its own; call 1's one tile repeats one of call 0's in the same batch.
  CHECK(prepared[0].stats.counts.frame_misses == alone_counts[0].frame_misses);
  CHECK(prepared[0].stats.counts.prefilled_tokens == alone_counts[0].prefilled_tokens);
  CHECK(prepared[1].stats.counts.frame_misses == 0);
  CHECK(prepared[1].stats.counts.frame_hits == 1);
  CHECK(prepared[1].stats.counts.prefilled_tokens == one.size());
  try {
    std::rethrow_exception(prepared[3].error);
  } catch (const vlac::Error& e) {
    CHECK(e.code() == ErrorCode::Aborted);
  }
}

TEST_CASE("the call scheduler serves calls arriving while others decode with the replies each gets alone") {
  auto model = tiny_model();
  const std::vector<int32_t> pair = case_ids("two-image"), one = case_ids("one-image"), text = case_ids("text");
  const std::vector<uint8_t> pair_tiles = case_tiles("two-image"), one_tiles = case_tiles("one-image");
  const BatchRequest p{pair.data(), static_cast<int64_t>(pair.size()), pair_tiles.data(), 2};
  const BatchRequest o{one.data(), static_cast<int64_t>(one.size()), one_tiles.data(), 1};
  const BatchRequest t{text.data(), static_cast<int64_t>(text.size()), nullptr, 0};
  struct Plan {
    std::vector<BatchRequest> requests;
    GenerateOptions options;
    int arrives_at;  // the scheduler's step before which it is admitted
  };
  GenerateOptions cancelled = greedy(9);
  int step = 0;
  cancelled.should_abort = [&step] { return step >= 4; };
  GenerateOptions too_long = greedy(model->max_context());
  const std::vector<Plan> plans = {
      {{p, o}, greedy(6), 0}, {{t}, sampled(5, 7), 0}, {{o, t, p}, greedy(3), 2},
      {{p}, cancelled, 2},    {{t}, too_long, 3},      {{o}, greedy(8), 5},
  };
  std::vector<std::vector<GenerateResult>> alone;
  for (size_t i = 0; i < plans.size(); ++i) {
    if (i == 3 || i == 4) {  // the cancelled and the refused call have no lone run to match
      alone.emplace_back();
      continue;
    }
    ModelCaches caches;
    alone.push_back(generate_batch(*model, plans[i].requests, plans[i].options, &caches));
  }

  ModelCaches caches;
  CallScheduler scheduler(8);
  std::vector<std::shared_ptr<GenerateCall>> calls;
  std::vector<int> settled_at(plans.size(), -1);
  auto settled = [&](const std::shared_ptr<GenerateCall>& c) {
    for (size_t i = 0; i < calls.size(); ++i)
      if (calls[i] == c) settled_at[i] = step;
  };
  size_t most = 0;
  for (; step < 40 && (step <= 5 || !scheduler.idle()); ++step) {
    std::vector<std::shared_ptr<GenerateCall>> arriving;
    for (size_t i = 0; i < plans.size(); ++i)
      if (plans[i].arrives_at == step) {
        auto c = std::make_shared<GenerateCall>();
        c->model = model;
        c->caches = &caches;
        c->batch.requests = plans[i].requests;
        c->options = plans[i].options;
        calls.push_back(c);
        arriving.push_back(c);
      }
    scheduler.admit(arriving, settled);
    most = std::max(most, scheduler.decoding());
    if (!scheduler.idle()) scheduler.step(settled);
  }
  CHECK(most > 4);
  for (size_t i = 0; i < plans.size(); ++i) {
    CAPTURE(i);
    REQUIRE(settled_at[i] >= 0);
    if (i == 3) {
      CHECK_FALSE(calls[i]->error);
      CHECK(calls[i]->results[0].finish_reason == FinishReason::Aborted);
      continue;
    }
    if (i == 4) {
      CHECK(calls[i]->error);
      continue;
    }
    REQUIRE_FALSE(calls[i]->error);
    REQUIRE(calls[i]->results.size() == alone[i].size());
    for (size_t r = 0; r < alone[i].size(); ++r) check_identical(calls[i]->results[r], alone[i][r]);
  }
  CHECK(settled_at[4] == 3);  // refused at admission, not after the others
  CHECK(settled_at[1] < settled_at[0]);  // 5 tokens end before 6
}

TEST_CASE("the call scheduler admits a call larger than its room alone, and waits for room otherwise") {
  CallScheduler scheduler(2);
  CHECK(scheduler.has_room(0, 5));  // nothing decodes: any call
  CHECK_FALSE(scheduler.has_room(1, 2));
  CHECK(scheduler.has_room(1, 1));
}

TEST_CASE("a decode-sized prefill batched with a long prompt gives the logits it gets alone, bit for bit") {
  auto model = tiny_model();
  const std::vector<int32_t> text = case_ids("text"), pair = case_ids("two-image");
  const std::vector<uint8_t> tiles = case_tiles("two-image");
  const std::vector<float> rows = model->encode_tiles(tiles.data(), 2);
  const std::vector<int32_t> more = {text[5], text[6], text[7]};  // 3 rows: the GEMV side of the line
  auto short_alone = model->create_sequence(), long_alone = model->create_sequence();
  short_alone->prefill(text);
  short_alone->prefill(more);
  long_alone->prefill(pair.data(), static_cast<int64_t>(pair.size()), rows.data(),
                      static_cast<int64_t>(rows.size()) / model->hidden_size());
  auto short_batched = model->create_sequence(), long_batched = model->create_sequence();
  short_batched->prefill(text);
  prefill_batch({{long_batched.get(), pair.data(), static_cast<int64_t>(pair.size()), rows.data(),
                  static_cast<int64_t>(rows.size()) / model->hidden_size()},
                 {short_batched.get(), more.data(), 3, nullptr, 0}});
  CHECK(short_batched->last_logits() == short_alone->last_logits());
  CHECK(long_batched->last_logits() == long_alone->last_logits());
  CHECK(short_batched->tokens() == short_alone->tokens());
  check_identical(short_batched->generate(greedy(4)), short_alone->generate(greedy(4)));
}
