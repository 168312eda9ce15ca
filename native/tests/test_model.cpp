// The whole InternVL2 forward pass against the official model's goldens (shared/fixtures/tiny-a):
// ViT, projector, every LLM layer, the last logits, and greedy generation with the top-10 logprobs
// of every step, for all five cases. Tolerances and their reasons: docs/TOLERANCES.md.
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
#include "runtime/sequence.h"
#include "support/fixtures.h"

using namespace vlac;

namespace {

// docs/TOLERANCES.md, "model vs goldens": max |engine − golden| / max |golden| per tensor.
constexpr double kVitTolerance = 1e-5;
constexpr double kImageEmbedsTolerance = 1e-5;
constexpr double kHiddenTolerance = 1e-5;
constexpr double kLogitsTolerance = 1e-5;
// Step logprobs: absolute, in nats.
constexpr double kLogprobTolerance = 1e-4;

struct Golden {
  std::shared_ptr<Model> model;
  std::unique_ptr<SafetensorsFile> tensors;
  json cases;
};

Golden& golden() {
  static Golden g = [] {
    Golden out;
    out.model = Model::load(test::fixture_path("tiny-a"));
    out.tensors = std::make_unique<SafetensorsFile>(test::fixture_path("tiny-a/golden/tensors.safetensors"));
    out.cases = test::read_fixture_json("tiny-a/golden/cases.json")["cases"];
    return out;
  }();
  return g;
}

std::vector<float> golden_f32(const std::string& name) {
  const TensorView& t = golden().tensors->tensor(name);
  REQUIRE(t.dtype == DType::F32);
  std::vector<float> v(static_cast<size_t>(t.numel()));
  std::memcpy(v.data(), t.data, t.nbytes);
  return v;
}

struct Deviation {
  double max_abs = 0, ref_max = 0;
  double relative() const { return ref_max > 0 ? max_abs / ref_max : max_abs; }
};

Deviation compare(const float* got, const float* want, size_t n) {
  Deviation e;
  for (size_t i = 0; i < n; ++i) {
    e.max_abs = std::max(e.max_abs, std::fabs(static_cast<double>(got[i]) - want[i]));
    e.ref_max = std::max(e.ref_max, std::fabs(static_cast<double>(want[i])));
  }
  return e;
}

void check_tensor(const std::string& what, const float* got, const std::vector<float>& want, double tolerance) {
  const Deviation e = compare(got, want.data(), want.size());
  MESSAGE(what << ": max abs err " << e.max_abs << " (max |golden| " << e.ref_max << ", relative " << e.relative()
               << ")");
  CHECK_MESSAGE(e.relative() <= tolerance, what);
}

// The case's images as normalised tiles, in prompt order, from the golden's uint8 pixels.
std::vector<float> case_pixels(const json& c, int64_t tile) {
  std::vector<float> pixels;
  for (const auto& name : c["images"]) {
    const TensorView& t = golden().tensors->tensor("pixels/" + name.get<std::string>());
    REQUIRE(t.dtype == DType::U8);
    REQUIRE(t.shape == std::vector<int64_t>{tile, tile, 3});
    std::vector<float> chw(static_cast<size_t>(3 * tile * tile));
    normalize_tile(t.data, static_cast<int>(tile), chw.data());
    pixels.insert(pixels.end(), chw.begin(), chw.end());
  }
  return pixels;
}

void check_case(const std::string& name) {
  Golden& g = golden();
  const Model& model = *g.model;
  const auto it = std::find_if(g.cases.begin(), g.cases.end(), [&](const json& c) { return c["name"] == name; });
  REQUIRE(it != g.cases.end());
  const json& c = *it;
  const int64_t n_images = static_cast<int64_t>(c["images"].size());

  std::vector<float> image_rows;
  if (n_images > 0) {
    const std::vector<float> pixels = case_pixels(c, model.tile_size());
    const std::vector<float> vit = model.vit_hidden(pixels.data(), n_images);
    check_tensor(name + " vit_last_hidden", vit.data(), golden_f32(name + "/vit_last_hidden"), kVitTolerance);
    image_rows = model.project(vit.data(), n_images);
    check_tensor(name + " image_embeds", image_rows.data(), golden_f32(name + "/image_embeds"),
                 kImageEmbedsTolerance);
  }

  const std::vector<int32_t> ids = c["input_ids"].get<std::vector<int32_t>>();
  const int64_t T = static_cast<int64_t>(ids.size()), D = model.hidden_size(), L = model.config().llm.num_layers;
  const std::vector<float> hidden = golden_f32(name + "/hidden_states");
  REQUIRE(hidden.size() == static_cast<size_t>((L + 1) * T * D));
  std::vector<std::vector<float>> seen(static_cast<size_t>(L + 1));
  const LayerObserver observer = [&](int64_t index, const float* h, int64_t rows) {
    seen[index].assign(h, h + rows * D);
  };
  auto seq = model.create_sequence();
  seq->prefill(ids.data(), T, image_rows.data(), static_cast<int64_t>(image_rows.size()) / D, &observer);
  REQUIRE(seq->length() == T);
  // hidden_states[L] is HF's last entry: the last layer's output after the final norm
  model.llm().final_norm(seen[L].data(), T, seen[L].data());
  for (int64_t k = 0; k <= L; ++k) {
    const std::vector<float> want(hidden.begin() + k * T * D, hidden.begin() + (k + 1) * T * D);
    check_tensor(name + " hidden_states[" + std::to_string(k) + "]", seen[k].data(), want, kHiddenTolerance);
  }
  check_tensor(name + " logits_last", seq->last_logits().data(), golden_f32(name + "/logits_last"), kLogitsTolerance);

  GenerateOptions options;
  options.max_tokens = c["max_new_tokens"].get<int64_t>();
  options.stop_ids = c["stop_ids"].get<std::vector<int32_t>>();
  options.logprobs = 10;
  const GenerateResult out = seq->generate(options);
  CHECK(out.ids == c["greedy"].get<std::vector<int32_t>>());
  const json& steps = c["steps"];
  REQUIRE(out.steps.size() == steps.size());
  double worst = 0;
  for (size_t s = 0; s < steps.size(); ++s) {
    const json& top = steps[s]["top"];
    REQUIRE(out.steps[s].top.size() == top.size());
    for (size_t k = 0; k < top.size(); ++k) {
      const double want = top[k][1].get<double>();
      worst = std::max(worst, std::fabs(out.steps[s].top[k].logprob - want));
      CHECK(std::fabs(out.steps[s].top[k].logprob - want) <= kLogprobTolerance);
      // the id at rank k is determined only where its logprob is apart from both neighbours
      const bool apart_above = k == 0 || top[k - 1][1].get<double>() - want > kLogprobTolerance;
      const bool apart_below = k + 1 == top.size() || want - top[k + 1][1].get<double>() > kLogprobTolerance;
      if (apart_above && apart_below) CHECK(out.steps[s].top[k].id == top[k][0].get<int32_t>());
    }
    CHECK(std::fabs(out.steps[s].logprob - top[0][1].get<double>()) <= kLogprobTolerance);
  }
  MESSAGE(name << " step top-10 logprobs: max abs err " << worst << " over " << steps.size() << " steps");
  CHECK(out.finish_reason == (c["greedy"].size() < static_cast<size_t>(options.max_tokens) ? FinishReason::Stop
                                                                                           : FinishReason::Length));
}

}  // namespace

TEST_CASE("a text-only prompt matches the official model layer by layer and token by token") { check_case("text"); }

TEST_CASE("the VLAC done prompt with one image matches the official model") { check_case("one-image"); }

TEST_CASE("the VLAC pair-critic prompt with two images matches the official model") { check_case("two-image"); }

TEST_CASE("a prompt past max_position_embeddings uses the dynamic NTK base from the prefill on") {
  check_case("ntk-prompt");
}

TEST_CASE("decoding across max_position_embeddings switches to the dynamic NTK base at the right step") {
  check_case("ntk-decode");
}
