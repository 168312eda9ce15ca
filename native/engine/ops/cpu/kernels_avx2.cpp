// The avx2 op table: the shared kernel templates (elementwise.h, gemm.h, attention.h) instantiated
// with the avx2 primitives. This file is compiled for avx2 only (CMakeLists.txt) and reached only
// after op_table() has checked that the CPU supports it.
#include "ops/cpu/simd_avx2.h"
// (the primitives first: the templates below are written against them)
#include "ops/cpu/attention.h"
#include "ops/cpu/elementwise.h"
#include "ops/cpu/gemm.h"
#include "ops/op_table.h"

namespace vlac::ops {

const OpTable& avx2_op_table() {
  static const OpTable table = {
      Isa::Avx2,
      linear<Avx2>,
      linear_bf16<Avx2>,
      layernorm<Avx2>,
      rmsnorm<Avx2>,
      gelu_erf<Avx2>,
      swiglu<Avx2>,
      add<Avx2>,
      scale_add<Avx2>,
      rope<Avx2>,
      attention<Avx2>,
      bf16_to_f32<Avx2>,
      embedding<Avx2>,
      fma_loop<Avx2>,
      nullptr,
  };
  return table;
}

}  // namespace vlac::ops
