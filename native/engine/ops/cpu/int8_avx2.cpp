// The AVX2 int8 kernel set (ops/int8.h), for CPUs with AVX2 but no VNNI.
#include "ops/cpu/int8_simd_avx2.h"
// (the primitives first: the template below is written against them)
#include "ops/cpu/int8_kernels.h"

namespace vlac::ops {

const Int8Kernels& avx2_int8_kernels() {
  static const Int8Kernels kernels = Int8<Avx2Int8>::kernels("avx2");
  return kernels;
}

}  // namespace vlac::ops
