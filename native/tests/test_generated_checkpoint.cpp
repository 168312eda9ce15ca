// Random-weight checkpoints (model/random_checkpoint.h): the demo preset writes a folder the engine
// loads as a model, in one file and in shards; its activations stay finite through every layer and
// a short greedy generation runs; options and presets are checked.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "model/checkpoint.h"
#include "model/config.h"
#include "model/random_checkpoint.h"
#include "model/safetensors.h"
#include "runtime/model.h"
#include "runtime/sequence.h"
#include "support/fixtures.h"
#include "tokenizer/tokenizer_writer.h"

using vlac::ErrorCode;
using vlac::json;

namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("vlac-test-gen-ck-" + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

bool all_finite(const float* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

// A deterministic image tile: a gradient with some structure, RGB HWC.
std::vector<uint8_t> test_tile(int64_t size) {
  std::vector<uint8_t> rgb(static_cast<size_t>(size * size * 3));
  for (int64_t y = 0; y < size; ++y)
    for (int64_t x = 0; x < size; ++x)
      for (int c = 0; c < 3; ++c) rgb[(y * size + x) * 3 + c] = static_cast<uint8_t>((x * (c + 1) + y * 7 + (x ^ y)) & 255);
  return rgb;
}

// Loads `dir` as a model, runs an image + text prompt through every layer and generates 3 tokens
// greedily; checks that everything it sees is finite and the ids are in the vocabulary.
void check_demo_model_runs(const std::string& dir) {
  std::shared_ptr<vlac::Model> model = vlac::Model::load(dir, {});
  const vlac::ModelConfig& c = model->config();
  CHECK(model->image_tokens_per_tile() == 256);
  CHECK(model->tokenizer().vocab_size() == vlac::kDemoTokenizerPieces + 9);

  const std::vector<uint8_t> tile = test_tile(c.image_size);
  const std::vector<float> image_rows = model->encode_tiles(tile.data(), 1);
  REQUIRE(image_rows.size() == static_cast<size_t>(256 * c.llm.hidden_size));
  CHECK(all_finite(image_rows.data(), image_rows.size()));

  std::string prompt = "<|im_start|>user\nImage-1: <img>";
  for (int i = 0; i < 256; ++i) prompt += "<IMG_CONTEXT>";
  prompt += "</img>\nThe target task is: <task> Pick up the cup. </task> <score><|im_end|>\n<|im_start|>assistant\n";
  const std::vector<int32_t> ids = model->tokenizer().encode(prompt, true);

  auto seq = model->create_sequence();
  int64_t layers_seen = 0;
  bool finite = true;
  double largest = 0.0;
  const vlac::LayerObserver observer = [&](int64_t, const float* h, int64_t rows) {
    ++layers_seen;
    const size_t n = static_cast<size_t>(rows * c.llm.hidden_size);
    finite = finite && all_finite(h, n);
    for (size_t i = 0; i < n; ++i) largest = std::max(largest, static_cast<double>(std::fabs(h[i])));
  };
  seq->prefill(ids.data(), static_cast<int64_t>(ids.size()), image_rows.data(), 256, &observer);
  CHECK(layers_seen >= c.llm.num_layers);
  CHECK(finite);
  // O(1) activations, not merely finite: far from bf16/fp32 trouble through every layer.
  CHECK(largest < 100.0);
  const std::vector<float>& logits = seq->last_logits();
  REQUIRE(logits.size() == static_cast<size_t>(c.llm.vocab_size));
  CHECK(all_finite(logits.data(), logits.size()));

  vlac::GenerateOptions g;
  g.max_tokens = 3;
  g.stop_ids = std::vector<int32_t>{};  // random weights may pick a stop id; run all 3 steps
  g.logprobs = 2;
  const vlac::GenerateResult r = seq->generate(g);
  REQUIRE(r.ids.size() == 3);
  for (const vlac::GenerateStep& step : r.steps) {
    CHECK((step.id >= 0 && step.id < c.llm.vocab_size));
    CHECK(std::isfinite(step.logprob));
    CHECK(step.logprob <= 0.0);
  }
}

}  // namespace

TEST_CASE("the demo preset writes one model.safetensors that loads and generates") {
  TempDir dir("single");
  vlac::RandomCheckpointOptions o;
  o.preset = "demo";
  o.seed = 7;
  uint64_t last_written = 0, total = 0;
  int calls = 0;
  o.on_progress = [&](uint64_t written, uint64_t all) {
    CHECK(written > last_written);
    last_written = written;
    total = all;
    ++calls;
  };
  vlac::write_random_checkpoint(dir.str(), o);
  CHECK(calls > 0);
  CHECK(last_written == total);

  for (const char* f : {"config.json", "model.safetensors", "tokenizer.model", "tokenizer_config.json",
                        "added_tokens.json", "special_tokens_map.json", "generation_config.json"})
    CHECK(fs::is_regular_file(dir.path / f));
  CHECK(!fs::exists(dir.path / "model.safetensors.index.json"));

  const auto ck = vlac::Checkpoint::open(dir.str());
  CHECK(ck->stored_dtype() == "bf16");
  CHECK(ck->unused_tensors().empty());
  CHECK(ck->weight_bytes() == total);
  CHECK(ck->config().llm.vocab_size == vlac::kDemoTokenizerPieces + 9);
  CHECK(ck->config().image_tokens() == 256);
  const vlac::SafetensorsFile file((dir.path / "model.safetensors").string());
  CHECK(file.metadata().at("format") == "pt");
  CHECK(file.metadata().at("vlac_random") == "true");

  // The initialisation contract: norm weights 1, biases 0, layer scales 0.1 (in bf16).
  const float* norm = ck->f32("language_model.model.layers.0.attention_norm.weight");
  const float* bias = ck->f32("vision_model.encoder.layers.1.mlp.fc1.bias");
  const float* ls = ck->f32("vision_model.encoder.layers.0.ls1");
  CHECK(norm[0] == 1.0f);
  CHECK(bias[3] == 0.0f);
  CHECK(ls[5] == doctest::Approx(0.1).epsilon(0.004));  // bf16 of 0.1 is 0.10009765625
  // Linear weights: mean 0, std 0.5 / sqrt(fan_in) = 0.5 / sqrt(128) for wo.
  const float* wo = ck->f32("language_model.model.layers.1.attention.wo.weight");
  double sum = 0, sq = 0;
  const int64_t n = 128 * 128;
  for (int64_t i = 0; i < n; ++i) {
    sum += wo[i];
    sq += double(wo[i]) * wo[i];
  }
  const double mean = sum / n, sd = std::sqrt(sq / n - mean * mean), want = 0.5 / std::sqrt(128.0);
  CHECK(std::fabs(mean) < 5 * want / std::sqrt(double(n)));  // 5 standard errors
  CHECK(sd == doctest::Approx(want).epsilon(0.05));            // sd's standard error is ~0.6% here

  check_demo_model_runs(dir.str());
}

TEST_CASE("the demo preset in 3 shards loads, with the same weights as one file") {
  TempDir one("same-seed"), dir("sharded");
  vlac::RandomCheckpointOptions o;
  o.seed = 11;
  vlac::write_random_checkpoint(one.str(), o);
  o.shards = 3;
  vlac::write_random_checkpoint(dir.str(), o);
  for (int s = 1; s <= 3; ++s) {
    char name[64];
    std::snprintf(name, sizeof(name), "model-%05d-of-00003.safetensors", s);
    CHECK(fs::is_regular_file(dir.path / name));
  }
  CHECK(!fs::exists(dir.path / "model.safetensors"));
  const json index = json::parse(vlac::read_text_file((dir.path / "model.safetensors.index.json").string()));
  CHECK(index["weight_map"].size() == vlac::required_tensor_shapes(vlac::random_checkpoint_preset("demo")).size());

  const auto a = vlac::Checkpoint::open(one.str());
  const auto b = vlac::Checkpoint::open(dir.str());
  for (const auto& [name, shape] : vlac::required_tensor_shapes(a->config())) {
    CAPTURE(name);
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    CHECK(std::equal(a->bf16(name), a->bf16(name) + n, b->bf16(name)));
  }
  check_demo_model_runs(dir.str());
}

TEST_CASE("random weights depend on the seed and on the tensor, not only on the shape") {
  TempDir a("seed-a"), b("seed-b");
  vlac::RandomCheckpointOptions o;
  o.seed = 1;
  vlac::write_random_checkpoint(a.str(), o);
  o.seed = 2;
  vlac::write_random_checkpoint(b.str(), o);
  const auto ca = vlac::Checkpoint::open(a.str());
  const auto cb = vlac::Checkpoint::open(b.str());
  const std::string w1 = "language_model.model.layers.0.feed_forward.w1.weight";
  const std::string w3 = "language_model.model.layers.0.feed_forward.w3.weight";
  const int64_t n = 512 * 128;
  CHECK(!std::equal(ca->bf16(w1), ca->bf16(w1) + n, cb->bf16(w1)));
  CHECK(!std::equal(ca->bf16(w1), ca->bf16(w1) + n, ca->bf16(w3)));
}

TEST_CASE("a copied tokenizer sets the vocabulary and its files travel unchanged") {
  TempDir dir("copied");
  vlac::RandomCheckpointOptions o;
  o.tokenizer_from = vlac::test::fixture_path("tiny-a");
  vlac::write_random_checkpoint(dir.str(), o);
  const auto ck = vlac::Checkpoint::open(dir.str());
  CHECK(ck->config().llm.vocab_size == 92553);
  CHECK(ck->shape("language_model.output.weight") == std::vector<int64_t>{92553, 128});
  for (const char* f : {"tokenizer.model", "tokenizer_config.json", "added_tokens.json", "special_tokens_map.json",
                        "generation_config.json"})
    CHECK(vlac::read_text_file((dir.path / f).string()) == vlac::read_text_file(vlac::test::fixture_path(std::string("tiny-a/") + f)));
  const auto model = vlac::Model::load(dir.str(), {});
  CHECK(model->tokenizer().special().im_end == 92542);
}

TEST_CASE("the presets: vlac-2b has the real shapes, demo is small, anything else is refused") {
  const vlac::ModelConfig big = vlac::random_checkpoint_preset("vlac-2b");
  CHECK(vlac::parse_model_config(vlac::config_json(big), "config.json").llm.vocab_size == 92553);
  uint64_t bytes = 0;
  for (const auto& [name, shape] : vlac::required_tensor_shapes(big)) {
    uint64_t n = 1;
    for (int64_t d : shape) n *= static_cast<uint64_t>(d);
    bytes += 2 * n;
  }
  CHECK(bytes == 4411508736ull);  // architecture.md §1.2: the 4.41 GB of VLAC-2B's model.safetensors
  CHECK(big.image_tokens() == 256);
  CHECK(big.llm.max_position_embeddings == 32768);
  CHECK(big.llm.rope_dynamic);
  CHECK(big.llm.rope_factor == 2.0);
  CHECK(big.llm.rope_theta == 1e6);

  const vlac::ModelConfig demo = vlac::random_checkpoint_preset("demo");
  CHECK(demo.image_tokens() == 256);
  CHECK(demo.llm.hidden_size == 128);
  CHECK(demo.vision.hidden_size == 64);

  try {
    vlac::random_checkpoint_preset("vlac-7b");
    FAIL("expected BadArgument");
  } catch (const vlac::Error& e) {
    CHECK(e.code() == ErrorCode::BadArgument);
    CHECK(std::string(e.what()).find("vlac-7b") != std::string::npos);
  }
}

TEST_CASE("bad options are refused before anything is written") {
  TempDir dir("bad");
  vlac::RandomCheckpointOptions o;
  o.shards = 0;
  CHECK_THROWS_AS(vlac::write_random_checkpoint(dir.str(), o), vlac::Error);
  CHECK(!fs::exists(dir.path));
  o.shards = 1;
  o.tokenizer_from = (dir.path / "nowhere").string();
  try {
    vlac::write_random_checkpoint(dir.str(), o);
    FAIL("expected NotFound");
  } catch (const vlac::Error& e) {
    CHECK(e.code() == ErrorCode::NotFound);
  }
  CHECK(!fs::exists(dir.path));
  // A copied tokenizer larger than an explicit geometry's vocabulary could not be loaded.
  o.tokenizer_from = vlac::test::fixture_path("tiny-a");
  try {
    vlac::write_random_checkpoint(dir.str(), vlac::random_checkpoint_preset("demo"), o);
    FAIL("expected BadArgument");
  } catch (const vlac::Error& e) {
    CHECK(e.code() == ErrorCode::BadArgument);
  }
  CHECK(!fs::exists(dir.path / "config.json"));
}
