// Norms, activations, residual adds, RoPE and bf16 widening for any primitive set S. Each keeps the
// reference's (ops/reference/reference.cpp) order of operations per element; only the row
// reductions (the sums behind mean and variance) run in another order, W lanes at a time.
#pragma once

#include <cmath>
#include <cstdint>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec_math.h"

namespace vlac::ops {
namespace {

// out[i] = f(x[i]) W lanes at a time, the tail masked.
template <class S, class Fn>
void map_vectors(const float* x, float* out, int64_t n, Fn f) {
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::store(out + i, f(S::load(x + i)));
  if (i < n) S::store_n(out + i, f(S::load_n(x + i, n - i)), n - i);
}

// out[i] = f(a[i], b[i]).
template <class S, class Fn>
void map_vectors2(const float* a, const float* b, float* out, int64_t n, Fn f) {
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::store(out + i, f(S::load(a + i), S::load(b + i)));
  if (i < n) S::store_n(out + i, f(S::load_n(a + i, n - i), S::load_n(b + i, n - i)), n - i);
}

template <class S>
float row_sum(const float* x, int64_t n) {
  typename S::F a0 = S::zero(), a1 = S::zero();
  int64_t i = 0;
  for (; i + 2 * S::W <= n; i += 2 * S::W) {
    a0 = S::add(a0, S::load(x + i));
    a1 = S::add(a1, S::load(x + i + S::W));
  }
  for (; i < n; i += S::W) a0 = S::add(a0, S::load_n(x + i, n - i));
  return S::reduce_add(S::add(a0, a1));
}

// sum (x[i] - center)²
template <class S>
float row_sum_squares(const float* x, int64_t n, float center) {
  using F = typename S::F;
  const F c = S::set1(center);
  F a0 = S::zero(), a1 = S::zero();
  int64_t i = 0;
  for (; i + 2 * S::W <= n; i += 2 * S::W) {
    const F d0 = S::sub(S::load(x + i), c), d1 = S::sub(S::load(x + i + S::W), c);
    a0 = S::fmadd(d0, d0, a0);
    a1 = S::fmadd(d1, d1, a1);
  }
  for (; i < n; i += S::W) {
    const F d = S::keep_first(S::sub(S::load_n(x + i, n - i), c), n - i);
    a0 = S::fmadd(d, d, a0);
  }
  return S::reduce_add(S::add(a0, a1));
}

inline int64_t rows_grain(int64_t dim) { return max64(1, kElementwiseGrain / max64(dim, 1)); }

template <class S>
void layernorm(const float* x, int64_t rows, int64_t dim, const float* w, const float* b, float eps, float* y) {
  using F = typename S::F;
  parallel_ranges(rows, rows_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      const float mean = row_sum<S>(xr, dim) / static_cast<float>(dim);
      const float var = row_sum_squares<S>(xr, dim, mean) / static_cast<float>(dim);
      const F m = S::set1(mean), rstd = S::set1(1.0f / std::sqrt(var + eps));
      int64_t d = 0;
      auto norm = [&](F xv, F wv, F bv) { return S::add(S::mul(S::mul(S::sub(xv, m), rstd), wv), bv); };
      for (; d + S::W <= dim; d += S::W) S::store(yr + d, norm(S::load(xr + d), S::load(w + d), S::load(b + d)));
      if (d < dim) {
        const int64_t k = dim - d;
        S::store_n(yr + d, norm(S::load_n(xr + d, k), S::load_n(w + d, k), S::load_n(b + d, k)), k);
      }
    }
  });
}

template <class S>
void rmsnorm(const float* x, int64_t rows, int64_t dim, const float* w, float eps, float* y) {
  using F = typename S::F;
  parallel_ranges(rows, rows_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      const float mean_square = row_sum_squares<S>(xr, dim, 0.0f) / static_cast<float>(dim);
      const F rstd = S::set1(1.0f / std::sqrt(mean_square + eps));
      map_vectors2<S>(xr, w, yr, dim, [&](F xv, F wv) { return S::mul(wv, S::mul(xv, rstd)); });
    }
  });
}

template <class S>
void gelu_erf(float* x, int64_t n) {
  parallel_ranges(n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    map_vectors<S>(x + i0, x + i0, i1 - i0, [](typename S::F v) { return gelu_erf_v<S>(v); });
  });
}

template <class S>
void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  using F = typename S::F;
  parallel_ranges(n, kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    map_vectors2<S>(gate + i0, up + i0, out + i0, i1 - i0, [](F g, F u) { return S::mul(silu_v<S>(g), u); });
  });
}

template <class S>
void add(float* h, const float* x, int64_t n) {
  using F = typename S::F;
  parallel_ranges(n, 4 * kElementwiseGrain, [&](int64_t i0, int64_t i1) {
    map_vectors2<S>(h + i0, x + i0, h + i0, i1 - i0, [](F a, F b) { return S::add(a, b); });
  });
}

template <class S>
void scale_add(float* h, const float* x, const float* scale, int64_t rows, int64_t dim) {
  parallel_ranges(rows, rows_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* hr = h + r * dim;
      const float* xr = x + r * dim;
      int64_t d = 0;
      for (; d + S::W <= dim; d += S::W)
        S::store(hr + d, S::add(S::load(hr + d), S::mul(S::load(scale + d), S::load(xr + d))));
      if (d < dim) {
        const int64_t k = dim - d;
        S::store_n(hr + d, S::add(S::load_n(hr + d, k), S::mul(S::load_n(scale + d, k), S::load_n(xr + d, k))), k);
      }
    }
  });
}

template <class S>
void rope(float* x, int64_t T, int64_t heads, int64_t head_dim, int64_t row_stride, const float* cos,
          const float* sin) {
  using F = typename S::F;
  const int64_t half = head_dim / 2;
  parallel_ranges(T, rows_grain(heads * head_dim), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const float* c = cos + t * half;
      const float* s = sin + t * half;
      for (int64_t h = 0; h < heads; ++h) {
        float* lo = x + t * row_stride + h * head_dim;
        float* hi = lo + half;
        for (int64_t i = 0; i < half; i += S::W) {
          const int64_t k = half - i;
          const F a = S::load_n(lo + i, k), b = S::load_n(hi + i, k);
          const F cv = S::load_n(c + i, k), sv = S::load_n(s + i, k);
          S::store_n(lo + i, S::sub(S::mul(a, cv), S::mul(b, sv)), k);
          S::store_n(hi + i, S::add(S::mul(b, cv), S::mul(a, sv)), k);
        }
      }
    }
  });
}

template <class S>
void widen_row(const uint16_t* src, float* dst, int64_t n) {
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::store(dst + i, S::load_bf16(src + i));
  if (i < n) S::store_n(dst + i, S::load_bf16_n(src + i, n - i), n - i);
}

template <class S>
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  parallel_ranges(n, 4 * kElementwiseGrain,
                  [&](int64_t i0, int64_t i1) { widen_row<S>(src + i0, dst + i0, i1 - i0); });
}

template <class S>
void embedding(const uint16_t* table_bf16, int64_t dim, const int32_t* ids, int64_t n, float* out) {
  parallel_ranges(n, rows_grain(dim), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) widen_row<S>(table_bf16 + static_cast<int64_t>(ids[i]) * dim, out + i * dim, dim);
  });
}

// Register-only multiply-adds for the peak benchmark: 12 independent accumulators cover the
// FMA latency x throughput of current cores (4 cycles x 2 pipes) with room to spare. Named
// variables, not an array, so they stay in registers.
template <class S>
double fma_loop(int64_t iters) {
  using F = typename S::F;
  const F m = S::set1(0.999999f), a = S::set1(1e-7f);
  F c0 = S::set1(1.0f), c1 = S::set1(1.1f), c2 = S::set1(1.2f), c3 = S::set1(1.3f), c4 = S::set1(1.4f),
    c5 = S::set1(1.5f), c6 = S::set1(1.6f), c7 = S::set1(1.7f), c8 = S::set1(1.8f), c9 = S::set1(1.9f),
    c10 = S::set1(2.0f), c11 = S::set1(2.1f);
  for (int64_t i = 0; i < iters; ++i) {
    c0 = S::fmadd(c0, m, a);
    c1 = S::fmadd(c1, m, a);
    c2 = S::fmadd(c2, m, a);
    c3 = S::fmadd(c3, m, a);
    c4 = S::fmadd(c4, m, a);
    c5 = S::fmadd(c5, m, a);
    c6 = S::fmadd(c6, m, a);
    c7 = S::fmadd(c7, m, a);
    c8 = S::fmadd(c8, m, a);
    c9 = S::fmadd(c9, m, a);
    c10 = S::fmadd(c10, m, a);
    c11 = S::fmadd(c11, m, a);
  }
  const F sum = S::add(S::add(S::add(S::add(c0, c1), S::add(c2, c3)), S::add(S::add(c4, c5), S::add(c6, c7))),
                       S::add(S::add(c8, c9), S::add(c10, c11)));
  volatile float sink = S::reduce_add(sum);
  (void)sink;
  return 2.0 * 12 * S::W * static_cast<double>(iters);
}

}  // namespace
}  // namespace vlac::ops
