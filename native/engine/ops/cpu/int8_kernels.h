// The int8 kernels of ops/int8.h for any integer primitive set P (int8_avx2.cpp, int8_avxvnni_avx2.cpp,
// int8_avx512.cpp), written against the packed16x4 weight layout.
//
// P provides: W (int32 lanes per vector = columns one vector of codes covers, 4 depths each), MR x NV
// (GEMM register tile: rows x vectors), kOffset (activation code offset, 0 or 128), I / F (int32 /
// fp32 vectors), Wv + load_w (a vector of W columns x 4 depths of weights, as the dot wants it),
// Acc + zero_acc / dot / result (acc += the 4-depth dot of a broadcast activation word with Wv;
// result: W int32 sums in column order), bcast4 (4 activation codes broadcast to every lane),
// load_*_n / store_*_n (first n lanes), cvt, set1, mul, fmadd, slli7, sub; and for the GEMV,
// widen_chunk (W weights -> fp32), xpattern (4 floats to every 128-bit lane), kGemvRows.
#pragma once

#include <cstdint>
#include <cstring>

#include "ops/cpu/parallel.h"
#include "ops/cpu/with_rows.h"
#include "ops/int8.h"

namespace vlac::ops {
namespace {

template <class P>
struct Int8 {
  using I = typename P::I;
  using F = typename P::F;
  static constexpr int W = P::W, MR = P::MR, NV = P::NV;
  static constexpr int64_t NR = int64_t(NV) * W;               // columns of a register tile
  static constexpr int64_t kBlockBytes = 256 << 10;            // weights of one column block, in L2
  static constexpr int64_t kPanelBytes = 128 << 10;            // activation codes of one row panel, in L2

  static const int8_t* column_base(const Int8Weight& w, int64_t c0) {
    return w.q + ((c0 / 16 * w.k4()) * 16 + c0 % 16) * 4;  // depth step k4 at + 64 · k4
  }

  // Rows [m0, m0 + ROWS) x columns [c0, c0 + cols), cols <= NR. The packed storage is padded to a
  // multiple of 64 columns, so all NV vectors load in bounds (zeros past N).
  template <int ROWS, bool kFloat>
  static void tile(const uint8_t* codes, int64_t ldq, const Int8Weight& w, int64_t c0, int64_t cols,
                   const float* xs, const float* bias, float* y, int32_t* acc_out) {
    // Fully unrolled (the pragmas), so that GCC keeps acc in registers: with a loop left for later
    // unrolling it holds acc in memory and stores every accumulator on every depth step.
    typename P::Acc acc[ROWS][NV];
#pragma GCC unroll 8
    for (int r = 0; r < ROWS; ++r)
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[r][v] = P::zero_acc();
    const int8_t* wp[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) wp[v] = column_base(w, c0 + v * W);
    const int64_t k4 = w.k4();
    for (int64_t s = 0; s < k4; ++s) {
      typename P::Wv wv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) wv[v] = P::load_w(wp[v] + s * 64);
#pragma GCC unroll 8
      for (int r = 0; r < ROWS; ++r) {
        const I xb = P::bcast4(codes + r * ldq + s * 4);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) P::dot(acc[r][v], xb, wv[v]);
      }
    }
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      const int64_t n = cols - int64_t(v) * W;
      if (n <= 0) continue;
      const int64_t c = c0 + int64_t(v) * W;
      I correction = P::zero_i();
      if (P::kOffset) correction = P::slli7(P::load_i_n(w.col_sum + c, n));  // 128 · Σ_k q
      F ws = P::zero_f(), b = P::zero_f();
      if (kFloat) {
        ws = P::load_f_n(w.scale + c, n);
        if (bias) b = P::load_f_n(bias + c, n);
      }
#pragma GCC unroll 8
      for (int r = 0; r < ROWS; ++r) {
        const I sum = P::sub(P::result(acc[r][v]), correction);
        if (kFloat) {
          P::store_f_n(y + r * w.N + c, P::fmadd(P::cvt(sum), P::mul(P::set1(xs[r]), ws), b), n);
        } else {
          P::store_i_n(acc_out + r * w.N + c, sum, n);
        }
      }
    }
  }

  template <bool kFloat>
  static void tile_rows(int rows, const uint8_t* codes, int64_t ldq, const Int8Weight& w, int64_t c0, int64_t cols,
                        const float* xs, const float* bias, float* y, int32_t* acc_out) {
    with_rows<MR>(rows, [&](auto r) { tile<decltype(r)::value, kFloat>(codes, ldq, w, c0, cols, xs, bias, y, acc_out); });
  }

  // Threads split column blocks (a block's weights stay in L2 while every MR-row tile of codes
  // passes them), and the rows too when there are fewer blocks than threads.
  template <bool kFloat>
  static void gemm(const uint8_t* codes, int64_t M, int64_t ldq, const float* xs, const Int8Weight& w,
                   const float* bias, float* y, int32_t* acc_out) {
    if (M == 0) return;
    const int64_t tiles_total = (w.N + NR - 1) / NR;
    const int threads = vlac::num_threads();
    const int64_t tiles_per_block = max64(1, min64(kBlockBytes / (NR * ldq), (tiles_total + threads - 1) / threads));
    const int64_t col_blocks = (tiles_total + tiles_per_block - 1) / tiles_per_block;
    int64_t row_chunks = 1;
    if (col_blocks < threads) row_chunks = min64((threads + col_blocks - 1) / col_blocks, (M + MR - 1) / MR);
    const int64_t rows_per_chunk = ((M + row_chunks - 1) / row_chunks + MR - 1) / MR * MR;
    const int64_t tasks = col_blocks * row_chunks;
    const int64_t grain = (M * w.N * ldq < (int64_t(1) << 21)) ? tasks : 1;
    parallel_ranges(tasks, grain, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t n_begin = (t / row_chunks) * tiles_per_block * NR;
        const int64_t n_end = min64(w.N, n_begin + tiles_per_block * NR);
        const int64_t m_begin = (t % row_chunks) * rows_per_chunk;
        const int64_t m_end = min64(M, m_begin + rows_per_chunk);
        // rows in panels whose codes stay in L2 next to the block's weights; within a panel each
        // register tile of weights passes every row tile of the panel
        const int64_t panel = max64(MR, kPanelBytes / ldq / MR * MR);
        for (int64_t p0 = m_begin; p0 < m_end; p0 += panel) {
          const int64_t p1 = min64(m_end, p0 + panel);
          for (int64_t c0 = n_begin; c0 < n_end; c0 += NR)
            for (int64_t m0 = p0; m0 < p1; m0 += MR) {
              const int rows = static_cast<int>(min64(MR, p1 - m0));
              tile_rows<kFloat>(rows, codes + m0 * ldq, ldq, w, c0, min64(NR, n_end - c0), kFloat ? xs + m0 : xs,
                                bias, kFloat ? y + m0 * w.N : y, kFloat ? acc_out : acc_out + m0 * w.N);
            }
        }
      }
    });
  }

  static void gemm_s32(const uint8_t* codes, int64_t M, int64_t ldq, const Int8Weight& w, int32_t* acc) {
    gemm<false>(codes, M, ldq, nullptr, w, nullptr, nullptr, acc);
  }
  static void gemm_f32(const uint8_t* codes, int64_t M, int64_t ldq, const float* xs, const Int8Weight& w,
                       const float* bias, float* y) {
    gemm<true>(codes, M, ldq, xs, w, bias, y, nullptr);
  }

  // The same float operations as the reference (max |x|, 127 / max, x · inv rounded half to even,
  // clamped), so the codes are identical. The skipped channels read as 0 through a chunk copy.
  static constexpr int64_t kChunk = 256;
  template <class Fn>
  static void for_chunks(const float* xr, int64_t K, const int32_t* skip, int64_t n_skip, Fn&& fn) {
    alignas(64) float buf[kChunk];
    int64_t j = 0;
    for (int64_t k0 = 0; k0 < K; k0 += kChunk) {
      const int64_t len = min64(kChunk, K - k0);
      const float* src = xr + k0;
      if (j < n_skip && skip[j] < k0 + len) {
        std::memcpy(buf, src, static_cast<size_t>(len) * sizeof(float));
        for (; j < n_skip && skip[j] < k0 + len; ++j) buf[skip[j] - k0] = 0.0f;
        src = buf;
      }
      fn(src, k0, len);
    }
  }

  static void quantize_rows(const float* x, int64_t M, int64_t K, const int32_t* skip, int64_t n_skip, int64_t ldq,
                            uint8_t* codes, float* scales) {
    parallel_ranges(M, max64(1, kElementwiseGrain / max64(K, 1)), [&](int64_t m0, int64_t m1) {
      for (int64_t m = m0; m < m1; ++m) {
        const float* xr = x + m * K;
        F vmax = P::zero_f();
        for_chunks(xr, K, skip, n_skip, [&](const float* src, int64_t, int64_t len) {
          int64_t k = 0;
          for (; k + W <= len; k += W) vmax = P::max(vmax, P::abs(P::load_f(src + k)));
          if (k < len) vmax = P::max(vmax, P::abs(P::load_f_n(src + k, len - k)));
        });
        const float amax = P::reduce_max(vmax);
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        scales[m] = amax / 127.0f;
        uint8_t* out = codes + m * ldq;
        const F vinv = P::set1(inv);
        for_chunks(xr, K, skip, n_skip, [&](const float* src, int64_t k0, int64_t len) {
          int64_t k = 0;
          for (; k + W <= len; k += W) P::store_codes(out + k0 + k, P::quantize(P::load_f(src + k), vinv), W);
          if (k < len) P::store_codes(out + k0 + k, P::quantize(P::load_f_n(src + k, len - k), vinv), len - k);
        });
        for (int64_t k = K; k < ldq; ++k) out[k] = static_cast<uint8_t>(P::kOffset);
      }
    });
  }

  // y[m, :] += Σ_j x[m, k_j] · (outlier weights row j), one fma per j in order (the reference's).
  // Threads split blocks of kOutlierBlock columns, so a block's outlier weights (n_outliers x 128
  // floats) stay in L1/L2 while every row passes them.
  static constexpr int64_t kOutlierBlock = 128;
  static void add_outliers(const float* x, int64_t M, const Int8Weight& w, float* y) {
    const int64_t N = w.N, blocks = (N + kOutlierBlock - 1) / kOutlierBlock;
    const int64_t grain = max64(1, kElementwiseGrain / max64(M * kOutlierBlock * w.n_outliers, 1));
    parallel_ranges(blocks, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t n_end = min64(N, (b + 1) * kOutlierBlock);
        for (int64_t m = 0; m < M; ++m) {
          float* yr = y + m * N;
          const float* xr = x + m * w.K;
          if (n_end - b * kOutlierBlock == kOutlierBlock) {  // a full block: independent fma chains
            constexpr int V = static_cast<int>(kOutlierBlock / W);
            float* yb = yr + b * kOutlierBlock;
            F acc[V];
#pragma GCC unroll 16
            for (int v = 0; v < V; ++v) acc[v] = P::load_f(yb + v * W);
            for (int64_t j = 0; j < w.n_outliers; ++j) {
              const F xv = P::set1(xr[w.outlier_columns[j]]);
              const float* ow = w.outlier_weights + j * w.outlier_ld + b * kOutlierBlock;
#pragma GCC unroll 16
              for (int v = 0; v < V; ++v) acc[v] = P::fmadd(xv, P::load_f(ow + v * W), acc[v]);
            }
#pragma GCC unroll 16
            for (int v = 0; v < V; ++v) P::store_f(yb + v * W, acc[v]);
            continue;
          }
          for (int64_t n = b * kOutlierBlock; n < n_end; n += W) {
            const int64_t len = min64(W, n_end - n);
            F acc = len == W ? P::load_f(yr + n) : P::load_f_n(yr + n, len);
            for (int64_t j = 0; j < w.n_outliers; ++j) {
              const float* ow = w.outlier_weights + j * w.outlier_ld + n;
              acc = P::fmadd(P::set1(xr[w.outlier_columns[j]]), len == W ? P::load_f(ow) : P::load_f_n(ow, len), acc);
            }
            if (len == W)
              P::store_f(yr + n, acc);
            else
              P::store_f_n(yr + n, acc, len);
          }
        }
      }
    });
  }

  // Weight-only GEMV: one 16-column group at a time streams its contiguous codes once for up to
  // kGemvRows rows of x. Chunk t of a depth step holds W weights: columns t·W/4 .. +W/4 of the group,
  // 4 depths each; it is multiplied by x's 4 depths repeated in every 128-bit lane.
  template <int ROWS>
  static void gemv_group(const float* x, int64_t K, const Int8Weight& w, const float* bias, float* y, int64_t g) {
    constexpr int CH = 64 / W;
    F acc[ROWS][CH];
    for (int r = 0; r < ROWS; ++r)
      for (int t = 0; t < CH; ++t) acc[r][t] = P::zero_f();
    const int8_t* base = w.q + g * w.k4() * 64;
    const int64_t full = K / 4;
    for (int64_t s = 0; s < full; ++s) {
      const int8_t* p = base + s * 64;
      _mm_prefetch(reinterpret_cast<const char*>(p) + 1024, _MM_HINT_T0);
      F xp[ROWS];
      for (int r = 0; r < ROWS; ++r) xp[r] = P::xpattern(x + r * K + s * 4);
      for (int t = 0; t < CH; ++t) {
        const F wf = P::widen_chunk(p + t * W);
        for (int r = 0; r < ROWS; ++r) acc[r][t] = P::fmadd(wf, xp[r], acc[r][t]);
      }
    }
    if (full * 4 < K) {  // the last, partial depth step: x read through a zero-padded copy
      const int8_t* p = base + full * 64;
      F xp[ROWS];
      for (int r = 0; r < ROWS; ++r) {
        float x4[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        for (int64_t k = full * 4; k < K; ++k) x4[k - full * 4] = x[r * K + k];
        xp[r] = P::xpattern(x4);
      }
      for (int t = 0; t < CH; ++t) {
        const F wf = P::widen_chunk(p + t * W);
        for (int r = 0; r < ROWS; ++r) acc[r][t] = P::fmadd(wf, xp[r], acc[r][t]);
      }
    }
    for (int r = 0; r < ROWS; ++r)
      for (int t = 0; t < CH; ++t) {
        alignas(64) float lanes[W];
        P::store_f(lanes, acc[r][t]);
        for (int c = 0; c < W / 4; ++c) {
          const int64_t n = g * 16 + t * (W / 4) + c;
          if (n >= w.N) break;
          const float dot = ((lanes[4 * c] + lanes[4 * c + 1]) + lanes[4 * c + 2]) + lanes[4 * c + 3];
          const float v = dot * w.scale[n];
          y[r * w.N + n] = bias ? v + bias[n] : v;
        }
      }
  }

  static void linear_w8a16(const float* x, int64_t M, const Int8Weight& w, const float* bias, float* y) {
    constexpr int R = P::kGemvRows;
    const int64_t groups = w.n16();
    const int64_t grain = max64(1, (int64_t(1) << 15) / max64(64 * w.k4(), 1));  // >= 32 KiB of codes a range
    for (int64_t m0 = 0; m0 < M; m0 += R) {
      const int rows = static_cast<int>(min64(R, M - m0));
      const float* xm = x + m0 * w.K;
      float* ym = y + m0 * w.N;
      parallel_ranges(groups, grain, [&](int64_t g0, int64_t g1) {
        for (int64_t g = g0; g < g1; ++g) {
          with_rows<R>(rows, [&](auto r) { gemv_group<decltype(r)::value>(xm, w.K, w, bias, ym, g); });
        }
      });
    }
  }

  // Threads split blocks of columns; each walks the rows.
  static void column_max(const float* x, int64_t M, int64_t K, float* out) {
    constexpr int64_t kBlock = 256;
    const int64_t blocks = (K + kBlock - 1) / kBlock;
    parallel_ranges(blocks, max64(1, kElementwiseGrain / max64(M * kBlock, 1)), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const int64_t k_end = min64(K, (b + 1) * kBlock);
        for (int64_t k = b * kBlock; k < k_end; k += W) {
          const int64_t len = min64(W, k_end - k);
          F vmax = P::zero_f();
          for (int64_t m = 0; m < M; ++m)
            vmax = P::max(vmax, P::abs(len == W ? P::load_f(x + m * K + k) : P::load_f_n(x + m * K + k, len)));
          if (len == W)
            P::store_f(out + k, vmax);
          else
            P::store_f_n(out + k, vmax, len);
        }
      }
    });
  }

  static Int8Kernels kernels(const char* name) {
    return {name, P::kOffset, quantize_rows, gemm_s32, gemm_f32, linear_w8a16, add_outliers, column_max};
  }
};

}  // namespace
}  // namespace vlac::ops
