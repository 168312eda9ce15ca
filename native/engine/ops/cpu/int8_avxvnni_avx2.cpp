// The AVX-VNNI int8 kernel set (ops/int8.h): compiled for AVX2 plus AVX-VNNI (the pragma below; the
// build gives *_avx2.cpp AVX2 only) and reached only when cpuid reports AVX-VNNI.
#pragma GCC target("avxvnni")
#define VLAC_INT8_AVXVNNI
#include "ops/cpu/int8_simd_avx2.h"
// (the primitives first: the template below is written against them)
#include "ops/cpu/int8_kernels.h"

namespace vlac::ops {

const Int8Kernels& avxvnni_int8_kernels() {
  static const Int8Kernels kernels = Int8<AvxVnniInt8>::kernels("avxvnni");
  return kernels;
}

}  // namespace vlac::ops
