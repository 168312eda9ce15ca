// The avx512 op table: the shared kernel templates (elementwise.h, gemm.h, attention.h) instantiated
// with the avx512 primitives. This file is compiled for avx512 only (CMakeLists.txt) and reached only
// after op_table() has checked that the CPU supports it.
#include "ops/cpu/simd_avx512.h"
// (the primitives first: the templates below are written against them)
#include "ops/cpu/attention.h"
#include "ops/cpu/elementwise.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/gemm_bf16dot.h"
#include "common/cpu_features.h"
#include "ops/op_table.h"

namespace vlac::ops {
namespace {

void linear_bf16_avx512(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias,
                        float* y) {
  static const bool has_dot = cpu_features().avx512bf16;
  if (has_dot) return GemmBf16Dot::linear(x, M, K, w_bf16, N, bias, y);
  linear_bf16<Avx512>(x, M, K, w_bf16, N, bias, y);
}

// 12 independent vdpbf16ps chains (each 16 lanes x 2 products = 64 FLOP), registers only.
double bf16_dot_loop(int64_t iters) {
  const __m512bh a = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x3f803f80));  // (1, 1)
  const __m512bh b = reinterpret_cast<__m512bh>(_mm512_set1_epi32(0x00003f80));  // (1, 0)
  __m512 c[12];
  for (auto& v : c) v = _mm512_setzero_ps();
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (auto& v : c) v = _mm512_dpbf16_ps(v, a, b);
  }
  __m512 sum = _mm512_setzero_ps();
  for (const auto& v : c) sum = _mm512_add_ps(sum, v);
  volatile float sink = _mm512_reduce_add_ps(sum);
  (void)sink;
  return 64.0 * 12 * static_cast<double>(iters);
}

}  // namespace

const OpTable& avx512_op_table() {
  static const OpTable table = {
      Isa::Avx512,
      linear<Avx512>,
      linear_bf16_avx512,
      layernorm<Avx512>,
      rmsnorm<Avx512>,
      gelu_erf<Avx512>,
      swiglu<Avx512>,
      add<Avx512>,
      scale_add<Avx512>,
      rope<Avx512>,
      attention<Avx512>,
      bf16_to_f32<Avx512>,
      embedding<Avx512>,
      fma_loop<Avx512>,
      cpu_features().avx512bf16 ? bf16_dot_loop : nullptr,
  };
  return table;
}

}  // namespace vlac::ops
