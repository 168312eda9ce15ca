// Nothing in the model is specialised to one geometry: the data-movement pieces against the
// reference's own numbers, and a whole random checkpoint of other shapes (other head dims, GQA
// ratio, shuffle factor, pixel-shuffle version, ViT norm, select_layer, a resized position table,
// dynamic NTK from the prefill on) run through the fast ops and through the reference ops.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/error.h"
#include "common/mapped_file.h"
#include "model/checkpoint.h"
#include "model/internlm2.h"
#include "model/internvit.h"
#include "model/projector.h"
#include "model/random_checkpoint.h"
#include "model/rope.h"
#include "ops/op_table.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/sequence.h"
#include "support/fixtures.h"

using namespace vlac;

namespace {

// docs/TOLERANCES.md, "engine paths against each other".
constexpr double kIsaTolerance = 1e-4;
constexpr double kSamePathTolerance = 1e-5;

double relative_difference(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::fabs(static_cast<double>(b[i])));
  }
  return diff / scale;
}

bool all_finite(const std::vector<float>& v) {
  return std::all_of(v.begin(), v.end(), [](float x) { return std::isfinite(x); });
}

// A geometry unlike tiny-a and the 2B model in every dimension the code reads.
ModelConfig other_shapes() {
  ModelConfig c = random_checkpoint_preset("tiny");
  c.image_size = 192;  // tile 192 with patch 16: a 12x12 grid, while the position table is 14x14
  c.downsample_ratio = 1.0 / 3.0;  // shuffle factor 3: 4x4 = 16 image tokens per tile
  c.select_layer = -2;             // 2 of the 3 ViT blocks
  c.ps_version = 1;
  c.vision.image_size = 224;
  c.vision.patch_size = 16;
  c.vision.hidden_size = 48;
  c.vision.num_heads = 3;  // head dim 16
  c.vision.num_layers = 3;
  c.vision.intermediate_size = 80;
  c.vision.rms_norm = true;
  c.vision.qkv_bias = false;
  c.llm.hidden_size = 80;
  c.llm.num_heads = 4;     // head dim 20
  c.llm.num_kv_heads = 1;  // 4 q heads per kv head
  c.llm.num_layers = 3;
  c.llm.intermediate_size = 136;
  c.llm.max_position_embeddings = 48;  // the prompt below is longer: dynamic NTK from the prefill on
  c.llm.rope_theta = 5e5;
  c.llm.rope_factor = 3.0;
  c.llm.rms_norm_eps = 1e-6;
  return c;
}

struct TempDir {
  std::string path;
  TempDir() {
    path = (std::filesystem::temp_directory_path() / ("vlac-test-shapes-" + std::to_string(getpid()))).string();
    std::filesystem::remove_all(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// Restores the op table the process started with.
struct IsaScope {
  ops::Isa saved = ops::active_isa();
  explicit IsaScope(ops::Isa isa) { ops::set_active_isa(isa); }
  ~IsaScope() { ops::set_active_isa(saved); }
};

std::vector<uint8_t> random_tiles(int64_t n, int64_t size, uint64_t seed) {
  Rng rng(seed);
  std::vector<uint8_t> t(static_cast<size_t>(n * size * size * 3));
  for (auto& v : t) v = static_cast<uint8_t>(rng.next() >> 56);
  return t;
}

struct Run {
  std::vector<float> image_rows;
  std::vector<std::vector<float>> logits;  // after the prompt, then after each forced token
  std::vector<int32_t> tokens;
};

// Prefill `ids` with `tiles`, then feed `forced` tokens one by one (or, when empty, 5 greedy ones).
Run run_model(const Model& model, const std::vector<int32_t>& ids, const std::vector<uint8_t>& tiles, int64_t n_tiles,
              const std::vector<int32_t>& forced) {
  Run r;
  r.image_rows = model.encode_tiles(tiles.data(), n_tiles);
  auto seq = model.create_sequence();
  seq->prefill(ids.data(), static_cast<int64_t>(ids.size()), r.image_rows.data(),
               static_cast<int64_t>(r.image_rows.size()) / model.hidden_size());
  r.logits.push_back(seq->last_logits());
  const size_t steps = forced.empty() ? 5 : forced.size();
  for (size_t s = 0; s < steps; ++s) {
    const int32_t next = forced.empty() ? argmax(r.logits.back().data(), model.config().llm.vocab_size) : forced[s];
    r.tokens.push_back(next);
    seq->prefill(&next, 1);
    r.logits.push_back(seq->last_logits());
  }
  return r;
}

}  // namespace

TEST_CASE("bicubic position-embedding resizing equals torch's F.interpolate(bicubic, align_corners=False)") {
  // a [3, 4] grid of 2 channels (HWC) resized to [5, 3] and [2, 2]; expected values from torch 1.13
  const std::vector<float> in = {-0.5f, 0.54f, -0.13f, 0.9099998f, 0.24f, -0.4199998f, 0.61f, -0.05f,
                                 0.98f, 0.3199999f, -0.35f, 0.6899998f, 0.02f, 1.0599997f, 0.3900001f, -0.27f,
                                 0.76f, 0.0999999f, 1.1299999f, 0.4699998f, -0.2f, 0.8400002f, 0.1700001f, -0.49f};
  const std::vector<float> want53 = {-0.5719797f, 0.6401457f, 0.09142f,    0.1692199f,  0.5844418f,  -0.1313271f,
                                     0.0224021f,  0.5352206f, -0.1490324f, 0.5671175f,  0.4959265f,  -0.0895956f,
                                     0.782697f,   0.3666782f, -0.3243749f, 1.0343748f,  0.3433217f,  -0.0726967f,
                                     0.9044293f,  0.2140733f, 0.1314074f,  0.95657f,    0.1747797f,  -0.2034851f,
                                     0.841328f,   0.1255582f, 0.5407797f,  0.7932552f,  0.0698552f,  -0.3138168f};
  const std::vector<float> want22 = {-0.2347046f, 0.7714696f, 0.4231812f, -0.1731103f,
                                     0.9129931f,  0.2868187f, -0.0614697f, 0.2872827f};
  std::vector<float> out53(30), out22(8), same(24);
  interpolate_bicubic(in.data(), 3, 4, 2, 5, 3, out53.data());
  interpolate_bicubic(in.data(), 3, 4, 2, 2, 2, out22.data());
  interpolate_bicubic(in.data(), 3, 4, 2, 3, 4, same.data());
  for (size_t i = 0; i < want53.size(); ++i) CHECK(out53[i] == doctest::Approx(want53[i]).epsilon(1e-6));
  for (size_t i = 0; i < want22.size(); ++i) CHECK(out22[i] == doctest::Approx(want22[i]).epsilon(1e-6));
  CHECK(same == in);  // equal size is the identity (t = 0: weights 0, 1, 0, 0)
}

TEST_CASE("pixel shuffle v2 and v1 give architecture.md's worked example") {
  // 4x4 grid of 1-channel tokens A..P (0..15), factor 2
  std::vector<float> grid(16);
  for (int i = 0; i < 16; ++i) grid[i] = static_cast<float>(i);
  std::vector<float> v2(16), v1(16);
  pixel_shuffle(grid.data(), 4, 1, 2, 2, v2.data());
  pixel_shuffle(grid.data(), 4, 1, 2, 1, v1.data());
  // v2: ABEF CDGH IJMN KLOP; v1: ABEF IJMN CDGH KLOP
  CHECK(v2 == std::vector<float>{0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15});
  CHECK(v1 == std::vector<float>{0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11, 14, 15});
  // factor 3 on a 3x3 grid: one token, rows of three left to right
  std::vector<float> g3(9), o3(9);
  for (int i = 0; i < 9; ++i) g3[i] = static_cast<float>(i);
  pixel_shuffle(g3.data(), 3, 1, 3, 2, o3.data());
  CHECK(o3 == g3);
}

TEST_CASE("the GQA-interleaved wqkv rows are regrouped into all Q heads, then K, then V") {
  // 4 q heads, 2 kv heads, head dim 1: groups [q0 q1 k0 v0] [q2 q3 k1 v1]
  const std::vector<uint16_t> fused = {10, 11, 20, 30, 12, 13, 21, 31};
  CHECK(deinterleave_wqkv(fused.data(), 4, 2, 1, 1) == std::vector<uint16_t>{10, 11, 12, 13, 20, 21, 30, 31});
  // 6 q heads, 2 kv heads, head dim 2, 1 column: group g = [q(3g) q(3g+1) q(3g+2) k(g) v(g)], 2 rows each
  std::vector<uint16_t> f2;
  for (int g = 0; g < 2; ++g) {
    for (int s = 0; s < 3; ++s) f2.insert(f2.end(), {uint16_t(100 + 10 * (3 * g + s)), uint16_t(101 + 10 * (3 * g + s))});
    f2.insert(f2.end(), {uint16_t(200 + 10 * g), uint16_t(201 + 10 * g)});
    f2.insert(f2.end(), {uint16_t(300 + 10 * g), uint16_t(301 + 10 * g)});
  }
  CHECK(deinterleave_wqkv(f2.data(), 6, 2, 2, 1) ==
        std::vector<uint16_t>{100, 101, 110, 111, 120, 121, 130, 131, 140, 141, 150, 151, 200, 201, 210, 211, 300, 301,
                              310, 311});
}

TEST_CASE("the dynamic NTK base is rope_theta up to max_position_embeddings and the scaled base past it") {
  const LlmConfig c = random_checkpoint_preset("vlac-2b").llm;
  CHECK(rope_base(c, 1) == 1e6);
  CHECK(rope_base(c, 32768) == 1e6);
  CHECK(rope_base(c, 32769) == doctest::Approx(1e6 * std::pow(32769.0 / 16384.0 - 1.0, 128.0 / 126.0)).epsilon(1e-12));
  CHECK(rope_base(c, 49152) == doctest::Approx(1e6 * std::pow(2.0, 128.0 / 126.0)).epsilon(1e-12));
  LlmConfig plain = c;
  plain.rope_dynamic = false;
  CHECK(rope_base(plain, 100000) == 1e6);
  // tables: position p, pair i has angle p * base^(-2i/hd)
  std::vector<float> cos(2 * 4), sin(2 * 4);
  rope_tables(1e4, 8, 3, 2, cos.data(), sin.data());
  for (int t = 0; t < 2; ++t)
    for (int i = 0; i < 4; ++i) {
      const double angle = (3 + t) * std::pow(1e4, -2.0 * i / 8);
      CHECK(cos[t * 4 + i] == doctest::Approx(std::cos(angle)).epsilon(1e-6));
      CHECK(sin[t * 4 + i] == doctest::Approx(std::sin(angle)).epsilon(1e-6));
    }
}

TEST_CASE("config.json written for a geometry parses back to the same geometry") {
  for (const ModelConfig& c : {random_checkpoint_preset("vlac-2b"), random_checkpoint_preset("tiny"), other_shapes()}) {
    const ModelConfig back = parse_model_config(config_json(c), "config.json");
    CHECK(back.image_size == c.image_size);
    CHECK(back.shuffle_factor() == c.shuffle_factor());
    CHECK(back.select_layer == c.select_layer);
    CHECK(back.ps_version == c.ps_version);
    CHECK(back.vision.hidden_size == c.vision.hidden_size);
    CHECK(back.vision.num_layers == c.vision.num_layers);
    CHECK(back.vision.num_heads == c.vision.num_heads);
    CHECK(back.vision.intermediate_size == c.vision.intermediate_size);
    CHECK(back.vision.image_size == c.vision.image_size);
    CHECK(back.vision.patch_size == c.vision.patch_size);
    CHECK(back.vision.rms_norm == c.vision.rms_norm);
    CHECK(back.vision.qkv_bias == c.vision.qkv_bias);
    CHECK(back.vision.layer_norm_eps == c.vision.layer_norm_eps);
    CHECK(back.llm.vocab_size == c.llm.vocab_size);
    CHECK(back.llm.hidden_size == c.llm.hidden_size);
    CHECK(back.llm.num_layers == c.llm.num_layers);
    CHECK(back.llm.num_heads == c.llm.num_heads);
    CHECK(back.llm.num_kv_heads == c.llm.num_kv_heads);
    CHECK(back.llm.intermediate_size == c.llm.intermediate_size);
    CHECK(back.llm.max_position_embeddings == c.llm.max_position_embeddings);
    CHECK(back.llm.rope_theta == c.llm.rope_theta);
    CHECK(back.llm.rope_dynamic == c.llm.rope_dynamic);
    CHECK(back.llm.rope_factor == c.llm.rope_factor);
    CHECK(back.llm.rms_norm_eps == c.llm.rms_norm_eps);
  }
  CHECK_THROWS_AS(random_checkpoint_preset("vlac-7b"), vlac::Error);
}

TEST_CASE("a random checkpoint of other shapes runs the same through the fast ops and the reference ops") {
  TempDir dir;
  const ModelConfig config = other_shapes();
  RandomCheckpointOptions options;
  options.seed = 11;
  options.shards = 3;
  options.tokenizer_from = test::fixture_path("tiny-a");
  write_random_checkpoint(dir.path, config, options);
  CHECK(is_regular_file(join_path(dir.path, "model.safetensors.index.json")));

  auto model = Model::load(dir.path);
  REQUIRE(model->image_tokens_per_tile() == 16);
  REQUIRE(model->tile_size() == 192);
  // unused: the third ViT block, which select_layer -2 never runs
  CHECK(model->checkpoint().unused_tensors().size() == 11);

  const Tokenizer& tok = model->tokenizer();
  std::vector<int32_t> ids = tok.encode("Image-1: ", true);
  for (int image = 0; image < 2; ++image) {
    ids.push_back(tok.special().img);
    ids.insert(ids.end(), 16, tok.special().img_context);
    ids.push_back(tok.special().img_end);
    const auto text = tok.encode(image == 0 ? "\nImage-2: " : "\nCompare the two images.", false);
    ids.insert(ids.end(), text.begin(), text.end());
  }
  REQUIRE(static_cast<int64_t>(ids.size()) > config.llm.max_position_embeddings);
  const std::vector<uint8_t> tiles = random_tiles(2, 192, 5);

  const Run fast = run_model(*model, ids, tiles, 2, {});
  Run reference;
  {
    IsaScope scope(ops::Isa::Reference);
    reference = run_model(*model, ids, tiles, 2, fast.tokens);  // teacher-forced on the fast path's tokens
  }
  MESSAGE("ops: " << std::string(ops::isa_name(ops::active_isa())) << " vs reference");
  CHECK(all_finite(fast.image_rows));
  const double rows_diff = relative_difference(fast.image_rows, reference.image_rows);
  MESSAGE("image rows: relative difference " << rows_diff);
  CHECK(rows_diff <= kIsaTolerance);
  for (size_t s = 0; s < fast.logits.size(); ++s) {
    CHECK(all_finite(fast.logits[s]));
    const double d = relative_difference(fast.logits[s], reference.logits[s]);
    MESSAGE("logits after " << s << " generated tokens: relative difference " << d);
    CHECK(d <= kIsaTolerance);
  }
}

TEST_CASE("tiles encoded in one batch, across several encoder passes, equal tiles encoded one by one") {
  TempDir dir;
  RandomCheckpointOptions options;
  options.seed = 3;
  options.tokenizer_from = test::fixture_path("tiny-a");
  write_random_checkpoint(dir.path, other_shapes(), options);
  auto model = Model::load(dir.path);
  const int64_t n = 10, per_tile = 192 * 192 * 3;  // more tiles than one encoder pass takes
  const std::vector<uint8_t> tiles = random_tiles(n, 192, 9);
  const std::vector<float> batched = model->encode_tiles(tiles.data(), n);
  const int64_t rows_per_tile = model->image_tokens_per_tile() * model->hidden_size();
  for (int64_t t = 0; t < n; ++t) {
    const std::vector<float> alone = model->encode_tiles(tiles.data() + t * per_tile, 1);
    const std::vector<float> part(batched.begin() + t * rows_per_tile, batched.begin() + (t + 1) * rows_per_tile);
    CHECK(relative_difference(part, alone) <= kSamePathTolerance);
  }
}
