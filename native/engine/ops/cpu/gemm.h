// linear (y = x · Wᵀ + bias, W bf16 [N, K]) for any primitive set S.
//
// Small M (decode): a GEMV that streams each weight row once, widening bf16 in registers, and
// dots it with the (cache resident) M input rows.
// Larger M: a blocked GEMM. W is cut into blocks of NB columns (rows of W) x KC depth; each block is
// widened to fp32 and transposed into panels of NR = NV·W columns (k-major, zero padded), which stay
// in L2 while every MR-row tile of x streams past them through an MR x NR register tile
// (MR·NV accumulators, one broadcast of x and NV panel loads per k). Threads split the column
// blocks (and the rows when there are fewer blocks than threads); each packs its own panels.
#pragma once

#include <cstdint>
#include <type_traits>

#include "common/bf16.h"
#include "ops/cpu/parallel.h"
#include "ops/cpu/with_rows.h"
#include "ops/scratch.h"

namespace vlac::ops {
namespace {

// How far ahead of its loads the GEMV prefetches each weight row (bytes): the hardware prefetcher
// alone leaves ~20 % of the DRAM bandwidth unused on four interleaved 4 KiB streams.
constexpr int kGemvPrefetchBytes = 1024;

// How a blocked GEMM of M x N x K is split over the threads: W in column blocks of whole NR-column
// panels (each block's packed panels, panel_bytes per panel, within the L2 budget), as few as fit, in
// a multiple of the thread count, as even as whole panels allow (each thread gets one contiguous run
// of blocks); the rows are cut into chunks when the column blocks alone cannot occupy every thread.
struct GemmPlan {
  int64_t block_cols, row_chunks, rows_per_chunk, tasks, grain;
};

inline GemmPlan plan_gemm(int64_t M, int64_t N, int64_t K, int64_t NR, int64_t MR, int64_t panel_bytes,
                          int64_t budget_bytes) {
  const int64_t panels_total = (N + NR - 1) / NR;
  const int threads = vlac::num_threads();
  const int64_t max_panels = max64(1, budget_bytes / panel_bytes);
  int64_t blocks_wanted = (panels_total + max_panels - 1) / max_panels;
  blocks_wanted = (blocks_wanted + threads - 1) / threads * threads;
  const int64_t panels_per_block = max64(1, (panels_total + blocks_wanted - 1) / blocks_wanted);
  const int64_t col_blocks = (panels_total + panels_per_block - 1) / panels_per_block;
  int64_t row_chunks = 1;
  if (col_blocks < threads) row_chunks = min64((threads + col_blocks - 1) / col_blocks, (M + MR - 1) / MR);
  GemmPlan plan;
  plan.block_cols = panels_per_block * NR;
  plan.row_chunks = row_chunks;
  plan.rows_per_chunk = ((M + row_chunks - 1) / row_chunks + MR - 1) / MR * MR;
  plan.tasks = col_blocks * row_chunks;
  // Tiny products are not worth a second thread.
  plan.grain = (M * N * K < (int64_t(1) << 21)) ? plan.tasks : 1;
  return plan;
}

template <class S>
struct Gemm {
  using F = typename S::F;
  static constexpr int W = S::W;
  static constexpr int MR = S::kGemmMR;
  static constexpr int NV = S::kGemmNV;
  static constexpr int64_t NR = NV * W;
  static constexpr int64_t KC = 256;             // depth of a packed block: MR x KC of x stays in L1
  static constexpr int64_t kPackedBytes = 384 << 10;  // a packed block's budget in the (1-2 MiB) L2

  // C tile (rows x NV vectors) += A rows (stride lda, kc deep) · packed panel (kc x NR).
  // first: overwrite C instead of adding; bias (nullable) is added on the last depth block.
  template <int ROWS>
  static void tile(int64_t kc, const float* a, int64_t lda, const float* panel, float* c, int64_t ldc,
                   int64_t cols, bool first, const float* bias) {
    F acc[ROWS][NV];
    for (int r = 0; r < ROWS; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
    const float* ar[ROWS];
    for (int r = 0; r < ROWS; ++r) ar[r] = a + r * lda;
    for (int64_t k = 0; k < kc; ++k) {
      F b[NV];
      for (int v = 0; v < NV; ++v) b[v] = S::load(panel + k * NR + v * W);
      for (int r = 0; r < ROWS; ++r) {
        const F av = S::set1(ar[r][k]);
        for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(av, b[v], acc[r][v]);
      }
    }
    write_tile<ROWS>(acc, c, ldc, cols, first, bias);
  }

  // C tile (rows x NV vectors, `cols` of them valid) = acc (first) or C + acc; + bias when given.
  template <int ROWS>
  static void write_tile(const F (&acc)[ROWS][NV], float* c, int64_t ldc, int64_t cols, bool first, const float* bias) {
    for (int r = 0; r < ROWS; ++r) {
      float* cr = c + r * ldc;
      for (int v = 0; v < NV; ++v) {
        const int64_t n = cols - v * W;
        if (n <= 0) break;
        F out = acc[r][v];
        if (n >= W) {
          if (!first) out = S::add(S::load(cr + v * W), out);
          if (bias) out = S::add(out, S::load(bias + v * W));
          S::store(cr + v * W, out);
        } else {
          if (!first) out = S::add(S::load_n(cr + v * W, n), out);
          if (bias) out = S::add(out, S::load_n(bias + v * W, n));
          S::store_n(cr + v * W, out, n);
        }
      }
    }
  }

  static void tile_rows(int rows, int64_t kc, const float* a, int64_t lda, const float* panel, float* c, int64_t ldc,
                        int64_t cols, bool first, const float* bias) {
    with_rows<MR>(rows, [&](auto r) { tile<decltype(r)::value>(kc, a, lda, panel, c, ldc, cols, first, bias); });
  }

  // Panels of columns [n0, n0 + cols) of Wᵀ, depth [k0, k0 + kc): panel p at packed + p * kc * NR,
  // element (k, j) at k * NR + j = W[n0 + p*NR + j][k0 + k] as fp32, 0 past column `cols`.
  static void pack(const uint16_t* w, int64_t K, int64_t n0, int64_t cols, int64_t k0, int64_t kc, float* packed) {
    const int64_t panels = (cols + NR - 1) / NR;
    for (int64_t p = 0; p < panels; ++p) {
      float* panel = packed + p * kc * NR;
      for (int g = 0; g < NV; ++g) {
        const int64_t c0 = p * NR + g * W;  // first column of this W-wide group
        for (int64_t kk = 0; kk < kc; kk += W) {
          const int64_t kw = min64(W, kc - kk);
          F r[W];
          for (int i = 0; i < W; ++i) {
            if (c0 + i >= cols) {
              r[i] = S::zero();
            } else {
              const uint16_t* src = w + (n0 + c0 + i) * K + k0 + kk;
              r[i] = kw == W ? S::load_bf16(src) : S::load_bf16_n(src, kw);
            }
          }
          S::transpose(r);
          for (int64_t j = 0; j < kw; ++j) S::store(panel + (kk + j) * NR + g * W, r[j]);
        }
      }
    }
  }

  static void gemm(const float* x, int64_t M, int64_t K, const uint16_t* w, int64_t N, const float* bias, float* y) {
    const GemmPlan plan = plan_gemm(M, N, K, NR, MR, KC * NR * int64_t(sizeof(float)), kPackedBytes);
    const int64_t row_chunks = plan.row_chunks, rows_per_chunk = plan.rows_per_chunk, block_cols = plan.block_cols;
    parallel_ranges(plan.tasks, plan.grain, [&](int64_t t0, int64_t t1) {
      float* packed = thread_scratch(0, static_cast<size_t>(KC * block_cols));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n0 = (t / row_chunks) * block_cols;
        const int64_t cols = min64(block_cols, N - n0);
        const int64_t m_begin = (t % row_chunks) * rows_per_chunk;
        const int64_t m_end = min64(M, m_begin + rows_per_chunk);
        if (m_begin >= m_end) continue;
        const int64_t panels = (cols + NR - 1) / NR;
        for (int64_t k0 = 0; k0 < K; k0 += KC) {
          const int64_t kc = min64(KC, K - k0);
          pack(w, K, n0, cols, k0, kc, packed);
          const bool first = k0 == 0, last = k0 + kc == K;
          for (int64_t m0 = m_begin; m0 < m_end; m0 += MR) {
            const int rows = static_cast<int>(min64(MR, m_end - m0));
            for (int64_t p = 0; p < panels; ++p) {
              const int64_t c0 = n0 + p * NR;
              tile_rows(rows, kc, x + m0 * K + k0, K, packed + p * kc * NR, y + m0 * N + c0, N,
                        min64(NR, N - c0), first, (last && bias) ? bias + c0 : nullptr);
            }
          }
        }
      }
    });
  }

  // y rows [0, M) x columns [n, n + COLS): each W row read once for all M rows of x.
  template <int M, int COLS>
  static void gemv_cols(const float* x, int64_t K, const uint16_t* w, int64_t N, const float* bias, float* y,
                        int64_t n) {
    F acc[M][COLS];
    for (int m = 0; m < M; ++m)
      for (int c = 0; c < COLS; ++c) acc[m][c] = S::zero();
    const uint16_t* wr[COLS];
    for (int c = 0; c < COLS; ++c) wr[c] = w + (n + c) * K;
    int64_t k = 0;
    for (; k + W <= K; k += W) {
      F wv[COLS];
      for (int c = 0; c < COLS; ++c) {
        _mm_prefetch(reinterpret_cast<const char*>(wr[c] + k) + kGemvPrefetchBytes, _MM_HINT_T0);
        wv[c] = S::load_bf16(wr[c] + k);
      }
      for (int m = 0; m < M; ++m) {
        const F xv = S::load(x + m * K + k);
        for (int c = 0; c < COLS; ++c) acc[m][c] = S::fmadd(xv, wv[c], acc[m][c]);
      }
    }
    if (k < K) {
      F wv[COLS];
      for (int c = 0; c < COLS; ++c) wv[c] = S::load_bf16_n(wr[c] + k, K - k);
      for (int m = 0; m < M; ++m) {
        const F xv = S::load_n(x + m * K + k, K - k);
        for (int c = 0; c < COLS; ++c) acc[m][c] = S::fmadd(xv, wv[c], acc[m][c]);
      }
    }
    for (int m = 0; m < M; ++m)
      for (int c = 0; c < COLS; ++c) {
        const float dot = S::reduce_add(acc[m][c]);
        y[m * N + n + c] = bias ? dot + bias[n + c] : dot;
      }
  }

  template <int M>
  static void gemv(const float* x, int64_t K, const uint16_t* w, int64_t N, const float* bias, float* y) {
    constexpr int kCols = 4;
    const int64_t groups = (N + kCols - 1) / kCols;
    // about 64 KiB of weights per range at least
    const int64_t grain = max64(1, (int64_t(1) << 15) / max64(K * kCols, 1));
    parallel_ranges(groups, grain, [&](int64_t g0, int64_t g1) {
      for (int64_t g = g0; g < g1; ++g) {
        const int64_t n = g * kCols;
        switch (min64(kCols, N - n)) {
          case 4: gemv_cols<M, 4>(x, K, w, N, bias, y, n); break;
          case 3: gemv_cols<M, 3>(x, K, w, N, bias, y, n); break;
          case 2: gemv_cols<M, 2>(x, K, w, N, bias, y, n); break;
          default: gemv_cols<M, 1>(x, K, w, N, bias, y, n); break;
        }
      }
    });
  }

  static void linear(const float* x, int64_t M, int64_t K, const uint16_t* w, int64_t N, const float* bias,
                     float* y) {
    if (M == 0 || N == 0) return;
    if (K == 0) {
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) y[m * N + n] = bias ? bias[n] : 0.0f;
      return;
    }
    switch (M) {  // up to 4 rows, stream W once instead of packing it
      case 1: return gemv<1>(x, K, w, N, bias, y);
      case 2: return gemv<2>(x, K, w, N, bias, y);
      case 3: return gemv<3>(x, K, w, N, bias, y);
      case 4: return gemv<4>(x, K, w, N, bias, y);
      default: return gemm(x, M, K, w, N, bias, y);
    }
  }
};

template <class S>
void linear(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias, float* y) {
  Gemm<S>::linear(x, M, K, w_bf16, N, bias, y);
}

// linear_bf16 without a bf16 dot product instruction: the fp32 GEMM on a copy of x rounded to bf16.
template <class S>
void linear_bf16(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias,
                 float* y) {
  float* rounded = thread_scratch(3, static_cast<size_t>(M * K));
  parallel_ranges(M * K, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) rounded[i] = round_to_bf16(x[i]);
  });
  Gemm<S>::linear(rounded, M, K, w_bf16, N, bias, y);
}

}  // namespace
}  // namespace vlac::ops
