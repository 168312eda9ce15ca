// What the runtime tests share on the tiny-a checkpoint: the model (one per load option set, loaded
// once per test binary), the golden cases and their pixels, generate options, and the bitwise
// comparison of two replies. Header-only: only the runtime tests include it.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "common/json.h"
#include "model/safetensors.h"
#include "runtime/model.h"
#include "runtime/sequence.h"
#include "support/fixtures.h"

namespace vlac::test {

// tiny-a with `max_context` tokens per sequence and the given weights (default bf16, fp32 activations).
inline std::shared_ptr<Model> tiny_model(int64_t max_context = 2048, const WeightOptions& weights = {}) {
  static std::map<std::tuple<int64_t, int, bool>, std::shared_ptr<Model>> models;
  auto& m = models[{max_context, static_cast<int>(weights.format), weights.bf16_activations}];
  if (!m) {
    ModelOptions o;
    o.max_context = max_context;
    o.weights = weights;
    m = Model::load(fixture_path("tiny-a"), o);
  }
  return m;
}

inline const json& golden_case(const std::string& name) {
  static const json cases = read_fixture_json("tiny-a/golden/cases.json")["cases"];
  for (const auto& c : cases)
    if (c["name"] == name) return c;
  FAIL("no golden case " << name);
  return cases[0];
}

inline std::vector<int32_t> case_ids(const std::string& name) {
  return golden_case(name)["input_ids"].get<std::vector<int32_t>>();
}

// uint8 HWC pixels of a golden image (the official preprocessing's tile).
inline std::vector<uint8_t> golden_pixels(const std::string& image) {
  static SafetensorsFile tensors(fixture_path("tiny-a/golden/tensors.safetensors"));
  const TensorView& t = tensors.tensor("pixels/" + image);
  return std::vector<uint8_t>(t.data, t.data + t.nbytes);
}

// The tiles of a golden case in prompt order.
inline std::vector<uint8_t> case_tiles(const std::string& name) {
  std::vector<uint8_t> tiles;
  for (const auto& image : golden_case(name)["images"]) {
    const std::vector<uint8_t> px = golden_pixels(image.get<std::string>());
    tiles.insert(tiles.end(), px.begin(), px.end());
  }
  return tiles;
}

// Greedy, no stop id (random weights never emit one: the length is pinned), 5 top logprobs a step.
inline GenerateOptions greedy(int64_t max_tokens) {
  GenerateOptions o;
  o.max_tokens = max_tokens;
  o.stop_ids = std::vector<int32_t>{};
  o.logprobs = 5;
  return o;
}

inline GenerateOptions sampled(int64_t max_tokens, uint64_t seed) {
  GenerateOptions o = greedy(max_tokens);
  o.temperature = 0.8;
  o.top_k = 40;
  o.top_p = 0.95;
  o.seed = seed;
  return o;
}

// Bitwise: the same ids, text, finish reason and the very same logprob doubles.
inline void check_identical(const GenerateResult& a, const GenerateResult& b) {
  REQUIRE(a.ids == b.ids);
  CHECK(a.text == b.text);
  CHECK(a.finish_reason == b.finish_reason);
  REQUIRE(a.steps.size() == b.steps.size());
  for (size_t s = 0; s < a.steps.size(); ++s) {
    CHECK(a.steps[s].logprob == b.steps[s].logprob);
    REQUIRE(a.steps[s].top.size() == b.steps[s].top.size());
    for (size_t k = 0; k < a.steps[s].top.size(); ++k) {
      CHECK(a.steps[s].top[k].id == b.steps[s].top[k].id);
      CHECK(a.steps[s].top[k].logprob == b.steps[s].top[k].logprob);
    }
  }
}

}  // namespace vlac::test
