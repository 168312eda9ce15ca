#include "bench/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <memory>
#include <numeric>

#include "common/cpu_features.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "ops/ops.h"
#include "runtime/cached_batch.h"
#include "runtime/model.h"
#include "runtime/sequence.h"

namespace vlac {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Text tokens of the VLAC pair-critic prompt around its two images (655 - 2 x 256), and the text
// each further image brings with it (2,531 tokens with 6 references and the first frame: 7 images).
constexpr int64_t kPairTextTokens = 143;
constexpr int64_t kTextPerExtraImage = 12;
// The done prompt: one image and 95 text tokens (351 tokens in all for VLAC).
constexpr int64_t kDoneTextTokens = 95;

// Work of the stages, counted as architecture.md §9 does (2 FLOP per multiply-add).
struct Work {
  double flop = 0;
  double bytes = 0;
  Work& operator+=(const Work& o) {
    flop += o.flop;
    bytes += o.bytes;
    return *this;
  }
};

Work vit_work(const ModelConfig& c, int64_t tiles) {
  const auto& v = c.vision;
  const double N = static_cast<double>(c.patch_grid() * c.patch_grid() + 1), D = v.hidden_size,
               I = v.intermediate_size;
  const double per_layer = 2 * N * (D * 3 * D + D * D + 2 * D * I) + 4 * N * N * D;
  const double patch = 2.0 * c.patch_grid() * c.patch_grid() * 3 * v.patch_size * v.patch_size * D;
  const double P = c.projector_in(), Dl = c.llm.hidden_size, T = c.image_tokens();
  const double projector = 2 * T * (P * Dl + Dl * Dl);
  Work w;
  w.flop = tiles * (c.vision_layers_used() * per_layer + patch + projector);
  w.bytes = 2.0 * (c.vision_layers_used() * (4 * D * D + 2 * D * I) + P * Dl + Dl * Dl);  // bf16 weights, read once
  return w;
}

double llm_layer_params(const LlmConfig& l) {
  const double D = l.hidden_size, hd = l.head_dim();
  return D * (l.num_heads + 2 * l.num_kv_heads) * hd + l.num_heads * hd * D + 3 * D * l.intermediate_size;
}

// Prefill of n new tokens after `past` cached ones, logits of the last position only.
Work prefill_work(const LlmConfig& l, double n, double past) {
  Work w;
  const double attn = 2.0 * l.num_heads * l.head_dim() * (n * past + n * (n + 1) / 2) * 2;  // QK^T and PV
  w.flop = l.num_layers * (2 * n * llm_layer_params(l) + attn) + 2.0 * l.hidden_size * l.vocab_size;
  w.bytes = 2.0 * (l.num_layers * llm_layer_params(l) + l.hidden_size * l.vocab_size);
  return w;
}

// One decode step at context `ctx`: every layer weight and the head read once, plus the KV cache
// (fp32 on the CPU backend).
Work decode_work(const LlmConfig& l, double ctx) {
  Work w;
  const double kv_width = static_cast<double>(l.num_kv_heads) * l.head_dim();
  w.flop = l.num_layers * (2 * llm_layer_params(l) + 4.0 * ctx * l.num_heads * l.head_dim()) +
           2.0 * l.hidden_size * l.vocab_size;
  w.bytes = 2.0 * (l.num_layers * llm_layer_params(l) + l.hidden_size * l.vocab_size) +
            l.num_layers * 2 * ctx * kv_width * 4;
  return w;
}

// A deterministic synthetic tile (a smooth gradient with texture): the ViT's cost does not depend
// on the pixels.
std::vector<uint8_t> synthetic_tiles(int64_t n, int64_t size, uint32_t seed = 12345) {
  std::vector<uint8_t> t(static_cast<size_t>(n * size * size * 3));
  uint32_t x = seed;
  for (size_t i = 0; i < t.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    t[i] = static_cast<uint8_t>((i / 3 % size) * 255 / size / 2 + (x >> 25));
  }
  return t;
}

// Prompt ids of a given length holding `images` image slots (<img> + image_tokens x <IMG_CONTEXT>
// + </img>), the text between them made of ordinary vocabulary ids.
std::vector<int32_t> synthetic_prompt(const Model& m, int64_t tokens, int64_t images) {
  const SpecialTokens& s = m.tokenizer().special();
  const int64_t it = m.image_tokens_per_tile();
  const int64_t text = tokens - 1 - images * (it + 2);
  if (text < images + 1) fail(ErrorCode::BadArgument, "benchmark prompt of " + std::to_string(tokens) + " tokens cannot hold " + std::to_string(images) + " images");
  std::vector<int32_t> ids{s.bos};
  int64_t filler = 0;
  auto add_text = [&](int64_t n) {
    for (int64_t i = 0; i < n; ++i) ids.push_back(static_cast<int32_t>(1000 + (filler++ * 7919) % 20000));
  };
  const int64_t chunk = text / (images + 1);
  for (int64_t k = 0; k < images; ++k) {
    add_text(chunk);
    ids.push_back(s.img);
    ids.insert(ids.end(), static_cast<size_t>(it), s.img_context);
    ids.push_back(s.img_end);
  }
  add_text(tokens - static_cast<int64_t>(ids.size()));
  return ids;
}

struct Sample {
  double total_ms = 0, encode_ms = 0, prefill_ms = 0, decode_ms = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const double pos = p * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

struct Scenario {
  std::string name;
  Work work;
  int64_t logits_rows = 0;
  // The inputs, written beside the logits so that a baseline can run exactly the same work.
  std::shared_ptr<std::vector<int32_t>> ids;
  std::shared_ptr<std::vector<uint8_t>> tiles;
  std::function<Sample(std::vector<float>* logits)> run;
};

GenerateOptions no_stop_greedy(int64_t tokens) {
  GenerateOptions g;
  g.max_tokens = tokens;
  g.stop_ids = std::vector<int32_t>{};  // random weights never stop; the reply length is pinned
  return g;
}

// Prefills `ids` (with image rows) and keeps the last position's logits when asked.
void prefill_capturing(const Model& m, Sequence& seq, const std::vector<int32_t>& ids, const std::vector<float>& rows,
                       std::vector<float>* logits) {
  const int64_t D = m.hidden_size();
  std::vector<float> last(static_cast<size_t>(D));
  LayerObserver observer = [&](int64_t index, const float* h, int64_t n) {
    if (index == m.config().llm.num_layers) std::copy(h + (n - 1) * D, h + n * D, last.begin());
  };
  seq.prefill(ids.data(), static_cast<int64_t>(ids.size()), rows.empty() ? nullptr : rows.data(),
              static_cast<int64_t>(rows.size()) / D, logits ? &observer : nullptr);
  if (logits) {
    logits->resize(static_cast<size_t>(m.config().llm.vocab_size));
    m.llm().head(last.data(), 1, logits->data());
  }
}

Scenario make_scenario(const Model& m, const std::string& spec, const BenchOptions& o) {
  const ModelConfig& c = m.config();
  const std::string name = spec.substr(0, spec.find(':'));
  const bool has_arg = spec.find(':') != std::string::npos;
  int64_t arg = 0;
  if (has_arg) {
    try {
      arg = std::stoll(spec.substr(spec.find(':') + 1));
    } catch (...) {
      fail(ErrorCode::BadArgument, "scenario '" + spec + "': the number after ':' is not an integer");
    }
    if (arg < 1) fail(ErrorCode::BadArgument, "scenario '" + spec + "': the number after ':' must be >= 1");
  }
  const int64_t it = m.image_tokens_per_tile(), S = m.tile_size();
  Scenario sc;
  sc.name = spec;
  if (name == "vit-tile") {
    auto tile = std::make_shared<std::vector<uint8_t>>(synthetic_tiles(1, S));
    sc.work = vit_work(c, 1);
    sc.tiles = tile;
    sc.run = [&m, tile](std::vector<float>*) {
      Sample s;
      auto t0 = Clock::now();
      m.encode_tiles(tile->data(), 1);
      s.encode_ms = s.total_ms = ms_since(t0);
      return s;
    };
  } else if (name == "prefill") {
    const int64_t n = has_arg ? arg : 700;
    if (n > m.max_context()) fail(ErrorCode::ContextFull, "scenario '" + spec + "' needs maxContext >= " + std::to_string(n));
    auto ids = std::make_shared<std::vector<int32_t>>(synthetic_prompt(m, n, 0));
    sc.work = prefill_work(c.llm, static_cast<double>(n), 0);
    sc.logits_rows = 1;
    sc.ids = ids;
    sc.run = [&m, ids](std::vector<float>* logits) {
      Sample s;
      auto seq = m.create_sequence();
      auto t0 = Clock::now();
      prefill_capturing(m, *seq, *ids, {}, logits);
      s.prefill_ms = s.total_ms = ms_since(t0);
      return s;
    };
  } else if (name == "decode") {
    const int64_t ctx = has_arg ? arg : o.decode_context;
    const int64_t steps = std::max(1, o.decode_tokens);
    if (ctx + steps + 1 > m.max_context()) fail(ErrorCode::ContextFull, "scenario '" + spec + "' needs a larger maxContext");
    auto ids = std::make_shared<std::vector<int32_t>>(synthetic_prompt(m, ctx, 0));
    sc.work = decode_work(c.llm, static_cast<double>(ctx) + steps / 2.0);
    sc.run = [&m, ids, steps](std::vector<float>*) {
      auto seq = m.create_sequence();
      seq->prefill(*ids);
      // The first token comes from the prefill's logits; `steps` more need one forward each.
      auto t0 = Clock::now();
      seq->generate(no_stop_greedy(steps + 1));
      Sample s;
      s.decode_ms = s.total_ms = ms_since(t0) / static_cast<double>(steps);
      return s;
    };
  } else if (name == "pair" || name == "pair-ref" || name == "done" || name == "trajectory") {
    const int64_t ref = name == "pair-ref" ? (has_arg ? arg : 6) : 0;
    const int64_t batch = name == "trajectory" ? (has_arg ? arg : 10) : 1;
    const int64_t images = name == "done" ? 1 : pair_prompt_images(ref);
    const int64_t tokens = name == "done" ? kDoneTextTokens + it : pair_prompt_tokens(ref, it);
    const int64_t reply = std::max(1, o.reply_tokens);
    if (tokens + reply > m.max_context()) fail(ErrorCode::ContextFull, "scenario '" + spec + "' needs maxContext >= " + std::to_string(tokens + reply));
    auto ids = std::make_shared<std::vector<int32_t>>(synthetic_prompt(m, tokens, images));
    auto tiles = std::make_shared<std::vector<uint8_t>>(synthetic_tiles(images * batch, S));
    Work w = vit_work(c, images * batch);
    Work p = prefill_work(c.llm, static_cast<double>(tokens) * batch, 0);
    w += p;
    for (int64_t k = 1; k < reply; ++k) {
      Work d = decode_work(c.llm, static_cast<double>(tokens + k));
      d.flop *= batch;
      w += d;
    }
    sc.work = w;
    sc.logits_rows = batch == 1 ? 1 : 0;
    sc.ids = ids;
    sc.tiles = tiles;
    sc.run = [&m, ids, tiles, images, batch, reply, it](std::vector<float>* logits) {
      Sample s;
      auto t0 = Clock::now();
      std::vector<float> rows = m.encode_tiles(tiles->data(), images * batch);
      s.encode_ms = ms_since(t0);
      auto t1 = Clock::now();
      std::vector<std::unique_ptr<Sequence>> seqs;
      if (batch == 1) {
        seqs.push_back(m.create_sequence());
        prefill_capturing(m, *seqs[0], *ids, rows, logits);
      } else {
        std::vector<PrefillRequest> reqs;
        const int64_t per = images * it * m.hidden_size();
        for (int64_t b = 0; b < batch; ++b) {
          seqs.push_back(m.create_sequence());
          PrefillRequest r;
          r.sequence = seqs.back().get();
          r.ids = ids->data();
          r.n_ids = static_cast<int64_t>(ids->size());
          r.image_rows = rows.data() + b * per;
          r.n_image_rows = images * it;
          reqs.push_back(r);
        }
        prefill_batch(reqs);
      }
      s.prefill_ms = ms_since(t1);
      auto t2 = Clock::now();
      for (auto& seq : seqs) seq->generate(no_stop_greedy(reply));
      s.decode_ms = ms_since(t2);
      s.total_ms = ms_since(t0);
      return s;
    };
  } else if (name == "stream" || name == "stream-ref") {
    // A control loop's pushes: each iteration scores (frame k-1, frame k) with the same N reference
    // frames and frame 0, a new frame per push, through the model's caches (a fresh ModelCaches per
    // scenario; the warmup pushes fill them) or, with no_cache, through the uncached path. `stream`
    // is the same without reference (2 images per pair).
    const int64_t ref = name == "stream" ? 0 : has_arg ? arg : 6;
    const int64_t images = pair_prompt_images(ref), tokens = pair_prompt_tokens(ref, it);
    const int64_t reply = std::max(1, o.reply_tokens);
    if (tokens + reply > m.max_context()) fail(ErrorCode::ContextFull, "scenario '" + spec + "' needs maxContext >= " + std::to_string(tokens + reply));
    auto ids = std::make_shared<std::vector<int32_t>>(synthetic_prompt(m, tokens, images));
    auto fixed = std::make_shared<std::vector<uint8_t>>(synthetic_tiles(images - 2, S));  // references and frame 0
    auto caches = o.no_cache ? nullptr : std::make_shared<ModelCaches>();
    // Steady state with the caches: the new frame through the ViT, the prompt after the shared
    // prefix (the start of the first compared image's rows) prefilled.
    int64_t shared = 0, runs = 0;
    for (int64_t i = 0; i < static_cast<int64_t>(ids->size()); ++i)
      if ((*ids)[i] == m.image_context_id() && (i == 0 || (*ids)[i - 1] != m.image_context_id()) && ++runs == images - 1) shared = i;
    Work w = o.no_cache ? vit_work(c, images) : vit_work(c, 1);
    w += o.no_cache ? prefill_work(c.llm, static_cast<double>(tokens), 0)
                    : prefill_work(c.llm, static_cast<double>(tokens - shared), static_cast<double>(shared));
    for (int64_t k = 1; k < reply; ++k) w += decode_work(c.llm, static_cast<double>(tokens + k));
    sc.work = w;
    sc.ids = ids;
    sc.tiles = fixed;
    auto push = std::make_shared<uint32_t>(0);
    sc.run = [&m, ids, fixed, caches, push, reply, S](std::vector<float>*) {
      std::vector<uint8_t> tiles = *fixed;
      for (uint32_t f : {*push, *push + 1}) {
        const std::vector<uint8_t> frame = synthetic_tiles(1, S, 777 + f);
        tiles.insert(tiles.end(), frame.begin(), frame.end());
      }
      ++*push;
      const int64_t n_tiles = static_cast<int64_t>(tiles.size() / (3 * S * S));
      BatchStats stats;
      auto t0 = Clock::now();
      generate_batch(m, {{ids->data(), static_cast<int64_t>(ids->size()), tiles.data(), n_tiles}}, no_stop_greedy(reply),
                     caches.get(), &stats);
      Sample s;
      s.total_ms = ms_since(t0);
      s.encode_ms = stats.encode_ms;
      s.prefill_ms = stats.prefill_ms;
      s.decode_ms = stats.decode_ms;
      return s;
    };
  } else {
    fail(ErrorCode::BadArgument, "unknown scenario '" + spec +
                                     "' (vit-tile, prefill:N, decode[:CTX], pair, pair-ref:N, done, trajectory:B, stream, stream-ref:N)");
  }
  return sc;
}

}  // namespace

int64_t pair_prompt_images(int64_t ref_num) { return 2 + (ref_num > 0 ? ref_num + 1 : 0); }

int64_t pair_prompt_tokens(int64_t ref_num, int64_t image_tokens) {
  return kPairTextTokens + 2 * image_tokens + (ref_num > 0 ? (ref_num + 1) * (image_tokens + kTextPerExtraImage) : 0);
}

json run_benchmark(const Model& m, const BenchOptions& o) {
  if (o.scenarios.empty()) fail(ErrorCode::BadArgument, "no benchmark scenario given");
  if (o.iterations < 1 && o.seconds <= 0) fail(ErrorCode::BadArgument, "iterations must be >= 1");
  std::vector<Scenario> scenarios;
  for (const auto& s : o.scenarios) scenarios.push_back(make_scenario(m, s, o));

  json report;
  report["engine"] = "vlac-engine";
  report["backend"] = "cpu";
  report["threads"] = num_threads();
  report["cpu_features"] = cpu_feature_names();
  const double peak_gflops = ops::measure_fp32_fma_peak_gflops(num_threads());
  const double peak_gbs = ops::measure_memory_bandwidth_gbs(num_threads());
  report["peaks"] = {{"fp32_fma_gflops", peak_gflops}, {"memory_gbs", peak_gbs}};
  const ModelConfig& c = m.config();
  report["model"] = {{"vision_layers", c.vision.num_layers}, {"vision_hidden", c.vision.hidden_size},
                     {"llm_layers", c.llm.num_layers},       {"hidden", c.llm.hidden_size},
                     {"vocab", c.llm.vocab_size},            {"image_tokens", m.image_tokens_per_tile()},
                     {"weights_bytes", m.checkpoint().weight_bytes()}};
  report["options"] = {{"warmup", o.warmup}, {"iterations", o.iterations}, {"seconds", o.seconds},
                       {"reply_tokens", o.reply_tokens}, {"decode_context", o.decode_context},
                       {"decode_tokens", o.decode_tokens}};
  json out = json::object();
  for (auto& sc : scenarios) {
    for (int i = 0; i < o.warmup; ++i) sc.run(nullptr);
    std::vector<Sample> samples;
    std::vector<float> logits;
    const auto start = Clock::now();
    const int total = o.seconds > 0 ? 0 : o.iterations;
    for (int i = 0;; ++i) {
      if (o.seconds > 0 ? (i > 0 && ms_since(start) >= o.seconds * 1000) : i >= o.iterations) break;
      samples.push_back(sc.run(i == 0 && sc.logits_rows && !o.logits_dir.empty() ? &logits : nullptr));
      if (o.on_progress) o.on_progress(sc.name, i + 1, total);
    }
    std::vector<double> totals;
    Sample mean;
    for (const auto& s : samples) {
      totals.push_back(s.total_ms);
      mean.encode_ms += s.encode_ms / samples.size();
      mean.prefill_ms += s.prefill_ms / samples.size();
      mean.decode_ms += s.decode_ms / samples.size();
      mean.total_ms += s.total_ms / samples.size();
    }
    const double p50 = percentile(totals, 0.5);
    const double floor_ms = std::max(sc.work.flop / (peak_gflops * 1e9), sc.work.bytes / (peak_gbs * 1e9)) * 1e3;
    json r = {{"iterations", samples.size()},
              {"p50_ms", p50},
              {"p90_ms", percentile(totals, 0.9)},
              {"p99_ms", percentile(totals, 0.99)},
              {"max_ms", *std::max_element(totals.begin(), totals.end())},
              {"mean_ms", mean.total_ms},
              {"samples_ms", totals},
              {"stages_ms", {{"encode", mean.encode_ms}, {"prefill", mean.prefill_ms}, {"decode", mean.decode_ms}}},
              {"flop", sc.work.flop},
              {"bytes", sc.work.bytes},
              {"gflops", sc.work.flop / (p50 * 1e6)},
              {"gbs", sc.work.bytes / (p50 * 1e6)},
              {"floor_ms", floor_ms},
              {"ratio_to_floor", p50 / floor_ms},
              {"peak_fraction", sc.work.flop / (p50 * 1e6) / peak_gflops}};
    if (!logits.empty()) {
      std::string safe = sc.name;
      std::replace(safe.begin(), safe.end(), ':', '-');
      const std::string path = o.logits_dir + "/engine-" + safe + ".f32";
      std::ofstream f(path, std::ios::binary);
      f.write(reinterpret_cast<const char*>(logits.data()), static_cast<std::streamsize>(logits.size() * sizeof(float)));
      r["logits_file"] = path;
    }
    if (!o.logits_dir.empty()) {
      std::string safe = sc.name;
      std::replace(safe.begin(), safe.end(), ':', '-');
      if (sc.ids) {
        const std::string path = o.logits_dir + "/engine-" + safe + ".ids.i32";
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(sc.ids->data()), static_cast<std::streamsize>(sc.ids->size() * 4));
        r["ids_file"] = path;
      }
      if (sc.tiles) {
        const std::string path = o.logits_dir + "/engine-" + safe + ".tiles.u8";
        std::ofstream(path, std::ios::binary)
            .write(reinterpret_cast<const char*>(sc.tiles->data()), static_cast<std::streamsize>(sc.tiles->size()));
        r["tiles_file"] = path;
      }
    }
    out[sc.name] = r;
  }
  report["scenarios"] = out;
  return report;
}

}  // namespace vlac
