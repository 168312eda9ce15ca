// vlac_cuda_bench: the CUDA int8 kernels (ops/cuda/vlac_cuda.h) timed at VLAC-2B's Linear shapes.
// Decode (M = 1): W8A16 vs the bf16 GEMV of the same structure, and their ratio (the target:
// int8 decode <= 0.6x bf16). Prefill (M = 700, LLM) and a ViT tile batch (M = 1025): quantize_rows and
// the W8A8 product, in TOP/s. Decode weights are copies totalling > 256 MiB, so that they stream from
// device memory, not from L2 (an H200's is 60 MiB). Prints a table; --json FILE also
// writes the figures for scripts/gpu-check.sh. Asserts nothing; exits 77 with no device.
//
//   vlac_cuda_bench [--json FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "ops/cuda/vlac_cuda.h"

namespace {

struct Shape {
  const char* name;
  int64_t M, N, K;
};

// InternLM2-1.8B: hidden 2048, 16 heads + 2 x 8 kv heads of 128 (wqkv 2048 -> 4096), MLP 8192;
// InternViT-300M: hidden 1024, MLP 4096 (qkv 1024 -> 3072).
const Shape kDecode[] = {{"llm.wqkv", 1, 4096, 2048}, {"llm.wo", 1, 2048, 2048}, {"llm.w1/w3", 1, 8192, 2048},
                         {"llm.w2", 1, 2048, 8192}};
const Shape kPrefill[] = {{"llm.wqkv", 700, 4096, 2048}, {"llm.wo", 700, 2048, 2048}, {"llm.w1/w3", 700, 8192, 2048},
                          {"llm.w2", 700, 2048, 8192},   {"vit.qkv", 1025, 3072, 1024}, {"vit.fc1", 1025, 4096, 1024},
                          {"vit.fc2", 1025, 1024, 4096}};

void check(int error, const char* what) {
  if (error == 0) return;
  std::fprintf(stderr, "vlac_cuda_bench: %s: %s (cudaError %d)\n", what, vlac_cuda_error_string(error), error);
  std::exit(1);
}

// Finite floats in [lo, hi) (x, scales), and random codes in [-127, 127].
void* device_floats(size_t n, float lo, float hi) {
  std::vector<float> host(n);
  uint32_t s = 12345;
  for (auto& v : host) {
    s = s * 1664525u + 1013904223u;
    v = lo + (hi - lo) * static_cast<float>(s >> 8) / float(1 << 24);
  }
  void* p = nullptr;
  check(vlac_cuda_malloc(&p, n * 4), "cudaMalloc");
  check(vlac_cuda_copy_to_device(p, host.data(), n * 4), "copy");
  return p;
}

void* device_codes(size_t n, uint32_t seed) {
  std::vector<int8_t> host(n);
  uint32_t s = seed;
  for (auto& c : host) {
    s = s * 1664525u + 1013904223u;
    c = static_cast<int8_t>(static_cast<int>(s >> 24) % 255 - 127);
  }
  void* p = nullptr;
  check(vlac_cuda_malloc(&p, n), "cudaMalloc");
  check(vlac_cuda_copy_to_device(p, host.data(), n), "copy");
  return p;
}

// Mean of back-to-back calls after a warm-up, as many as fill >= 50 ms: microseconds per call.
double time_us(const std::function<void(int)>& call) {
  for (int i = 0; i < 5; ++i) call(i);
  check(vlac_cuda_synchronize(), "warm-up");
  int iters = 10;
  for (;;) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) call(i);
    check(vlac_cuda_synchronize(), "timed calls");
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (s >= 0.05 || iters >= 100000) return s / iters * 1e6;
    iters *= 4;
  }
}

}  // namespace

int main(int argc, char** argv) {
  const char* json_path = argc == 3 && std::strcmp(argv[1], "--json") == 0 ? argv[2] : nullptr;
  int count = 0;
  const int e = vlac_cuda_device_count(&count);
  if (e != 0 || count == 0) {
    std::printf("SKIPPED: no CUDA device: %s\n", e ? vlac_cuda_error_string(e) : "none found");
    return 77;
  }
  vlac_cuda_device_info info;
  check(vlac_cuda_device_info_get(0, &info), "device info");
  std::printf("device: %s (cc %d.%d, %d SMs)\n", info.name, info.cc_major, info.cc_minor, info.multiprocessors);
  std::string json = "{\"device\": \"" + std::string(info.name) + "\", \"decode\": [";

  // Per launch: one layer's weight per call, cycling over the copies (what a decode step does, launch
  // cost included: a 4 MiB GEMV is ~1 us of streaming at 4 TB/s, launches cost microseconds too).
  // One launch: all copies as one [copies · N, K] weight: the kernel's streaming rate alone.
  std::printf("\ndecode, M = 1         per launch: int8 us  bf16 us  int8/bf16 | one launch over all copies: int8 GB/s  bf16 GB/s  int8/bf16\n");
  bool first = true;
  for (const Shape& s : kDecode) {
    const int64_t ld8 = vlac_cuda_codes_ld(s.K), ld16 = vlac_cuda_bf16_ld(s.K);
    const size_t q_bytes = s.N * ld8, b_bytes = s.N * ld16 * 2;
    const int copies = static_cast<int>(std::min<size_t>(64, (256u << 20) / q_bytes + 1));
    // the GEMVs' speed does not depend on the weights' values: a constant byte (code 17, bf16 0.74)
    void *q = nullptr, *wb = nullptr;
    check(vlac_cuda_malloc(&q, q_bytes * copies), "cudaMalloc");
    check(vlac_cuda_malloc(&wb, b_bytes * copies), "cudaMalloc");
    check(vlac_cuda_memset(q, 0x11, q_bytes * copies), "memset");
    check(vlac_cuda_memset(wb, 0x3f, b_bytes * copies), "memset");
    float* scale = static_cast<float*>(device_floats(s.N * copies, 1e-3f, 2e-2f));
    float* x = static_cast<float*>(device_floats(s.M * s.K, -1.0f, 1.0f));
    float* y = static_cast<float*>(device_floats(s.M * s.N * copies, 0.0f, 0.0f));
    const auto int8_weight = [&](int c, int64_t rows) {
      return vlac_cuda_int8_weight{static_cast<int8_t*>(q) + c * q_bytes, scale + c * s.N, rows, s.K, nullptr, nullptr, 0};
    };
    const auto bf16_rows = [&](int c) { return static_cast<uint16_t*>(wb) + c * (b_bytes / 2); };
    const double t8 = time_us([&](int i) {
      const vlac_cuda_int8_weight w = int8_weight(i % copies, s.N);
      check(vlac_cuda_linear_w8a16(x, s.M, &w, nullptr, y), "w8a16");
    });
    const double t16 = time_us([&](int i) {
      check(vlac_cuda_linear_bf16(x, s.M, bf16_rows(i % copies), s.N, s.K, nullptr, y), "bf16 gemv");
    });
    const double t8_all = time_us([&](int) {
      const vlac_cuda_int8_weight w = int8_weight(0, s.N * copies);
      check(vlac_cuda_linear_w8a16(x, s.M, &w, nullptr, y), "w8a16");
    });
    const double t16_all = time_us([&](int) {
      check(vlac_cuda_linear_bf16(x, s.M, bf16_rows(0), s.N * copies, s.K, nullptr, y), "bf16 gemv");
    });
    const double gb8 = q_bytes * copies / t8_all / 1e3, gb16 = b_bytes * copies / t16_all / 1e3;
    std::printf("%-10s %5lldx%-5lld %19.2f %8.2f %10.3f | %37.0f %10.0f %10.3f\n", s.name, (long long)s.N, (long long)s.K,
                t8, t16, t8 / t16, gb8, gb16, t8_all / t16_all);
    char row[320];
    std::snprintf(row, sizeof row,
                  "%s{\"name\": \"%s\", \"M\": %lld, \"N\": %lld, \"K\": %lld, \"w8a16_us\": %.3f, \"bf16_us\": %.3f, "
                  "\"w8a16_stream_us\": %.3f, \"bf16_stream_us\": %.3f}",
                  first ? "" : ", ", s.name, (long long)s.M, (long long)s.N, (long long)s.K, t8, t16, t8_all / copies,
                  t16_all / copies);
    json += row;
    first = false;
    for (void* p : {q, wb, static_cast<void*>(scale), static_cast<void*>(x), static_cast<void*>(y)}) vlac_cuda_free(p);
  }

  json += "], \"prefill\": [";
  std::printf("\nprefill                 quantize us   W8A8 us   W8A8 TOP/s   (GEMM alone)\n");
  first = true;
  for (const Shape& s : kPrefill) {
    const int64_t ld = vlac_cuda_codes_ld(s.K);
    void* q = device_codes(s.N * ld, 7);
    void* scale = device_floats(s.N, 1e-3f, 2e-2f);
    void* x = device_floats(s.M * s.K, -1.0f, 1.0f);
    void* codes = device_codes(s.M * ld, 9);
    void* t = device_floats(s.M, 1e-3f, 1e-2f);
    void* y = device_floats(s.M * s.N, 0.0f, 0.0f);
    const vlac_cuda_int8_weight w{static_cast<int8_t*>(q), static_cast<float*>(scale), s.N, s.K, nullptr, nullptr, 0};
    const double tq = time_us([&](int) {
      check(vlac_cuda_quantize_rows(static_cast<float*>(x), s.M, s.K, nullptr, 0, static_cast<int8_t*>(codes),
                                    static_cast<float*>(t)),
            "quantize_rows");
    });
    const double tg = time_us([&](int) {
      check(vlac_cuda_linear_w8a8(static_cast<int8_t*>(codes), static_cast<float*>(t), static_cast<float*>(x), s.M, &w,
                                  nullptr, nullptr, 0, static_cast<float*>(y)),
            "w8a8");
    });
    const double tops = 2.0 * s.M * s.N * s.K / tg / 1e6;
    std::printf("%-10s %4lldx%5lldx%-5lld %10.2f %9.2f %12.1f\n", s.name, (long long)s.M, (long long)s.N,
                (long long)s.K, tq, tg, tops);
    char row[256];
    std::snprintf(row, sizeof row, "%s{\"name\": \"%s\", \"M\": %lld, \"N\": %lld, \"K\": %lld, \"quantize_us\": %.3f, \"w8a8_us\": %.3f}",
                  first ? "" : ", ", s.name, (long long)s.M, (long long)s.N, (long long)s.K, tq, tg);
    json += row;
    first = false;
    for (void* p : {q, scale, x, codes, t, y}) vlac_cuda_free(p);
  }
  json += "]}\n";
  if (json_path) {
    FILE* f = std::fopen(json_path, "w");
    if (!f || std::fputs(json.c_str(), f) < 0 || std::fclose(f) != 0) {
      std::fprintf(stderr, "vlac_cuda_bench: cannot write %s\n", json_path);
      return 1;
    }
  }
  return 0;
}
