// 256-bit integer primitive sets for ops/cpu/int8_kernels.h: Avx2Int8 (vpmaddwd on sign-extended
// int16, exact) and AvxVnniInt8 (vpdpbusd ymm, VEX encoded). Include only from files compiled for AVX2
// (AvxVnniInt8 additionally needs target "avxvnni"); everything is internal to that file.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace vlac::ops {
namespace {

struct Ymm8 {
  using I = __m256i;
  using F = __m256;
  static constexpr int W = 8;
  static constexpr int kGemvRows = 2;

  static __m256i first(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n < W ? n : W)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static I zero_i() { return _mm256_setzero_si256(); }
  static F zero_f() { return _mm256_setzero_ps(); }
  static I load_i_n(const int32_t* p, int64_t n) { return _mm256_maskload_epi32(p, first(n)); }
  static F load_f(const float* p) { return _mm256_loadu_ps(p); }
  static F load_f_n(const float* p, int64_t n) { return _mm256_maskload_ps(p, first(n)); }
  static void store_f(float* p, F v) { _mm256_storeu_ps(p, v); }
  static void store_f_n(float* p, F v, int64_t n) { _mm256_maskstore_ps(p, first(n), v); }
  static void store_i_n(int32_t* p, I v, int64_t n) { _mm256_maskstore_epi32(p, first(n), v); }
  static I slli7(I v) { return _mm256_slli_epi32(v, 7); }
  static I sub(I a, I b) { return _mm256_sub_epi32(a, b); }
  static F cvt(I v) { return _mm256_cvtepi32_ps(v); }
  static F set1(float v) { return _mm256_set1_ps(v); }
  static F mul(F a, F b) { return _mm256_mul_ps(a, b); }
  static F fmadd(F a, F b, F c) { return _mm256_fmadd_ps(a, b, c); }
  static F max(F a, F b) { return _mm256_max_ps(a, b); }
  static F abs(F a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static float reduce_max(F v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
  }
  static I bcast_word(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
  }
  // 8 weights (2 columns x 4 depths) widened to fp32, and x's 4 depths in both 128-bit lanes.
  static F widen_chunk(const int8_t* p) {
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))));
  }
  static F xpattern(const float* x4) {
    const __m128 v = _mm_loadu_ps(x4);
    return _mm256_set_m128(v, v);
  }
};

// Activation codes p + offset as bytes, rounding x · inv half to even and clamping to ±127.
template <int kOffset>
struct Ymm8Codes : Ymm8 {
  static I quantize(F x, F inv) {
    F r = _mm256_round_ps(_mm256_mul_ps(x, inv), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    r = _mm256_min_ps(_mm256_set1_ps(127.0f), _mm256_max_ps(_mm256_set1_ps(-127.0f), r));
    return _mm256_add_epi32(_mm256_cvtps_epi32(r), _mm256_set1_epi32(kOffset));
  }
  static void store_codes(uint8_t* out, I v, int64_t n) {
    if (n == W) {  // int32 -> int16 -> 8 bytes; the codes fit both packs (0..255 with the offset, else ±127)
      const __m128i p16 = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
      const __m128i p8 = kOffset ? _mm_packus_epi16(p16, p16) : _mm_packs_epi16(p16, p16);
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out), p8);
      return;
    }
    alignas(32) int32_t t[W];
    _mm256_store_si256(reinterpret_cast<__m256i*>(t), v);
    for (int64_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(t[i]);
  }
};

// AVX2: both sides sign-extended to int16 and multiplied pairwise into int32 (vpmaddwd), exact.
// (vpmaddubsw would take the codes as bytes directly but saturates its u8 x s8 pair sums at int16.)
struct Avx2Int8 : Ymm8Codes<0> {
  static constexpr int MR = 2, NV = 2;  // 8 accumulator + 4 weight registers of 16
  static constexpr int kOffset = 0;
  struct Wv { __m256i lo, hi; };  // columns 0-3 and 4-7, 4 depths each, as int16
  struct Acc { __m256i lo, hi; };
  static Wv load_w(const int8_t* p) {
    return {_mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))),
            _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)))};
  }
  static Acc zero_acc() { return {_mm256_setzero_si256(), _mm256_setzero_si256()}; }
  // The 4 codes as int16 x0 x1 x2 x3 repeated over all 16 lanes.
  static I bcast4(const uint8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_broadcastsi128_si256(_mm_cvtepi8_epi16(_mm_set1_epi32(v)));
  }
  static void dot(Acc& a, I xb, const Wv& w) {
    a.lo = _mm256_add_epi32(a.lo, _mm256_madd_epi16(w.lo, xb));
    a.hi = _mm256_add_epi32(a.hi, _mm256_madd_epi16(w.hi, xb));
  }
  // lo/hi hold pair sums (column c, depths 01 | 23) in lanes 2c, 2c+1 (per 128-bit lane); hadd
  // gives columns [0 1 4 5 | 2 3 6 7], the 64-bit permute puts them in order.
  static I result(const Acc& a) { return _mm256_permute4x64_epi64(_mm256_hadd_epi32(a.lo, a.hi), 0xD8); }
};

#ifdef VLAC_INT8_AVXVNNI
// AVX-VNNI: vpdpbusd on ymm, unsigned codes p + 128 (the column sums remove the offset).
struct AvxVnniInt8 : Ymm8Codes<128> {
  static constexpr int MR = 6, NV = 2;  // 12 accumulators + 2 weight registers of 16
  static constexpr int kOffset = 128;
  using Wv = __m256i;
  using Acc = __m256i;
  static Wv load_w(const int8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static Acc zero_acc() { return _mm256_setzero_si256(); }
  static I bcast4(const uint8_t* p) { return bcast_word(p); }
  // In place, VEX encoded (as in int8_avx512.cpp: the intrinsic makes GCC copy accumulators).
  static void dot(Acc& a, I xb, const Wv& w) { __asm__("%{vex%} vpdpbusd %2, %1, %0" : "+x"(a) : "x"(xb), "x"(w)); }
  static I result(const Acc& a) { return a; }
};
#endif

}  // namespace
}  // namespace vlac::ops
