// vlac_bench_ops: the machine's measured peaks and what the op table achieves against them on the
// model's shapes, for tuning the CPU kernels. Not a test (nothing is asserted); prints one line per
// measurement.
//
//   vlac_bench_ops [--isa reference|avx2|avx512] [--threads N] [--only linear|gemv|attention|int8]
//
// int8: the W8A8 product (ops/int8.h: per-token activation quantization + the int32 GEMM) and the
// W8A16 GEMV against the bf16 product of the same shape, same run, in CPU time.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

#include "common/bf16.h"
#include "common/cpu_features.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "ops/int8.h"
#include "ops/op_table.h"
#include "ops/ops.h"

using namespace vlac;

namespace {

double cpu_seconds(clockid_t clock) {
  timespec ts;
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

enum class Clock { Wall, ProcessCpu };

// Best time of fn over repeats totalling at least `budget` seconds (one warm-up call first): wall
// time, or the process's CPU time (all its threads, spinning included). On a machine shared with
// other processes the wall time shows whatever share of the cores the OS gave us; CPU time shows
// what the cores did while we had them.
double best_seconds(const std::function<void()>& fn, Clock clock, double budget = 0.4) {
  fn();
  double best = 1e30, total = 0;
  int runs = 0;
  while (total < budget || runs < 3) {
    const auto t0 = std::chrono::steady_clock::now();
    const double c0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
    fn();
    const double s = clock == Clock::ProcessCpu
                         ? cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - c0
                         : std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::min(best, s);
    total += s;
    ++runs;
  }
  return best;
}

// Seconds of fn on `threads` threads: wall, and CPU time per thread (process CPU / threads); and
// on one thread, its CPU time.
struct Timing {
  double wall, cpu_per_thread, one_thread_cpu;
};
Timing time_op(const std::function<void()>& fn, int threads) {
  Timing t;
  t.wall = best_seconds(fn, Clock::Wall);
  t.cpu_per_thread = best_seconds(fn, Clock::ProcessCpu) / threads;
  set_num_threads(1);
  t.one_thread_cpu = best_seconds(fn, Clock::ProcessCpu);
  set_num_threads(threads);
  return t;
}

std::vector<float> floats(size_t n, float scale) {
  std::vector<float> v(n);
  uint32_t s = 12345;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = scale * (static_cast<float>(s >> 8) / float(1 << 24) - 0.5f);
  }
  return v;
}

std::vector<uint16_t> weights(size_t n) {
  std::vector<uint16_t> v(n);
  uint32_t s = 777;
  for (auto& x : v) {
    s = s * 1664525u + 1013904223u;
    x = float_to_bf16(0.05f * (static_cast<float>(s >> 8) / float(1 << 24) - 0.5f));
  }
  return v;
}

}  // namespace

int run(int argc, char** argv) {
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--isa" && i + 1 < argc) {
      ops::set_active_isa(ops::isa_from_name(argv[++i]));
    } else if (a == "--threads" && i + 1 < argc) {
      set_num_threads(std::atoi(argv[++i]));
    } else if (a == "--only" && i + 1 < argc) {
      only = argv[++i];
    } else {
      std::fprintf(stderr, "usage: vlac_bench_ops [--isa reference|avx2|avx512] [--threads N] [--only linear|gemv|attention|int8]\n");
      return 2;
    }
  }
  const int threads = num_threads();
  std::string flags;
  for (const auto& f : cpu_feature_names()) flags += " " + f;
  std::printf("cpu flags:%s\nisa: %s, threads: %d\n", flags.c_str(), ops::isa_name(ops::active_isa()), threads);
  const double peak1 = ops::measure_fp32_fma_peak_gflops(1);
  const double peak = ops::measure_fp32_fma_peak_gflops(threads);
  const double bw = ops::measure_memory_bandwidth_gbs(threads);
  std::printf("peak fp32 FMA: %.1f GFLOP/s on %d threads (%.1f on 1)\n", peak, threads, peak1);
  std::printf("memory read bandwidth: %.1f GB/s on %d threads\n", bw, threads);
  std::printf("peak bf16 dot (vdpbf16ps): %.1f GFLOP/s on %d threads (0: none here)\n",
              ops::measure_bf16_dot_peak_gflops(threads), threads);

  struct Shape { const char* what; int64_t M, K, N; };
  if (only.empty() || only == "linear") {
    const Shape shapes[] = {
        {"vit qkv", 1025, 1024, 3072},   {"vit proj", 1025, 1024, 1024}, {"vit fc1", 1025, 1024, 4096},
        {"vit fc2", 1025, 4096, 1024},   {"llm wqkv", 700, 2048, 4096},  {"llm wo", 700, 2048, 2048},
        {"llm w1|w3", 700, 2048, 8192},  {"llm w2", 700, 8192, 2048},    {"llm wqkv M=256", 256, 2048, 4096},
        {"llm wqkv M=64", 64, 2048, 4096}, {"llm wqkv M=8", 8, 2048, 4096},
    };
    for (bool bf16 : {false, true})
    for (const Shape& s : shapes) {
      const auto x = floats(s.M * s.K, 2.0f);
      const auto w = weights(s.N * s.K);
      std::vector<float> y(s.M * s.N);
      const auto fn = bf16 ? ops::linear_bf16 : ops::linear;
      const Timing t = time_op([&] { fn(x.data(), s.M, s.K, w.data(), s.N, nullptr, y.data()); }, threads);
      const double flop = 2.0 * s.M * s.K * s.N;
      std::printf("%-11s %-15s M=%-5lld K=%-5lld N=%-6lld %d threads: wall %7.2f ms %6.1f GFLOP/s %5.1f%%,"
                  " cpu time %6.1f GFLOP/s %5.1f%% | 1 thread cpu time %6.1f GFLOP/s %5.1f%%\n",
                  bf16 ? "linear_bf16" : "linear", s.what, (long long)s.M, (long long)s.K, (long long)s.N, threads, t.wall * 1e3, flop / t.wall / 1e9,
                  100 * flop / t.wall / 1e9 / peak, flop / t.cpu_per_thread / 1e9, 100 * flop / t.cpu_per_thread / 1e9 / peak,
                  flop / t.one_thread_cpu / 1e9, 100 * flop / t.one_thread_cpu / 1e9 / peak1);
    }
  }
  if (only.empty() || only == "gemv") {
    const Shape shapes[] = {{"llm wqkv", 1, 2048, 4096}, {"llm wo", 1, 2048, 2048}, {"llm w1|w3", 1, 2048, 8192},
                            {"llm w2", 1, 8192, 2048},   {"llm head", 1, 2048, 92553}};
    for (const Shape& s : shapes) {
      const auto x = floats(s.K, 2.0f);
      const auto w = weights(s.N * s.K);
      std::vector<float> y(s.N);
      const double sec = best_seconds([&] { ops::linear(x.data(), 1, s.K, w.data(), s.N, nullptr, y.data()); }, Clock::Wall);
      const double gbs = 2.0 * s.K * s.N / sec / 1e9;
      std::printf("gemv   %-15s K=%-5lld N=%-6lld %8.3f ms %7.1f GB/s  %5.1f%% of bandwidth%s\n", s.what, (long long)s.K,
                  (long long)s.N, sec * 1e3, gbs, 100 * gbs / bw,
                  2.0 * s.K * s.N < 32e6 ? " (fits the L3: may exceed DRAM)" : "");
    }
  }
  if (only.empty() || only == "attention") {
    struct Attn { const char* what; int64_t Tq, Tk, qh, kvh, hd; bool causal; };
    const Attn cases[] = {{"vit", 1025, 1025, 16, 16, 64, false},
                          {"llm prefill", 700, 700, 16, 8, 128, true},
                          {"llm decode", 1, 700, 16, 8, 128, true}};
    for (const Attn& c : cases) {
      const auto q = floats(c.Tq * c.qh * c.hd, 2.0f);
      const auto k = floats(c.Tk * c.kvh * c.hd, 2.0f);
      const auto v = floats(c.Tk * c.kvh * c.hd, 2.0f);
      std::vector<float> out(c.Tq * c.qh * c.hd);
      const int64_t q_pos0 = c.causal ? c.Tk - c.Tq : 0;
      const Timing t = time_op([&] {
        ops::attention(q.data(), c.qh * c.hd, k.data(), v.data(), c.kvh * c.hd, c.Tq, c.Tk, c.qh, c.kvh, c.hd,
                       1.0f / std::sqrt(float(c.hd)), c.causal, q_pos0, out.data());
      }, threads);
      // q·k and p·v: 2 · 2 · hd FLOP per visible (query, key) pair and head
      double pairs = 0;
      for (int64_t i = 0; i < c.Tq; ++i) pairs += c.causal ? std::min(c.Tk, q_pos0 + i + 1) : c.Tk;
      const double flop = 4.0 * c.hd * pairs * c.qh;
      std::printf("attention %-12s Tq=%-5lld Tk=%-5lld heads=%lld/%lld hd=%-4lld %d threads: wall %7.3f ms %6.1f GFLOP/s"
                  " %5.1f%%, cpu time %6.1f GFLOP/s %5.1f%% | 1 thread cpu time %6.1f GFLOP/s %5.1f%%\n",
                  c.what, (long long)c.Tq, (long long)c.Tk, (long long)c.qh, (long long)c.kvh, (long long)c.hd, threads,
                  t.wall * 1e3, flop / t.wall / 1e9, 100 * flop / t.wall / 1e9 / peak, flop / t.cpu_per_thread / 1e9,
                  100 * flop / t.cpu_per_thread / 1e9 / peak, flop / t.one_thread_cpu / 1e9,
                  100 * flop / t.one_thread_cpu / 1e9 / peak1);
    }
  }
  if (only.empty() || only == "int8") {
    std::printf("int8 kernels: %s\n", ops::active_int8_kernels().name);
    const Shape shapes[] = {
        {"vit qkv", 1025, 1024, 3072},   {"vit proj", 1025, 1024, 1024}, {"vit fc1", 1025, 1024, 4096},
        {"vit fc2", 1025, 4096, 1024},   {"llm wqkv", 700, 2048, 4096},  {"llm wo", 700, 2048, 2048},
        {"llm w1|w3", 700, 2048, 8192},  {"llm w2", 700, 8192, 2048},    {"llm wqkv M=64", 64, 2048, 4096},
    };
    for (const Shape& s : shapes) {
      const auto x = floats(s.M * s.K, 2.0f);
      const auto w = weights(s.N * s.K);
      const ops::QuantizedWeight q = ops::quantize_weight_bf16(w.data(), s.N, s.K);
      std::vector<float> y(s.M * s.N);
      const double flop = 2.0 * s.M * s.K * s.N;
      const double bf16 =
          best_seconds([&] { ops::linear(x.data(), s.M, s.K, w.data(), s.N, nullptr, y.data()); }, Clock::ProcessCpu) /
          threads;
      const double w8a8 =
          best_seconds([&] { ops::linear_w8a8(x.data(), s.M, q.view(), nullptr, y.data()); }, Clock::ProcessCpu) / threads;
      const ops::Int8Kernels& k = ops::active_int8_kernels();
      const int64_t ldq = 4 * q.view().k4();
      std::vector<uint8_t> codes(s.M * ldq);
      std::vector<float> xs(s.M);
      const double quant = best_seconds([&] { k.quantize_rows(x.data(), s.M, s.K, nullptr, 0, ldq, codes.data(), xs.data()); },
                                        Clock::ProcessCpu) / threads;
      std::printf("int8   %-15s M=%-5lld K=%-5lld N=%-6lld %d threads, cpu time: bf16 %7.2f ms %6.1f GFLOP/s | W8A8 %7.2f ms"
                  " %6.1f GOP/s (quantize pass %5.2f ms) | W8A8 / bf16 %.2f\n",
                  s.what, (long long)s.M, (long long)s.K, (long long)s.N, threads, bf16 * 1e3, flop / bf16 / 1e9,
                  w8a8 * 1e3, flop / w8a8 / 1e9, quant * 1e3, w8a8 / bf16);
    }
    {  // the cost of outlier columns at their cap (K / 32 columns kept fp32)
      const Shape s{"llm w1|w3", 700, 2048, 8192};
      const auto x = floats(s.M * s.K, 2.0f);
      auto w = weights(s.N * s.K);
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t k = 0; k < s.K; k += 32) w[n * s.K + k] = float_to_bf16(50.0f * bf16_to_float(w[n * s.K + k]));
      const ops::QuantizedWeight q = ops::quantize_weight_bf16(w.data(), s.N, s.K);
      const ops::QuantizedWeight plain = ops::quantize_weight_bf16(weights(s.N * s.K).data(), s.N, s.K);
      std::vector<float> y(s.M * s.N);
      const double with =
          best_seconds([&] { ops::linear_w8a8(x.data(), s.M, q.view(), nullptr, y.data()); }, Clock::ProcessCpu) / threads;
      const double without =
          best_seconds([&] { ops::linear_w8a8(x.data(), s.M, plain.view(), nullptr, y.data()); }, Clock::ProcessCpu) / threads;
      std::printf("int8   %-15s M=%-5lld K=%-5lld N=%-6lld %d threads, cpu time: W8A8 with %zu outlier columns %7.2f ms,"
                  " without %7.2f ms\n", s.what, (long long)s.M, (long long)s.K, (long long)s.N, threads,
                  q.outlier_columns().size(), with * 1e3, without * 1e3);
    }
    const Shape gemv[] = {{"llm wqkv", 1, 2048, 4096}, {"llm w1|w3", 1, 2048, 8192}, {"llm w2", 1, 8192, 2048},
                          {"llm head", 1, 2048, 92553}};
    for (const Shape& s : gemv) {
      const auto x = floats(s.K, 2.0f);
      const auto w = weights(s.N * s.K);
      const ops::QuantizedWeight q = ops::quantize_weight_bf16(w.data(), s.N, s.K);
      std::vector<float> y(s.N);
      const double bf16 = best_seconds([&] { ops::linear(x.data(), 1, s.K, w.data(), s.N, nullptr, y.data()); }, Clock::Wall);
      const double w8a16 = best_seconds([&] { ops::linear_w8a16(x.data(), 1, q.view(), nullptr, y.data()); }, Clock::Wall);
      std::printf("int8   gemv %-10s K=%-5lld N=%-6lld wall: bf16 %7.3f ms | W8A16 %7.3f ms | W8A16 / bf16 %.2f\n", s.what,
                  (long long)s.K, (long long)s.N, bf16 * 1e3, w8a16 * 1e3, w8a16 / bf16);
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const Error& e) {
    std::fprintf(stderr, "vlac_bench_ops: %s: %s\n", error_code_name(e.code()), e.what());
    return 1;
  }
}
