// The benchmark core (native/engine/bench) on tiny-a: configurations, the interleaved comparison,
// the stage split, memory, and the torch peaks when python or torch is missing or hangs. Timings are
// never asserted (benchmarks are not timed tests); only the report's structure and arithmetic.
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <string>

#include "bench/benchmark.h"
#include "bench/table.h"
#include "bench/torch_peaks.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "runtime/model.h"
#include "support/fixtures.h"

using namespace vlac;

namespace {

ErrorCode code_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("no vlac::Error thrown");
  return ErrorCode::Internal;
}

BenchOptions tiny_options(std::vector<std::string> scenarios) {
  BenchOptions o;
  o.scenarios = std::move(scenarios);
  o.warmup = 0;
  o.iterations = 2;
  o.decode_tokens = 2;
  o.torch_peak = false;
  return o;
}

// The stages the native core measures add up to the mean of the totals ("other" is the rest).
void check_stages_add_up(const json& s, const std::string& name) {
  const json& st = s["stages_ms"];
  CHECK_MESSAGE(st["image_decode"].is_null(), name);
  CHECK_MESSAGE(st["parse"].is_null(), name);
  double sum = 0;
  for (const char* k : {"resize", "encode", "prefill", "decode", "other"})
    if (!st[k].is_null()) sum += st[k].get<double>();
  // The sum of the means of the parts and the mean of the totals differ only by rounding.
  CHECK_MESSAGE(std::abs(sum - s["mean_ms"].get<double>()) <= 1e-9 * std::max(1.0, s["mean_ms"].get<double>()), name);
}

}  // namespace

TEST_CASE("a configuration is written device,weights[,threads], and cuda is unavailable in this build") {
  const BenchConfigSpec a = parse_bench_config("cpu,int8,2");
  CHECK(a.device == "cpu");
  CHECK(a.weights == "int8");
  CHECK(a.threads == 2);
  CHECK(a.label == "cpu,int8,2");
  CHECK(parse_bench_config("cpu,bf16").threads == 0);
  CHECK(code_of([] { parse_bench_config("cuda:1,bf16"); }) == ErrorCode::CudaUnavailable);
  CHECK(code_of([] { parse_bench_config("cuda,int8,2"); }) == ErrorCode::CudaUnavailable);
  CHECK(code_of([] { parse_bench_config("cpu"); }) == ErrorCode::BadArgument);
  CHECK(code_of([] { parse_bench_config("cpu,fp8"); }) == ErrorCode::BadArgument);
  CHECK(code_of([] { parse_bench_config("cpu,bf16,0"); }) == ErrorCode::BadArgument);
  CHECK(code_of([] { parse_bench_config("cpu,bf16,two"); }) == ErrorCode::BadArgument);
  CHECK(code_of([] { parse_bench_config("tpu,bf16"); }) == ErrorCode::BadArgument);
}

TEST_CASE("two thread counts run interleaved in one report with both figures and their ratio") {
  ModelOptions mo;
  mo.max_context = 1024;
  auto model = Model::load(test::fixture_path("tiny-a"), mo);
  set_num_threads(2);
  BenchConfig one{model.get(), 1, "cpu,bf16,1"}, two{model.get(), 2, "cpu,bf16,2"};
  std::vector<std::string> seen;
  BenchOptions o = tiny_options({"vit-tile", "pair", "decode:32"});
  o.on_progress = [&](const std::string& name, int, int) { seen.push_back(name); };
  const json r = run_benchmark_compare({one, two}, o);
  // One progress step per round of both configurations.
  CHECK(seen == std::vector<std::string>{"vit-tile", "vit-tile", "pair", "pair", "decode:32", "decode:32"});
  CHECK(num_threads() == 2);  // the pool is back to its size
  REQUIRE(r["configurations"].size() == 2);
  CHECK(r["configurations"][0]["threads"] == 1);
  CHECK(r["configurations"][1]["threads"] == 2);
  CHECK(r["configurations"][0]["peaks"]["threads"] == 1);
  CHECK(r["configurations"][1]["label"] == "cpu,bf16,2");
  CHECK(r["configurations"][1]["weights"] == "bf16");
  CHECK(r["settings"]["configurations"] == json::array({"cpu,bf16,1", "cpu,bf16,2"}));
  CHECK_FALSE(r.contains("scenarios"));
  for (const auto& name : {"vit-tile", "pair", "decode:32"}) {
    const json& a = r["configurations"][0]["scenarios"][name];
    const json& b = r["configurations"][1]["scenarios"][name];
    CHECK(a["iterations"] == 2);
    CHECK(b["iterations"] == 2);
    check_stages_add_up(a, name);
    check_stages_add_up(b, name);
    CHECK(r["comparison"][name]["p50_ratio"].get<double>() == doctest::Approx(b["p50_ms"].get<double>() / a["p50_ms"].get<double>()));
    CHECK(r["comparison"][name]["mean_ratio"].get<double>() == doctest::Approx(b["mean_ms"].get<double>() / a["mean_ms"].get<double>()));
  }
  // The pair scenario resizes camera frames; vit-tile gets a tile.
  CHECK(r["configurations"][0]["scenarios"]["pair"]["stages_ms"]["resize"].get<double>() > 0);
  CHECK(r["configurations"][0]["scenarios"]["vit-tile"]["stages_ms"]["resize"].is_null());
  const std::string table = format_bench_table(r);
  CHECK(table.find("cpu,bf16,1") != std::string::npos);
  CHECK(table.find("p50 ratio") != std::string::npos);
}

TEST_CASE("a single run reports peak memory, the resident weights, throughput and the peak it was graded against") {
  ModelOptions mo;
  mo.max_context = 1024;
  auto model = Model::load(test::fixture_path("tiny-a"), mo);
  const json r = run_benchmark(*model, tiny_options({"prefill:64", "trajectory:2"}));
  CHECK(r["model"]["resident_weight_bytes"].get<uint64_t>() > 0);
  CHECK(r["model"]["weights"] == "bf16");
  const json& p = r["peaks"];
  CHECK(p["torch"]["status"] == "skipped");
  // Without torch the compute peak is the higher of the engine's fp32 FMA and bf16 dot peaks.
  const bool bf16_higher = p["bf16_dot_gflops"].is_number() && p["bf16_dot_gflops"] > p["fp32_fma_gflops"];
  CHECK(p["compute"]["source"] == (bf16_higher ? "engine_bf16_dot" : "engine_fp32_fma"));
  CHECK(p["compute"]["gflops"] == (bf16_higher ? p["bf16_dot_gflops"] : p["fp32_fma_gflops"]));
  CHECK(p["memory"]["gbs"] == p["memory_gbs"]);
  for (const auto& name : {"prefill:64", "trajectory:2"}) {
    const json& s = r["scenarios"][name];
    check_stages_add_up(s, name);
    CHECK(s["peak_rss_bytes"].get<uint64_t>() > 0);
    CHECK(s["throughput"]["value"].get<double>() > 0);
  }
  CHECK(r["scenarios"]["prefill:64"]["throughput"]["unit"] == "tokens/s");
  // trajectory:2 scores two pairs per call
  CHECK(r["scenarios"]["trajectory:2"]["throughput"]["value"].get<double>() ==
        doctest::Approx(2000.0 / r["scenarios"]["trajectory:2"]["p50_ms"].get<double>()));
  CHECK(r["settings"]["scenarios"] == json::array({"prefill:64", "trajectory:2"}));
  CHECK(r["machine"]["physical_cores"].get<int>() >= 1);
  CHECK(r["binary"]["isa"].is_string());
}

TEST_CASE("torch peaks without python or torch are reported as absent, a hanging python as failed") {
  TorchPeakOptions o;
  o.pythons = {"/nonexistent/python3"};
  const json absent = measure_torch_peaks(o);
  CHECK(absent["status"] == "absent");
  REQUIRE(absent["tried"].size() == 1);
  CHECK(absent["tried"][0]["python"] == "/nonexistent/python3");

  // An "interpreter" that never answers: killed at the timeout.
  char dir[] = "/tmp/vlac-bench-XXXXXX";
  REQUIRE(mkdtemp(dir) != nullptr);
  const std::string hang = std::string(dir) + "/python3";
  std::ofstream(hang) << "#!/bin/sh\nexec sleep 30\n";
  chmod(hang.c_str(), 0755);
  o.pythons = {hang};
  o.timeout_s = 0.3;
  const json failed = measure_torch_peaks(o);
  CHECK(failed["status"] == "failed");
  CHECK(failed["message"].get<std::string>().find("timed out") != std::string::npos);
  unlink(hang.c_str());
  rmdir(dir);
}
