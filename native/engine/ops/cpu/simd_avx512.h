// AVX-512 vector primitives for the shared kernel templates (ops/cpu/*.h). Include only from files
// compiled for AVX-512 (*_avx512.cpp); everything is internal to that file (anonymous namespace).
#pragma once

// GCC 12 warns inside its own _mm512_undefined_* (GCC bug 105593) wherever they are inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

namespace vlac::ops {
namespace {

struct Avx512 {
  using F = __m512;
  using Mask = __mmask16;
  static constexpr int W = 16;  // floats per vector
  // GEMM register tile: MR rows x NV vectors of accumulators (24 of 32 zmm); NR = 32 columns divide
  // every width of the model, so column blocks split evenly over threads.
  static constexpr int kGemmMR = 12;
  static constexpr int kGemmNV = 2;

  // Attention register tiles: kAttnRows queries x kAttnNV vectors (of keys for q·k, of head dims for p·v).
  static constexpr int kAttnRows = 6;
  static constexpr int kAttnNV = 4;

  static F zero() { return _mm512_setzero_ps(); }
  static F set1(float v) { return _mm512_set1_ps(v); }
  static F load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, F v) { _mm512_storeu_ps(p, v); }
  static Mask first(int64_t n) { return n >= W ? Mask(0xffff) : Mask((1u << n) - 1u); }
  // The first n lanes (0 <= n <= W); the others read as 0 / are left untouched.
  static F load_n(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_n(float* p, F v, int64_t n) { _mm512_mask_storeu_ps(p, first(n), v); }
  static F keep_first(F v, int64_t n) { return _mm512_maskz_mov_ps(first(n), v); }  // other lanes 0
  static F select_first(int64_t n, F a, F b) { return _mm512_mask_blend_ps(first(n), b, a); }  // a in lanes < n
  // bf16 is the top half of a float: zero-extend to 32 bits and shift left 16.
  static F widen_bf16(__m256i h) { return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16)); }
  static F load_bf16(const uint16_t* p) { return widen_bf16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p))); }
  static F load_bf16_n(const uint16_t* p, int64_t n) { return widen_bf16(_mm256_maskz_loadu_epi16(first(n), p)); }

  static F add(F a, F b) { return _mm512_add_ps(a, b); }
  static F sub(F a, F b) { return _mm512_sub_ps(a, b); }
  static F mul(F a, F b) { return _mm512_mul_ps(a, b); }
  static F div(F a, F b) { return _mm512_div_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm512_fmadd_ps(a, b, c); }    // a*b + c
  static F fnmadd(F a, F b, F c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a*b
  static F max(F a, F b) { return _mm512_max_ps(a, b); }
  static F min(F a, F b) { return _mm512_min_ps(a, b); }
  static F abs(F a) { return _mm512_abs_ps(a); }
  static F sign_of(F a) { return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a), _mm512_set1_epi32(int(0x80000000u)))); }
  static F or_bits(F a, F b) { return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(a), _mm512_castps_si512(b))); }
  static F round(F a) { return _mm512_roundscale_ps(a, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static F scale_pow2(F a, F n) { return _mm512_scalef_ps(a, n); }  // a * 2^n, n integral
  static Mask less(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ); }
  static Mask less_equal(F a, F b) { return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ); }
  static F select(Mask m, F yes, F no) { return _mm512_mask_blend_ps(m, no, yes); }
  static float reduce_add(F a) { return _mm512_reduce_add_ps(a); }
  static float reduce_max(F a) { return _mm512_reduce_max_ps(a); }

  // In-place transpose of a W x W block held in W registers.
  static void transpose(F r[W]) {
    F t[16], u[16];
    for (int p = 0; p < 8; ++p) {
      t[2 * p] = _mm512_unpacklo_ps(r[2 * p], r[2 * p + 1]);
      t[2 * p + 1] = _mm512_unpackhi_ps(r[2 * p], r[2 * p + 1]);
    }
    // u[4q + c], 128-bit lane L: column 4L + c of rows 4q..4q+3
    for (int q = 0; q < 4; ++q) {
      u[4 * q + 0] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0x44);
      u[4 * q + 1] = _mm512_shuffle_ps(t[4 * q], t[4 * q + 2], 0xee);
      u[4 * q + 2] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0x44);
      u[4 * q + 3] = _mm512_shuffle_ps(t[4 * q + 1], t[4 * q + 3], 0xee);
    }
    for (int c = 0; c < 4; ++c) {
      const F x0 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0x88);
      const F x1 = _mm512_shuffle_f32x4(u[c], u[4 + c], 0xdd);
      const F y0 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0x88);
      const F y1 = _mm512_shuffle_f32x4(u[8 + c], u[12 + c], 0xdd);
      r[0 + c] = _mm512_shuffle_f32x4(x0, y0, 0x88);
      r[8 + c] = _mm512_shuffle_f32x4(x0, y0, 0xdd);
      r[4 + c] = _mm512_shuffle_f32x4(x1, y1, 0x88);
      r[12 + c] = _mm512_shuffle_f32x4(x1, y1, 0xdd);
    }
  }
};

}  // namespace
}  // namespace vlac::ops
