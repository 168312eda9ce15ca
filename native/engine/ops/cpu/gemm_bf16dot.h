// linear_bf16 on AVX-512 BF16: y = bf16(x) · Wᵀ + bias with `vdpbf16ps`, which multiplies pairs of
// bf16 and adds both products to an fp32 lane: twice the depth of an fp32 FMA per instruction. The
// products of two bf16 values are exact in fp32, so this differs from linear on the rounded x only in
// the order of the fp32 sums.
//
// Layout: x is rounded once per call into bf16 rows padded to an even depth (k pairs). W is cut into
// the same blocks as gemm.h (plan_gemm); a block is packed into panels of NR = 32 columns whose k-pair
// kp holds, for each column j, (W[j][2kp], W[j][2kp+1]) as one 32-bit lane: a 16 x 16 transpose of
// 32-bit pairs per 16 columns. A tile of MR rows broadcasts one pair of x per row and k pair.
// Include only from the AVX-512 op table, after simd_avx512.h and gemm.h.
#pragma once

#include <cstdint>
#include <cstring>

#include "ops/cpu/gemm.h"
#include "ops/cpu/parallel.h"
#include "ops/scratch.h"

namespace vlac::ops {
namespace {

struct GemmBf16Dot {
  using F = __m512;
  using Base = Gemm<Avx512>;
  static constexpr int W = 16;
  static constexpr int MR = Base::MR;
  static constexpr int NV = Base::NV;
  static constexpr int64_t NR = NV * W;
  static constexpr int64_t KC = 512;  // depth of a packed block (even): MR x KC bf16 of x stay in L1
  static constexpr int64_t kPackedBytes = 384 << 10;

  // Rows of x rounded to bf16 (nearest even), depth padded with a zero to `kp2` = K rounded up to even.
  static void round_rows(const float* x, int64_t M, int64_t K, int64_t kp2, uint16_t* xb) {
    const int64_t grain = max64(1, kElementwiseGrain / max64(K, 1));
    parallel_ranges(M, grain, [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        const float* src = x + m * K;
        uint16_t* dst = xb + m * kp2;
        for (int64_t k = 0; k < kp2; k += 2 * W) {
          const int64_t n = min64(2 * W, kp2 - k);
          const F lo = Avx512::load_n(src + k, min64(W, K - k));
          const F hi = K - k > W ? Avx512::load_n(src + k + W, K - k - W) : Avx512::zero();
          const __m512i packed = reinterpret_cast<__m512i>(_mm512_cvtne2ps_pbh(hi, lo));
          _mm512_mask_storeu_epi16(dst + k, n >= 2 * W ? ~__mmask32(0) : (__mmask32(1) << n) - 1, packed);
        }
      }
    });
  }

  // Panels of columns [n0, n0 + cols) of W, depth [k0, k0 + kc) (k0 even): panel p at
  // packed + p * kc * NR, the pair (W[n][k0 + 2kp], W[n][k0 + 2kp + 1]) of column j = n - n0 - p*NR at
  // 2 * (kp * NR + j); zero past column `cols` and past depth K.
  static void pack(const uint16_t* w, int64_t K, int64_t n0, int64_t cols, int64_t k0, int64_t kc, uint16_t* packed) {
    const int64_t panels = (cols + NR - 1) / NR;
    const int64_t pairs = (kc + 1) / 2;
    for (int64_t p = 0; p < panels; ++p) {
      uint16_t* panel = packed + p * pairs * 2 * NR;
      for (int g = 0; g < NV; ++g) {
        const int64_t c0 = p * NR + g * W;
        for (int64_t kp = 0; kp < pairs; kp += W) {
          const int64_t kw = min64(W, pairs - kp);              // pairs in this 16 x 16 block
          const int64_t elems = min64(2 * W, K - (k0 + 2 * kp));  // bf16 of a row that exist
          const __mmask32 mask = elems >= 2 * W ? ~__mmask32(0) : (__mmask32(1) << elems) - 1;
          F r[W];
          for (int i = 0; i < W; ++i) {
            r[i] = c0 + i >= cols ? Avx512::zero()
                                  : _mm512_castsi512_ps(_mm512_maskz_loadu_epi16(mask, w + (n0 + c0 + i) * K + k0 + 2 * kp));
          }
          Avx512::transpose(r);
          for (int64_t j = 0; j < kw; ++j) Avx512::store(reinterpret_cast<float*>(panel + 2 * ((kp + j) * NR + g * W)), r[j]);
        }
      }
    }
  }

  template <int ROWS>
  static void tile(int64_t pairs, const uint16_t* a, int64_t lda, const uint16_t* panel, float* c, int64_t ldc,
                   int64_t cols, bool first, const float* bias) {
    F acc[ROWS][NV];
    for (int r = 0; r < ROWS; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = Avx512::zero();
    for (int64_t kp = 0; kp < pairs; ++kp) {
      __m512bh b[NV];
      for (int v = 0; v < NV; ++v)
        b[v] = reinterpret_cast<__m512bh>(_mm512_loadu_si512(panel + 2 * (kp * NR + v * W)));
      for (int r = 0; r < ROWS; ++r) {
        int32_t pair;
        std::memcpy(&pair, a + r * lda + 2 * kp, sizeof pair);
        const __m512bh av = reinterpret_cast<__m512bh>(_mm512_set1_epi32(pair));
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_dpbf16_ps(acc[r][v], av, b[v]);
      }
    }
    Base::write_tile<ROWS>(acc, c, ldc, cols, first, bias);
  }

  static void tile_rows(int rows, int64_t pairs, const uint16_t* a, int64_t lda, const uint16_t* panel, float* c,
                        int64_t ldc, int64_t cols, bool first, const float* bias) {
    with_rows<MR>(rows, [&](auto r) { tile<decltype(r)::value>(pairs, a, lda, panel, c, ldc, cols, first, bias); });
  }

  static void linear(const float* x, int64_t M, int64_t K, const uint16_t* w, int64_t N, const float* bias, float* y) {
    if (M == 0 || N == 0) return;
    if (K == 0) return Base::linear(x, M, K, w, N, bias, y);
    const int64_t kp2 = (K + 1) / 2 * 2;
    uint16_t* xb = reinterpret_cast<uint16_t*>(thread_scratch(3, static_cast<size_t>(M * kp2 / 2)));
    round_rows(x, M, K, kp2, xb);
    const GemmPlan plan = plan_gemm(M, N, K, NR, MR, KC * NR * int64_t(sizeof(uint16_t)), kPackedBytes);
    parallel_ranges(plan.tasks, plan.grain, [&](int64_t t0, int64_t t1) {
      uint16_t* packed = reinterpret_cast<uint16_t*>(thread_scratch(0, static_cast<size_t>(KC * plan.block_cols / 2)));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n0 = (t / plan.row_chunks) * plan.block_cols;
        const int64_t cols = min64(plan.block_cols, N - n0);
        const int64_t m_begin = (t % plan.row_chunks) * plan.rows_per_chunk;
        const int64_t m_end = min64(M, m_begin + plan.rows_per_chunk);
        if (m_begin >= m_end) continue;
        const int64_t panels = (cols + NR - 1) / NR;
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
          const int64_t kc = min64(KC, K - k0), pairs = (kc + 1) / 2;
          pack(w, K, n0, cols, k0, kc, packed);
          const bool first = k0 == 0, last = k0 + kc == K;
          for (int64_t m0 = m_begin; m0 < m_end; m0 += MR) {
            const int rows = static_cast<int>(min64(MR, m_end - m0));
            for (int64_t p = 0; p < panels; ++p) {
              const int64_t c0 = n0 + p * NR;
              tile_rows(rows, pairs, xb + m0 * kp2 + k0, kp2, packed + p * pairs * 2 * NR, y + m0 * N + c0, N,
                        min64(NR, N - c0), first, (last && bias) ? bias + c0 : nullptr);
            }
          }
        }
      }
    });
  }
};

}  // namespace
}  // namespace vlac::ops
