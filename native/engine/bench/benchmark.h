// The one benchmark implementation of the project (issue 21): the C++ CLI (`vlac_cli bench`) and
// `npx vlac bench` both run these scenarios and write the same JSON. Every figure is reported with
// its work (FLOP, bytes), the achieved rate, and the ratio to the machine's peaks measured in the
// same run; the floor of a scenario is max(FLOP / peak FLOP/s, bytes / peak bandwidth).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/json.h"

namespace vlac {

class Model;

struct BenchOptions {
  std::vector<std::string> scenarios;  // vit-tile, prefill:N, decode, pair, pair-ref:N, done, trajectory:B, stream, stream-ref:N
  int warmup = 1;
  int iterations = 5;
  double seconds = 0;                   // > 0: iterate until this much time has passed (at least 1 iteration)
  int reply_tokens = 3;                 // pair/done replies: random weights never stop
  int decode_context = 700;             // the context `decode` runs at
  int decode_tokens = 16;               // tokens timed per decode iteration
  std::string logits_dir;               // when set, last-position logits of each scenario are written here (f32 raw)
  bool no_cache = false;                // stream and stream-ref:N without the frame and prefix caches: the uncached baseline
  std::function<void(const std::string& scenario, int done, int total)> on_progress;
};

// Token counts of the VLAC prompts (vlac-behavior.md; the figures the project's anchors use): a pair
// critic without reference is 655 tokens with 2 images; each further image (reference frames and the
// trajectory's first frame) adds its 256 image tokens and ~12 tokens of text.
int64_t pair_prompt_tokens(int64_t ref_num, int64_t image_tokens);
int64_t pair_prompt_images(int64_t ref_num);

// Runs the scenarios on `model` and returns the report:
// { "engine": "vlac-engine", "threads", "cpu_features", "peaks": { "fp32_fma_gflops", "memory_gbs" },
//   "model": {...}, "scenarios": { name: { "iterations", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "samples_ms",
//   "stages_ms": { "encode", "prefill", "decode" }, "flop", "bytes", "gflops", "gbs",
//   "floor_ms", "ratio_to_floor", "peak_fraction", "logits_file"? } } }
json run_benchmark(const Model& model, const BenchOptions& options);

}  // namespace vlac
