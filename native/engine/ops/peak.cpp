// The machine peaks the benchmarks compare against: fp32 FMA and bf16 dot throughput (registers only) and
// DRAM read bandwidth, each timed over every requested thread at once, best of a few runs.
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/error.h"
#include "ops/int8.h"
#include "ops/op_table.h"
#include "ops/ops.h"

namespace vlac::ops {
namespace {

using Clock = std::chrono::steady_clock;

// Starts `threads` threads together (spinning on one flag) and returns the seconds until the last
// one finished body(thread_index).
double time_on_threads(int threads, const std::function<void(int)>& body) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> pool;
  Clock::time_point start;
  for (int t = 1; t < threads; ++t)
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      body(t);
    });
  while (ready.load() != threads - 1) std::this_thread::yield();
  start = Clock::now();
  go.store(true, std::memory_order_release);
  body(0);
  for (auto& th : pool) th.join();
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check_threads(int threads, const char* what) {
  if (threads < 1) fail(ErrorCode::BadArgument, std::string(what) + ": threads must be >= 1, got " + std::to_string(threads));
}

constexpr int kRuns = 3;

}  // namespace

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

namespace {

// The rate of each thread is measured on its own CPU time, so a machine shared with other
// processes still yields what the cores can do when the engine has them (the wall-clock rate of a
// loaded machine would be a fraction of it, and a GEMM timed in a quiet moment would then show
// more than 100 %).
double measure_loop_peak_gflops(FmaLoopFn loop, int threads) {
  // Size the loop to ~0.1 s of CPU time per thread.
  int64_t iters = 1 << 16;
  for (;;) {
    const double t0 = thread_cpu_seconds();
    loop(iters);
    const double s = thread_cpu_seconds() - t0;
    if (s > 0.01) {
      iters = static_cast<int64_t>(static_cast<double>(iters) * (0.1 / s));
      break;
    }
    iters *= 4;
  }
  double best = 0;
  for (int run = 0; run < kRuns; ++run) {
    std::vector<double> rate(threads);
    time_on_threads(threads, [&](int t) {
      const double t0 = thread_cpu_seconds();
      const double flop = loop(iters);
      rate[t] = flop / (thread_cpu_seconds() - t0);
    });
    double total = 0;
    for (double r : rate) total += r;
    best = std::max(best, total / 1e9);
  }
  return best;
}

}  // namespace

double measure_fp32_fma_peak_gflops(int threads) {
  check_threads(threads, "measure_fp32_fma_peak_gflops");
  return measure_loop_peak_gflops(active_op_table().fma_loop, threads);
}

double measure_bf16_dot_peak_gflops(int threads) {
  check_threads(threads, "measure_bf16_dot_peak_gflops");
  const FmaLoopFn loop = active_op_table().bf16_dot_loop;
  return loop ? measure_loop_peak_gflops(loop, threads) : 0.0;
}

double measure_int8_dot_peak_gops(int threads) {
  check_threads(threads, "measure_int8_dot_peak_gops");
  const FmaLoopFn loop = active_int8_kernels().dot_loop;
  return loop ? measure_loop_peak_gflops(loop, threads) : 0.0;
}

double measure_memory_bandwidth_gbs(int threads) {
  check_threads(threads, "measure_memory_bandwidth_gbs");
  // 16x a 32 MiB last-level cache: what is read comes from DRAM.
  constexpr size_t kBytes = size_t{512} << 20;
  const size_t words = kBytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t[]> buffer(new uint64_t[words]);
  std::memset(buffer.get(), 1, kBytes);  // fault every page in before timing
  std::vector<uint64_t> sink(threads);
  double best = 0;
  for (int run = 0; run < kRuns; ++run) {
    double s = time_on_threads(threads, [&](int t) {
      const uint64_t* p = buffer.get() + words * t / threads;
      const size_t n = words * (t + 1) / threads - words * t / threads;
      uint64_t acc0 = 0, acc1 = 0, acc2 = 0, acc3 = 0;
      for (size_t i = 0; i + 4 <= n; i += 4) {
        acc0 ^= p[i];
        acc1 ^= p[i + 1];
        acc2 ^= p[i + 2];
        acc3 ^= p[i + 3];
      }
      sink[t] = acc0 ^ acc1 ^ acc2 ^ acc3;
    });
    best = std::max(best, static_cast<double>(kBytes) / s / 1e9);
  }
  volatile uint64_t keep = 0;
  for (uint64_t v : sink) keep = keep ^ v;
  return best;
}

}  // namespace vlac::ops
