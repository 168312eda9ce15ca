// Load option precision 'bf16' (WeightOptions.bf16_activations): the ViT, projector and prefill
// products read their activations rounded to bf16 (ops::linear_bf16), as PyTorch's bf16 path does.
// Checked against this engine's fp32 path, which matches the official goldens (test_model.cpp), on
// tiny-a's five golden cases and on a random checkpoint of other dimensions. Tolerances:
// docs/TOLERANCES.md, "precision bf16".
//
// kCosine: last-position logits cosine, bf16 vs fp32 activations.
// kLogitTolerance: the largest |logit_bf16act - logit_fp32| we state for these models (measured,
// printed below, with headroom). A teacher-forced step whose golden margin exceeds
// 2 kLogitTolerance cannot flip, so the argmax must agree there.
#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/json.h"
#include "image/preprocess.h"
#include "model/random_checkpoint.h"
#include "runtime/model.h"
#include "support/fixtures.h"
#include "support/model_compare.h"

using namespace vlac;
using namespace vlac::test;

namespace {

constexpr double kCosine = 0.9999;
constexpr double kLogitTolerance = 0.1;

struct Pair {
  std::shared_ptr<Model> fp32, bf16;
};

Pair load_pair(const std::string& dir) {
  ModelOptions o;
  o.max_context = 2048;
  Pair p;
  p.fp32 = Model::load(dir, o);
  o.weights.bf16_activations = true;
  p.bf16 = Model::load(dir, o);
  return p;
}

struct Worst {
  double min_cosine = 1, logit_diff = 0;
  void add(const std::string& what, const std::vector<float>& fp32, const std::vector<float>& bf16) {
    const double cos = cosine(fp32, bf16), diff = max_abs_diff(fp32, bf16);
    MESSAGE(what << ": logits cosine " << cos << ", max |Δlogit| " << diff);
    CHECK_MESSAGE(cos >= kCosine, what);
    min_cosine = std::min(min_cosine, cos);
    logit_diff = std::max(logit_diff, diff);
  }
};

}  // namespace

TEST_CASE("precision bf16 on tiny-a: logits close to fp32, teacher-forced argmax on the golden path") {
  const Pair p = load_pair(test::fixture_path("tiny-a"));
  const SafetensorsFile tensors(test::fixture_path("tiny-a/golden/tensors.safetensors"));
  const json cases = test::read_fixture_json("tiny-a/golden/cases.json")["cases"];
  Worst worst;
  for (const json& c : cases) {
    const std::string what = "tiny-a " + c["name"].get<std::string>();
    const auto ids = c["input_ids"].get<std::vector<int32_t>>();
    const int64_t n_images = static_cast<int64_t>(c["images"].size());
    const std::vector<float> pixels = golden_pixels(tensors, c, p.bf16->tile_size());
    if (n_images > 0) {
      const auto a = p.fp32->encode_tiles(pixels.data(), n_images), b = p.bf16->encode_tiles(pixels.data(), n_images);
      MESSAGE(what << ": image rows max |Δ| " << max_abs_diff(a, b) << ", cosine " << cosine(a, b));
      CHECK(cosine(a, b) >= kCosine);
    }
    auto a = prefilled(*p.fp32, ids, pixels, n_images);
    auto b = prefilled(*p.bf16, ids, pixels, n_images);
    worst.add(what, a->last_logits(), b->last_logits());

    // golden tokens fed one by one (single-token steps read fp32 activations; the prompt did not)
    const auto greedy = c["greedy"].get<std::vector<int32_t>>();
    int differ = 0;
    for (size_t s = 0; s < greedy.size(); ++s) {
      if (argmax(b->last_logits()) != greedy[s]) {
        ++differ;
        const double margin = c["steps"][s]["margin"].get<double>();
        MESSAGE(what << " step " << s << ": argmax differs from the golden (golden margin " << margin << ")");
        CHECK(margin <= 2 * kLogitTolerance);
      }
      b->prefill(&greedy[s], 1);
    }
    MESSAGE(what << ": teacher-forced argmax equals the golden on " << greedy.size() - differ << " of "
                 << greedy.size() << " steps");
  }
  MESSAGE("tiny-a worst: cosine " << worst.min_cosine << ", max |Δlogit| " << worst.logit_diff);
  CHECK(worst.logit_diff <= kLogitTolerance);
}

TEST_CASE("precision bf16 on a random checkpoint of other dimensions stays close to fp32") {
  std::string dir = (std::filesystem::temp_directory_path() / "vlac-bf16act-XXXXXX").string();
  REQUIRE(mkdtemp(dir.data()) != nullptr);
  ModelConfig c = random_checkpoint_preset("demo");
  c.vision.hidden_size = 96;
  c.vision.num_heads = 3;
  c.vision.intermediate_size = 320;
  c.llm.hidden_size = 192;
  c.llm.num_heads = 6;
  c.llm.num_kv_heads = 2;
  c.llm.intermediate_size = 544;
  RandomCheckpointOptions o;
  o.seed = 5;
  write_random_checkpoint(dir, c, o);
  {
    const Pair p = load_pair(dir);
    const int64_t S = p.bf16->tile_size();
    Worst worst;
    uint64_t s = 99;
    auto next = [&] { s = s * 6364136223846793005ull + 1442695040888963407ull; return s >> 33; };
    for (int64_t n_images : {0, 1, 2}) {
      std::vector<int32_t> ids = {1};
      std::vector<float> pixels;
      for (int i = 0; i < 30; ++i) ids.push_back(static_cast<int32_t>(3 + next() % 1000));
      for (int64_t i = 0; i < n_images; ++i) {
        ids.push_back(p.bf16->tokenizer().special().img);
        ids.insert(ids.end(), static_cast<size_t>(p.bf16->image_tokens_per_tile()), p.bf16->image_context_id());
        ids.push_back(p.bf16->tokenizer().special().img_end);
        std::vector<uint8_t> rgb(static_cast<size_t>(S * S * 3));
        for (auto& v : rgb) v = static_cast<uint8_t>(next() & 0xff);
        std::vector<float> chw(static_cast<size_t>(3 * S * S));
        normalize_tile(rgb.data(), static_cast<int>(S), chw.data());
        pixels.insert(pixels.end(), chw.begin(), chw.end());
      }
      auto a = prefilled(*p.fp32, ids, pixels, n_images);
      auto b = prefilled(*p.bf16, ids, pixels, n_images);
      worst.add("other-shapes, " + std::to_string(n_images) + " images", a->last_logits(), b->last_logits());
    }
    CHECK(worst.logit_diff <= kLogitTolerance);
  }
  std::filesystem::remove_all(dir);
}
