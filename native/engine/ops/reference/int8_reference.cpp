// The plain C++ int8 kernels (ops/int8.h): the oracle of the fast sets and the set of a CPU without
// AVX2. Codes carry offset 0 (int8); sums in index order.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/int8.h"

namespace vlac::ops {
namespace {

int8_t weight_at(const Int8Weight& w, int64_t n, int64_t k) {
  return w.q[((n / 16 * w.k4() + k / 4) * 16 + n % 16) * 4 + k % 4];
}

void quantize_rows(const float* x, int64_t M, int64_t K, const int32_t* skip, int64_t n_skip, int64_t ldq,
                   uint8_t* codes, float* scales) {
  std::vector<float> row(static_cast<size_t>(K));
  for (int64_t m = 0; m < M; ++m) {
    std::copy(x + m * K, x + (m + 1) * K, row.begin());
    for (int64_t j = 0; j < n_skip; ++j) row[skip[j]] = 0.0f;  // out of the scale, code 0
    const float* xr = row.data();
    float amax = 0.0f;
    for (int64_t k = 0; k < K; ++k) amax = std::fmax(amax, std::fabs(xr[k]));
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    scales[m] = amax / 127.0f;
    int8_t* out = reinterpret_cast<int8_t*>(codes + m * ldq);
    for (int64_t k = 0; k < K; ++k) {
      const float r = std::nearbyint(xr[k] * inv);  // the default rounding mode: half to even
      out[k] = static_cast<int8_t>(std::fmin(127.0f, std::fmax(-127.0f, r)));
    }
    for (int64_t k = K; k < ldq; ++k) out[k] = 0;
  }
}

void gemm_s32(const uint8_t* codes, int64_t M, int64_t ldq, const Int8Weight& w, int32_t* acc) {
  for (int64_t m = 0; m < M; ++m) {
    const int8_t* p = reinterpret_cast<const int8_t*>(codes + m * ldq);
    for (int64_t n = 0; n < w.N; ++n) {
      int32_t sum = 0;
      for (int64_t k = 0; k < w.K; ++k) sum += int32_t(p[k]) * int32_t(weight_at(w, n, k));
      acc[m * w.N + n] = sum;
    }
  }
}

void gemm_f32(const uint8_t* codes, int64_t M, int64_t ldq, const float* scales, const Int8Weight& w,
              const float* bias, float* y) {
  std::vector<int32_t> acc(static_cast<size_t>(M * w.N));
  gemm_s32(codes, M, ldq, w, acc.data());
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n)
      y[m * w.N + n] = std::fma(static_cast<float>(acc[m * w.N + n]), scales[m] * w.scale[n], bias ? bias[n] : 0.0f);
}

void w8a16(const float* x, int64_t M, const Int8Weight& w, const float* bias, float* y) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n) {
      float acc = 0.0f;
      for (int64_t k = 0; k < w.K; ++k) acc += x[m * w.K + k] * static_cast<float>(weight_at(w, n, k));
      const float v = acc * w.scale[n];
      y[m * w.N + n] = bias ? v + bias[n] : v;
    }
}

void add_outliers(const float* x, int64_t M, const Int8Weight& w, float* y) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < w.N; ++n)
      for (int64_t j = 0; j < w.n_outliers; ++j)
        y[m * w.N + n] = std::fma(x[m * w.K + w.outlier_columns[j]], w.outlier_weights[j * w.outlier_ld + n], y[m * w.N + n]);
}

void column_max(const float* x, int64_t M, int64_t K, float* out) {
  for (int64_t k = 0; k < K; ++k) {
    float v = 0.0f;
    for (int64_t m = 0; m < M; ++m) v = std::fmax(v, std::fabs(x[m * K + k]));
    out[k] = v;
  }
}

}  // namespace

const Int8Kernels& reference_int8_kernels() {
  static const Int8Kernels kernels = {"reference", 0, quantize_rows, gemm_s32, gemm_f32, w8a16, add_outliers, column_max};
  return kernels;
}

}  // namespace vlac::ops
