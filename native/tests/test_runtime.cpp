// Sequences on the tiny-a checkpoint: chunked and batched prefill, fork, continued generation,
// seeded sampling, cancellation and the context limit. The goldens themselves are test_model.cpp's.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/preprocess.h"
#include "model/safetensors.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/sequence.h"
#include "support/fixtures.h"
#include "support/runtime_fixture.h"

using namespace vlac;
using namespace vlac::test;

namespace {

// docs/TOLERANCES.md, "engine paths against each other".
constexpr double kSamePathTolerance = 1e-5;

// The case's image rows (ViT + projector of the golden's uint8 pixels).
std::vector<float> case_image_rows(const Model& model, const std::string& name) {
  static SafetensorsFile tensors(test::fixture_path("tiny-a/golden/tensors.safetensors"));
  std::vector<uint8_t> tiles;
  int64_t n = 0;
  for (const auto& image : golden_case(name)["images"]) {
    const TensorView& t = tensors.tensor("pixels/" + image.get<std::string>());
    tiles.insert(tiles.end(), t.data, t.data + t.nbytes);
    ++n;
  }
  return model.encode_tiles(tiles.data(), n);
}

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

void check_same_steps(const GenerateResult& a, const GenerateResult& b) {
  REQUIRE(a.ids == b.ids);
  for (size_t s = 0; s < a.steps.size(); ++s) {
    CHECK(std::fabs(a.steps[s].logprob - b.steps[s].logprob) < 1e-4);
    for (size_t k = 0; k < a.steps[s].top.size(); ++k)
      CHECK(std::fabs(a.steps[s].top[k].logprob - b.steps[s].top[k].logprob) < 1e-4);
  }
}

ErrorCode error_code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const vlac::Error& e) {
    return e.code();
  }
  FAIL("no vlac::Error thrown");
  return ErrorCode::Internal;
}

}  // namespace

TEST_CASE("a prompt prefilled in chunks, split inside an image, equals the prompt prefilled at once") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = case_ids("two-image");  // 655 tokens, below the NTK threshold
  const std::vector<float> rows = case_image_rows(*model, "two-image");
  const int64_t D = model->hidden_size();

  auto whole = model->create_sequence();
  whole->prefill(ids.data(), static_cast<int64_t>(ids.size()), rows.data(), static_cast<int64_t>(rows.size()) / D);

  auto chunked = model->create_sequence();
  const std::vector<int64_t> cuts = {0, 1, 100, 300, 301, 654, static_cast<int64_t>(ids.size())};
  int64_t image_row = 0;
  for (size_t c = 0; c + 1 < cuts.size(); ++c) {
    const int32_t* chunk = ids.data() + cuts[c];
    const int64_t n = cuts[c + 1] - cuts[c];
    const int64_t images = std::count(chunk, chunk + n, model->image_context_id());
    chunked->prefill(chunk, n, rows.data() + image_row * D, images);
    image_row += images;
  }
  CHECK(chunked->length() == whole->length());
  CHECK(chunked->tokens() == whole->tokens());
  CHECK(relative_difference(chunked->last_logits(), whole->last_logits()) <= kSamePathTolerance);
  check_same_steps(chunked->generate(greedy(8)), whole->generate(greedy(8)));
}

TEST_CASE("several sequences prefilled in one batch equal each prefilled alone") {
  auto model = tiny_model();
  const std::vector<int32_t> text = case_ids("text"), image = case_ids("one-image");
  const std::vector<float> rows = case_image_rows(*model, "one-image");
  const int64_t D = model->hidden_size();

  auto a = model->create_sequence(), b = model->create_sequence();
  a->prefill(text);
  b->prefill(image.data(), static_cast<int64_t>(image.size()), rows.data(), static_cast<int64_t>(rows.size()) / D);

  auto ba = model->create_sequence(), bb = model->create_sequence();
  PrefillRequest qa, qb;
  qa.sequence = ba.get();
  qa.ids = text.data();
  qa.n_ids = static_cast<int64_t>(text.size());
  qb.sequence = bb.get();
  qb.ids = image.data();
  qb.n_ids = static_cast<int64_t>(image.size());
  qb.image_rows = rows.data();
  qb.n_image_rows = static_cast<int64_t>(rows.size()) / D;
  prefill_batch({qa, qb});
  CHECK(relative_difference(ba->last_logits(), a->last_logits()) <= kSamePathTolerance);
  CHECK(relative_difference(bb->last_logits(), b->last_logits()) <= kSamePathTolerance);
  check_same_steps(ba->generate(greedy(6)), a->generate(greedy(6)));
  check_same_steps(bb->generate(greedy(6)), b->generate(greedy(6)));
}

TEST_CASE("a forked sequence continues exactly as its parent, and neither disturbs the other") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = case_ids("text");
  auto parent = model->create_sequence();
  parent->prefill(ids);
  const GenerateResult first = parent->generate(greedy(3));  // leaves a pending token

  auto child = parent->fork();
  CHECK(child->length() == parent->length());
  CHECK(child->tokens() == parent->tokens());
  const GenerateResult from_child = child->generate(greedy(10));
  const GenerateResult from_parent = parent->generate(greedy(10));
  check_same_steps(from_child, from_parent);

  // the golden continuation: 3 + 10 tokens generated in two calls equal the first 13 of one call
  std::vector<int32_t> joined = first.ids;
  joined.insert(joined.end(), from_parent.ids.begin(), from_parent.ids.end());
  const std::vector<int32_t> golden = golden_case("text")["greedy"].get<std::vector<int32_t>>();
  CHECK(joined == std::vector<int32_t>(golden.begin(), golden.begin() + 13));
}

TEST_CASE("sampling with a seed is reproducible, and another seed gives another sample") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = case_ids("text");
  auto a = model->create_sequence();
  a->prefill(ids);
  auto b = a->fork(), c = a->fork();
  const GenerateResult ra = a->generate(sampled(16, 7)), rb = b->generate(sampled(16, 7));
  CHECK(ra.ids == rb.ids);
  CHECK(c->generate(sampled(16, 8)).ids != ra.ids);
  GenerateOptions top1 = sampled(8, 1);
  top1.top_k = 1;  // top_k 1 is greedy whatever the temperature (VLAC's setting)
  auto d = model->create_sequence();
  d->prefill(ids);
  const std::vector<int32_t> golden = golden_case("text")["greedy"].get<std::vector<int32_t>>();
  CHECK(d->generate(top1).ids == std::vector<int32_t>(golden.begin(), golden.begin() + 8));
}

TEST_CASE("the sampler draws tokens in proportion to their temperature-scaled probability") {
  const std::vector<float> logits = {1.0f, 2.0f, 0.5f, -1.0f, 2.0f};
  SamplingParams p;
  p.temperature = 0.5;
  Rng rng(123);
  std::vector<int> counts(logits.size());
  const int draws = 200000;
  for (int i = 0; i < draws; ++i) ++counts[sample_token(logits.data(), 5, p, rng)];
  double z = 0;
  for (float l : logits) z += std::exp(l / p.temperature);
  for (size_t i = 0; i < logits.size(); ++i) {
    const double expected = std::exp(logits[i] / p.temperature) / z;
    CHECK(std::fabs(counts[i] / double(draws) - expected) < 0.005);  // > 4 sigma at 200k draws
  }
  p.top_k = 2;  // the two tied best survive, nothing else
  for (int i = 0; i < 1000; ++i) {
    const int32_t t = sample_token(logits.data(), 5, p, rng);
    CHECK((t == 1 || t == 4));
  }
  p.top_k = 0;
  p.top_p = 0.5;  // id 1 alone has 0.47 of the mass: the nucleus needs its tie partner too
  for (int i = 0; i < 1000; ++i) {
    const int32_t t = sample_token(logits.data(), 5, p, rng);
    CHECK((t == 1 || t == 4));
  }
  CHECK(argmax(logits.data(), 5) == 1);
  const auto top = top_logprobs(logits.data(), 5, 3, log_sum_exp(logits.data(), 5));
  CHECK(top[0].id == 1);
  CHECK(top[1].id == 4);
  CHECK(top[2].id == 0);
}

TEST_CASE("xoshiro256** seeded through splitmix64 gives its documented stream") {
  // State = the first four splitmix64 outputs of the seed (for seed 0 the first is 0xe220a8397b1dcdaf,
  // Vigna's reference value); these are the first xoshiro256** outputs from that state.
  Rng a(0);
  CHECK(a.next() == 0x99ec5f36cb75f2b4ull);
  CHECK(a.next() == 0xbf6e1f784956452aull);
  CHECK(a.next() == 0x1a5f849d4933e6e0ull);
  Rng b(1);
  CHECK(b.next() != 0x99ec5f36cb75f2b4ull);
  for (int i = 0; i < 1000; ++i) {
    const double u = a.uniform();
    CHECK((u >= 0.0 && u < 1.0));
  }
}

TEST_CASE("a stop id ends generation with finish reason stop, and the text leaves it out") {
  auto model = tiny_model();
  auto seq = model->create_sequence();
  seq->prefill(case_ids("text"));
  const std::vector<int32_t> golden = golden_case("text")["greedy"].get<std::vector<int32_t>>();
  GenerateOptions o = greedy(20);
  o.stop_ids = std::vector<int32_t>{golden[4]};
  const GenerateResult r = seq->generate(o);
  CHECK(r.finish_reason == FinishReason::Stop);
  CHECK(r.ids == std::vector<int32_t>(golden.begin(), golden.begin() + 5));
  CHECK(r.text == model->tokenizer().decode(golden.data(), 4, false));
  CHECK(std::string(finish_reason_name(r.finish_reason)) == "stop");
}

TEST_CASE("the default stop set is generation_config's eos plus <|im_end|> and </s>") {
  auto model = tiny_model();
  std::vector<int32_t> stops = model->default_stop_ids();
  std::sort(stops.begin(), stops.end());
  CHECK(stops == std::vector<int32_t>{2, 92542, 92543});
}

TEST_CASE("a cancellation callback stops generation between steps with finish reason aborted") {
  auto model = tiny_model();
  auto seq = model->create_sequence();
  seq->prefill(case_ids("text"));
  GenerateOptions o = greedy(20);
  int steps = 0;
  o.on_step = [&](const GenerateStep&) { ++steps; };
  o.should_abort = [&] { return steps >= 3; };
  const GenerateResult r = seq->generate(o);
  CHECK(r.finish_reason == FinishReason::Aborted);
  CHECK(r.ids.size() == 3);
  CHECK(seq->length() == static_cast<int64_t>(case_ids("text").size()) + 3);
}

TEST_CASE("a prompt or generation that would pass maxContext fails with ContextFull before any work") {
  auto model = tiny_model(80);
  const std::vector<int32_t> ids = case_ids("text");  // 64 tokens
  auto seq = model->create_sequence();
  seq->prefill(ids);
  CHECK(error_code_of([&] { seq->generate(greedy(17)); }) == ErrorCode::ContextFull);
  CHECK(error_code_of([&] { seq->prefill(ids.data(), 17); }) == ErrorCode::ContextFull);
  CHECK(seq->length() == 64);
  CHECK(seq->generate(greedy(16)).ids.size() == 16);  // exactly up to the limit still works
  CHECK(seq->length() == 80);
  CHECK(error_code_of([&] { seq->generate(greedy(1)); }) == ErrorCode::ContextFull);
}

TEST_CASE("bad prefill and generate arguments are BadArgument and leave the sequence unchanged") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = case_ids("one-image");
  const std::vector<float> rows = case_image_rows(*model, "one-image");
  const int64_t D = model->hidden_size();
  auto seq = model->create_sequence();
  CHECK(error_code_of([&] { seq->generate(greedy(1)); }) == ErrorCode::BadArgument);  // nothing prefilled
  // one image row short of the 256 <IMG_CONTEXT> ids
  CHECK(error_code_of([&] { seq->prefill(ids.data(), static_cast<int64_t>(ids.size()), rows.data(), rows.size() / D - 1); }) ==
        ErrorCode::BadArgument);
  const int32_t out_of_vocab[] = {1, 92553};
  CHECK(error_code_of([&] { seq->prefill(out_of_vocab, 2); }) == ErrorCode::BadArgument);
  CHECK(seq->length() == 0);
  seq->prefill(ids.data(), static_cast<int64_t>(ids.size()), rows.data(), static_cast<int64_t>(rows.size()) / D);
  GenerateOptions o = greedy(2);
  o.top_p = 0;
  CHECK(error_code_of([&] { seq->generate(o); }) == ErrorCode::BadArgument);
  o = greedy(2);
  o.logprobs = kMaxTopLogprobs + 1;
  CHECK(error_code_of([&] { seq->generate(o); }) == ErrorCode::BadArgument);
  CHECK(seq->length() == static_cast<int64_t>(ids.size()));
}
