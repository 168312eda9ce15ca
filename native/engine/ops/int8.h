// INT8 Linear weights (issue 16): symmetric int8 with one fp32 scale per output channel, a few
// outlier input channels kept apart in fp32, and the two products the model runs on them.
//
// Outlier input channels (select_outlier_columns): real LLM weights have a few input channels k
// whose weights are 20-50x larger than the rest in every row; with one scale per row such a column
// sets every row's step and the other weights lose log2(ratio) of their 7 bits. So a column whose
// largest |W[n,k]| exceeds kOutlierRatio x the median column's is taken out (at most
// max_outlier_columns(K) of them, the largest first): its weights are kept exactly (fp32, from the
// checkpoint's bf16) and its codes are 0. Random or well-behaved weights have none (a Gaussian
// column's max over N rows is within ~1.5x of the median column's), and cost nothing.
//
// Quantization (quantize_weight): for output row n, over the other columns, s_n = max_k |W[n,k]| / 127
// and q[n,k] = round_half_even(W[n,k] / s_n) in [-127, 127] (a row of zeros has s_n = 0, q = 0).
// Per output channel because, the outlier columns apart, a per-row scale bounds each row's error by
// its own largest weight, and the activation side (per token, below) carries the spread of x.
//
//   linear_w8a16  y = x · (s ⊙ q)ᵀ + b: weight-only; q widened to fp32 in registers, fp32 FMA,
//                 the row scale applied once per output. The decode GEMV: it streams 1 byte per
//                 weight instead of bf16's 2.
//   linear_w8a8   each row m of x quantized on the fly over the non-outlier channels,
//                 t_m = max_k |x[m,k]| / 127, p[m,k] = round_half_even(x[m,k] · (127 / max_k |x[m,k]|)),
//                 then the exact int32 product acc[m,n] = Σ_k p[m,k] q[n,k] and
//                 y[m,n] = fma(float(acc), t_m · s_n, b_n). For prefill and the ViT. Every kernel set
//                 computes the same codes, the same acc and the same float epilogue, so its output
//                 is bit-identical to the reference.
//   both then add the outlier columns in fp32: y[m,n] = fma(x[m,k_j], W[n,k_j], y[m,n]) for
//   j = 0, 1, ... in order (the same fma sequence in every set). Outlier channels of x are thereby
//   out of the activation scale t_m too: a large x channel that meets an outlier weight column does
//   not coarsen the other channels' codes.
//   W8A8 also takes out, per call, the outlier channels of x itself (LLM.int8()-style): by the same
//   rule on the channels' largest |x[m,k]| over the rows (select_outlier_columns), those not
//   already outlier columns are out of t_m (code 0) and added afterwards in fp32 with the
//   dequantized weights, y[m,n] = fma(x[m,k], s_n · q[n,k], y[m,n]), in channel order.
//
// Weight layout (Int8Weight::q, "packed16x4"): columns in groups of 16, depth in steps of 4;
// W[n,k] is at ((n/16 · K4 + k/4) · 16 + n%16) · 4 + k%4, K4 = ceil(K/4), padded with zeros to
// a multiple of 64 columns (ceil(N/64) · 4 groups). One 64-byte block is the 16 columns x 4 depths that one AVX-512 VNNI
// vpdpbusd consumes (a 32-byte half is 8 columns for AVX2/AVX-VNNI); a group of 16 columns is
// contiguous, so the GEMV streams it. col_sum[n] = Σ_k q[n,k] is the correction for the VNNI
// kernels, which feed activations as unsigned bytes p + 128 (vpdpbusd multiplies u8 by s8):
// Σ (p+128) q = acc + 128 · col_sum.
#pragma once

#include <cstdint>
#include <vector>

#include "ops/op_table.h"

namespace vlac::ops {

// A view of a quantized [N, K] weight (the arrays belong to a QuantizedWeight).
struct Int8Weight {
  const int8_t* q = nullptr;        // packed16x4, ceil(N/64) · 4 · K4 · 64 bytes
  const float* scale = nullptr;     // [N]
  const int32_t* col_sum = nullptr; // [N]
  int64_t N = 0, K = 0;
  // The outlier input channels, ascending, and their weights: row j (column outlier_columns[j] of
  // W across the N outputs) at outlier_weights + j · outlier_ld. outlier_ld is N rounded up to 16
  // plus 16 floats, so that the rows of one column block do not all fall in one L1 set (a row
  // stride that is a multiple of 4 KiB would).
  const int32_t* outlier_columns = nullptr;
  const float* outlier_weights = nullptr;
  int64_t n_outliers = 0;
  int64_t outlier_ld = 0;
  int64_t k4() const { return (K + 3) / 4; }
  int64_t n16() const { return (N + 15) / 16; }
};

// Owns a quantized weight.
class QuantizedWeight {
 public:
  QuantizedWeight() = default;
  // From row-major codes [N, K], their scales and the outlier columns (ascending, < K; their codes
  // must be 0) with their weights [n, N] (a pre-quantized checkpoint): repacked, not re-quantized.
  QuantizedWeight(const int8_t* q_rows, const float* scale, int64_t N, int64_t K,
                  std::vector<int32_t> outlier_columns = {}, std::vector<float> outlier_weights = {});

  Int8Weight view() const {
    return {packed_.data(), scale_.data(), col_sum_.data(), N_, K_, outlier_columns_.data(), outlier_weights_.data(),
            static_cast<int64_t>(outlier_columns_.size()), outlier_ld()};
  }
  int64_t N() const { return N_; }
  int64_t K() const { return K_; }
  const std::vector<float>& scales() const { return scale_; }
  const std::vector<int32_t>& outlier_columns() const { return outlier_columns_; }
  // The outlier columns' weights [n_outliers, N] row-major (what a pre-quantized checkpoint stores).
  std::vector<float> outlier_weight_rows() const;
  // Row-major codes [N, K] (what a pre-quantized checkpoint stores).
  std::vector<int8_t> rows() const;
  // The resident bytes of codes, scales, column sums and outlier columns.
  size_t bytes() const {
    return packed_.size() + (scale_.size() + col_sum_.size() + outlier_columns_.size() + outlier_weights_.size()) * 4;
  }

 private:
  std::vector<int8_t> packed_;
  std::vector<float> scale_;
  std::vector<int32_t> col_sum_;
  std::vector<int32_t> outlier_columns_;
  std::vector<float> outlier_weights_;  // [n_outliers, outlier_ld()]
  int64_t N_ = 0, K_ = 0;
  int64_t outlier_ld() const { return (N_ + 15) / 16 * 16 + 16; }
};

// The outlier rule (see above): a column is an outlier when its largest |weight| exceeds
// kOutlierRatio times the median of the columns' largest, at most max_outlier_columns(K) of them
// (the largest first). 6x costs a per-row scale ~2.6 of its 7 bits; below that the int8 error stays
// within ~1.5x of a well-behaved column's. The cap, 1/32 of the depth (at least 4), bounds the fp32
// columns to ~12 % of the int8 codes' bytes.
constexpr float kOutlierRatio = 6.0f;
int64_t max_outlier_columns(int64_t K);
// column_max[k] = max_n |W[n,k]|; returns the outlier columns, ascending.
std::vector<int32_t> select_outlier_columns(const float* column_max, int64_t K);

// Quantizes a bf16 (raw bits) or fp32 row-major [N, K] weight per output channel (see above).
QuantizedWeight quantize_weight_bf16(const uint16_t* w, int64_t N, int64_t K);
QuantizedWeight quantize_weight_f32(const float* w, int64_t N, int64_t K);

// y [M, N] = x [M, K] · Wᵀ (+ bias [N], fp32 or nullptr); y must not overlap x. The active
// instruction set's int8 kernels (int8_kernels(active_isa())).
void linear_w8a16(const float* x, int64_t M, const Int8Weight& w, const float* bias, float* y);
void linear_w8a8(const float* x, int64_t M, const Int8Weight& w, const float* bias, float* y);

// ---- kernel sets ------------------------------------------------------------------------------
// Activation codes: row m of a [M, K] input quantized as above, stored at codes + m · ldq as
// p + offset (offset 0: int8; 128: uint8 for vpdpbusd), padded to ldq = 4 · K4 with the code of 0.
// The channels skip[0 .. n_skip) (a weight's outlier columns) count as 0: out of the scale, code 0.
using QuantizeRowsFn = void (*)(const float* x, int64_t M, int64_t K, const int32_t* skip, int64_t n_skip, int64_t ldq,
                                uint8_t* codes, float* scales);
// acc [M, N] = Σ_k p[m,k] q[n,k], exact.
using GemmS32Fn = void (*)(const uint8_t* codes, int64_t M, int64_t ldq, const Int8Weight& w, int32_t* acc);
// y [M, N] = fma(float(acc), scales[m] · w.scale[n], bias[n] or 0).
using GemmF32Fn = void (*)(const uint8_t* codes, int64_t M, int64_t ldq, const float* scales, const Int8Weight& w,
                           const float* bias, float* y);
using LinearW8A16Fn = void (*)(const float* x, int64_t M, const Int8Weight& w, const float* bias, float* y);
// y [M, N] += the outlier columns' products, y[m,n] = fma(x[m,k_j], W[n,k_j], y[m,n]), j in order.
using AddOutliersFn = void (*)(const float* x, int64_t M, const Int8Weight& w, float* y);
// out[k] = max_m |x[m,k]| of a [M, K] input.
using ColumnMaxFn = void (*)(const float* x, int64_t M, int64_t K, float* out);

struct Int8Kernels {
  const char* name;  // "reference", "avx2", "avxvnni", "avx512vnni"
  int offset;        // of the activation codes: 0 or 128
  QuantizeRowsFn quantize_rows;
  GemmS32Fn gemm_s32;
  GemmF32Fn gemm_f32;
  LinearW8A16Fn linear_w8a16;  // the int8 columns only
  AddOutliersFn add_outliers;
  ColumnMaxFn column_max;
  // A register-only vpdpbusd loop for the peak benchmark (ops/peak.cpp; 1 instruction = 128 integer
  // ops at zmm width); nullptr in the sets without one.
  FmaLoopFn dot_loop = nullptr;
};

// The int8 kernels for a base instruction set of op_table.h, chosen from cpuid: avx512 -> AVX-512
// VNNI (vpdpbusd zmm) when present; avx2 (or avx512 without VNNI) -> AVX-VNNI (vpdpbusd ymm) when
// present, else AVX2 (sign-extend to int16, vpmaddwd: exact, unlike vpmaddubsw which saturates
// u8·s8 pair sums at int16); reference -> plain C++.
const Int8Kernels& int8_kernels(Isa base);
const Int8Kernels& active_int8_kernels();
// Every set this CPU can run, reference first (for the tests and the benchmark).
std::vector<const Int8Kernels*> supported_int8_kernels();

// Defined by each set's sources (reached only when the CPU supports them).
const Int8Kernels& reference_int8_kernels();
const Int8Kernels& avx2_int8_kernels();
const Int8Kernels& avxvnni_int8_kernels();
const Int8Kernels& avx512vnni_int8_kernels();

}  // namespace vlac::ops
