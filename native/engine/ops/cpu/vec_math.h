// exp and erf on vectors, for any primitive set S (simd_avx2.h, simd_avx512.h). Accuracy against
// the float libm, measured over the fp32 range the model produces (docs/tolerances-ops.md):
// exp within 2 ulp; erf within 1.5e-7 absolute.
#pragma once

namespace vlac::ops {
namespace {

template <class S>
typename S::F horner(typename S::F x, const float* c, int n) {  // c[0] + c[1] x + ... + c[n-1] x^(n-1)
  typename S::F p = S::set1(c[n - 1]);
  for (int i = n - 2; i >= 0; --i) p = S::fmadd(p, x, S::set1(c[i]));
  return p;
}

// Cephes expf: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-7 polynomial. Inputs above 88 give
// e^88 (the callers feed exp only arguments <= 0 or a sigmoid's -x); below -87.33 give 0.
template <class S>
typename S::F exp_v(typename S::F x) {
  using F = typename S::F;
  const F hi = S::set1(88.0f), lo = S::set1(-87.33654475f);
  const F xc = S::min(S::max(x, lo), hi);
  const F n = S::round(S::mul(xc, S::set1(1.44269504088896341f)));
  F r = S::fnmadd(n, S::set1(0.693359375f), xc);  // ln2 split so n * 0.693359375 is exact
  r = S::fnmadd(n, S::set1(-2.12194440e-4f), r);
  static const float c[] = {5.0000001201e-1f, 1.6666665459e-1f, 4.1665795894e-2f,
                            8.3334519073e-3f, 1.3981999507e-3f, 1.9875691500e-4f};
  const F p = S::fmadd(horner<S>(r, c, 6), S::mul(r, r), S::add(r, S::set1(1.0f)));
  return S::select(S::less(x, lo), S::zero(), S::scale_pow2(p, n));
}

// erf(z): |z| <= 0.921875: z * P(z²); above: 1 - exp(Q(|z| - 2.5)), Q ≈ log erfc on [0.92, 3.92]
// (beyond 3.92, erf is 1 in fp32). Both are least-squares fits on Chebyshev nodes in double
// (relative error 5e-10 and absolute 1.3e-8), rounded to fp32.
template <class S>
typename S::F erf_v(typename S::F z) {
  using F = typename S::F;
  static const float p[] = {1.128379225730896f,    -0.37612634897232056f,  0.11283708363771439f,
                            -0.026859957724809647f, 0.005202176980674267f, -0.0008153790840879083f,
                            8.411063754465431e-05f};
  static const float q[] = {-7.806815147399902f,     -5.352680683135986f,   -0.9438936710357666f,
                            -0.010858430527150631f,  0.0021652502473443747f, -0.0004202404525130987f,
                            7.73123319959268e-05f,   -1.327990867139306e-05f, 1.6369182276321226e-06f};
  const F az = S::abs(z);
  const F small = S::mul(z, horner<S>(S::mul(z, z), p, 7));
  const F s = S::sub(S::min(az, S::set1(3.92f)), S::set1(2.5f));
  const F large = S::sub(S::set1(1.0f), exp_v<S>(horner<S>(s, q, 9)));
  return S::select(S::less_equal(az, S::set1(0.921875f)), small, S::or_bits(large, S::sign_of(z)));
}

// 0.5 x (1 + erf(x / sqrt 2)), in the reference's order of operations.
template <class S>
typename S::F gelu_erf_v(typename S::F x) {
  const typename S::F e = erf_v<S>(S::mul(x, S::set1(0.70710678118654752440f)));
  return S::mul(S::mul(x, S::set1(0.5f)), S::add(S::set1(1.0f), e));
}

// g / (1 + exp(-g)), as the reference.
template <class S>
typename S::F silu_v(typename S::F g) {
  return S::div(g, S::add(S::set1(1.0f), exp_v<S>(S::sub(S::zero(), g))));
}

}  // namespace
}  // namespace vlac::ops
