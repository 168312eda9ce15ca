// INT8 weights (ModelOptions.weights, issue 16) against the bf16 path of this engine: on tiny-a
// (its five golden cases, with and without images), on a random checkpoint of other dimensions,
// and on both with outlier input channels x20 and x50 (add_outlier_channels); pre-quantized folders
// (format v2, with and without outlier columns, and v1) against quantize-on-load. Tolerances:
// docs/TOLERANCES.md, "int8".
//
// kCosine: last-position logits cosine (int8 vs bf16), the acceptance bar.
// kLogitTolerance: the largest |logit_int8 - logit_bf16| we state for these models, measured
// (printed below): the worst last-position deviation is 0.30 logits on tiny-a (logits of magnitude
// ~10) and 0.043 on the random checkpoint; 0.35 keeps a little headroom. A teacher-forced step
// whose golden (or bf16) margin exceeds 2 kLogitTolerance cannot flip (each of the top two logits
// moves by at most kLogitTolerance), so the argmax must agree there.
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/bf16.h"
#include "common/error.h"
#include "common/json.h"
#include "image/preprocess.h"
#include "model/quantize_checkpoint.h"
#include "model/random_checkpoint.h"
#include "model/safetensors.h"
#include "runtime/model.h"
#include "runtime/sequence.h"
#include "support/fixtures.h"
#include "support/model_compare.h"

using namespace vlac;
using namespace vlac::test;

namespace {

constexpr double kCosine = 0.999;
constexpr double kLogitTolerance = 0.35;

struct Pair {
  std::shared_ptr<Model> bf16, int8;
};

Pair load_pair(const std::string& dir) {
  ModelOptions o;
  o.max_context = 2048;
  Pair p;
  p.bf16 = Model::load(dir, o);
  o.weights.format = WeightFormat::Int8;
  p.int8 = Model::load(dir, o);
  MESSAGE(dir << ": int8 build (quantize on load) " << p.int8->build_seconds() * 1000 << " ms vs bf16 "
              << p.bf16->build_seconds() * 1000 << " ms; Linear weights " << p.int8->linear_weight_bytes() << " B vs "
              << p.bf16->linear_weight_bytes() << " B");
  return p;
}

struct Worst {
  double cosine = 1, logit_diff = 0;
};

// Compares the last-position logits; returns the two sequences for teacher forcing.
void compare_prompt(const Pair& p, const std::string& what, const std::vector<int32_t>& ids,
                    const std::vector<float>& pixels, int64_t n_images, Worst& worst) {
  auto a = prefilled(*p.bf16, ids, pixels, n_images);
  auto b = prefilled(*p.int8, ids, pixels, n_images);
  const double cos = cosine(a->last_logits(), b->last_logits());
  const double diff = max_abs_diff(a->last_logits(), b->last_logits());
  MESSAGE(what << " (" << ids.size() << " tokens, " << n_images << " images): logits cosine " << cos
               << ", max |Δlogit| " << diff << ", bf16 margin " << margin(a->last_logits()));
  worst.cosine = std::min(worst.cosine, cos);
  worst.logit_diff = std::max(worst.logit_diff, diff);
  CHECK_MESSAGE(cos >= kCosine, what);
}

// Feeds `tokens` one by one to the int8 model; at each step its argmax must equal the token where
// margins[s] > 2 kLogitTolerance. Returns the number of steps that differ (all printed).
int teacher_forced(const Pair& p, const std::string& what, const std::vector<int32_t>& ids,
                   const std::vector<float>& pixels, int64_t n_images, const std::vector<int32_t>& tokens,
                   const std::vector<double>& margins) {
  auto seq = prefilled(*p.int8, ids, pixels, n_images);
  int differ = 0;
  for (size_t s = 0; s < tokens.size(); ++s) {
    const int32_t got = argmax(seq->last_logits());
    if (got != tokens[s]) {
      ++differ;
      MESSAGE(what << " teacher-forced step " << s << ": int8 argmax " << got << ", reference " << tokens[s]
                   << " (reference margin " << margins[s] << ")");
      CHECK_MESSAGE(margins[s] <= 2 * kLogitTolerance, what << " step " << s);
    }
    seq->prefill(&tokens[s], 1);
  }
  MESSAGE(what << ": teacher-forced argmax agrees on " << tokens.size() - differ << " of " << tokens.size()
               << " steps");
  return differ;
}

std::string temp_dir(const std::string& name) {
  std::string path = (std::filesystem::temp_directory_path() / ("vlac-int8-" + name + "-XXXXXX")).string();
  REQUIRE(mkdtemp(path.data()) != nullptr);
  return path;
}

// "Other dimensions": none of tiny-a's or the demo's widths; LLM intermediate not a multiple of 64.
ModelConfig other_shapes() {
  ModelConfig c = random_checkpoint_preset("demo");
  c.vision.hidden_size = 96;
  c.vision.num_heads = 3;
  c.vision.intermediate_size = 320;
  c.vision.num_layers = 3;
  c.llm.hidden_size = 192;
  c.llm.num_heads = 6;
  c.llm.num_kv_heads = 2;
  c.llm.intermediate_size = 544;
  c.llm.num_layers = 3;
  return c;
}

// Outlier input channels written into <dir>/model.safetensors (bf16, in place):
// Raw: columns `cols` of every 2-D Linear weight of the ViT blocks, projector and LLM layers times
//   `factor` (the model's function changes: with 20x on q/k the attention logits grow ~400x and the
//   softmax turns nearly one-hot, so tiny differences can swap the winning key).
// Compensated: columns `cols` times `factor` in each Linear whose input can be scaled back exactly,
//   and that input channel divided by `factor` where it is made: the norm before qkv, fc1, wqkv,
//   w1|w3 and mlp1.1 (weight and bias), and the w3 row before w2. The function is the model's own up
//   to bf16 rounding, as in real LLMs, whose large weight columns meet small activation channels.
//   (wo, proj, fc2 and mlp1.3 read an attention or GELU output and keep their weights.)
enum class Outliers { Raw, Compensated };

void add_outlier_channels(const std::string& dir, const std::vector<int64_t>& cols, float factor,
                          Outliers kind = Outliers::Raw) {
  const std::string path = dir + "/model.safetensors";
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f.good());
  uint64_t header_len = 0;
  f.read(reinterpret_cast<char*>(&header_len), 8);
  std::string header(header_len, '\0');
  f.read(header.data(), static_cast<std::streamsize>(header_len));
  const json h = json::parse(header);
  std::map<std::string, std::vector<uint16_t>> edited;
  auto tensor = [&](const std::string& name) -> std::vector<uint16_t>& {
    auto it = edited.find(name);
    if (it != edited.end()) return it->second;
    REQUIRE(h.contains(name));
    REQUIRE(h[name]["dtype"] == "BF16");
    const uint64_t begin = 8 + header_len + h[name]["data_offsets"][0].get<uint64_t>();
    const uint64_t bytes = h[name]["data_offsets"][1].get<uint64_t>() - h[name]["data_offsets"][0].get<uint64_t>();
    std::vector<uint16_t> w(bytes / 2);
    f.seekg(static_cast<std::streamoff>(begin));
    f.read(reinterpret_cast<char*>(w.data()), static_cast<std::streamsize>(bytes));
    return edited[name] = std::move(w);
  };
  auto scale = [](uint16_t& v, float by) { v = float_to_bf16(bf16_to_float(v) * by); };
  auto ends = [](const std::string& name, const std::string& end) {
    return name.size() >= end.size() && name.compare(name.size() - end.size(), end.size(), end) == 0;
  };
  std::set<std::string> compensated;  // a norm shared by w1 and w3 is divided once
  int changed = 0;
  for (auto it = h.begin(); it != h.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__" || it.value()["shape"].size() != 2 || name.find("embed") != std::string::npos ||
        name.find(".weight") == std::string::npos || name.find("norm") != std::string::npos ||
        name == "language_model.output.weight")
      continue;
    std::vector<std::string> inputs;  // tensors whose channel k makes this Linear's input k
    std::vector<std::string> rows;    // weights whose row k makes it
    if (kind == Outliers::Compensated) {
      if (ends(name, "attn.qkv.weight")) {
        const std::string b = name.substr(0, name.size() - std::string("attn.qkv.weight").size());
        inputs = {b + "norm1.weight", b + "norm1.bias"};
      } else if (ends(name, "mlp.fc1.weight")) {
        const std::string b = name.substr(0, name.size() - std::string("mlp.fc1.weight").size());
        inputs = {b + "norm2.weight", b + "norm2.bias"};
      } else if (ends(name, "attention.wqkv.weight")) {
        inputs = {name.substr(0, name.size() - std::string("attention.wqkv.weight").size()) + "attention_norm.weight"};
      } else if (ends(name, "feed_forward.w1.weight") || ends(name, "feed_forward.w3.weight")) {
        inputs = {name.substr(0, name.size() - std::string("feed_forward.w1.weight").size()) + "ffn_norm.weight"};
      } else if (ends(name, "feed_forward.w2.weight")) {
        rows = {name.substr(0, name.size() - std::string("w2.weight").size()) + "w3.weight"};
      } else if (name == "mlp1.1.weight") {
        inputs = {"mlp1.0.weight", "mlp1.0.bias"};
      } else {
        continue;
      }
    }
    const int64_t N = it.value()["shape"][0], K = it.value()["shape"][1];
    std::vector<uint16_t>& w = tensor(name);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t k : cols)
        if (k < K) scale(w[n * K + k], factor);
    for (const std::string& in : inputs) {
      if (!compensated.insert(in).second) continue;
      std::vector<uint16_t>& v = tensor(in);
      for (int64_t k : cols)
        if (k < static_cast<int64_t>(v.size())) scale(v[k], 1.0f / factor);
    }
    for (const std::string& r : rows) {
      std::vector<uint16_t>& v = tensor(r);
      const int64_t rk = h[r]["shape"][1];
      for (int64_t k : cols)
        for (int64_t c = 0; c < rk && k < K; ++c) scale(v[k * rk + c], 1.0f / factor);
    }
    ++changed;
  }
  REQUIRE(changed > 0);
  for (const auto& [name, w] : edited) {
    f.seekp(static_cast<std::streamoff>(8 + header_len + h[name]["data_offsets"][0].get<uint64_t>()));
    f.write(reinterpret_cast<const char*>(w.data()), static_cast<std::streamsize>(w.size() * 2));
  }
  REQUIRE(f.good());
}

// A prompt: ids with 0 or more images (normalized tiles, CHW).
struct Prompt {
  std::string name;
  std::vector<int32_t> ids;
  std::vector<float> pixels;
  int64_t n_images;
};

// Prompts for a random checkpoint: BOS + random ids, with 0, 1 or 2 random images.
std::vector<Prompt> random_prompts(const Model& m) {
  std::vector<Prompt> out;
  uint64_t s = 12345;
  auto next = [&] { s = s * 6364136223846793005ull + 1442695040888963407ull; return s >> 33; };
  const int64_t S = m.tile_size();
  for (int64_t n_images : {0, 1, 2, 0}) {
    Prompt p;
    p.name = "prompt " + std::to_string(out.size());
    p.n_images = n_images;
    p.ids.push_back(1);
    for (int i = 0; i < 20 + 7 * n_images; ++i) p.ids.push_back(static_cast<int32_t>(3 + next() % 1000));
    for (int64_t i = 0; i < n_images; ++i) {
      p.ids.push_back(m.tokenizer().special().img);
      for (int64_t t = 0; t < m.image_tokens_per_tile(); ++t) p.ids.push_back(m.image_context_id());
      p.ids.push_back(m.tokenizer().special().img_end);
      std::vector<uint8_t> rgb(static_cast<size_t>(S * S * 3));
      for (auto& v : rgb) v = static_cast<uint8_t>(next() & 0xff);
      std::vector<float> chw(static_cast<size_t>(3 * S * S));
      normalize_tile(rgb.data(), static_cast<int>(S), chw.data());
      p.pixels.insert(p.pixels.end(), chw.begin(), chw.end());
    }
    for (int i = 0; i < 5; ++i) p.ids.push_back(static_cast<int32_t>(3 + next() % 1000));
    out.push_back(std::move(p));
  }
  return out;
}

// tiny-a's golden cases as prompts (0-5 images, 64-1,479 tokens).
std::vector<Prompt> golden_prompts(int64_t tile) {
  const SafetensorsFile tensors(test::fixture_path("tiny-a/golden/tensors.safetensors"));
  const json golden = test::read_fixture_json("tiny-a/golden/cases.json");
  std::vector<Prompt> out;
  for (const json& c : golden["cases"])
    out.push_back({c["name"].get<std::string>(), c["input_ids"].get<std::vector<int32_t>>(), golden_pixels(tensors, c, tile),
                   static_cast<int64_t>(c["images"].size())});
  return out;
}

// Last-position cosine of every prompt (required >= kCosine when `require`), then 12 bf16 greedy
// steps (the reference path and its margins) and int8 teacher-forced on them.
void check_prompts(const Pair& p, const std::string& label, const std::vector<Prompt>& prompts, Worst& worst,
                   bool require) {
  for (const Prompt& rp : prompts) {
    const std::string what = label + " " + rp.name;
    if (require) {
      compare_prompt(p, what, rp.ids, rp.pixels, rp.n_images, worst);
    } else {
      auto a = prefilled(*p.bf16, rp.ids, rp.pixels, rp.n_images);
      auto b = prefilled(*p.int8, rp.ids, rp.pixels, rp.n_images);
      const double cos = cosine(a->last_logits(), b->last_logits());
      const double diff = max_abs_diff(a->last_logits(), b->last_logits());
      MESSAGE(what << ": logits cosine " << cos << ", max |Δlogit| " << diff << " (reported)");
      worst.cosine = std::min(worst.cosine, cos);
      worst.logit_diff = std::max(worst.logit_diff, diff);
      continue;
    }
    auto ref = prefilled(*p.bf16, rp.ids, rp.pixels, rp.n_images);
    std::vector<int32_t> tokens;
    std::vector<double> margins;
    for (int s = 0; s < 12; ++s) {
      tokens.push_back(argmax(ref->last_logits()));
      margins.push_back(margin(ref->last_logits()));
      ref->prefill(&tokens.back(), 1);
    }
    teacher_forced(p, what, rp.ids, rp.pixels, rp.n_images, tokens, margins);
  }
}

void check_random_checkpoint(const std::string& dir, const std::string& label, Worst& worst, bool require,
                             int max_prompts = 4) {
  const Pair p = load_pair(dir);
  std::vector<Prompt> prompts = random_prompts(*p.bf16);
  prompts.resize(std::min<size_t>(prompts.size(), static_cast<size_t>(max_prompts)));
  check_prompts(p, label, prompts, worst, require);
}

// tiny-a's files in a writable temporary folder (the weights to be edited).
std::string tiny_a_copy(const std::string& name) {
  const std::string dir = temp_dir(name);
  for (const auto& e : std::filesystem::directory_iterator(test::fixture_path("tiny-a"))) {
    if (!e.is_regular_file()) continue;
    const auto to = std::filesystem::path(dir) / e.path().filename();
    std::filesystem::copy_file(e.path(), to);
    std::filesystem::permissions(to, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  }
  return dir;
}

}  // namespace

TEST_CASE("int8 weights on tiny-a: logits cosine, teacher-forced argmax and greedy continuations vs the goldens") {
  const Pair p = load_pair(test::fixture_path("tiny-a"));
  CHECK(p.int8->linear_weight_bytes() * 10 < p.bf16->linear_weight_bytes() * 6);  // about half (+ scales)
  const SafetensorsFile tensors(test::fixture_path("tiny-a/golden/tensors.safetensors"));
  const json cases = test::read_fixture_json("tiny-a/golden/cases.json")["cases"];
  Worst worst;
  for (const json& c : cases) {
    const std::string name = c["name"];
    const auto ids = c["input_ids"].get<std::vector<int32_t>>();
    const int64_t n_images = static_cast<int64_t>(c["images"].size());
    const std::vector<float> pixels = golden_pixels(tensors, c, p.int8->tile_size());
    compare_prompt(p, "tiny-a " + name, ids, pixels, n_images, worst);

    const auto greedy = c["greedy"].get<std::vector<int32_t>>();
    std::vector<double> margins;
    for (const json& s : c["steps"]) margins.push_back(s["margin"].get<double>());
    teacher_forced(p, "tiny-a " + name, ids, pixels, n_images, greedy, margins);

    // free-running greedy: report where it leaves the golden path, and that step's golden margin
    auto seq = prefilled(*p.int8, ids, pixels, n_images);
    GenerateOptions g;
    g.max_tokens = c["max_new_tokens"].get<int64_t>();
    g.stop_ids = c["stop_ids"].get<std::vector<int32_t>>();
    const GenerateResult r = seq->generate(g);
    size_t first = 0;
    while (first < r.ids.size() && first < greedy.size() && r.ids[first] == greedy[first]) ++first;
    if (first == greedy.size() && r.ids.size() == greedy.size())
      MESSAGE("tiny-a " << name << ": int8 greedy equals the golden (" << greedy.size() << " tokens)");
    else
      MESSAGE("tiny-a " << name << ": int8 greedy leaves the golden at step " << first << " of " << greedy.size()
                        << " (golden margin there " << margins[std::min(first, margins.size() - 1)] << ")");
  }
  MESSAGE("tiny-a worst: cosine " << worst.cosine << ", max |Δlogit| " << worst.logit_diff);
  CHECK(worst.logit_diff <= kLogitTolerance);
}

TEST_CASE("int8 weights on a random checkpoint of other dimensions hold cosine and teacher-forced argmax") {
  const std::string dir = temp_dir("other");
  RandomCheckpointOptions o;
  o.seed = 3;
  write_random_checkpoint(dir, other_shapes(), o);
  Worst worst;
  check_random_checkpoint(dir, "other-shapes", worst, true);
  MESSAGE("other-shapes worst: cosine " << worst.cosine << ", max |Δlogit| " << worst.logit_diff);
  CHECK(worst.logit_diff <= kLogitTolerance);
  std::filesystem::remove_all(dir);
}

// Opt-in (minutes on two cores): VLAC_INT8_FULL_CHECKPOINT=<a full-size checkpoint folder>, e.g. the
// random vlac-2b one that `vlac bench --random` makes.
TEST_CASE("int8 weights on a full-size checkpoint hold cosine and teacher-forced argmax (opt-in)") {
  const char* dir = std::getenv("VLAC_INT8_FULL_CHECKPOINT");
  if (!dir || !*dir) return;
  Worst worst;
  check_random_checkpoint(dir, "full-size", worst, true, 3);
  MESSAGE("full-size worst: cosine " << worst.cosine << ", max |Δlogit| " << worst.logit_diff);
}

TEST_CASE("a pre-quantized checkpoint loads without re-quantizing and gives exactly the quantize-on-load logits") {
  const std::string dir = temp_dir("prequantized");
  const std::string src = test::fixture_path("tiny-a");
  const QuantizeCheckpointReport r = quantize_checkpoint(src, dir);
  MESSAGE("quantize tiny-a: " << r.quantized << " Linears, " << r.bytes_written << " bytes in " << r.seconds << " s");
  CHECK(r.quantized > 0);
  CHECK_THROWS_AS(quantize_checkpoint(dir, dir + "-again"), Error);  // already quantized
  ModelOptions o;
  o.max_context = 2048;
  const auto pre = Model::load(dir, o);  // bf16 asked: the stored int8 wins
  o.weights.format = WeightFormat::Int8;
  const auto fly = Model::load(src, o);
  MESSAGE("start-up (network build): pre-quantized " << pre->build_seconds() * 1000 << " ms, quantize-on-load "
                                                     << fly->build_seconds() * 1000 << " ms");
  CHECK(pre->weights().format == WeightFormat::Int8);
  CHECK(pre->checkpoint().quantization() == kInt8Quantization);
  CHECK(pre->checkpoint().stored_dtype() == "int8");
  CHECK(pre->checkpoint().unused_tensors().empty());
  CHECK(pre->resident_weight_bytes() == fly->resident_weight_bytes());
  const SafetensorsFile tensors(test::fixture_path("tiny-a/golden/tensors.safetensors"));
  const json golden = test::read_fixture_json("tiny-a/golden/cases.json");  // outlives the loop (ASan)
  for (const json& c : golden["cases"]) {
    const auto ids = c["input_ids"].get<std::vector<int32_t>>();
    const int64_t n_images = static_cast<int64_t>(c["images"].size());
    const std::vector<float> pixels = golden_pixels(tensors, c, pre->tile_size());
    auto a = prefilled(*pre, ids, pixels, n_images);
    auto b = prefilled(*fly, ids, pixels, n_images);
    INFO(c["name"].get<std::string>());
    CHECK(a->last_logits() == b->last_logits());
  }
  // I8 is accepted only with the metadata entry and each Linear's scale (edits of equal length)
  auto edited = [&](const std::string& from, const std::string& to) {
    const std::string copy = dir + "-edited";
    std::filesystem::remove_all(copy);
    std::filesystem::copy(dir, copy);
    std::fstream f(copy + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    uint64_t len = 0;
    f.read(reinterpret_cast<char*>(&len), 8);
    std::string header(len, '\0');
    f.read(header.data(), static_cast<std::streamsize>(len));
    const size_t at = header.find(from);
    REQUIRE(at != std::string::npos);
    header.replace(at, from.size(), to);
    f.seekp(8);
    f.write(header.data(), static_cast<std::streamsize>(len));
    return copy;
  };
  auto code_of = [](const std::string& d) {
    try {
      Checkpoint::open(d);
    } catch (const Error& e) {
      MESSAGE(std::string(e.what()));
      return e.code();
    }
    return ErrorCode::Internal;
  };
  CHECK(code_of(edited("int8-per-channel-outliers-v2", "int8-per-channel-outliers-v0")) == ErrorCode::BadWeights);
  CHECK(code_of(edited("mlp1.1.weight.scale", "mlp1.1.weight.scalf")) == ErrorCode::MissingTensor);
  {  // a code of -128 (the file ends with I8 data)
    const std::string copy = dir + "-edited";
    std::filesystem::remove_all(copy);
    std::filesystem::copy(dir, copy);
    std::fstream f(copy + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(0x80));
    f.close();
    CHECK(code_of(copy) == ErrorCode::BadWeights);
  }
  {  // a v1 file (per channel, no outlier columns) still loads; tiny-a's random weights have none
    const std::string v1 = edited("\"int8-per-channel-outliers-v2\"", "\"int8-per-channel-v1\"         ");
    const auto old = Model::load(v1, o);
    CHECK(old->checkpoint().quantization() == std::string(kInt8QuantizationV1));
    const json& c = golden["cases"][1];
    const auto ids = c["input_ids"].get<std::vector<int32_t>>();
    const std::vector<float> pixels = golden_pixels(tensors, c, pre->tile_size());
    CHECK(prefilled(*old, ids, pixels, 1)->last_logits() == prefilled(*fly, ids, pixels, 1)->last_logits());
  }
  std::filesystem::remove_all(dir + "-edited");
  std::filesystem::remove_all(dir);
}

TEST_CASE("a pre-quantized checkpoint with outlier columns stores them and loads exactly like quantize-on-load") {
  const std::string src = temp_dir("outliers-src");
  RandomCheckpointOptions ro;
  ro.seed = 3;
  write_random_checkpoint(src, other_shapes(), ro);
  add_outlier_channels(src, {5, 17, 40}, 50.0f);
  const std::string dir = temp_dir("outliers-pre");
  quantize_checkpoint(src, dir);
  const SafetensorsFile file(dir + "/model.safetensors");
  CHECK(file.metadata().at("vlac_quantization") == kInt8Quantization);
  int with_outliers = 0;
  for (const auto& [name, view] : file.tensors())
    if (name.size() > 16 && name.compare(name.size() - 16, 16, ".outlier_columns") == 0) {
      ++with_outliers;
      CHECK(view.dtype == DType::I32);
      CHECK(view.shape == std::vector<int64_t>{3});
    }
  MESSAGE(with_outliers << " Linears store outlier columns");
  CHECK(with_outliers > 0);
  ModelOptions o;
  o.max_context = 2048;
  const auto pre = Model::load(dir, o);
  o.weights.format = WeightFormat::Int8;
  const auto fly = Model::load(src, o);
  CHECK(pre->resident_weight_bytes() == fly->resident_weight_bytes());
  CHECK(pre->checkpoint().unused_tensors().empty());
  for (const Prompt& p : random_prompts(*fly)) {
    INFO(p.name);
    CHECK(prefilled(*pre, p.ids, p.pixels, p.n_images)->last_logits() ==
          prefilled(*fly, p.ids, p.pixels, p.n_images)->last_logits());
  }
  // both outlier tensors or neither
  const std::string one = dir + "-one";
  std::filesystem::copy(dir, one);
  {
    std::fstream f(one + "/model.safetensors", std::ios::in | std::ios::out | std::ios::binary);
    uint64_t len = 0;
    f.read(reinterpret_cast<char*>(&len), 8);
    std::string header(len, '\0');
    f.read(header.data(), static_cast<std::streamsize>(len));
    const size_t at = header.find(".outlier_columns\"");
    REQUIRE(at != std::string::npos);
    header.replace(at, 16, ".outlier_columnz");
    f.seekp(8);
    f.write(header.data(), static_cast<std::streamsize>(len));
  }
  try {
    Checkpoint::open(one);
    CHECK(false);
  } catch (const Error& e) {
    MESSAGE(std::string(e.what()));
    CHECK(e.code() == ErrorCode::MissingTensor);
  }
  for (const std::string& d : {src, dir, one}) std::filesystem::remove_all(d);
}

// Real LLM weights have a few input channels 20-50x larger than the rest; random ones have none.
// The outlier columns (ops/int8.h) are what holds the bar here: per-output-channel scales alone
// gave a worst cosine of 0.976 on the raw x50 case (docs/int8.md). Required on the compensated
// checkpoints (the function kept, see add_outlier_channels); the raw ones are reported.
TEST_CASE("int8 weights with outlier input channels (x20, x50) hold cosine and teacher-forced argmax on tiny-a and other dimensions") {
  for (const Outliers kind : {Outliers::Compensated, Outliers::Raw})
    for (const float factor : {20.0f, 50.0f}) {
      const bool require = kind == Outliers::Compensated;
      const std::string tag = std::string(require ? "compensated-x" : "raw-x") + std::to_string(static_cast<int>(factor));
      Worst tiny, other;
      {
        const std::string dir = tiny_a_copy("outliers-tiny-" + tag);
        add_outlier_channels(dir, {5, 17, 29}, factor, kind);
        const Pair p = load_pair(dir);
        check_prompts(p, "tiny-a outliers-" + tag, golden_prompts(p.bf16->tile_size()), tiny, require);
        std::filesystem::remove_all(dir);
      }
      {
        const std::string dir = temp_dir("outliers-" + tag);
        RandomCheckpointOptions o;
        o.seed = 3;
        write_random_checkpoint(dir, other_shapes(), o);
        add_outlier_channels(dir, {5, 17, 40}, factor, kind);
        check_random_checkpoint(dir, "other-shapes outliers-" + tag, other, require);
        std::filesystem::remove_all(dir);
      }
      MESSAGE("outliers-" << tag << " worst: tiny-a cosine " << tiny.cosine << ", max |Δlogit| " << tiny.logit_diff
                          << "; other dimensions cosine " << other.cosine << ", max |Δlogit| " << other.logit_diff);
      if (require) {
        CHECK(tiny.logit_diff <= kLogitTolerance);
        CHECK(other.logit_diff <= kLogitTolerance);
      }
    }
}
