// ops/int8.h: weight quantization and packing, kernel-set choice, the entry points.
#include "ops/int8.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <string>

#include "common/bf16.h"
#include "common/cpu_features.h"
#include "common/error.h"
#include "common/thread_pool.h"

namespace vlac::ops {
namespace {

int64_t packed_index(int64_t n, int64_t k, int64_t k4) { return ((n / 16 * k4 + k / 4) * 16 + n % 16) * 4 + k % 4; }

void check_shape(int64_t N, int64_t K, const char* what) {
  VLAC_CHECK(N > 0 && K > 0, std::string(what) + ": empty or negative weight shape");
}

template <class Load>
QuantizedWeight quantize(int64_t N, int64_t K, Load load) {
  // column maxima, rows split over threads and merged in a fixed order
  const int threads = vlac::num_threads();
  std::vector<float> partial(static_cast<size_t>(threads * K), 0.0f);
  const int64_t rows_per = (N + threads - 1) / threads;
  vlac::parallel_for(threads, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t)
      for (int64_t n = t * rows_per; n < std::min(N, (t + 1) * rows_per); ++n)
        for (int64_t k = 0; k < K; ++k) {  // a ternary, not fmax: vectorizes (NaN weights are not expected)
          const float a = std::fabs(load(n * K + k));
          partial[t * K + k] = a > partial[t * K + k] ? a : partial[t * K + k];
        }
  });
  std::vector<float> column_max(partial.begin(), partial.begin() + K);
  for (int t = 1; t < threads; ++t)
    for (int64_t k = 0; k < K; ++k) column_max[k] = std::fmax(column_max[k], partial[t * K + k]);
  std::vector<int32_t> outliers = select_outlier_columns(column_max.data(), K);
  std::vector<char> is_outlier(static_cast<size_t>(K), 0);
  for (int32_t k : outliers) is_outlier[k] = 1;

  std::vector<int8_t> rows(static_cast<size_t>(N * K));
  std::vector<float> scale(static_cast<size_t>(N));
  std::vector<float> outlier_weights(outliers.size() * static_cast<size_t>(N));
  vlac::parallel_for(N, 16, [&](int64_t n0, int64_t n1) {
    std::vector<float> row(static_cast<size_t>(K));
    for (int64_t n = n0; n < n1; ++n) {
      for (int64_t k = 0; k < K; ++k) row[k] = load(n * K + k);
      for (size_t j = 0; j < outliers.size(); ++j) {  // kept exactly, then out of the scale with code 0
        outlier_weights[j * N + n] = row[outliers[j]];
        row[outliers[j]] = 0.0f;
      }
      float amax = 0.0f;
      for (int64_t k = 0; k < K; ++k) {
        const float a = std::fabs(row[k]);
        amax = a > amax ? a : amax;
      }
      const float s = amax / 127.0f;
      scale[n] = s;
      int8_t* q = rows.data() + n * K;
      if (!(s > 0.0f)) {
        std::fill(q, q + K, int8_t(0));
        continue;
      }
      // |row / s| <= 127 (up to the division's rounding): adding and subtracting 1.5 · 2^23 rounds
      // to the nearest integer, ties to even, exactly as nearbyint in the default rounding mode,
      // and vectorizes (nearbyint is a library call without SSE4.1)
      constexpr float kRound = 12582912.0f;
      for (int64_t k = 0; k < K; ++k) {
        float r = (row[k] / s + kRound) - kRound;
        r = r > 127.0f ? 127.0f : r;
        r = r < -127.0f ? -127.0f : r;
        q[k] = static_cast<int8_t>(r);
      }
    }
  });
  return QuantizedWeight(rows.data(), scale.data(), N, K, std::move(outliers), std::move(outlier_weights));
}

bool avx2_usable() { return isa_supported(Isa::Avx2); }

}  // namespace

QuantizedWeight::QuantizedWeight(const int8_t* q_rows, const float* scale, int64_t N, int64_t K,
                                 std::vector<int32_t> outlier_columns, std::vector<float> outlier_weights)
    : outlier_columns_(std::move(outlier_columns)), N_(N), K_(K) {
  check_shape(N, K, "QuantizedWeight");
  VLAC_CHECK(outlier_weights.size() == outlier_columns_.size() * static_cast<size_t>(N),
             "QuantizedWeight: outlier weights are not [outlier columns, N]");
  const int64_t ld = outlier_ld();
  outlier_weights_.assign(outlier_columns_.size() * static_cast<size_t>(ld), 0.0f);
  for (size_t j = 0; j < outlier_columns_.size(); ++j)
    std::copy(outlier_weights.begin() + j * N, outlier_weights.begin() + (j + 1) * N, outlier_weights_.begin() + j * ld);
  for (size_t j = 0; j < outlier_columns_.size(); ++j) {
    const int32_t k = outlier_columns_[j];
    VLAC_CHECK(k >= 0 && k < K && (j == 0 || k > outlier_columns_[j - 1]),
               "QuantizedWeight: outlier columns must be ascending and below K");
    for (int64_t n = 0; n < N; ++n)
      VLAC_CHECK(q_rows[n * K + k] == 0, "QuantizedWeight: outlier column " + std::to_string(k) + " has nonzero codes");
  }
  const Int8Weight shape{nullptr, nullptr, nullptr, N, K};
  const int64_t k4 = shape.k4();
  // Padded to a multiple of 64 columns: a kernel's register tile (up to 64 columns) loads in bounds.
  packed_.assign(static_cast<size_t>((shape.n16() + 3) / 4 * 4 * k4 * 64), 0);
  scale_.assign(scale, scale + N);
  col_sum_.assign(static_cast<size_t>(N), 0);
  std::atomic<int64_t> bad_row{-1};
  const int64_t full = K / 4;
  // groups of 16 rows write disjoint 64-byte blocks, front to back
  vlac::parallel_for(shape.n16(), 1, [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t rows = std::min<int64_t>(16, N - g * 16);
      int8_t* block = packed_.data() + g * k4 * 64;
      for (int64_t r = 0; r < rows; ++r) {
        const int8_t* src = q_rows + (g * 16 + r) * K;
        int32_t sum = 0;
        int bad = 0;
        for (int64_t k = 0; k < K; ++k) {
          sum += src[k];
          bad |= src[k] == -128;
        }
        if (bad) bad_row = g * 16 + r;
        col_sum_[g * 16 + r] = sum;
        for (int64_t d = 0; d < full; ++d) std::memcpy(block + d * 64 + r * 4, src + d * 4, 4);
        for (int64_t k = full * 4; k < K; ++k) block[full * 64 + r * 4 + k % 4] = src[k];
      }
    }
  });
  VLAC_CHECK(bad_row < 0, "QuantizedWeight: code -128 in row " + std::to_string(bad_row.load()) +
                              " (the scheme is symmetric)");
}

std::vector<int8_t> QuantizedWeight::rows() const {
  std::vector<int8_t> out(static_cast<size_t>(N_ * K_));
  const int64_t k4 = (K_ + 3) / 4;
  for (int64_t n = 0; n < N_; ++n)
    for (int64_t k = 0; k < K_; ++k) out[n * K_ + k] = packed_[packed_index(n, k, k4)];
  return out;
}

std::vector<float> QuantizedWeight::outlier_weight_rows() const {
  std::vector<float> out(outlier_columns_.size() * static_cast<size_t>(N_));
  for (size_t j = 0; j < outlier_columns_.size(); ++j)
    std::copy(outlier_weights_.begin() + j * outlier_ld(), outlier_weights_.begin() + j * outlier_ld() + N_,
              out.begin() + j * N_);
  return out;
}

int64_t max_outlier_columns(int64_t K) { return std::max<int64_t>(4, K / 32); }

std::vector<int32_t> select_outlier_columns(const float* column_max, int64_t K) {
  std::vector<float> sorted(column_max, column_max + K);
  std::nth_element(sorted.begin(), sorted.begin() + K / 2, sorted.end());
  const float threshold = kOutlierRatio * sorted[K / 2];
  std::vector<int32_t> out;
  if (!(threshold > 0.0f)) return out;  // a mostly-zero weight has no scale to protect
  for (int64_t k = 0; k < K; ++k)
    if (column_max[k] > threshold) out.push_back(static_cast<int32_t>(k));
  const size_t cap = static_cast<size_t>(std::min(max_outlier_columns(K), K - 1));
  if (out.size() > cap) {  // the largest first, ties by column
    std::stable_sort(out.begin(), out.end(), [&](int32_t a, int32_t b) { return column_max[a] > column_max[b]; });
    out.resize(cap);
    std::sort(out.begin(), out.end());
  }
  return out;
}

QuantizedWeight quantize_weight_bf16(const uint16_t* w, int64_t N, int64_t K) {
  check_shape(N, K, "quantize_weight_bf16");
  return quantize(N, K, [w](int64_t i) { return bf16_to_float(w[i]); });
}

QuantizedWeight quantize_weight_f32(const float* w, int64_t N, int64_t K) {
  check_shape(N, K, "quantize_weight_f32");
  return quantize(N, K, [w](int64_t i) { return w[i]; });
}

const Int8Kernels& int8_kernels(Isa base) {
  const CpuFeatures& f = cpu_features();
  VLAC_CHECK(isa_supported(base), std::string("int8 kernels: instruction set ") + isa_name(base) + " not supported here");
  if (base == Isa::Reference) return reference_int8_kernels();
  if (base == Isa::Avx512 && f.avx512vnni) return avx512vnni_int8_kernels();
  if (f.avxvnni) return avxvnni_int8_kernels();
  return avx2_int8_kernels();
}

const Int8Kernels& active_int8_kernels() { return int8_kernels(active_isa()); }

std::vector<const Int8Kernels*> supported_int8_kernels() {
  std::vector<const Int8Kernels*> sets = {&reference_int8_kernels()};
  const CpuFeatures& f = cpu_features();
  if (avx2_usable()) {
    sets.push_back(&avx2_int8_kernels());
    if (f.avxvnni) sets.push_back(&avxvnni_int8_kernels());
  }
  if (isa_supported(Isa::Avx512) && f.avx512vnni) sets.push_back(&avx512vnni_int8_kernels());
  return sets;
}

void linear_w8a16(const float* x, int64_t M, const Int8Weight& w, const float* bias, float* y) {
  VLAC_CHECK(M >= 0 && w.q, "linear_w8a16: negative M or empty weight");
  if (M == 0) return;
  const Int8Kernels& kernels = active_int8_kernels();
  kernels.linear_w8a16(x, M, w, bias, y);
  if (w.n_outliers) kernels.add_outliers(x, M, w, y);
}

void linear_w8a8(const float* x, int64_t M, const Int8Weight& w, const float* bias, float* y) {
  VLAC_CHECK(M >= 0 && w.q, "linear_w8a8: negative M or empty weight");
  if (M == 0) return;
  const Int8Kernels& kernels = active_int8_kernels();
  // Per calling thread, kept between calls: the decode loop does not allocate.
  thread_local std::vector<uint8_t> codes;
  thread_local std::vector<float> scales, column_max, act_weights;
  thread_local std::vector<int32_t> act, skip;
  const int64_t K = w.K, N = w.N, ldq = 4 * w.k4();
  // the outlier channels of x (see int8.h): all exact comparisons, the same in every set
  column_max.resize(static_cast<size_t>(K));
  kernels.column_max(x, M, K, column_max.data());
  act = select_outlier_columns(column_max.data(), K);
  act.erase(std::remove_if(act.begin(), act.end(),
                           [&](int32_t k) { return std::binary_search(w.outlier_columns, w.outlier_columns + w.n_outliers, k); }),
            act.end());
  skip.assign(w.outlier_columns, w.outlier_columns + w.n_outliers);
  skip.insert(skip.end(), act.begin(), act.end());
  std::sort(skip.begin(), skip.end());

  codes.resize(static_cast<size_t>(M * ldq));
  scales.resize(static_cast<size_t>(M));
  kernels.quantize_rows(x, M, K, skip.data(), static_cast<int64_t>(skip.size()), ldq, codes.data(), scales.data());
  kernels.gemm_f32(codes.data(), M, ldq, scales.data(), w, bias, y);
  if (w.n_outliers) kernels.add_outliers(x, M, w, y);
  if (!act.empty()) {  // the dequantized weight columns of those channels, rows padded as Int8Weight says
    Int8Weight a = w;
    a.outlier_columns = act.data();
    a.n_outliers = static_cast<int64_t>(act.size());
    a.outlier_ld = (N + 15) / 16 * 16 + 16;
    act_weights.assign(act.size() * static_cast<size_t>(a.outlier_ld), 0.0f);
    for (size_t j = 0; j < act.size(); ++j)
      for (int64_t n = 0; n < N; ++n)
        act_weights[j * a.outlier_ld + n] = w.scale[n] * static_cast<float>(w.q[packed_index(n, act[j], w.k4())]);
    a.outlier_weights = act_weights.data();
    kernels.add_outliers(x, M, a, y);
  }
}

}  // namespace vlac::ops
