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
  double tick_ms = 0;                   // stream, stream-ref:N: > 0 paces the pushes one control tick apart
  bool torch_peak = true;               // also measure torch's peaks (bench/torch_peaks.h) and grade against the higher
  std::vector<std::string> pythons{"python3", "/usr/bin/python3"};  // interpreters tried for the torch peaks
  std::function<void(const std::string& scenario, int done, int total)> on_progress;
};

// One configuration of a run: a loaded model and the op thread count its calls run with (the pool
// is resized to it around each of its timed calls; common/thread_pool.h).
struct BenchConfig {
  const Model* model = nullptr;
  int threads = 0;      // 0: the thread count at the start of the run
  std::string label;    // as written on the command line, e.g. "cpu,bf16,2"
  std::string device = "cpu";
};

// A configuration as written on the command line: "device,weights[,threads]" (e.g. "cpu,int8,2").
// weights: bf16 | int8; threads >= 1 or absent (0). A device other than cpu is CudaUnavailable
// (this build has no CUDA backend); any other malformed part is BadArgument.
struct BenchConfigSpec {
  std::string label;
  std::string device;
  std::string weights;
  int threads = 0;
};
BenchConfigSpec parse_bench_config(const std::string& text);

// Token counts of the VLAC prompts (vlac-behavior.md; the figures the project's anchors use): a pair
// critic without reference is 655 tokens with 2 images; each further image (reference frames and the
// trajectory's first frame) adds its 256 image tokens and ~12 tokens of text.
int64_t pair_prompt_tokens(int64_t ref_num, int64_t image_tokens);
int64_t pair_prompt_images(int64_t ref_num);

// Runs the scenarios on `model` and returns the report; docs/bench-schema.json is its schema:
// { "schema", "engine", "backend", "threads", "cpu_features", "machine", "binary", "versions",
//   "settings", "memory_method", "peaks": { "threads", "fp32_fma_gflops", "memory_gbs", "torch",
//   "compute": { "gflops", "source" }, "memory": { "gbs", "source" } }, "model": {...},
//   "scenarios": { name: { "iterations", "p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "samples_ms",
//   "stages_ms": { "image_decode", "resize", "encode", "prefill", "decode", "parse", "other" },
//   "throughput", "peak_rss_bytes", "peak_rss_growth_bytes", "flop", "bytes", "gflops", "gbs",
//   "floor_ms", "ratio_to_floor", "peak_fraction", "bandwidth_fraction", "logits_file"? } } }
// A stage the native core does not run is null (image_decode and parse: the TS front end's);
// "other" is the rest of the iteration, so the stages add up to mean_ms.
json run_benchmark(const Model& model, const BenchOptions& options);

// The same scenarios on every configuration, interleaved: the warm-ups of all first, then one
// timed iteration of each configuration in turn (A, B, A, B, ...), so that the load of a shared
// machine falls on all of them alike. The report has the common parts of run_benchmark's,
// "configurations": [ { "label", "device", "weights", "threads", "peaks", "model", "scenarios" } ]
// and "comparison": { scenario: { "p50_ratio", "mean_ratio" } } (the last configuration over the
// first).
json run_benchmark_compare(const std::vector<BenchConfig>& configs, const BenchOptions& options);

}  // namespace vlac
