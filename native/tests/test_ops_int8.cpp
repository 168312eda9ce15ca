// The int8 kernels (ops/int8.h) of every set this CPU runs, against the plain reference, and the
// quantized products against the float product they approximate.
//
// Exact (integer) checks: activation codes and scales, the int32 sums Σ p q, and the W8A8 output
// (same float epilogue everywhere) are bit-identical to the reference.
// W8A16 vs its reference: |Δy| <= (2K + 4) u (Σ_k |x_k ŵ_k| + |b|), u = 2^-24, as for the bf16
// linear (two fp32 dot products in different orders; ŵ = s q exactly representable as s · q needs
// one rounding, which the +4 covers).
//
// Outlier columns O (weight columns, and in W8A8 the outlier channels of x) are exact fp32 products
// (of W, or of the dequantized ŵ for x's channels); the sums below run over the other channels.
// Quantized vs float (docs/TOLERANCES.md, "int8"): with round-to-nearest and no clipping (the scale
// is the row's absmax / 127, so |w / s| <= 127), each weight moves by at most half a step,
// |ŵ - w| <= s_n / 2, and each activation by |x̂ - x| <= t_m / 2. Hence
//   W8A16: |y_q - y| <= (s_n / 2) Σ_k |x_k| + rounding,
//   W8A8:  x̂ŵ - xw = x̂ (ŵ - w) + (x̂ - x) w, so |y_q - y| <= (s_n / 2) Σ_k |x̂_k| + (t_m / 2) Σ_k |w_k| + rounding,
// rounding = (2K + 8) u (Σ_k |x_k w_k| + |b| + the step terms): the fp32 float path itself and the
// int8 epilogue (int32 -> float, t·s, one fma). These are worst cases (every error of one sign); the
// test also reports the typical (rms) error against them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/bf16.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "ops/int8.h"
#include "ops/op_table.h"
#include "ops/ops.h"
#include "support/random.h"

using namespace vlac;
using namespace vlac::ops;

namespace {

constexpr double kU = 1.0 / (1 << 24);

using vlac::test::random_floats;
using vlac::test::Rng;

// Codes in [-127, 127], the extremes often.
std::vector<int8_t> random_codes(size_t n, uint64_t seed) {
  Rng r(seed);
  std::vector<int8_t> v(n);
  for (auto& c : v) {
    const uint64_t z = r.next();
    c = (z & 7) == 0 ? int8_t((z & 8) ? 127 : -127) : static_cast<int8_t>(int(z >> 32 & 0xff) % 255 - 127);
  }
  return v;
}

QuantizedWeight random_weight(int64_t N, int64_t K, uint64_t seed) {
  const auto q = random_codes(N * K, seed);
  std::vector<float> s = random_floats(N, seed + 1, 1e-3f, 2e-2f);
  return QuantizedWeight(q.data(), s.data(), N, K);
}

// A weight with outlier columns (every 9th column up to 4 of them) and their fp32 weights.
QuantizedWeight random_weight_with_outliers(int64_t N, int64_t K, uint64_t seed) {
  auto q = random_codes(N * K, seed);
  std::vector<float> s = random_floats(N, seed + 1, 1e-3f, 2e-2f);
  std::vector<int32_t> cols;
  for (int64_t k = 2; k < K && cols.size() < 4; k += 9) cols.push_back(static_cast<int32_t>(k));
  for (int32_t k : cols)
    for (int64_t n = 0; n < N; ++n) q[n * K + k] = 0;
  return QuantizedWeight(q.data(), s.data(), N, K, cols, random_floats(cols.size() * N, seed + 2, -3.0f, 3.0f));
}

// Activation codes of a kernel set (its offset) from int8 codes p, padded with the code of 0.
std::vector<uint8_t> encode(const std::vector<int8_t>& p, int64_t M, int64_t K, int64_t ldq, int offset) {
  std::vector<uint8_t> out(M * ldq, static_cast<uint8_t>(offset));
  for (int64_t m = 0; m < M; ++m)
    for (int64_t k = 0; k < K; ++k) out[m * ldq + k] = static_cast<uint8_t>(p[m * K + k] + offset);
  return out;
}

int decode(uint8_t code, int offset) { return offset ? int(code) - offset : int(int8_t(code)); }

std::vector<const Int8Kernels*> fast_sets() {
  auto all = supported_int8_kernels();
  return {all.begin() + 1, all.end()};
}

std::string shape(int64_t M, int64_t K, int64_t N) {
  return "M=" + std::to_string(M) + " K=" + std::to_string(K) + " N=" + std::to_string(N);
}

const int64_t kMs[] = {1, 2, 3, 5, 6, 7, 13, 70};
const int64_t kKs[] = {1, 3, 4, 5, 33, 64, 1000};
const int64_t kNs[] = {1, 7, 16, 17, 63, 65, 100};

}  // namespace

TEST_CASE("this CPU runs the int8 kernel sets its features allow, and the best one is active") {
  std::vector<std::string> names;
  for (const Int8Kernels* k : supported_int8_kernels()) names.push_back(k->name);
  MESSAGE("int8 kernel sets here: " << [&] { std::string s; for (auto& n : names) s += n + " "; return s; }()
                                    << "(active: " << active_int8_kernels().name << ")");
  REQUIRE(!names.empty());
  CHECK(names.front() == "reference");
  CHECK(std::string(active_int8_kernels().name) == names.back());
}

TEST_CASE("weight quantization: half a step at most, absmax at ±127, zero rows stay zero, repacking is lossless") {
  const int64_t N = 37, K = 70;
  auto w = random_floats(N * K, 5, -0.3f, 0.3f);
  for (int64_t k = 0; k < K; ++k) w[4 * K + k] = 0.0f;  // an all-zero row
  w[9 * K + 3] = 50.0f;                                 // one large weight makes column 3 an outlier column
  const QuantizedWeight qw = quantize_weight_f32(w.data(), N, K);
  REQUIRE(qw.outlier_columns() == std::vector<int32_t>{3});
  const std::vector<int8_t> q = qw.rows();
  const std::vector<float> ow = qw.outlier_weight_rows();
  for (int64_t n = 0; n < N; ++n) {
    const float s = qw.scales()[n];
    int amax = 0;
    CHECK(q[n * K + 3] == 0);
    CHECK(ow[n] == w[n * K + 3]);  // kept exactly
    for (int64_t k = 0; k < K; ++k) {
      if (k == 3) continue;
      amax = std::max(amax, std::abs(int(q[n * K + k])));
      if (s > 0) CHECK(std::fabs(w[n * K + k] / s - q[n * K + k]) <= 0.5f + 1e-4f);
    }
    CHECK(amax == (n == 4 ? 0 : 127));
  }
  CHECK(qw.scales()[4] == 0.0f);
  const QuantizedWeight again(q.data(), qw.scales().data(), N, K, qw.outlier_columns(), ow);
  CHECK(again.rows() == q);
  const Int8Weight v = again.view();
  CHECK(v.n_outliers == 1);
  for (int64_t n = 0; n < N; ++n) {
    int32_t sum = 0;
    for (int64_t k = 0; k < K; ++k) sum += q[n * K + k];
    CHECK(v.col_sum[n] == sum);
  }
  // exact ties (scale 1: the row's max is 127) round to even
  const float ties[8] = {127.0f, 126.5f, -125.5f, 100.5f, 0.5f, -0.5f, 1.5f, 120.0f};
  const QuantizedWeight tq = quantize_weight_f32(ties, 1, 8);
  CHECK(tq.scales()[0] == 1.0f);
  CHECK(tq.rows() == std::vector<int8_t>{127, 126, -126, 100, 0, 0, 2, 120});
  std::vector<int8_t> nonzero = q;
  nonzero[3] = 1;  // a code in an outlier column
  CHECK_THROWS_AS(QuantizedWeight(nonzero.data(), qw.scales().data(), N, K, qw.outlier_columns(), ow),
                  Error);
  const int8_t bad[2] = {-128, 0};
  const float one = 1.0f;
  CHECK_THROWS_AS(QuantizedWeight(bad, &one, 1, 2), Error);
}

TEST_CASE("outlier input columns: above 6x the median column maximum, the largest first up to the cap, none in random weights") {
  std::vector<float> col(100, 1.0f);
  col[7] = 6.0f;    // exactly at the ratio: not an outlier
  col[20] = 6.5f;
  col[3] = 40.0f;
  CHECK(select_outlier_columns(col.data(), 100) == std::vector<int32_t>{3, 20});
  for (int k = 50; k < 60; ++k) col[k] = 10.0f + k;  // more candidates than the cap (4 for K = 100)
  CHECK(max_outlier_columns(100) == 4);
  CHECK(select_outlier_columns(col.data(), 100) == std::vector<int32_t>{56, 57, 58, 59});
  CHECK(max_outlier_columns(4096) == 128);
  std::vector<float> zeros(64, 0.0f);
  zeros[5] = 1.0f;  // the median column is 0: nothing to protect
  CHECK(select_outlier_columns(zeros.data(), 64).empty());
  // weights without outliers (uniform, as random checkpoints draw them) keep every column int8
  for (const int64_t K : {int64_t(32), int64_t(1000)}) {
    const auto w = random_floats(64 * K, K, -0.1f, 0.1f);
    CHECK(quantize_weight_f32(w.data(), 64, K).outlier_columns().empty());
  }
}

TEST_CASE("activation codes and scales are identical to the reference in every set, ties rounding to even") {
  for (const Int8Kernels* set : fast_sets())
    for (int64_t M : {1, 3, 9})
      for (int64_t K : kKs) {
        auto x = random_floats(M * K, M * 100 + K, -3.0f, 3.0f);
        // exact ties: absmax 127 makes inv = 1, so x = j + 0.5 rounds to the even neighbour
        if (K >= 4) {
          x[0] = 127.0f;
          x[1] = 2.5f;
          x[2] = -3.5f;
          x[3] = 0.5f;
        }
        const int64_t ldq = (K + 3) / 4 * 4;
        std::vector<uint8_t> want(M * ldq), got(M * ldq);
        std::vector<float> ws(M), gs(M);
        reference_int8_kernels().quantize_rows(x.data(), M, K, nullptr, 0, ldq, want.data(), ws.data());
        set->quantize_rows(x.data(), M, K, nullptr, 0, ldq, got.data(), gs.data());
        int64_t wrong = 0;
        for (int64_t i = 0; i < M * ldq; ++i) wrong += int(int8_t(want[i])) != decode(got[i], set->offset);
        INFO(std::string(set->name) << " M=" << M << " K=" << K);
        CHECK(wrong == 0);
        CHECK(std::memcmp(ws.data(), gs.data(), M * sizeof(float)) == 0);
        if (K >= 4) {
          CHECK(int8_t(want[1]) == 2);
          CHECK(int8_t(want[2]) == -4);
          CHECK(int8_t(want[3]) == 0);
        }
      }
}

TEST_CASE("int8 GEMM int32 sums are bit-exact against the integer reference on odd shapes") {
  for (const Int8Kernels* set : fast_sets()) {
    uint64_t seed = 1;
    for (int64_t M : kMs)
      for (int64_t K : kKs)
        for (int64_t N : kNs) {
          const QuantizedWeight qw = random_weight(N, K, ++seed);
          const auto p = random_codes(M * K, seed + 7);
          const int64_t ldq = (K + 3) / 4 * 4;
          std::vector<int32_t> want(M * N), got(M * N, 0x7fffffff);
          reference_int8_kernels().gemm_s32(encode(p, M, K, ldq, 0).data(), M, ldq, qw.view(), want.data());
          set->gemm_s32(encode(p, M, K, ldq, set->offset).data(), M, ldq, qw.view(), got.data());
          INFO(std::string(set->name) << " " << shape(M, K, N));
          CHECK(got == want);
        }
  }
}

TEST_CASE("int8 GEMM sums stay exact at the extremes: every code ±127 at the LLM's widest depth") {
  const int64_t M = 7, K = 8192, N = 33;
  std::vector<int8_t> q(N * K), p(M * K);
  for (int64_t i = 0; i < N * K; ++i) q[i] = (i / K) % 3 == 0 ? -127 : 127;
  for (int64_t i = 0; i < M * K; ++i) p[i] = (i / K) % 2 == 0 ? 127 : -127;
  std::vector<float> s(N, 1.0f);
  const QuantizedWeight qw(q.data(), s.data(), N, K);
  const int64_t ldq = K;
  std::vector<int32_t> want(M * N);
  reference_int8_kernels().gemm_s32(encode(p, M, K, ldq, 0).data(), M, ldq, qw.view(), want.data());
  CHECK(std::abs(want[0]) == 127 * 127 * K);
  for (const Int8Kernels* set : fast_sets()) {
    std::vector<int32_t> got(M * N);
    set->gemm_s32(encode(p, M, K, ldq, set->offset).data(), M, ldq, qw.view(), got.data());
    INFO(set->name);
    CHECK(got == want);
  }
}

TEST_CASE("W8A8 linear output (outlier columns included) is bit-identical to the reference, with and without bias, any thread count") {
  for (int threads : {1, 3, 2}) {
    set_num_threads(threads);
    for (const Int8Kernels* set : fast_sets()) {
      uint64_t seed = 50;
      for (int64_t M : {1, 6, 13, 70})
        for (int64_t K : {5, 64, 1000})
          for (int64_t N : {7, 65, 100, 300}) {  // 300: full blocks of outlier columns and a tail
            const bool outliers = K > 5 && (M + K) % 2 == 1;
            const QuantizedWeight qw = outliers ? random_weight_with_outliers(N, K, ++seed) : random_weight(N, K, ++seed);
            const Int8Weight v = qw.view();
            auto x = random_floats(M * K, seed + 3);
            if (outliers)  // large activations in the outlier channels stay out of the scale
              for (int64_t m = 0; m < M; ++m) x[m * K + v.outlier_columns[0]] = 300.0f;
            const auto b = random_floats(N, seed + 4);
            const bool with_bias = (M + N) % 2 == 0;
            const int64_t ldq = (K + 3) / 4 * 4;
            std::vector<uint8_t> rc(M * ldq), gc(M * ldq);
            std::vector<float> rs(M), gs(M), want(M * N), got(M * N);
            const Int8Kernels& ref = reference_int8_kernels();
            ref.quantize_rows(x.data(), M, K, v.outlier_columns, v.n_outliers, ldq, rc.data(), rs.data());
            ref.gemm_f32(rc.data(), M, ldq, rs.data(), v, with_bias ? b.data() : nullptr, want.data());
            ref.add_outliers(x.data(), M, v, want.data());
            set->quantize_rows(x.data(), M, K, v.outlier_columns, v.n_outliers, ldq, gc.data(), gs.data());
            set->gemm_f32(gc.data(), M, ldq, gs.data(), v, with_bias ? b.data() : nullptr, got.data());
            set->add_outliers(x.data(), M, v, got.data());
            if (outliers) CHECK(rs[0] < 1.0f / 127.0f + 1e-6f);  // the scale of |x| <= 1, not of 300
            INFO(std::string(set->name) << " " << shape(M, K, N) << " threads=" << threads << " outliers=" << outliers);
            CHECK(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)) == 0);
          }
    }
  }
  set_num_threads(physical_core_count());
}

TEST_CASE("W8A8 takes large activation channels out of the per-token scale, bit-identically in every set") {
  const int64_t M = 37, K = 700, N = 300;
  const QuantizedWeight qw = random_weight_with_outliers(N, K, 77);
  auto x = random_floats(M * K, 78);
  for (int64_t m = 0; m < M; ++m) {
    x[m * K + 10] = 30.0f * (m % 2 ? 1.0f : -1.0f);  // activation outlier channels (not weight outlier columns)
    x[m * K + 333] = 25.0f;
    x[m * K + 2] = 40.0f;  // one that is also a weight outlier column
  }
  std::vector<float> cm_ref(K), cm(K);
  reference_int8_kernels().column_max(x.data(), M, K, cm_ref.data());
  for (const Int8Kernels* set : fast_sets()) {
    set->column_max(x.data(), M, K, cm.data());
    INFO(set->name);
    CHECK(cm == cm_ref);
  }
  CHECK(select_outlier_columns(cm_ref.data(), K) == std::vector<int32_t>{2, 10, 333});
  const Isa before = active_isa();
  std::vector<float> want(M * N);
  set_active_isa(Isa::Reference);
  linear_w8a8(x.data(), M, qw.view(), nullptr, want.data());
  for (const Isa isa : supported_isas()) {
    set_active_isa(isa);
    std::vector<float> got(M * N);
    linear_w8a8(x.data(), M, qw.view(), nullptr, got.data());
    INFO(isa_name(isa));
    CHECK(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)) == 0);
  }
  set_active_isa(before);
  // against the float product: the large channels cost the other codes nothing
  const std::vector<int8_t> q = qw.rows();
  const std::vector<float> ow = qw.outlier_weight_rows();
  std::vector<float> w8a16(M * N);
  linear_w8a16(x.data(), M, qw.view(), nullptr, w8a16.data());
  double e8 = 0, e16 = 0;
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {  // the exact product of the dequantized weight
      double exact = 0;
      for (int64_t k = 0; k < K; ++k) exact += double(x[m * K + k]) * qw.scales()[n] * q[n * K + k];
      for (size_t j = 0; j < qw.outlier_columns().size(); ++j)
        exact += double(x[m * K + qw.outlier_columns()[j]]) * ow[j * N + n];
      e8 += std::pow(want[m * N + n] - exact, 2);
      e16 += std::pow(w8a16[m * N + n] - exact, 2);
    }
  // W8A8's own error is the activation rounding: uniform in ±t_m / 2 per channel, t_m = 1 / 127 with
  // the large channels out (|x| <= 1 elsewhere), so its rms is t_m / sqrt(12) · sqrt(Σ_k ŵ²) over
  // the int8 channels; with them in, t_m would be 40 / 127 and the error 40x that.
  double w2 = 0;
  for (int64_t n = 0; n < N; ++n)
    for (int64_t k = 0; k < K; ++k)
      if (k != 10 && k != 333) w2 += std::pow(double(qw.scales()[n]) * q[n * K + k], 2);
  const double expected = (1.0 / 127) / std::sqrt(12.0) * std::sqrt(w2 / N);
  MESSAGE("rms error vs the dequantized product: W8A8 " << std::sqrt(e8 / (M * N)) << " (activation rounding predicts "
                                                        << expected << ", with the large channels in the scale "
                                                        << 40 * expected << "), W8A16 " << std::sqrt(e16 / (M * N)));
  CHECK(std::sqrt(e8 / (M * N)) < 1.5 * expected);
}

TEST_CASE("W8A16 linear (outlier columns included) matches its reference within fp32 summation-order rounding") {
  for (const Int8Kernels* set : fast_sets()) {
    uint64_t seed = 900;
    for (int64_t M : {1, 2, 3, 4, 5})
      for (int64_t K : kKs)
        for (int64_t N : kNs) {
          const bool outliers = K > 5 && (M + N) % 2 == 1;
          const QuantizedWeight qw = outliers ? random_weight_with_outliers(N, K, ++seed) : random_weight(N, K, ++seed);
          const Int8Weight v = qw.view();
          const std::vector<int8_t> q = qw.rows();
          const auto x = random_floats(M * K, seed + 3);
          const auto b = random_floats(N, seed + 4);
          const float* bias = (K + N) % 2 ? b.data() : nullptr;
          std::vector<float> want(M * N), got(M * N, std::nanf(""));
          reference_int8_kernels().linear_w8a16(x.data(), M, v, bias, want.data());
          reference_int8_kernels().add_outliers(x.data(), M, v, want.data());
          set->linear_w8a16(x.data(), M, v, bias, got.data());
          set->add_outliers(x.data(), M, v, got.data());
          double worst = 0;
          for (int64_t m = 0; m < M; ++m)
            for (int64_t n = 0; n < N; ++n) {
              double mag = bias ? std::fabs(bias[n]) : 0.0;
              for (int64_t k = 0; k < K; ++k) mag += std::fabs(x[m * K + k] * v.scale[n] * q[n * K + k]);
              for (int64_t j = 0; j < v.n_outliers; ++j)
                mag += std::fabs(x[m * K + v.outlier_columns[j]] * v.outlier_weights[j * v.outlier_ld + n]);
              const double d = std::fabs(double(got[m * N + n]) - want[m * N + n]);
              // the outlier fmas run in the same order in both: (2 (K + n_outliers) + 4) u covers them
              worst = std::max(worst, std::isnan(d) ? 1e30 : d / ((2.0 * (K + v.n_outliers) + 4) * kU * mag + 1e-37));
            }
          INFO(std::string(set->name) << " " << shape(M, K, N) << " worst error / bound " << worst);
          CHECK(worst <= 1.0);
        }
  }
}

// The derivation is at the top of this file; with outlier columns O the sums run over k not in O
// (those columns are exact fp32 products) and t_m is the largest |x| outside O.
TEST_CASE("quantized products stay within the quantization-step bound of the float product, outlier columns too") {
  struct Shape { int64_t M, K, N; float weight_outliers; int64_t x_outlier_channel; };
  // x_outlier_channel: a channel of x at 40 (20x the rest) in every row; -1: a different one per row;
  // -2: none
  const Shape shapes[] = {{5, 1000, 70, 0, -1}, {17, 2048, 64, 0, -1}, {3, 4096, 33, 0, -1}, {9, 1024, 48, 0, -2},
                          {9, 1024, 48, 50, -1}, {9, 1024, 48, 50, 17}, {9, 1024, 48, 20, 100}};
  for (const Shape s : shapes) {
    auto w = random_floats(s.N * s.K, s.K, -0.05f, 0.05f);
    if (s.weight_outliers > 0)
      for (int64_t n = 0; n < s.N; ++n)
        for (int64_t k : {5, 17, 40}) w[n * s.K + k] *= s.weight_outliers;
    auto x = random_floats(s.M * s.K, s.K + 1, -2.0f, 2.0f);
    for (int64_t m = 0; m < s.M && s.x_outlier_channel > -2; ++m)
      x[m * s.K + (s.x_outlier_channel >= 0 ? s.x_outlier_channel : (m * 37) % s.K)] = 40.0f;
    const auto b = random_floats(s.N, 3);
    const QuantizedWeight qw = quantize_weight_f32(w.data(), s.N, s.K);
    CHECK(qw.outlier_columns().size() == (s.weight_outliers > 0 ? 3u : 0u));
    std::vector<char> in_o(s.K, 0);
    for (int32_t k : qw.outlier_columns()) in_o[k] = 1;
    std::vector<float> y8a16(s.M * s.N), y8a8(s.M * s.N);
    linear_w8a16(x.data(), s.M, qw.view(), b.data(), y8a16.data());
    linear_w8a8(x.data(), s.M, qw.view(), b.data(), y8a8.data());
    double worst16 = 0, worst8 = 0, rms16 = 0, rms8 = 0, rms_bound16 = 0, rms_bound8 = 0;
    for (int64_t m = 0; m < s.M; ++m) {
      float amax = 0;
      for (int64_t k = 0; k < s.K; ++k)
        if (!in_o[k]) amax = std::max(amax, std::fabs(x[m * s.K + k]));
      const double t = amax / 127.0;
      for (int64_t n = 0; n < s.N; ++n) {
        const double sn = qw.scales()[n];
        double exact = b[n], sum_x = 0, sum_xhat = 0, sum_w = 0, mag = std::fabs(b[n]);
        for (int64_t k = 0; k < s.K; ++k) {
          const double xv = x[m * s.K + k], wv = w[n * s.K + k];
          exact += xv * wv;
          mag += std::fabs(xv * wv);
          if (in_o[k]) continue;
          sum_x += std::fabs(xv);
          sum_xhat += std::fabs(std::nearbyint(xv / t)) * t;
          sum_w += std::fabs(wv);
        }
        const double b16 = sn / 2 * sum_x + (2.0 * s.K + 8) * kU * (mag + sn / 2 * sum_x);
        const double b8 = sn / 2 * sum_xhat + t / 2 * sum_w + (2.0 * s.K + 8) * kU * (mag + sn / 2 * sum_xhat + t / 2 * sum_w);
        const double e16 = std::fabs(y8a16[m * s.N + n] - exact), e8 = std::fabs(y8a8[m * s.N + n] - exact);
        worst16 = std::max(worst16, e16 / b16);
        worst8 = std::max(worst8, e8 / b8);
        rms16 += e16 * e16;
        rms8 += e8 * e8;
        rms_bound16 += b16 * b16;
        rms_bound8 += b8 * b8;
      }
    }
    MESSAGE(shape(s.M, s.K, s.N) << " weight outliers x" << s.weight_outliers << " x outlier channel "
                                 << s.x_outlier_channel << ": worst error / bound W8A16 " << worst16 << ", W8A8 "
                                 << worst8 << "; rms error / rms bound W8A16 " << std::sqrt(rms16 / rms_bound16)
                                 << ", W8A8 " << std::sqrt(rms8 / rms_bound8) << "; rms error W8A8 / W8A16 "
                                 << std::sqrt(rms8 / rms16));
    CHECK(worst16 <= 1.0);
    CHECK(worst8 <= 1.0);
  }
}

TEST_CASE("int8 kernels on the ViT and LLM shapes match the reference (sampled rows)") {
  struct Shape { int64_t M, K, N; };
  const Shape shapes[] = {{1025, 1024, 3072}, {1025, 4096, 1024}, {67, 2048, 8192}, {67, 8192, 2048}, {1, 2048, 92553}};
  for (const Shape& s : shapes) {
    const QuantizedWeight qw = random_weight(s.N, s.K, s.N + s.K);
    const auto p = random_codes(s.M * s.K, s.M);
    const int64_t ldq = (s.K + 3) / 4 * 4;
    const auto ref_codes = encode(p, s.M, s.K, ldq, 0);
    for (const Int8Kernels* set : fast_sets()) {
      std::vector<int32_t> got(s.M * s.N);
      set->gemm_s32(encode(p, s.M, s.K, ldq, set->offset).data(), s.M, ldq, qw.view(), got.data());
      int64_t wrong = 0;
      std::vector<int32_t> want(s.N);
      for (int64_t m : {int64_t(0), s.M / 2, s.M - 1}) {
        reference_int8_kernels().gemm_s32(ref_codes.data() + m * ldq, 1, ldq, qw.view(), want.data());
        for (int64_t n = 0; n < s.N; ++n) wrong += got[m * s.N + n] != want[n];
      }
      INFO(std::string(set->name) << " " << shape(s.M, s.K, s.N));
      CHECK(wrong == 0);
    }
  }
}
