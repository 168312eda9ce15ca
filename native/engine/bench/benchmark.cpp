#include "bench/benchmark.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>
#include <thread>

#include "bench/machine.h"
#include "bench/torch_peaks.h"
#include "common/cpu_features.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "image/preprocess.h"
#include "ops/ops.h"
#include "runtime/cached_batch.h"
#include "runtime/call_scheduler.h"
#include "runtime/decode_group.h"
#include "runtime/model.h"
#include "runtime/prefetch.h"
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
  // The time at the floor, max(FLOP / compute peak, bytes / memory peak), in ms.
  double floor_ms(double gflops, double gbs) const { return std::max(flop / (gflops * 1e9), bytes / (gbs * 1e9)) * 1e3; }
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

// Bytes per weight of the LLM's Linears as the model holds them: 2 for bf16, about 1 for int8
// (codes + scales + column sums), so that an int8 configuration's floor is its own.
double llm_bytes_per_weight(const Model& m) {
  const LlmConfig& l = m.config().llm;
  return static_cast<double>(m.llm().linear_weight_bytes()) /
         (l.num_layers * llm_layer_params(l) + static_cast<double>(l.hidden_size) * l.vocab_size);
}

// Prefill of n new tokens after `past` cached ones, logits of the last position only.
Work prefill_work(const LlmConfig& l, double n, double past, double bytes_per_weight = 2) {
  Work w;
  const double attn = 2.0 * l.num_heads * l.head_dim() * (n * past + n * (n + 1) / 2) * 2;  // QK^T and PV
  w.flop = l.num_layers * (2 * n * llm_layer_params(l) + attn) + 2.0 * l.hidden_size * l.vocab_size;
  w.bytes = bytes_per_weight * (l.num_layers * llm_layer_params(l) + l.hidden_size * l.vocab_size);
  return w;
}

// One decode step at context `ctx`: every layer weight and the head read once, plus the KV cache
// (fp32 on the CPU backend).
Work decode_work(const LlmConfig& l, double ctx, double bytes_per_weight = 2) {
  Work w;
  const double kv_width = static_cast<double>(l.num_kv_heads) * l.head_dim();
  w.flop = l.num_layers * (2 * llm_layer_params(l) + 4.0 * ctx * l.num_heads * l.head_dim()) +
           2.0 * l.hidden_size * l.vocab_size;
  w.bytes = bytes_per_weight * (l.num_layers * llm_layer_params(l) + l.hidden_size * l.vocab_size) +
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

// The camera frames the image scenarios resize to tiles each iteration: VGA, a common robot camera.
constexpr int kFrameWidth = 640, kFrameHeight = 480;

std::vector<uint8_t> synthetic_frame(uint32_t seed) {
  std::vector<uint8_t> f(static_cast<size_t>(kFrameWidth) * kFrameHeight * 3);
  uint32_t x = seed;
  for (size_t i = 0; i < f.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    f[i] = static_cast<uint8_t>((i / 3 % kFrameWidth) * 255 / kFrameWidth / 2 + (x >> 25));
  }
  return f;
}

// The frames' tiles, one per frame, with the VLAC resize (what the task layer does to each image).
std::vector<uint8_t> resize_frames(const std::vector<std::vector<uint8_t>>& frames, int64_t count, int64_t tile) {
  std::vector<uint8_t> tiles;
  tiles.reserve(static_cast<size_t>(count * tile * tile * 3));
  for (int64_t k = 0; k < count; ++k) {
    const ImageTiles t = preprocess_image(frames[k % frames.size()].data(), kFrameWidth, kFrameHeight, ResizeMode::Vlac, 1,
                                          1, static_cast<int>(tile), false, "benchmark frame");
    tiles.insert(tiles.end(), t.rgb.begin(), t.rgb.end());
  }
  return tiles;
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
  double resize_ms = -1;  // < 0: the scenario gets tiles, not frames
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  if (v.empty()) return 0;
  const double pos = p * (v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos)), hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (v[hi] - v[lo]) * (pos - lo);
}

// The figures of one timed path of a scenario (stream's paced, back to back, ...; concurrent's
// together, one at a time): its samples after the first `warmup` (the warm-up iterations'), graded at
// the floor of `w`; null without samples.
json path_figures(const std::vector<double>& all, int warmup, const Work& w, double gflops, double gbs) {
  const std::vector<double> v(all.begin() + std::min<size_t>(all.size(), static_cast<size_t>(warmup)), all.end());
  if (v.empty()) return nullptr;
  const double p50 = percentile(v, 0.5), floor_ms = w.floor_ms(gflops, gbs);
  return {{"p50_ms", p50},        {"p99_ms", percentile(v, 0.99)}, {"max_ms", *std::max_element(v.begin(), v.end())},
          {"samples_ms", v},      {"floor_ms", floor_ms},          {"ratio_to_floor", p50 / floor_ms}};
}

struct Scenario {
  std::string name;
  Work work;
  int64_t logits_rows = 0;
  // The inputs, written beside the logits so that a baseline can run exactly the same work.
  std::shared_ptr<std::vector<int32_t>> ids;
  std::shared_ptr<std::vector<uint8_t>> tiles;
  std::function<Sample(std::vector<float>* logits)> run;
  // The figures of each path the scenario times, graded at the run's peaks (compute GFLOP/s, memory
  // GB/s), reported under figures_key: "stream" (stream, stream-ref:N: paced, back to back,
  // uncached), "concurrent" (concurrent:N: together, one at a time).
  std::string figures_key;
  std::function<json(double gflops, double gbs)> path_figures;
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
    sc.work = prefill_work(c.llm, static_cast<double>(n), 0, llm_bytes_per_weight(m));
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
    sc.work = decode_work(c.llm, static_cast<double>(ctx) + steps / 2.0, llm_bytes_per_weight(m));
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
    auto frames = std::make_shared<std::vector<std::vector<uint8_t>>>();
    for (int64_t k = 0; k < images; ++k) frames->push_back(synthetic_frame(12345 + static_cast<uint32_t>(k)));
    auto tiles = std::make_shared<std::vector<uint8_t>>(resize_frames(*frames, images * batch, S));
    Work w = vit_work(c, images * batch);
    Work p = prefill_work(c.llm, static_cast<double>(tokens) * batch, 0, llm_bytes_per_weight(m));
    w += p;
    for (int64_t k = 1; k < reply; ++k) {
      Work d = decode_work(c.llm, static_cast<double>(tokens + k), llm_bytes_per_weight(m));
      d.flop *= batch;
      w += d;
    }
    sc.work = w;
    sc.logits_rows = batch == 1 ? 1 : 0;
    sc.ids = ids;
    sc.tiles = tiles;
    sc.run = [&m, ids, frames, images, batch, reply, it, S](std::vector<float>* logits) {
      Sample s;
      auto t0 = Clock::now();
      const std::vector<uint8_t> tiles = resize_frames(*frames, images * batch, S);
      s.resize_ms = ms_since(t0);
      auto te = Clock::now();
      std::vector<float> rows = m.encode_tiles(tiles.data(), images * batch);
      s.encode_ms = ms_since(te);
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
      DecodeGroup group;  // the replies decode together, as generate_batch's do
      for (auto& seq : seqs) group.add(*seq, no_stop_greedy(reply), [](GenerateResult&&) {});
      while (!group.empty()) group.step();
      s.decode_ms = ms_since(t2);
      s.total_ms = ms_since(t0);
      return s;
    };
  } else if (name == "stream" || name == "stream-ref") {
    // A control loop's pushes through the same runtime path as criticStream: push k scores
    // (frame k-1, frame k) with the same N reference frames and frame 0 through the model's caches
    // (generate_batch), and after each push the next pair's prefix is prefilled in the background
    // (prefetch_prefix). Each iteration times one push of each of two streams, each with caches of
    // its own as two control loops would have: `paced`, whose next push comes o.tick_ms after the
    // previous one started (0: as soon as the background prefill is done), and `back_to_back`,
    // whose next push comes as soon as the previous one returned and so waits for that prefill;
    // then one pair of fresh frames with the caches off, the pairCritic baseline (`uncached`). The
    // headline figures are the paced pushes'; with no_cache only the uncached pairs run. Each
    // stream's first push (frame 0, no pair) and the prefill of its shared prefix happen before its
    // first timed push, as at the start of an episode. `stream` is the same without reference.
    const int64_t ref = name == "stream" ? 0 : has_arg ? arg : 6;
    const int64_t images = pair_prompt_images(ref), tokens = pair_prompt_tokens(ref, it);
    const int64_t reply = std::max(1, o.reply_tokens);
    if (tokens + reply > m.max_context()) fail(ErrorCode::ContextFull, "scenario '" + spec + "' needs maxContext >= " + std::to_string(tokens + reply));
    // The VLAC pair prompt's shape where it matters here (anchors.md A.2): Image-2's rows and the 83
    // tokens after them are the 339-token tail; 8 tokens lie between Image-1's rows and Image-2's
    // (`</img>\nImage-2: <img>`); the rest of the text is spread before the earlier images.
    constexpr int64_t kTailText = 83, kBetween = 8;
    const SpecialTokens& sp = m.tokenizer().special();
    const int64_t head_text = tokens - 1 - (images - 1) * (it + 2) - (kBetween - 2) - (it + 2) - (kTailText - 1);
    if (head_text < images - 1) fail(ErrorCode::BadArgument, "scenario '" + spec + "': the pair prompt cannot hold its images");
    std::vector<int32_t> prompt{sp.bos};
    int64_t filler = 0;
    auto text = [&](int64_t count) {
      for (int64_t i = 0; i < count; ++i) prompt.push_back(static_cast<int32_t>(1000 + (filler++ * 7919) % 20000));
    };
    auto image = [&] {
      prompt.push_back(sp.img);
      prompt.insert(prompt.end(), static_cast<size_t>(it), sp.img_context);
      prompt.push_back(sp.img_end);
    };
    for (int64_t k = 0; k < images - 1; ++k) {
      text(head_text / (images - 1) + (k == 0 ? head_text % (images - 1) : 0));
      image();
    }
    text(kBetween - 2);
    image();
    text(kTailText - 1);
    auto ids = std::make_shared<std::vector<int32_t>>(std::move(prompt));
    const int64_t n = static_cast<int64_t>(ids->size());
    VLAC_CHECK(n == tokens, "stream prompt of " + std::to_string(n) + " tokens, not " + std::to_string(tokens));
    // L: the start of the last image's rows (where the background prefill stops); B: of the one
    // before (the end of the prefix every pair of the trajectory shares).
    std::vector<int64_t> runs;
    for (int64_t i = 0; i < n; ++i)
      if ((*ids)[i] == m.image_context_id() && (i == 0 || (*ids)[i - 1] != m.image_context_id())) runs.push_back(i);
    const double L = static_cast<double>(runs[runs.size() - 1]), B = static_cast<double>(runs[runs.size() - 2]);
    auto fixed = std::make_shared<std::vector<uint8_t>>(synthetic_tiles(images - 2, S));  // references and frame 0
    Work decode;
    for (int64_t k = 1; k < reply; ++k) decode += decode_work(c.llm, static_cast<double>(n + k));
    Work uncached = vit_work(c, images), paced = vit_work(c, 1), background = prefill_work(c.llm, L - B, B);
    uncached += prefill_work(c.llm, static_cast<double>(n), 0);
    uncached += decode;
    paced += prefill_work(c.llm, static_cast<double>(n) - L, L);
    paced += decode;
    Work back_to_back = paced;
    back_to_back += background;
    sc.work = o.no_cache ? uncached : paced;
    sc.ids = ids;
    sc.tiles = fixed;

    struct Stream {
      std::unique_ptr<ModelCaches> caches;
      uint32_t seed = 0;     // frame k >= 1 (and frame 0 without reference) is synthetic_tiles(1, S, seed + k)
      int64_t pushed = 0;    // frames pushed
      std::vector<double> latency_ms, background_ms;
    };
    struct State {
      Stream paced, back_to_back, uncached;
    };
    auto state = std::make_shared<State>();
    state->paced.seed = 1000;
    state->back_to_back.seed = 2000;
    state->uncached.seed = 3000;
    const bool with_start = ref > 0;
    auto frame = [fixed, S, with_start](const Stream& s, int64_t k) {
      if (k == 0 && with_start) return std::vector<uint8_t>(fixed->end() - 3 * S * S, fixed->end());
      return synthetic_tiles(1, S, s.seed + static_cast<uint32_t>(k));
    };
    // The tiles of pair (k-1, k), or with last_unknown those of the pair (k, k+1) but its last.
    auto pair_tiles = [fixed, frame](const Stream& s, int64_t k, bool last_unknown) {
      std::vector<uint8_t> t = *fixed;
      for (int64_t f : last_unknown ? std::vector<int64_t>{k} : std::vector<int64_t>{k - 1, k}) {
        const std::vector<uint8_t> px = frame(s, f);
        t.insert(t.end(), px.begin(), px.end());
      }
      return t;
    };
    auto prefetch = [&m, ids, n, pair_tiles, S](Stream& s) {
      const std::vector<uint8_t> t = pair_tiles(s, s.pushed - 1, true);
      auto t0 = Clock::now();
      prefetch_prefix(m, ids->data(), n, t.data(), static_cast<int64_t>(t.size() / (3 * S * S)), s.caches.get());
      s.background_ms.push_back(ms_since(t0));
    };
    auto push = [&m, ids, n, pair_tiles, S, reply](Stream& s, Sample* out) {
      const std::vector<uint8_t> t = pair_tiles(s, s.pushed, false);
      BatchStats stats;
      generate_batch(m, {{ids->data(), n, t.data(), static_cast<int64_t>(t.size() / (3 * S * S))}}, no_stop_greedy(reply),
                     s.caches.get(), &stats);
      ++s.pushed;
      if (out) {
        out->encode_ms = stats.encode_ms;
        out->prefill_ms = stats.prefill_ms;
        out->decode_ms = stats.decode_ms;
      }
    };
    auto start = [prefetch](Stream& s) {
      s.caches = std::make_unique<ModelCaches>();
      s.pushed = 1;  // frame 0: no pair to score
      prefetch(s);
      s.background_ms.clear();
    };
    const double tick_ms = o.tick_ms;
    const bool no_cache = o.no_cache;
    sc.run = [state, prefetch, push, start, tick_ms, no_cache](std::vector<float>*) {
      Sample headline;
      if (!no_cache) {
        // Paced: this step begins as the previous push returns; its background prefill runs while
        // the loop waits for the next tick, and the push waits for what is left of it.
        Stream& p = state->paced;
        if (!p.caches) start(p);
        std::exception_ptr failed;
        std::thread background([&] {
          try {
            prefetch(p);
          } catch (...) {
            failed = std::current_exception();
          }
        });
        // The tick counts from when the previous push was made, its latency ago.
        const double since_previous = p.latency_ms.empty() ? 0 : p.latency_ms.back();
        const auto begun = Clock::now();
        if (tick_ms <= 0) background.join();
        else std::this_thread::sleep_until(begun + std::chrono::microseconds(static_cast<int64_t>(std::max(0.0, tick_ms - since_previous) * 1000)));
        auto t0 = Clock::now();
        if (background.joinable()) background.join();
        if (failed) std::rethrow_exception(failed);
        push(p, &headline);
        headline.total_ms = ms_since(t0);
        p.latency_ms.push_back(headline.total_ms);

        // Back to back: the push arrives as the previous one returns and waits for its prefill.
        Stream& b = state->back_to_back;
        if (!b.caches) start(b);
        t0 = Clock::now();
        prefetch(b);
        push(b, nullptr);
        b.latency_ms.push_back(ms_since(t0));
      }
      Stream& u = state->uncached;
      if (u.pushed == 0) u.pushed = 1;
      Sample baseline;
      auto t0 = Clock::now();
      push(u, &baseline);
      baseline.total_ms = ms_since(t0);
      u.latency_ms.push_back(baseline.total_ms);
      return no_cache ? baseline : headline;
    };
    // The figures of each path over the timed pushes (the warmup's are dropped: the first ones).
    const int warmup = std::max(0, o.warmup);
    sc.figures_key = "stream";
    sc.path_figures = [state, warmup, uncached, paced, back_to_back, background, tick_ms, no_cache](double gflops, double gbs) {
      auto floor_of = [&](const Work& w) { return w.floor_ms(gflops, gbs); };
      auto figures = [&](const std::vector<double>& all, const Work& w) {
        json f = path_figures(all, warmup, w, gflops, gbs);
        if (!f.is_null()) f["pushes"] = f["samples_ms"].size();
        return f;
      };
      json out = {{"tick_ms", tick_ms},
                  {"uncached", figures(state->uncached.latency_ms, uncached)}};
      if (no_cache) return out;
      out["paced"] = figures(state->paced.latency_ms, paced);
      out["back_to_back"] = figures(state->back_to_back.latency_ms, back_to_back);
      out["background_prefill"] = figures(state->paced.background_ms, background);
      // uncached / streamed, measured and at the floors: what the cache gains, and what it could.
      auto speedup = [&](const char* mode, const Work& w) {
        if (out[mode].is_null() || out["uncached"].is_null()) return json(nullptr);
        return json{{"measured", out["uncached"]["p50_ms"].get<double>() / out[mode]["p50_ms"].get<double>()},
                    {"at_floor", floor_of(uncached) / floor_of(w)}};
      };
      out["speedup"] = {{"paced", speedup("paced", paced)}, {"back_to_back", speedup("back_to_back", back_to_back)}};
      return out;
    };
  } else if (name == "concurrent") {
    // N callers' pair calls (no reference, frames of their own, caches off) posted at once: served
    // by the inference thread's scheduler, prepared in one batch and decoded together (`together`,
    // the headline), and the same calls one after another (`one_at_a_time`, the baseline).
    const int64_t callers = has_arg ? arg : 8, images = 2, tokens = pair_prompt_tokens(0, it);
    const int64_t reply = std::max(1, o.reply_tokens);
    if (tokens + reply > m.max_context()) fail(ErrorCode::ContextFull, "scenario '" + spec + "' needs maxContext >= " + std::to_string(tokens + reply));
    auto ids = std::make_shared<std::vector<int32_t>>(synthetic_prompt(m, tokens, images));
    auto tiles = std::make_shared<std::vector<uint8_t>>();
    for (int64_t k = 0; k < callers; ++k) {
      const std::vector<uint8_t> t = synthetic_tiles(images, S, 5000 + static_cast<uint32_t>(k));
      tiles->insert(tiles->end(), t.begin(), t.end());
    }
    Work w = vit_work(c, images * callers);
    w += prefill_work(c.llm, static_cast<double>(tokens) * callers, 0, llm_bytes_per_weight(m));
    Work alone_work = vit_work(c, images);
    alone_work += prefill_work(c.llm, static_cast<double>(tokens), 0, llm_bytes_per_weight(m));
    for (int64_t k = 1; k < reply; ++k) {
      const Work d = decode_work(c.llm, static_cast<double>(tokens + k), llm_bytes_per_weight(m));
      Work together = d;
      together.flop *= callers;  // the weights are read once a step for every caller
      w += together;
      alone_work += d;
    }
    Work alone = alone_work;
    alone.flop *= callers;
    alone.bytes *= callers;
    sc.work = w;
    sc.ids = ids;
    sc.tiles = tiles;
    auto alone_ms = std::make_shared<std::vector<double>>();
    auto together_ms = std::make_shared<std::vector<double>>();
    const int64_t tile_bytes = images * 3 * S * S;
    auto call_of = [&m, ids, tiles, images, tile_bytes, reply](int64_t k) {
      auto call = std::make_shared<GenerateCall>();
      call->model = m.shared_from_this();
      call->batch.requests = {{ids->data(), static_cast<int64_t>(ids->size()), tiles->data() + k * tile_bytes, images}};
      call->options = no_stop_greedy(reply);
      return call;
    };
    sc.run = [&m, callers, call_of, alone_ms, together_ms](std::vector<float>*) {
      Sample s;
      std::vector<std::shared_ptr<GenerateCall>> calls;
      for (int64_t k = 0; k < callers; ++k) calls.push_back(call_of(k));
      CallScheduler scheduler(static_cast<size_t>(callers));
      const CallScheduler::Settled settled = [](const std::shared_ptr<GenerateCall>& call) {
        if (call->error) std::rethrow_exception(call->error);
      };
      auto t0 = Clock::now();
      scheduler.admit(calls, settled);
      while (!scheduler.idle()) scheduler.step(settled);
      s.total_ms = ms_since(t0);
      together_ms->push_back(s.total_ms);
      s.encode_ms = calls[0]->stats.encode_ms;
      s.prefill_ms = calls[0]->stats.prefill_ms;
      for (const auto& call : calls) s.decode_ms = std::max(s.decode_ms, call->stats.decode_ms);
      t0 = Clock::now();
      for (int64_t k = 0; k < callers; ++k) {
        const auto call = call_of(k);
        generate_batch(m, call->batch.requests, call->options, nullptr);
      }
      alone_ms->push_back(ms_since(t0));
      return s;
    };
    const int warmup = std::max(0, o.warmup);
    sc.figures_key = "concurrent";
    sc.path_figures = [callers, alone_ms, together_ms, warmup, w, alone](double gflops, double gbs) {
      auto figures = [&](const std::vector<double>& all, const Work& work) {
        json f = path_figures(all, warmup, work, gflops, gbs);
        f["calls_per_s"] = static_cast<double>(callers) * 1000.0 / f["p50_ms"].get<double>();
        return f;
      };
      json out = {{"callers", callers}, {"together", figures(*together_ms, w)}, {"one_at_a_time", figures(*alone_ms, alone)}};
      out["speedup"] = out["one_at_a_time"]["p50_ms"].get<double>() / out["together"]["p50_ms"].get<double>();
      return out;
    };
  } else {
    fail(ErrorCode::BadArgument, "unknown scenario '" + spec +
                                     "' (vit-tile, prefill:N, decode[:CTX], pair, pair-ref:N, done, trajectory:B, stream, stream-ref:N, concurrent:N)");
  }
  return sc;
}

}  // namespace

int64_t pair_prompt_images(int64_t ref_num) { return 2 + (ref_num > 0 ? ref_num + 1 : 0); }

int64_t pair_prompt_tokens(int64_t ref_num, int64_t image_tokens) {
  return kPairTextTokens + 2 * image_tokens + (ref_num > 0 ? (ref_num + 1) * (image_tokens + kTextPerExtraImage) : 0);
}

BenchConfigSpec parse_bench_config(const std::string& text) {
  std::vector<std::string> parts;
  size_t pos = 0;
  for (;;) {
    const size_t comma = text.find(',', pos);
    parts.push_back(text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos));
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  const std::string form = "configuration '" + text + "': ";
  if (parts.size() < 2 || parts.size() > 3)
    fail(ErrorCode::BadArgument, form + "write it device,weights[,threads], e.g. cpu,bf16,2 or cpu,int8");
  BenchConfigSpec c;
  c.label = text;
  c.device = parts[0];
  c.weights = parts[1];
  const bool cuda = c.device == "cuda" || (c.device.rfind("cuda:", 0) == 0 && c.device.size() > 5 &&
                                           c.device.find_first_not_of("0123456789", 5) == std::string::npos);
  if (cuda) fail(ErrorCode::CudaUnavailable, form + "device '" + c.device + "' was asked for, but this build of vlac-engine has no CUDA backend");
  if (c.device != "cpu") fail(ErrorCode::BadArgument, form + "device must be cpu, cuda or cuda:N, got '" + c.device + "'");
  if (c.weights != "bf16" && c.weights != "int8") fail(ErrorCode::BadArgument, form + "weights must be bf16 or int8, got '" + c.weights + "'");
  if (parts.size() == 3) {
    const std::string& t = parts[2];
    if (t.empty() || t.size() > 4 || t.find_first_not_of("0123456789") != std::string::npos || std::stoi(t) < 1)
      fail(ErrorCode::BadArgument, form + "threads must be an integer >= 1, got '" + t + "'");
    c.threads = std::stoi(t);
  }
  return c;
}

namespace {

// The peaks a configuration is graded against: the engine's own microbenchmarks (ops/peak.cpp) and,
// where python has torch, torch's; of each kind (compute, memory) the highest, whatever the dtype the
// configuration computes in (the bf16 dot peak grades fp32 configurations too: a stricter bar).
struct Peaks {
  double compute_gflops = 0;
  double memory_gbs = 0;
  double int8_gops = 0;  // the engine's vpdpbusd peak: joins the others for int8 configurations
  json report;
};

// The peaks a configuration is graded against: an int8 one's products run vpdpbusd, so its int8 dot
// peak counts too.
Peaks for_model(Peaks p, const Model& m) {
  if (m.weights().format == WeightFormat::Int8 && p.int8_gops > p.compute_gflops) {
    p.compute_gflops = p.int8_gops;
    p.report["compute"] = {{"gflops", p.int8_gops}, {"source", "engine_int8_dot"}};
  }
  return p;
}

Peaks measure_peaks(int threads, const BenchOptions& o) {
  Peaks p;
  const double fma = ops::measure_fp32_fma_peak_gflops(threads);
  const double bf16_dot = ops::measure_bf16_dot_peak_gflops(threads);
  p.int8_gops = ops::measure_int8_dot_peak_gops(threads);
  const double mem = ops::measure_memory_bandwidth_gbs(threads);
  json torch = json{{"status", "skipped"}};
  if (o.torch_peak) {
    TorchPeakOptions t;
    t.threads = threads;
    t.pythons = o.pythons;
    torch = measure_torch_peaks(t);
  }
  p.compute_gflops = fma;
  p.memory_gbs = mem;
  std::string compute_source = "engine_fp32_fma", memory_source = "engine_memory_read";
  if (bf16_dot > p.compute_gflops) p.compute_gflops = bf16_dot, compute_source = "engine_bf16_dot";
  if (torch["status"] == "measured") {
    const double bf16 = torch["bf16_matmul_gflops"], fp32 = torch["fp32_matmul_gflops"], copy = torch["copy_gbs"];
    if (bf16 > p.compute_gflops) p.compute_gflops = bf16, compute_source = "torch_bf16_matmul";
    if (fp32 > p.compute_gflops) p.compute_gflops = fp32, compute_source = "torch_fp32_matmul";
    if (copy > p.memory_gbs) p.memory_gbs = copy, memory_source = "torch_copy";
  }
  p.report = {{"threads", threads},
              {"fp32_fma_gflops", fma},
              {"bf16_dot_gflops", bf16_dot > 0 ? json(bf16_dot) : json(nullptr)},
              {"int8_dot_gops", p.int8_gops > 0 ? json(p.int8_gops) : json(nullptr)},
              {"memory_gbs", mem},
              {"torch", torch},
              {"compute", {{"gflops", p.compute_gflops}, {"source", compute_source}}},
              {"memory", {{"gbs", p.memory_gbs}, {"source", memory_source}}}};
  return p;
}

// Items per timed iteration and their unit, for the scenarios where a rate means something to a user.
std::pair<double, const char*> throughput_of(const std::string& spec) {
  const std::string name = spec.substr(0, spec.find(':'));
  const double arg = spec.find(':') == std::string::npos ? 0 : std::stod(spec.substr(spec.find(':') + 1));
  if (name == "vit-tile") return {1, "tiles/s"};
  if (name == "prefill") return {arg > 0 ? arg : 700, "tokens/s"};
  if (name == "decode") return {1, "tokens/s"};
  if (name == "trajectory") return {arg > 0 ? arg : 10, "pairs/s"};
  if (name == "concurrent") return {arg > 0 ? arg : 8, "calls/s"};
  if (name == "stream" || name == "stream-ref") return {1, "pushes/s"};
  if (name == "done") return {1, "calls/s"};
  return {1, "pairs/s"};  // pair, pair-ref:N
}

json model_description(const Model& m) {
  const ModelConfig& c = m.config();
  return {{"vision_layers", c.vision.num_layers},
          {"vision_hidden", c.vision.hidden_size},
          {"llm_layers", c.llm.num_layers},
          {"hidden", c.llm.hidden_size},
          {"vocab", c.llm.vocab_size},
          {"image_tokens", m.image_tokens_per_tile()},
          {"weights", weight_format_name(m.weights().format)},
          {"precision", m.weights().bf16_activations ? "bf16" : "fp32"},
          {"weights_bytes", m.checkpoint().weight_bytes()},
          {"resident_weight_bytes", m.resident_weight_bytes()}};
}

// What one configuration's timed iterations of one scenario produced.
struct Record {
  std::vector<Sample> samples;
  uint64_t peak_rss = 0, peak_growth = 0;
  std::vector<float> logits;
};

json nullable(double v) { return v < 0 ? json(nullptr) : json(v); }

json scenario_figures(const Scenario& sc, const Record& rec, const Peaks& peaks, const ResidentHighWater& hwm,
                      const BenchOptions& o, const std::string& file_prefix) {
  std::vector<double> totals;
  Sample mean;
  bool resized = false;
  const double n = static_cast<double>(rec.samples.size());
  mean.resize_ms = 0;
  for (const auto& s : rec.samples) {
    totals.push_back(s.total_ms);
    if (s.resize_ms >= 0) resized = true, mean.resize_ms += s.resize_ms / n;
    mean.encode_ms += s.encode_ms / n;
    mean.prefill_ms += s.prefill_ms / n;
    mean.decode_ms += s.decode_ms / n;
    mean.total_ms += s.total_ms / n;
  }
  if (!resized) mean.resize_ms = -1;
  const double other = mean.total_ms - std::max(0.0, mean.resize_ms) - mean.encode_ms - mean.prefill_ms - mean.decode_ms;
  const double p50 = percentile(totals, 0.5);
  const double floor_ms = sc.work.floor_ms(peaks.compute_gflops, peaks.memory_gbs);
  const auto [items, unit] = throughput_of(sc.name);
  json r = {{"iterations", rec.samples.size()},
            {"p50_ms", p50},
            {"p90_ms", percentile(totals, 0.9)},
            {"p99_ms", percentile(totals, 0.99)},
            {"max_ms", *std::max_element(totals.begin(), totals.end())},
            {"mean_ms", mean.total_ms},
            {"samples_ms", totals},
            {"stages_ms",
             {{"image_decode", nullptr},
              {"resize", nullable(mean.resize_ms)},
              {"encode", mean.encode_ms},
              {"prefill", mean.prefill_ms},
              {"decode", mean.decode_ms},
              {"parse", nullptr},
              {"other", other}}},
            {"throughput", {{"value", items * 1000.0 / p50}, {"unit", unit}}},
            {"peak_rss_bytes", rec.peak_rss},
            {"peak_rss_growth_bytes", hwm.resettable() ? json(rec.peak_growth) : json(nullptr)},
            {"flop", sc.work.flop},
            {"bytes", sc.work.bytes},
            {"gflops", sc.work.flop / (p50 * 1e6)},
            {"gbs", sc.work.bytes / (p50 * 1e6)},
            {"floor_ms", floor_ms},
            {"ratio_to_floor", p50 / floor_ms},
            {"peak_fraction", sc.work.flop / (p50 * 1e6) / peaks.compute_gflops},
            {"bandwidth_fraction", sc.work.bytes / (p50 * 1e6) / peaks.memory_gbs}};
  if (sc.path_figures) r[sc.figures_key] = sc.path_figures(peaks.compute_gflops, peaks.memory_gbs);
  if (!o.logits_dir.empty()) {
    std::string safe = file_prefix + sc.name;
    std::replace(safe.begin(), safe.end(), ':', '-');
    std::replace(safe.begin(), safe.end(), ',', '-');
    if (!rec.logits.empty()) {
      const std::string path = o.logits_dir + "/engine-" + safe + ".f32";
      std::ofstream(path, std::ios::binary)
          .write(reinterpret_cast<const char*>(rec.logits.data()), static_cast<std::streamsize>(rec.logits.size() * sizeof(float)));
      r["logits_file"] = path;
    }
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
  return r;
}

// Puts the op thread pool back to its size at the start of the run, however the run ends.
struct RestoreThreads {
  int threads = num_threads();
  ~RestoreThreads() { set_num_threads(threads); }
};

json run_configurations(const std::vector<BenchConfig>& configs, const BenchOptions& o, bool compare) {
  if (configs.empty()) fail(ErrorCode::BadArgument, "no benchmark configuration given");
  if (o.scenarios.empty()) fail(ErrorCode::BadArgument, "no benchmark scenario given");
  if (o.iterations < 1 && o.seconds <= 0) fail(ErrorCode::BadArgument, "iterations must be >= 1");
  if (o.tick_ms < 0) fail(ErrorCode::BadArgument, "tick_ms must be >= 0");
  RestoreThreads restore;
  struct Run {
    const BenchConfig* config;
    int threads;
    std::vector<Scenario> scenarios;
    std::vector<Record> records;
  };
  std::vector<Run> runs;
  for (const auto& c : configs) {
    if (!c.model) fail(ErrorCode::BadArgument, "benchmark configuration '" + c.label + "' has no model");
    if (c.device != "cpu") fail(ErrorCode::CudaUnavailable, "benchmark configuration '" + c.label + "': device '" + c.device + "' was asked for, but this build of vlac-engine has no CUDA backend");
    Run r{&c, c.threads > 0 ? c.threads : restore.threads, {}, {}};
    for (const auto& s : o.scenarios) r.scenarios.push_back(make_scenario(*c.model, s, o));
    r.records.resize(r.scenarios.size());
    runs.push_back(std::move(r));
  }
  std::map<int, Peaks> peaks;  // by thread count: configurations that share it share the measurement
  for (const auto& r : runs)
    if (!peaks.count(r.threads)) peaks[r.threads] = measure_peaks(r.threads, o);

  ResidentHighWater hwm;
  for (size_t k = 0; k < o.scenarios.size(); ++k) {
    for (auto& r : runs) {
      set_num_threads(r.threads);
      for (int i = 0; i < o.warmup; ++i) r.scenarios[k].run(nullptr);
    }
    const auto start = Clock::now();
    const int total = o.seconds > 0 ? 0 : o.iterations;
    for (int i = 0;; ++i) {
      if (o.seconds > 0 ? (i > 0 && ms_since(start) >= o.seconds * 1000) : i >= o.iterations) break;
      for (auto& r : runs) {
        Scenario& sc = r.scenarios[k];
        Record& rec = r.records[k];
        set_num_threads(r.threads);
        const bool capture = i == 0 && sc.logits_rows && !o.logits_dir.empty();
        const uint64_t before = hwm.reset();
        rec.samples.push_back(sc.run(capture ? &rec.logits : nullptr));
        const uint64_t peak = hwm.peak();
        rec.peak_rss = std::max(rec.peak_rss, peak);
        rec.peak_growth = std::max(rec.peak_growth, peak > before ? peak - before : 0);
      }
      if (o.on_progress) o.on_progress(o.scenarios[k], i + 1, total);
    }
  }

  json report;
  report["schema"] = "vlac-bench-report/1";
  report["engine"] = "vlac-engine";
  report["backend"] = "cpu";
  report["cpu_features"] = cpu_feature_names();
  report["machine"] = machine_description();
  report["binary"] = binary_description();
  json torch_version = nullptr, python = nullptr;
  for (const auto& [threads, p] : peaks)
    if (p.report["torch"]["status"] == "measured") torch_version = p.report["torch"]["torch_version"], python = p.report["torch"]["python"];
  report["versions"] = {{"node", nullptr}, {"sharp", nullptr}, {"torch", torch_version}, {"python", python}};
  report["settings"] = {{"scenarios", o.scenarios},       {"warmup", o.warmup},
                        {"iterations", o.iterations},     {"seconds", o.seconds},
                        {"reply_tokens", o.reply_tokens}, {"decode_context", o.decode_context},
                        {"decode_tokens", o.decode_tokens}, {"no_cache", o.no_cache},
                        {"tick_ms", o.tick_ms},           {"torch_peak", o.torch_peak},
                        {"logits_dir", o.logits_dir.empty() ? json(nullptr) : json(o.logits_dir)}};
  report["memory_method"] = hwm.method();
  auto configuration = [&](size_t index, const Run& r) {
    json scenarios = json::object();
    const std::string prefix = compare ? "c" + std::to_string(index) + "-" : "";
    const Peaks graded = for_model(peaks.at(r.threads), *r.config->model);
    for (size_t k = 0; k < r.scenarios.size(); ++k)
      scenarios[r.scenarios[k].name] = scenario_figures(r.scenarios[k], r.records[k], graded, hwm, o, prefix);
    return json{{"threads", r.threads}, {"peaks", graded.report}, {"model", model_description(*r.config->model)},
                {"scenarios", scenarios}};
  };
  if (!compare) {
    json c = configuration(0, runs[0]);
    for (auto it = c.begin(); it != c.end(); ++it) report[it.key()] = it.value();
    return report;
  }
  json list = json::array();
  report["settings"]["configurations"] = json::array();
  for (size_t i = 0; i < runs.size(); ++i) {
    json c = configuration(i, runs[i]);
    c["label"] = runs[i].config->label;
    c["device"] = runs[i].config->device;
    c["weights"] = c["model"]["weights"];
    report["settings"]["configurations"].push_back(runs[i].config->label);
    list.push_back(c);
  }
  json comparison = json::object();
  for (const auto& name : o.scenarios) {
    const json& a = list.front()["scenarios"][name];
    const json& b = list.back()["scenarios"][name];
    comparison[name] = {{"p50_ratio", b["p50_ms"].get<double>() / a["p50_ms"].get<double>()},
                        {"mean_ratio", b["mean_ms"].get<double>() / a["mean_ms"].get<double>()}};
  }
  report["configurations"] = list;
  report["comparison"] = comparison;
  return report;
}

}  // namespace

json run_benchmark(const Model& m, const BenchOptions& o) {
  BenchConfig c;
  c.model = &m;
  c.threads = num_threads();
  c.label = std::string("cpu,") + weight_format_name(m.weights().format) + "," + std::to_string(c.threads);
  return run_configurations({c}, o, false);
}

json run_benchmark_compare(const std::vector<BenchConfig>& configs, const BenchOptions& o) {
  if (configs.size() < 2) fail(ErrorCode::BadArgument, "a comparison needs two configurations, got " + std::to_string(configs.size()));
  return run_configurations(configs, o, true);
}

}  // namespace vlac
