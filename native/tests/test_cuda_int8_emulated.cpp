// The CUDA int8 kernels' warp code (ops/cuda/int8_warp.h) run on the host: every (block, warp)
// unit of each launch in turn, with a warp policy that holds all 32 lanes' registers and emulates
// mma.m16n8k32 from the PTX ISA's fragment tables (written here from the ISA, independently of
// the kernel's own index arithmetic, so a wrong fragment index in the kernel fails the cases).
// The cases themselves (shapes, oracles, bounds) are cuda/int8_cases.h, shared with the GPU test.
//
// What this proves: the tiling, the k-loop, the M/N/K edges, the fragment layouts as the ISA
// documents them, the shuffle reductions and the float epilogues. What it cannot: real-hardware
// behaviour beyond those documented semantics, and any timing (docs/cuda-int8.md).
#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "ops/cuda/int8_warp.h"
#include "cuda/int8_cases.h"

namespace vlac::test {
namespace {

using namespace vlac::cuda;

// The host warp: lane l's value of a register is element l.
struct HostWarp {
  template <class T>
  using Reg = std::array<T, kWarpSize>;
  template <class T>
  static T& at(Reg<T>& r, int lane) { return r[lane]; }
  template <class T>
  static const T& at(const Reg<T>& r, int lane) { return r[lane]; }
  template <class F>
  static void each_lane(F f) {
    for (int lane = 0; lane < kWarpSize; ++lane) f(lane);
  }
  static Reg<float> shfl_xor(const Reg<float>& v, int mask) {
    Reg<float> out;
    for (int lane = 0; lane < kWarpSize; ++lane) out[lane] = v[lane ^ mask];
    return out;
  }
  // mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32, PTX ISA "Matrix Fragments for mma.m16n8k32"
  // (.s8): groupID = laneid >> 2, threadID_in_group = laneid % 4; element i of a lane's fragment is
  // byte i % 4 (lowest first) of register i / 4.
  //   A a0..a15: row = groupID for i < 4 or 8 <= i < 12, else groupID + 8;
  //              col = threadID_in_group · 4 + (i & 3), + 16 for i >= 8
  //   B b0..b7:  row = threadID_in_group · 4 + (i & 3), + 16 for i >= 4; col = groupID
  //   C/D c0..c3: row = groupID for i < 2, else groupID + 8; col = threadID_in_group · 2 + (i & 1)
  static void mma(Reg<int32_t> (&d)[4], const Reg<uint32_t> (&a)[4], const Reg<uint32_t> (&b)[2]) {
    int32_t A[16][32], B[32][8];
    int seen_a[16][32] = {}, seen_b[32][8] = {};
    auto element = [](uint32_t reg, int byte) { return static_cast<int32_t>(static_cast<int8_t>(reg >> (8 * byte))); };
    for (int lane = 0; lane < kWarpSize; ++lane) {
      const int group = lane >> 2, tig = lane % 4;
      for (int i = 0; i < 16; ++i) {
        const int row = (i < 4 || (i >= 8 && i < 12)) ? group : group + 8;
        const int col = tig * 4 + (i & 3) + (i >= 8 ? 16 : 0);
        A[row][col] = element(a[i / 4][lane], i % 4);
        ++seen_a[row][col];
      }
      for (int i = 0; i < 8; ++i) {
        const int row = tig * 4 + (i & 3) + (i >= 4 ? 16 : 0);
        B[row][group] = element(b[i / 4][lane], i % 4);
        ++seen_b[row][group];
      }
    }
    bool once = true;  // the tables cover each element exactly once
    for (auto& row : seen_a)
      for (int s : row) once = once && s == 1;
    for (auto& row : seen_b)
      for (int s : row) once = once && s == 1;
    REQUIRE(once);
    for (int lane = 0; lane < kWarpSize; ++lane) {
      const int group = lane >> 2, tig = lane % 4;
      for (int i = 0; i < 4; ++i) {
        const int row = group + (i >= 2 ? 8 : 0), col = tig * 2 + (i & 1);
        int32_t sum = d[i][lane];
        for (int k = 0; k < 32; ++k) sum += A[row][k] * B[k][col];
        d[i][lane] = sum;
      }
    }
  }
};

// Runs every unit of a launch of grid (x, y) x kBlockWarps warps.
template <class Unit>
void launch(Grid2 grid, Unit unit) {
  for (int64_t by = 0; by < grid.y; ++by)
    for (int64_t bx = 0; bx < grid.x; ++bx)
      for (int warp = 0; warp < kBlockWarps; ++warp) unit(bx, by, warp);
}

// The GEMV's launch as int8.cu makes it: the kernel instance for gemv_max_m(M).
template <class Rows>
void launch_gemv(const GemvArgs& a) {
  const auto run = [&](auto max_m) {
    launch(gemv_grid(a.M, a.N), [&](int64_t bx, int64_t by, int warp) {
      gemv_warp<HostWarp, Rows, decltype(max_m)::value>(a, bx, by, warp);
    });
  };
  switch (gemv_max_m(a.M)) {
    case 1: run(std::integral_constant<int, 1>{}); break;
    case 4: run(std::integral_constant<int, 4>{}); break;
    default: run(std::integral_constant<int, kGemvMaxM>{}); break;
  }
}

class EmulatedBackend final : public CudaInt8Backend {
 public:
  void column_max(const float* x, int64_t M, int64_t K, float* out) override {
    // one thread per channel: ceil(K / 128) blocks of 128
    for (int64_t k = 0; k < ceil_div(K, kBlockThreads) * kBlockThreads; ++k)
      if (k < K) out[k] = column_max_at(x, M, K, k);
  }
  void quantize_rows(const float* x, int64_t M, int64_t K, const std::vector<int32_t>& skip, int8_t* codes,
                     float* scales) override {
    const QuantizeArgs a{x, M, K, skip.data(), static_cast<int64_t>(skip.size()), codes, scales};
    launch({quantize_blocks(M), 1}, [&](int64_t bx, int64_t, int warp) { quantize_rows_warp<HostWarp>(a, bx, warp); });
  }
  void gemm_s32(const int8_t* codes, int64_t M, const CudaInt8Weight& w, int32_t* acc) override {
    W8A8Args a{};
    a.codes = codes;
    a.M = M;
    a.w = w.view();
    a.acc = acc;
    launch(w8a8_grid(M, w.N), [&](int64_t bx, int64_t by, int warp) { w8a8_warp<HostWarp>(a, bx, by, warp); });
  }
  void linear_w8a8(const int8_t* codes, const float* scales, const float* x, int64_t M, const CudaInt8Weight& w,
                   const float* bias, const std::vector<int32_t>& act, float* y) override {
    const W8A8Args a{codes, M, w.view(), nullptr, scales, x, bias, act.data(), static_cast<int64_t>(act.size()), y};
    launch(w8a8_grid(M, w.N), [&](int64_t bx, int64_t by, int warp) { w8a8_warp<HostWarp>(a, bx, by, warp); });
  }
  void linear_w8a16(const float* x, int64_t M, const CudaInt8Weight& w, const float* bias, float* y) override {
    const vlac_cuda_int8_weight v = w.view();
    const GemvArgs a{x, M, w.K, w.N, v.q, v.scale, v.outlier_columns, v.outlier_weights, v.n_outliers, bias, y};
    launch_gemv<Int8Rows>(a);
  }
  void linear_bf16(const float* x, int64_t M, const uint16_t* w, int64_t N, int64_t K, const float* bias,
                   float* y) override {
    const GemvArgs a{x, M, K, N, w, nullptr, nullptr, nullptr, 0, bias, y};
    launch_gemv<Bf16Rows>(a);
  }
};

}  // namespace

CudaInt8Backend& cuda_int8_backend() {
  static EmulatedBackend backend;
  return backend;
}

}  // namespace vlac::test
