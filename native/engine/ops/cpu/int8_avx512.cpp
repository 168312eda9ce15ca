// The AVX-512 VNNI int8 kernel set (ops/int8.h): compiled for AVX-512 plus VNNI (the pragma below;
// the build gives *_avx512.cpp AVX-512 F/BW/VL/DQ only) and reached only when cpuid reports
// AVX512_VNNI.
#pragma GCC target("avx512vnni")
// GCC 12 warns inside its own _mm512_undefined_* (GCC bug 105593) wherever they are inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>
#include <cstring>

#include "ops/cpu/int8_kernels.h"

namespace vlac::ops {
namespace {

// vpdpbusd on zmm: 16 columns x 4 depths per instruction, unsigned codes p + 128 (the column sums
// remove the offset).
struct Avx512VnniInt8 {
  using I = __m512i;
  using F = __m512;
  static constexpr int W = 16;
  static constexpr int MR = 6, NV = 4;  // 24 accumulators + 4 weight registers of 32
  static constexpr int kOffset = 128;
  static constexpr int kGemvRows = 4;
  using Wv = __m512i;
  using Acc = __m512i;

  static __mmask16 first(int64_t n) { return n >= W ? __mmask16(0xffff) : __mmask16((1u << n) - 1u); }
  static I zero_i() { return _mm512_setzero_si512(); }
  static F zero_f() { return _mm512_setzero_ps(); }
  static Acc zero_acc() { return _mm512_setzero_si512(); }
  static Wv load_w(const int8_t* p) { return _mm512_loadu_si512(p); }
  static I bcast4(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
  }
  // acc += the u8 codes of xb times the s8 weights of w, in place: as an intrinsic GCC copies some of
  // the 24 accumulators between registers (and to the stack) on every depth step.
  static void dot(Acc& a, I xb, const Wv& w) { __asm__("vpdpbusd %2, %1, %0" : "+v"(a) : "v"(xb), "v"(w)); }
  static I result(const Acc& a) { return a; }
  static I load_i_n(const int32_t* p, int64_t n) { return _mm512_maskz_loadu_epi32(first(n), p); }
  static F load_f(const float* p) { return _mm512_loadu_ps(p); }
  static F load_f_n(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_f(float* p, F v) { _mm512_storeu_ps(p, v); }
  static void store_f_n(float* p, F v, int64_t n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static void store_i_n(int32_t* p, I v, int64_t n) { _mm512_mask_storeu_epi32(p, first(n), v); }
  static I slli7(I v) { return _mm512_slli_epi32(v, 7); }
  static I sub(I a, I b) { return _mm512_sub_epi32(a, b); }
  static F cvt(I v) { return _mm512_cvtepi32_ps(v); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F abs(F a) { return _mm512_abs_ps(a); }
  static float reduce_max(F v) { return _mm512_reduce_max_ps(v); }
  static I quantize(F x, F inv) {
    F r = _mm512_roundscale_ps(_mm512_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm512_min_ps(_mm512_set1_ps(127.0f), _mm512_max_ps(_mm512_set1_ps(-127.0f), r));
    return _mm512_add_epi32(_mm512_cvtps_epi32(r), _mm512_set1_epi32(kOffset));
  }
  static void store_codes(uint8_t* out, I v, int64_t n) { _mm512_mask_cvtepi32_storeu_epi8(out, first(n), v); }
  // 16 weights (4 columns x 4 depths) widened to fp32, and x's 4 depths in every 128-bit lane.
  static F widen_chunk(const int8_t* p) {
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))));
  }
  static F xpattern(const float* x4) { return _mm512_broadcast_f32x4(_mm_loadu_ps(x4)); }
};

// 12 independent vpdpbusd chains (16 lanes x 4 u8·s8 products = 128 integer ops each), registers only.
double dot_loop(int64_t iters) {
  const __m512i a = _mm512_set1_epi32(0x01010101), b = _mm512_set1_epi32(0x01010101);
  __m512i c[12];
  for (auto& v : c) v = _mm512_setzero_si512();
  for (int64_t i = 0; i < iters; ++i) {
#pragma GCC unroll 12
    for (auto& v : c) v = _mm512_dpbusd_epi32(v, a, b);
  }
  __m512i sum = _mm512_setzero_si512();
  for (const auto& v : c) sum = _mm512_add_epi32(sum, v);
  volatile int sink = _mm512_reduce_add_epi32(sum);
  (void)sink;
  return 128.0 * 12 * static_cast<double>(iters);
}

}  // namespace

const Int8Kernels& avx512vnni_int8_kernels() {
  static const Int8Kernels kernels = [] {
    Int8Kernels k = Int8<Avx512VnniInt8>::kernels("avx512vnni");
    k.dot_loop = dot_loop;
    return k;
  }();
  return kernels;
}

}  // namespace vlac::ops
