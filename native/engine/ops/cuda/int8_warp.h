// The warp-level code of the CUDA int8 kernels (vlac_cuda.h), written once over a "warp" policy W so
// that the same source runs on the GPU (DeviceWarp below: one lane per thread, the mma inline PTX,
// __shfl_xor_sync) and on the host in the tests (a policy holding all 32 lanes' registers as arrays
// and emulating the mma from the PTX ISA's fragment tables): native/tests/test_cuda_int8_emulated.cpp.
// Plain g++ compiles this header; CUDA-only parts are under __CUDACC__.
//
// A policy W provides:
//   W::Reg<T>             one register across the warp (T on the GPU, 32 Ts on the host)
//   W::at(r, lane)        that lane's value of r
//   W::each_lane(f)       f(lane) for every lane (the GPU: each thread with its own lane id)
//   W::shfl_xor(r, mask)  lane l gets lane l ^ mask's value of r
//   W::mma(d, a, b)       d += a · b, mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 on the fragments
//
// Layouts are vlac_cuda.h's: codes and int8 weights row-major with ld = ceil(K / 32) · 32, zero
// padded, so the k-loop runs in whole mma steps. Each kernel's work unit is one warp, with no shared
// memory and no barrier: a launch is emulated exactly by running its (block, warp) units one by one.
#pragma once

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ops/cuda/vlac_cuda.h"

#ifdef __CUDACC__
#define VLAC_HD __host__ __device__
#else
#define VLAC_HD
#endif
// Loops over a register array unrolled on the GPU, so that the array stays in registers (a
// run-time index would put it in local memory).
#ifdef __CUDA_ARCH__
#define VLAC_UNROLL _Pragma("unroll")
#else
#define VLAC_UNROLL
#endif

namespace vlac::cuda {

constexpr int kWarpSize = 32;
constexpr int kBlockThreads = 128;  // 4 warps per block in every kernel
constexpr int kBlockWarps = kBlockThreads / kWarpSize;

VLAC_HD constexpr int64_t codes_ld(int64_t K) { return (K + 31) / 32 * 32; }
VLAC_HD constexpr int64_t bf16_ld(int64_t K) { return (K + 7) / 8 * 8; }
VLAC_HD constexpr int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// 4 bytes at a 4-byte aligned address (ld is a multiple of 32 and k of 4).
VLAC_HD inline uint32_t load_u32(const int8_t* p) {
#ifdef __CUDA_ARCH__
  return *reinterpret_cast<const uint32_t*>(p);
#else
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
#endif
}

struct Chunk16 {  // 16 bytes: one vector load
  uint32_t word[4];
};
VLAC_HD inline Chunk16 load_chunk16(const void* p) {
#ifdef __CUDA_ARCH__
  const uint4 v = *reinterpret_cast<const uint4*>(p);
  return {{v.x, v.y, v.z, v.w}};
#else
  Chunk16 c;
  memcpy(&c, p, 16);
  return c;
#endif
}

// ---- quantize_rows: one warp per row ------------------------------------------------------------
struct QuantizeArgs {
  const float* x;
  int64_t M, K;
  const int32_t* skip;  // ascending
  int64_t n_skip;
  int8_t* codes;        // [M, codes_ld(K)]
  float* scales;        // [M]
};

inline int64_t quantize_blocks(int64_t M) { return ceil_div(M, kBlockWarps); }

// Lane l visits k = l, l + 32, ... in order, so its cursor into the ascending skip list only moves on.
VLAC_HD inline bool skipped(const int32_t* skip, int64_t n_skip, int64_t k, int64_t& cursor) {
  while (cursor < n_skip && skip[cursor] < k) ++cursor;
  return cursor < n_skip && skip[cursor] == k;
}

template <class W>
VLAC_HD void quantize_rows_warp(const QuantizeArgs& a, int64_t block, int warp) {
  const int64_t m = block * kBlockWarps + warp;
  if (m >= a.M) return;
  const float* xr = a.x + m * a.K;
  int8_t* out = a.codes + m * codes_ld(a.K);
  typename W::template Reg<float> amax;
  W::each_lane([&](int lane) {
    float v = 0.0f;
    int64_t cursor = 0;
    for (int64_t k = lane; k < a.K; k += kWarpSize)
      if (!skipped(a.skip, a.n_skip, k, cursor)) v = fmaxf(v, fabsf(xr[k]));
    W::at(amax, lane) = v;
  });
  for (int mask = kWarpSize / 2; mask > 0; mask /= 2) {  // max is exact in any order
    const auto other = W::shfl_xor(amax, mask);
    W::each_lane([&](int lane) { W::at(amax, lane) = fmaxf(W::at(amax, lane), W::at(other, lane)); });
  }
  W::each_lane([&](int lane) {
    // the reference's float ops (ops/reference/int8_reference.cpp): 127 / max, x · that, rint
    const float mx = W::at(amax, lane);
    const float inv = mx > 0.0f ? 127.0f / mx : 0.0f;
    if (lane == 0) a.scales[m] = mx / 127.0f;
    int64_t cursor = 0;
    for (int64_t k = lane; k < codes_ld(a.K); k += kWarpSize) {
      int8_t code = 0;
      if (k < a.K && !skipped(a.skip, a.n_skip, k, cursor))
        code = static_cast<int8_t>(fminf(127.0f, fmaxf(-127.0f, rintf(xr[k] * inv))));
      out[k] = code;
    }
  });
}

// ---- column_max: one thread per channel (no warp-level part) --------------------------------------
VLAC_HD inline float column_max_at(const float* x, int64_t M, int64_t K, int64_t k) {
  float v = 0.0f;
  for (int64_t m = 0; m < M; ++m) v = fmaxf(v, fabsf(x[m * K + k]));
  return v;
}

// ---- W8A8: int8 tensor cores -----------------------------------------------------------------------
// Block tile 64 x 64 (M x N), 4 warps in 2 x 2, each warp 32 x 32 = 2 x 4 mma tiles of 16 x 8,
// i.e. 32 int32 accumulators per lane. Fragments are loaded straight from global memory (4-byte
// loads, no shared-memory staging): the tile's A rows and B rows are reused by the other warps of
// the block through L1, and keeping each warp independent is what lets the host emulate a launch
// exactly. A first kernel, not a tuned one (docs/cuda-int8.md).
constexpr int kMmaM = 16, kMmaN = 8, kMmaK = 32;
constexpr int kWarpTilesM = 2, kWarpTilesN = 4;
constexpr int kWarpM = kWarpTilesM * kMmaM, kWarpN = kWarpTilesN * kMmaN;
constexpr int kBlockWarpsM = 2, kBlockWarpsN = 2;
constexpr int kBlockM = kBlockWarpsM * kWarpM, kBlockN = kBlockWarpsN * kWarpN;
static_assert(kBlockWarpsM * kBlockWarpsN == kBlockWarps, "W8A8 block = 4 warps");

struct W8A8Args {
  const int8_t* codes;  // [M, codes_ld(K)]
  int64_t M;
  vlac_cuda_int8_weight w;
  // The int32 product alone (acc != nullptr), or the float epilogue into y:
  int32_t* acc;
  const float* scales;  // t_m
  const float* x;       // for the outlier columns and channels
  const float* bias;    // or nullptr
  const int32_t* act;   // activation-outlier channels, ascending
  int64_t n_act;
  float* y;
};

struct Grid2 {
  int64_t x, y;
};
inline Grid2 w8a8_grid(int64_t M, int64_t N) { return {ceil_div(N, kBlockN), ceil_div(M, kBlockM)}; }

// y[m,n] from acc: the reference's float ops in its order (ops/int8.h, linear_w8a8).
VLAC_HD inline float w8a8_epilogue(const W8A8Args& a, int64_t m, int64_t n, int32_t acc) {
  const vlac_cuda_int8_weight& w = a.w;
  float y = fmaf(static_cast<float>(acc), a.scales[m] * w.scale[n], a.bias ? a.bias[n] : 0.0f);
  const float* xr = a.x + m * w.K;
  for (int64_t j = 0; j < w.n_outliers; ++j) y = fmaf(xr[w.outlier_columns[j]], w.outlier_weights[j * w.N + n], y);
  for (int64_t j = 0; j < a.n_act; ++j) {
    const int64_t k = a.act[j];
    y = fmaf(xr[k], w.scale[n] * static_cast<float>(w.q[n * codes_ld(w.K) + k]), y);
  }
  return y;
}

template <class W>
VLAC_HD void w8a8_warp(const W8A8Args& a, int64_t block_x, int64_t block_y, int warp) {
  using U32 = typename W::template Reg<uint32_t>;
  using S32 = typename W::template Reg<int32_t>;
  const int64_t N = a.w.N, ld = codes_ld(a.w.K);
  const int64_t m0 = block_y * kBlockM + (warp / kBlockWarpsN) * kWarpM;
  const int64_t n0 = block_x * kBlockN + (warp % kBlockWarpsN) * kWarpN;
  S32 acc[kWarpTilesM][kWarpTilesN][4];
  W::each_lane([&](int lane) {
    VLAC_UNROLL for (auto& tile_row : acc)
      VLAC_UNROLL for (auto& tile : tile_row)
        VLAC_UNROLL for (auto& r : tile) W::at(r, lane) = 0;
  });
  for (int64_t k0 = 0; k0 < ld; k0 += kMmaK) {
    U32 fa[kWarpTilesM][4], fb[kWarpTilesN][2];
    W::each_lane([&](int lane) {
      const int group = lane / 4, in_group = lane % 4;
      // A (row-major 16 x 32): register r holds row group + 8 (r & 1), k = 4 in_group + 16 (r >> 1) .. + 3
      VLAC_UNROLL for (int i = 0; i < kWarpTilesM; ++i)
        VLAC_UNROLL for (int r = 0; r < 4; ++r) {
          const int64_t m = m0 + i * kMmaM + group + 8 * (r & 1);
          W::at(fa[i][r], lane) = m < a.M ? load_u32(a.codes + m * ld + k0 + 4 * in_group + 16 * (r >> 1)) : 0u;
        }
      // B ("col" 32 x 8 = weight rows): register r holds n = group, k = 4 in_group + 16 r .. + 3
      VLAC_UNROLL for (int j = 0; j < kWarpTilesN; ++j)
        VLAC_UNROLL for (int r = 0; r < 2; ++r) {
          const int64_t n = n0 + j * kMmaN + group;
          W::at(fb[j][r], lane) = n < N ? load_u32(a.w.q + n * ld + k0 + 4 * in_group + 16 * r) : 0u;
        }
    });
    VLAC_UNROLL for (int i = 0; i < kWarpTilesM; ++i)
      VLAC_UNROLL for (int j = 0; j < kWarpTilesN; ++j) W::mma(acc[i][j], fa[i], fb[j]);
  }
  W::each_lane([&](int lane) {
    const int group = lane / 4, in_group = lane % 4;
    // D (16 x 8): register r holds row group + 8 (r >> 1), column 2 in_group + (r & 1)
    VLAC_UNROLL for (int i = 0; i < kWarpTilesM; ++i)
      VLAC_UNROLL for (int j = 0; j < kWarpTilesN; ++j)
        VLAC_UNROLL for (int r = 0; r < 4; ++r) {
          const int64_t m = m0 + i * kMmaM + group + 8 * (r >> 1);
          const int64_t n = n0 + j * kMmaN + 2 * in_group + (r & 1);
          if (m >= a.M || n >= N) continue;
          const int32_t v = W::at(acc[i][j][r], lane);
          if (a.acc)
            a.acc[m * N + n] = v;
          else
            a.y[m * N + n] = w8a8_epilogue(a, m, n, v);
        }
  });
}

// ---- GEMV / small-M GEMM (decode): W8A16 and its bf16 baseline ---------------------------------------
// One warp computes kGemvRows outputs n for up to MaxM rows m. Each lane streams 16-byte chunks
// of those weight rows (16 int8 codes or 8 bf16), widens them in registers and accumulates fp32
// FMAs with x; the 32 lane partial sums are then added by a butterfly of shuffles. The row scale is
// applied once per output and the outlier columns added after, as in ops/int8.h.
constexpr int kGemvRows = 4;
// MaxM is 1, 4 or 8 (gemv_max_m): the accumulators are MaxM x kGemvRows registers per lane, so
// decode (M = 1) keeps 4 of them and the SM holds more warps to stream the weights with. Larger M
// runs in slices of 8 (blockIdx.y), which read the same weights, mostly from L2; 16 would double
// the largest instance's unrolled body and ptxas time for that case only.
constexpr int kGemvMaxM = 8;
constexpr int gemv_max_m(int64_t M) { return M <= 1 ? 1 : M <= 4 ? 4 : kGemvMaxM; }
constexpr int64_t kGemvBlockRows = kGemvRows * kBlockWarps;  // 16 outputs per block

struct GemvArgs {
  const float* x;  // [M, K]
  int64_t M, K, N;
  const void* w;   // int8 [N, codes_ld(K)] or bf16 [N, bf16_ld(K)]
  const float* scale;  // int8: s_n
  const int32_t* outlier_columns;
  const float* outlier_weights;
  int64_t n_outliers;
  const float* bias;
  float* y;
};

// x[k0 .. k0 + E) of one row, zeros past K: 16-byte loads where the row allows them (K a multiple of
// 4 keeps every row 16-byte aligned; cudaMalloc's base is 256-byte aligned).
template <int E>
VLAC_HD void load_x(const float* xr, int64_t k0, int64_t K, float (&v)[E]) {
  if (K % 4 == 0 && k0 + E <= K) {
    VLAC_UNROLL for (int e = 0; e < E; e += 4) {
      const Chunk16 c = load_chunk16(xr + k0 + e);
      memcpy(v + e, c.word, 16);
    }
    return;
  }
  VLAC_UNROLL for (int e = 0; e < E; ++e) v[e] = k0 + e < K ? xr[k0 + e] : 0.0f;
}

inline Grid2 gemv_grid(int64_t M, int64_t N) { return {ceil_div(N, kGemvBlockRows), ceil_div(M, gemv_max_m(M))}; }

struct Int8Rows {
  static constexpr int kPerChunk = 16;
  VLAC_HD static int64_t ld(int64_t K) { return codes_ld(K); }
  // Widened without an int-to-float conversion (a quarter-rate instruction, as many as the FMAs
  // here): the float with bits 0x4B000000 | u is 2^23 + u exactly, and u = code + 128 (the byte
  // with its sign bit flipped), so subtracting 2^23 + 128 leaves the code, exactly.
  VLAC_HD static float at(const Chunk16& c, int e) {
    const uint32_t bits = 0x4B000000u | (((c.word[e / 4] >> (8 * (e % 4))) & 0xffu) ^ 0x80u);
    float f;
    memcpy(&f, &bits, 4);
    return f - 8388736.0f;
  }
  // the reference's w8a16: v = acc · s_n, then + b_n
  VLAC_HD static float finish(const GemvArgs& a, int64_t n, float acc) {
    const float v = acc * a.scale[n];
    return a.bias ? v + a.bias[n] : v;
  }
};

struct Bf16Rows {
  static constexpr int kPerChunk = 8;
  VLAC_HD static int64_t ld(int64_t K) { return bf16_ld(K); }
  VLAC_HD static float at(const Chunk16& c, int e) {
    const uint32_t bits = (e % 2 ? c.word[e / 2] >> 16 : c.word[e / 2] & 0xffffu) << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
  }
  VLAC_HD static float finish(const GemvArgs& a, int64_t n, float acc) { return a.bias ? acc + a.bias[n] : acc; }
};

template <class W, class Rows, int MaxM>
VLAC_HD void gemv_warp(const GemvArgs& a, int64_t block_x, int64_t block_y, int warp) {
  using F32 = typename W::template Reg<float>;
  const int64_t n0 = (block_x * kBlockWarps + warp) * kGemvRows;
  const int64_t m0 = block_y * MaxM;
  if (n0 >= a.N) return;
  const int rows_m = static_cast<int>(a.M - m0 < MaxM ? a.M - m0 : MaxM);
  const int64_t ld = Rows::ld(a.K);
  const uint8_t* w = static_cast<const uint8_t*>(a.w);
  constexpr int64_t row_bytes_per_elem = 16 / Rows::kPerChunk;
  F32 acc[MaxM][kGemvRows];
  W::each_lane([&](int lane) {
    VLAC_UNROLL for (auto& am : acc)
      VLAC_UNROLL for (auto& r : am) W::at(r, lane) = 0.0f;
    for (int64_t k0 = int64_t(lane) * Rows::kPerChunk; k0 < a.K; k0 += kWarpSize * Rows::kPerChunk) {
      Chunk16 c[kGemvRows];
      VLAC_UNROLL for (int r = 0; r < kGemvRows; ++r)  // rows past N read as zeros (their outputs are not stored)
        c[r] = n0 + r < a.N ? load_chunk16(w + ((n0 + r) * ld + k0) * row_bytes_per_elem) : Chunk16{{0, 0, 0, 0}};
      VLAC_UNROLL for (int m = 0; m < MaxM; ++m) {
        if (m >= rows_m) break;
        float xv[Rows::kPerChunk];
        load_x(a.x + (m0 + m) * a.K, k0, a.K, xv);
        VLAC_UNROLL for (int e = 0; e < Rows::kPerChunk; ++e)
          VLAC_UNROLL for (int r = 0; r < kGemvRows; ++r) {
            float& sum = W::at(acc[m][r], lane);
            sum = fmaf(xv[e], Rows::at(c[r], e), sum);
          }
      }
    }
  });
  VLAC_UNROLL for (int m = 0; m < MaxM; ++m) {
    if (m >= rows_m) break;
    VLAC_UNROLL for (int r = 0; r < kGemvRows; ++r)
      VLAC_UNROLL for (int mask = kWarpSize / 2; mask > 0; mask /= 2) {
        const F32 other = W::shfl_xor(acc[m][r], mask);
        W::each_lane([&](int lane) { W::at(acc[m][r], lane) += W::at(other, lane); });
      }
  }
  // every lane holds the sums; output (m, r) is finished by lane (m · kGemvRows + r) % 32
  W::each_lane([&](int lane) {
    VLAC_UNROLL for (int m = 0; m < MaxM; ++m)
      VLAC_UNROLL for (int r = 0; r < kGemvRows; ++r) {
        const int64_t n = n0 + r;
        if (m >= rows_m || n >= a.N || (m * kGemvRows + r) % kWarpSize != lane) continue;
        float y = Rows::finish(a, n, W::at(acc[m][r], lane));
        const float* xr = a.x + (m0 + m) * a.K;
        for (int64_t j = 0; j < a.n_outliers; ++j) y = fmaf(xr[a.outlier_columns[j]], a.outlier_weights[j * a.N + n], y);
        a.y[(m0 + m) * a.N + n] = y;
      }
  });
}

// ---- the GPU's warp policy ---------------------------------------------------------------------------
#ifdef __CUDACC__
struct DeviceWarp {
  template <class T>
  using Reg = T;
  template <class T>
  __device__ static T& at(T& r, int) { return r; }
  template <class T>
  __device__ static const T& at(const T& r, int) { return r; }
  template <class F>
  __device__ static void each_lane(F f) { f(static_cast<int>(threadIdx.x % kWarpSize)); }
  __device__ static float shfl_xor(float v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }
  __device__ static void mma(int32_t (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    asm volatile(
        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
  }
};
#endif

}  // namespace vlac::cuda
