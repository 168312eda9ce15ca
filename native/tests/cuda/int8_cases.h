// The CUDA int8 kernels (ops/cuda/vlac_cuda.h) against the CPU reference (ops/int8.h,
// reference_int8_kernels()). Included by two executables that supply the backend:
//   native/tests/test_cuda_int8_emulated.cpp  the kernels' warp code run on the host (every ctest run)
//   native/tests/cuda/test_cuda_int8_gpu.cpp  the real kernels on a GPU through the C ABI
//
// Exact checks: column maxima, activation codes and scales, the int32 products and the W8A8 output
// (the same float ops in the same order as the reference: fma(float(acc), t_m · s_n, b_n), then
// the outlier columns' fmas, then the activation-outlier channels' fmas) are bit-identical.
//
// W8A16 and the bf16 GEMV sum in another order than the reference (per lane k = l·c .. strided by
// 32c, then a butterfly over the lanes, with FMAs; the reference sums k in order with separate
// products). Bound: y = s Σ_k x_k q_k + b + Σ_j x_j W_j; in either evaluation each term passes
// through at most K + n + 2 roundings (its product, at most K - 1 additions of whatever tree, the
// scale, the bias, the n outlier fmas), so by the standard analysis of a sum (Higham, §4.2) each
// result is within γ_{K+n+2} · T of the exact value, T = |s| Σ_k |x_k q_k| + |b| + Σ_j |x_j W_j|,
// γ_j = j u / (1 - j u), u = 2^-24. Two such results: |Δy| <= 2 γ_{K+n+3} T (one more for slack).
// The bf16 GEMV: the same with s = 1 and n = 0.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/bf16.h"
#include "ops/cuda/int8_warp.h"
#include "ops/int8.h"
#include "ops/reference/reference.h"
#include "support/random.h"

namespace vlac::test {

// A quantized weight in vlac_cuda.h's layout, in host memory.
struct CudaInt8Weight {
  int64_t N = 0, K = 0;
  std::vector<int8_t> q;  // [N, cuda::codes_ld(K)]
  std::vector<float> scale;
  std::vector<int32_t> outlier_columns;
  std::vector<float> outlier_weights;  // [n_outliers, N]
  vlac_cuda_int8_weight view() const {
    return {q.data(), scale.data(), N, K, outlier_columns.empty() ? nullptr : outlier_columns.data(),
            outlier_weights.empty() ? nullptr : outlier_weights.data(), static_cast<int64_t>(outlier_columns.size())};
  }
};

inline CudaInt8Weight cuda_layout(const ops::QuantizedWeight& qw) {
  CudaInt8Weight w;
  w.N = qw.N();
  w.K = qw.K();
  const int64_t ld = cuda::codes_ld(w.K);
  const std::vector<int8_t> rows = qw.rows();
  w.q.assign(static_cast<size_t>(w.N * ld), 0);
  for (int64_t n = 0; n < w.N; ++n) std::copy(rows.begin() + n * w.K, rows.begin() + (n + 1) * w.K, w.q.begin() + n * ld);
  w.scale = qw.scales();
  w.outlier_columns = qw.outlier_columns();
  w.outlier_weights = qw.outlier_weight_rows();
  return w;
}

// What the kernels run on: the emulated launch or the GPU. Host pointers in and out.
class CudaInt8Backend {
 public:
  virtual ~CudaInt8Backend() = default;
  virtual void column_max(const float* x, int64_t M, int64_t K, float* out) = 0;
  virtual void quantize_rows(const float* x, int64_t M, int64_t K, const std::vector<int32_t>& skip, int8_t* codes,
                             float* scales) = 0;
  virtual void gemm_s32(const int8_t* codes, int64_t M, const CudaInt8Weight& w, int32_t* acc) = 0;
  virtual void linear_w8a8(const int8_t* codes, const float* scales, const float* x, int64_t M, const CudaInt8Weight& w,
                           const float* bias, const std::vector<int32_t>& act, float* y) = 0;
  virtual void linear_w8a16(const float* x, int64_t M, const CudaInt8Weight& w, const float* bias, float* y) = 0;
  virtual void linear_bf16(const float* x, int64_t M, const uint16_t* w, int64_t N, int64_t K, const float* bias,
                           float* y) = 0;
};
// Defined by the including test file.
CudaInt8Backend& cuda_int8_backend();

namespace cuda_cases {

using vlac::test::random_floats;
using vlac::test::Rng;

// An ascending subset of [0, K), about one channel in `every`.
inline std::vector<int32_t> random_channels(int64_t K, int64_t every, Rng& r) {
  std::vector<int32_t> out;
  for (int64_t k = 0; k < K; ++k)
    if (r.below(every) == 0) out.push_back(static_cast<int32_t>(k));
  return out;
}

// Random [N, K] weights; with_outliers scales a few columns 30x so that they become outlier columns.
inline ops::QuantizedWeight random_weight(int64_t N, int64_t K, bool with_outliers, Rng& r) {
  std::vector<float> w = random_floats(static_cast<size_t>(N * K), r);
  if (with_outliers && K >= 8)
    for (int64_t k = 1; k < K; k += std::max<int64_t>(3, K / 3))
      for (int64_t n = 0; n < N; ++n) w[n * K + k] *= 30.0f;
  return ops::quantize_weight_f32(w.data(), N, K);
}

// The reference's codes for x (row-major [M, 4 · K4], offset 0) in vlac_cuda.h's layout.
inline std::vector<int8_t> reference_codes(const float* x, int64_t M, int64_t K, const std::vector<int32_t>& skip,
                                           std::vector<float>& scales) {
  const int64_t ldq = 4 * ((K + 3) / 4), ld = cuda::codes_ld(K);
  std::vector<uint8_t> codes(static_cast<size_t>(M * ldq));
  scales.assign(static_cast<size_t>(M), 0.0f);
  ops::reference_int8_kernels().quantize_rows(x, M, K, skip.data(), static_cast<int64_t>(skip.size()), ldq,
                                              codes.data(), scales.data());
  std::vector<int8_t> out(static_cast<size_t>(M * ld), 0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) out[m * ld + k] = static_cast<int8_t>(codes[m * ldq + k]);
  return out;
}

inline bool same_bits(float a, float b) { return std::memcmp(&a, &b, 4) == 0; }

inline std::string shape_name(int64_t M, int64_t N, int64_t K) {
  return "M=" + std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K);
}

struct Shape {
  int64_t M, N, K;
};
// Edges of every tile: M across the 16-row mma and 64-row block (1, 3, 17, 65), N across the 8-column
// mma and 64-column block, K below, at and past the 32-deep k-step.
inline const std::vector<Shape>& w8a8_shapes() {
  static const std::vector<Shape> shapes = {{1, 1, 1},     {1, 8, 32},     {3, 13, 33},   {17, 64, 31},
                                            {16, 65, 64},  {33, 100, 100}, {64, 64, 257}, {65, 129, 96},
                                            {130, 72, 40}, {7, 200, 544}};
  return shapes;
}

inline double gamma(int64_t n) {
  const double u = 1.0 / (1 << 24);
  return n * u / (1 - n * u);
}

// How many outputs of a W8A16 product `got` (x [M, K] times `qw`, + bias or nullptr) lie farther from
// the reference's `want` than the fp32 rounding of their sums allows: 2·γ_{K+n+3} times the sum of
// the terms' magnitudes, the bias and the n outlier terms included.
inline int outside_w8a16_bound(const Shape& s, const std::vector<float>& x, const ops::QuantizedWeight& qw,
                               const CudaInt8Weight& w, const float* bias, const std::vector<float>& got,
                               const std::vector<float>& want) {
  const std::vector<int8_t> rows = qw.rows();
  const int64_t n_out = static_cast<int64_t>(w.outlier_columns.size());
  int bad = 0;
  for (int64_t m = 0; m < s.M; ++m)
    for (int64_t n = 0; n < s.N; ++n) {
      double t = 0.0;
      for (int64_t k = 0; k < s.K; ++k) t += std::fabs(double(x[m * s.K + k]) * rows[n * s.K + k]);
      t = t * w.scale[n] + (bias ? std::fabs(bias[n]) : 0.0);
      for (int64_t j = 0; j < n_out; ++j)
        t += std::fabs(double(x[m * s.K + w.outlier_columns[j]]) * w.outlier_weights[j * s.N + n]);
      bad += !(std::fabs(double(got[m * s.N + n]) - want[m * s.N + n]) <= 2 * gamma(s.K + n_out + 3) * t);
    }
  return bad;
}

}  // namespace cuda_cases

TEST_CASE("CUDA column maxima equal the reference's") {
  using namespace cuda_cases;
  Rng r(1);
  for (const Shape s : {Shape{1, 0, 5}, Shape{3, 0, 130}, Shape{17, 0, 33}, Shape{200, 0, 300}}) {
    const auto x = random_floats(static_cast<size_t>(s.M * s.K), r, -4.0f, 4.0f);
    std::vector<float> want(static_cast<size_t>(s.K)), got(static_cast<size_t>(s.K), -1.0f);
    ops::reference_int8_kernels().column_max(x.data(), s.M, s.K, want.data());
    cuda_int8_backend().column_max(x.data(), s.M, s.K, got.data());
    CHECK(std::equal(want.begin(), want.end(), got.begin(), same_bits));
  }
}

TEST_CASE("CUDA activation codes and scales equal the reference's, skipped channels and exact ties included") {
  using namespace cuda_cases;
  Rng r(2);
  for (const int64_t M : {1, 3, 4, 5, 17}) {
    for (const int64_t K : {1, 7, 31, 32, 33, 100, 544}) {
      for (const int64_t skip_every : {0, 2, 9}) {
        std::vector<float> x = random_floats(static_cast<size_t>(M * K), r, -3.0f, 3.0f);
        // row 0: max 127 so 127 / max = 1 and k + 0.5 is an exact tie (half to even); last row zeros
        for (int64_t k = 0; k < K; ++k) x[k] = k == 0 ? 127.0f : static_cast<float>(k % 120) + 0.5f;
        if (M > 1) std::fill(x.end() - K, x.end(), 0.0f);
        const std::vector<int32_t> skip = skip_every ? random_channels(K, skip_every, r) : std::vector<int32_t>{};
        std::vector<float> want_scales;
        const std::vector<int8_t> want = reference_codes(x.data(), M, K, skip, want_scales);
        std::vector<int8_t> got(want.size(), int8_t(99));
        std::vector<float> got_scales(static_cast<size_t>(M), -1.0f);
        cuda_int8_backend().quantize_rows(x.data(), M, K, skip, got.data(), got_scales.data());
        INFO(shape_name(M, 0, K) << " skipped " << skip.size());
        CHECK(got == want);  // the padding up to ceil(K / 32) · 32 included: code 0
        CHECK(std::equal(want_scales.begin(), want_scales.end(), got_scales.begin(), same_bits));
      }
    }
  }
}

TEST_CASE("CUDA W8A8 int32 products equal the integer reference exactly, at every tile edge") {
  using namespace cuda_cases;
  Rng r(3);
  for (const Shape s : w8a8_shapes()) {
    const ops::QuantizedWeight qw = random_weight(s.N, s.K, false, r);
    const CudaInt8Weight w = cuda_layout(qw);
    // codes of random activations, extremes included (the row maximum is ±127)
    const auto x = random_floats(static_cast<size_t>(s.M * s.K), r);
    std::vector<float> scales;
    const std::vector<int8_t> codes = reference_codes(x.data(), s.M, s.K, {}, scales);
    const int64_t ldq = 4 * ((s.K + 3) / 4), ld = cuda::codes_ld(s.K);
    std::vector<uint8_t> ref_codes(static_cast<size_t>(s.M * ldq), 0);
    for (int64_t m = 0; m < s.M; ++m)
      for (int64_t k = 0; k < s.K; ++k) ref_codes[m * ldq + k] = static_cast<uint8_t>(codes[m * ld + k]);
    std::vector<int32_t> want(static_cast<size_t>(s.M * s.N)), got(want.size(), INT32_MIN);
    ops::reference_int8_kernels().gemm_s32(ref_codes.data(), s.M, ldq, qw.view(), want.data());
    cuda_int8_backend().gemm_s32(codes.data(), s.M, w, got.data());
    INFO(shape_name(s.M, s.N, s.K));
    CHECK(got == want);
  }
}

// linear_w8a8 of ops/int8.h with the reference kernels, step by step, returning the channels it
// chose (the activation outliers and the skip list the codes were made with).
inline void reference_w8a8(const float* x, int64_t M, const ops::QuantizedWeight& qw, const float* bias, float* y,
                           std::vector<int32_t>& act, std::vector<int32_t>& skip) {
  const ops::Int8Kernels& ref = ops::reference_int8_kernels();
  const ops::Int8Weight w = qw.view();
  const int64_t K = w.K, N = w.N, ldq = 4 * w.k4();
  std::vector<float> column_max(static_cast<size_t>(K));
  ref.column_max(x, M, K, column_max.data());
  act = ops::select_outlier_columns(column_max.data(), K);
  const std::vector<int32_t>& wo = qw.outlier_columns();
  act.erase(std::remove_if(act.begin(), act.end(), [&](int32_t k) { return std::binary_search(wo.begin(), wo.end(), k); }),
            act.end());
  skip = wo;
  skip.insert(skip.end(), act.begin(), act.end());
  std::sort(skip.begin(), skip.end());
  std::vector<uint8_t> codes(static_cast<size_t>(M * ldq));
  std::vector<float> scales(static_cast<size_t>(M));
  ref.quantize_rows(x, M, K, skip.data(), static_cast<int64_t>(skip.size()), ldq, codes.data(), scales.data());
  ref.gemm_f32(codes.data(), M, ldq, scales.data(), w, bias, y);
  if (w.n_outliers) ref.add_outliers(x, M, w, y);
  if (!act.empty()) {
    const std::vector<int8_t> rows = qw.rows();
    ops::Int8Weight a = w;
    a.outlier_columns = act.data();
    a.n_outliers = static_cast<int64_t>(act.size());
    a.outlier_ld = N;
    std::vector<float> weights(act.size() * static_cast<size_t>(N));
    for (size_t j = 0; j < act.size(); ++j)
      for (int64_t n = 0; n < N; ++n) weights[j * N + n] = w.scale[n] * static_cast<float>(rows[n * K + act[j]]);
    a.outlier_weights = weights.data();
    ref.add_outliers(x, M, a, y);
  }
}

TEST_CASE("CUDA W8A8 output is bit-identical to the reference linear_w8a8, with and without outlier columns, activation outliers and bias") {
  using namespace cuda_cases;
  Rng r(4);
  for (const Shape s : w8a8_shapes()) {
    for (const bool weight_outliers : {false, true}) {
      for (const bool act_outliers : {false, true}) {
        const ops::QuantizedWeight qw = random_weight(s.N, s.K, weight_outliers, r);
        const CudaInt8Weight w = cuda_layout(qw);
        std::vector<float> x = random_floats(static_cast<size_t>(s.M * s.K), r);
        if (act_outliers && s.K >= 8)  // a few channels 40x the rest in every row
          for (int64_t k = 2; k < s.K; k += std::max<int64_t>(5, s.K / 4))
            for (int64_t m = 0; m < s.M; ++m) x[m * s.K + k] *= 40.0f;
        const std::vector<float> bias = random_floats(static_cast<size_t>(s.N), r);
        for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
          std::vector<float> want(static_cast<size_t>(s.M * s.N)), got(want.size(), NAN), engine(want.size());
          std::vector<int32_t> act, skip;
          reference_w8a8(x.data(), s.M, qw, b, want.data(), act, skip);
          // the same pipeline on the CUDA side (the selection of channels is the caller's)
          std::vector<int8_t> codes(static_cast<size_t>(s.M * cuda::codes_ld(s.K)));
          std::vector<float> scales(static_cast<size_t>(s.M));
          cuda_int8_backend().quantize_rows(x.data(), s.M, s.K, skip, codes.data(), scales.data());
          cuda_int8_backend().linear_w8a8(codes.data(), scales.data(), x.data(), s.M, w, b, act, got.data());
          ops::linear_w8a8(x.data(), s.M, qw.view(), b, engine.data());  // the engine's own CPU set
          INFO(shape_name(s.M, s.N, s.K) << " weight outliers " << w.outlier_columns.size() << " activation outliers "
                                         << act.size() << (b ? " bias" : ""));
          if (weight_outliers && s.K >= 8) REQUIRE(!w.outlier_columns.empty());
          if (act_outliers && s.K >= 32) REQUIRE(!act.empty());
          CHECK(std::equal(want.begin(), want.end(), got.begin(), same_bits));
          CHECK(std::equal(engine.begin(), engine.end(), got.begin(), same_bits));
        }
      }
    }
  }
}

TEST_CASE("CUDA W8A16 decode product is within the fp32 bound of a K-term sum of the reference, M = 1 to 16 and past") {
  using namespace cuda_cases;
  Rng r(5);
  // M across the kernel instances (MaxM 1, 4, 8) and their slices; N across the 4 rows of a warp
  // and the 16 of a block; K across the lanes' 16-code chunks and the warp's 512-code step
  const std::vector<Shape> shapes = {{1, 1, 1},     {1, 4, 16},   {1, 17, 33},   {2, 64, 100}, {3, 13, 511},
                                     {4, 12, 64},   {5, 31, 513}, {8, 24, 96},   {9, 7, 40},   {16, 40, 544},
                                     {17, 9, 130},  {33, 20, 64}, {1, 70, 2048}};
  for (const Shape s : shapes) {
    for (const bool weight_outliers : {false, true}) {
      const ops::QuantizedWeight qw = random_weight(s.N, s.K, weight_outliers, r);
      const CudaInt8Weight w = cuda_layout(qw);
      const auto x = random_floats(static_cast<size_t>(s.M * s.K), r);
      const auto bias = random_floats(static_cast<size_t>(s.N), r);
      const ops::Int8Kernels& ref = ops::reference_int8_kernels();
      std::vector<float> want(static_cast<size_t>(s.M * s.N)), got(want.size(), NAN);
      ref.linear_w8a16(x.data(), s.M, qw.view(), bias.data(), want.data());
      if (qw.view().n_outliers) ref.add_outliers(x.data(), s.M, qw.view(), want.data());
      cuda_int8_backend().linear_w8a16(x.data(), s.M, w, bias.data(), got.data());
      INFO(shape_name(s.M, s.N, s.K) << " weight outliers " << w.outlier_columns.size());
      CHECK(outside_w8a16_bound(s, x, qw, w, bias.data(), got, want) == 0);
    }
  }
}

TEST_CASE("CUDA bf16 GEMV baseline is within the fp32 bound of a K-term sum of the reference linear") {
  using namespace cuda_cases;
  Rng r(6);
  for (const Shape s : {Shape{1, 1, 1}, Shape{1, 19, 7}, Shape{2, 64, 100}, Shape{4, 33, 257}, Shape{16, 8, 1000},
                        Shape{18, 5, 64}}) {
    const auto wf = random_floats(static_cast<size_t>(s.N * s.K), r);
    std::vector<uint16_t> w(wf.size());
    for (size_t i = 0; i < wf.size(); ++i) w[i] = float_to_bf16(wf[i]);
    const int64_t ld = cuda::bf16_ld(s.K);
    std::vector<uint16_t> padded(static_cast<size_t>(s.N * ld), 0);
    for (int64_t n = 0; n < s.N; ++n) std::copy(w.begin() + n * s.K, w.begin() + (n + 1) * s.K, padded.begin() + n * ld);
    const auto x = random_floats(static_cast<size_t>(s.M * s.K), r);
    const auto bias = random_floats(static_cast<size_t>(s.N), r);
    std::vector<float> want(static_cast<size_t>(s.M * s.N)), got(want.size(), NAN);
    ops::reference::linear(x.data(), s.M, s.K, w.data(), s.N, bias.data(), want.data());
    cuda_int8_backend().linear_bf16(x.data(), s.M, padded.data(), s.N, s.K, bias.data(), got.data());
    int bad = 0;
    for (int64_t m = 0; m < s.M; ++m)
      for (int64_t n = 0; n < s.N; ++n) {
        double t = std::fabs(bias[n]);
        for (int64_t k = 0; k < s.K; ++k) t += std::fabs(double(x[m * s.K + k]) * bf16_to_float(w[n * s.K + k]));
        bad += !(std::fabs(double(got[m * s.N + n]) - want[m * s.N + n]) <= 2 * gamma(s.K + 3) * t);
      }
    INFO(shape_name(s.M, s.N, s.K));
    CHECK(bad == 0);
  }
}

}  // namespace vlac::test
