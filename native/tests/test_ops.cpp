// Every op of every instruction set this CPU supports, against the plain reference
// (ops/reference/), on odd shapes (tails, single rows, GQA, causal offsets of chunked prefill) and
// on the real model's shapes (sampled where the reference would be slow).
//
// Tolerances (docs/tolerances-ops.md explains each): u = 2^-24, fp32's unit roundoff.
//   linear      |Δy| <= (2K + 4) u (Σ_k |x_k w_k| + |b|)    two fp32 dot products, any summation order
//   layernorm   |Δy| <= (2d + 16) u (|x̂ w| + |μ rstd w| + |b|)
//   rmsnorm     |Δy| <= (2d + 8) u |y|
//   gelu_erf    |Δy| <= 4e-7 |x| + 4u |y|                    vector erf within 1.5e-7 of libm's
//   swiglu      |Δy| <= 10u |y| + 1e-30                      exp within 2 ulp, one division
//   add         |Δh| <= u |h|;  scale_add |Δh| <= 2u (|h| + |s x|)  (the product may be fused)
//   rope        |Δx| <= 2u (|a| + |b|)(|c| + |s|)
//   attention   |Δo| <= 4 ((hd + 2) u S + (Tk + 16) u) max_j |v_j|,  S = scale max_j Σ|q||k_j|
//   bf16_to_f32, embedding: exact
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "common/bf16.h"
#include "common/thread_pool.h"
#include "ops/op_table.h"
#include "ops/ops.h"
#include "support/random.h"
#include "ops/reference/reference.h"

using namespace vlac;
using namespace vlac::ops;

namespace {

constexpr double kU = 1.0 / (1 << 24);

using vlac::test::random_floats;
using vlac::test::Rng;

std::vector<uint16_t> random_bf16(size_t n, uint64_t seed, float scale) {
  Rng r(seed);
  std::vector<uint16_t> v(n);
  for (auto& x : v) x = float_to_bf16(r.uniform(-scale, scale));
  return v;
}

// The sets under test: every supported one except the reference itself.
std::vector<Isa> fast_isas() {
  std::vector<Isa> isas;
  for (Isa isa : supported_isas())
    if (isa != Isa::Reference) isas.push_back(isa);
  return isas;
}

struct Worst {
  double ratio = 0;  // max |got - want| / tol
  size_t index = 0;
  double got = 0, want = 0, tol = 0;
  void add(size_t i, double g, double w, double t) {
    const double r = std::isnan(g) != std::isnan(w) ? 1e30 : (g == w ? 0.0 : std::fabs(g - w) / t);
    if (r > ratio) *this = Worst{r, i, g, w, t};
  }
};

#define CHECK_WORST(worst, what)                                                                   \
  do {                                                                                             \
    std::ostringstream what_;                                                                      \
    what_ << what << ": worst at " << (worst).index << " got " << (worst).got << " want " << (worst).want \
          << " tol " << (worst).tol;                                                               \
    INFO(what_.str());                                                                             \
    CHECK((worst).ratio <= 1.0);                                                                   \
  } while (0)

std::string shape(std::initializer_list<std::pair<const char*, int64_t>> dims) {
  std::string s;
  for (auto& [n, v] : dims) s += std::string(s.empty() ? "" : " ") + n + "=" + std::to_string(v);
  return s;
}

// ---- linear -------------------------------------------------------------------------------------

// Compares `got` [M, N] with the reference on rows `rows` x columns `cols` (all when empty).
void check_linear(const char* isa, const std::vector<float>& x, int64_t M, int64_t K, const std::vector<uint16_t>& w,
                  int64_t N, const float* bias, const std::vector<float>& got, std::vector<int64_t> rows,
                  std::vector<int64_t> cols) {
  if (rows.empty())
    for (int64_t m = 0; m < M; ++m) rows.push_back(m);
  if (cols.empty())
    for (int64_t n = 0; n < N; ++n) cols.push_back(n);
  std::vector<uint16_t> wsub(cols.size() * K);
  std::vector<float> bsub(cols.size());
  for (size_t c = 0; c < cols.size(); ++c) {
    std::copy(w.begin() + cols[c] * K, w.begin() + (cols[c] + 1) * K, wsub.begin() + c * K);
    bsub[c] = bias ? bias[cols[c]] : 0.0f;
  }
  Worst worst;
  std::vector<float> want(cols.size());
  for (int64_t m : rows) {
    reference::linear(x.data() + m * K, 1, K, wsub.data(), static_cast<int64_t>(cols.size()), bias ? bsub.data() : nullptr,
                      want.data());
    for (size_t c = 0; c < cols.size(); ++c) {
      double mag = std::fabs(bsub[c]);
      for (int64_t k = 0; k < K; ++k) mag += std::fabs(x[m * K + k] * bf16_to_float(wsub[c * K + k]));
      worst.add(m * N + cols[c], got[m * N + cols[c]], want[c], (2.0 * K + 4) * kU * mag + 1e-37);
    }
  }
  CHECK_WORST(worst, isa << " linear " << shape({{"M", M}, {"K", K}, {"N", N}}) << (bias ? " +bias" : ""));
}

// linear, or linear_bf16 (checked against the reference on x rounded to bf16: the same bound, as
// the products of two bf16 values are exact in fp32).
void run_linear(Isa isa, int64_t M, int64_t K, int64_t N, bool with_bias, uint64_t seed,
                std::vector<int64_t> rows = {}, std::vector<int64_t> cols = {}, bool bf16_inputs = false) {
  auto x = random_floats(M * K, seed);
  const auto w = random_bf16(N * K, seed + 1, 0.1f);
  const auto b = random_floats(N, seed + 2);
  std::vector<float> y(M * N, std::nanf(""));
  const LinearFn fn = bf16_inputs ? op_table(isa).linear_bf16 : op_table(isa).linear;
  fn(x.data(), M, K, w.data(), N, with_bias ? b.data() : nullptr, y.data());
  if (bf16_inputs)
    for (float& v : x) v = round_to_bf16(v);
  check_linear(isa_name(isa), x, M, K, w, N, with_bias ? b.data() : nullptr, y, rows, cols);
}

void run_linear_bf16(Isa isa, int64_t M, int64_t K, int64_t N, bool with_bias, uint64_t seed,
                     std::vector<int64_t> rows = {}, std::vector<int64_t> cols = {}) {
  INFO("linear_bf16");
  run_linear(isa, M, K, N, with_bias, seed, std::move(rows), std::move(cols), true);
}

std::vector<int64_t> sample(int64_t n, int count, uint64_t seed) {
  std::set<int64_t> s = {0, n - 1};
  Rng r(seed);
  while (static_cast<int>(s.size()) < std::min<int64_t>(count, n)) s.insert(static_cast<int64_t>(r.next() % n));
  return {s.begin(), s.end()};
}

}  // namespace

TEST_CASE("every op of the table has a kernel in every supported instruction set") {
  const std::set<std::string> tested = {"linear", "linear_bf16", "layernorm", "rmsnorm", "gelu_erf", "swiglu",      "add",
                                        "scale_add", "rope",   "attention", "bf16_to_f32", "embedding"};
  std::set<std::string> listed;
  for (const OpInfo& op : op_infos()) {
    listed.insert(op.name);
    for (Isa isa : supported_isas()) {
      INFO(op.name << " in " << isa_name(isa));
      CHECK(op.kernel(op_table(isa)) != nullptr);
    }
  }
  CHECK(listed == tested);  // a new op needs its test here
  for (Isa isa : fast_isas())
    for (const OpInfo& op : op_infos()) {
      INFO(op.name << " has its own " << isa_name(isa) << " kernel");
      CHECK(is_specialised(op, isa));
    }
}

TEST_CASE("linear matches the reference on odd shapes, with and without bias") {
  for (Isa isa : fast_isas()) {
    uint64_t seed = 100;
    for (int64_t M : {1, 2, 3, 4, 5, 17, 70})
      for (int64_t K : {1, 15, 33, 64, 1000})
        for (int64_t N : {1, 7, 63, 100}) run_linear(isa, M, K, N, (M + K + N) % 2 == 0, ++seed);
  }
}

TEST_CASE("linear_bf16 matches the reference on bf16-rounded inputs, odd shapes and odd depths") {
  for (Isa isa : supported_isas()) {
    uint64_t seed = 500;
    for (int64_t M : {1, 5, 13, 70})
      for (int64_t K : {1, 2, 15, 33, 64, 513, 1000})
        for (int64_t N : {1, 7, 63, 100}) run_linear_bf16(isa, M, K, N, (M + K + N) % 2 == 0, ++seed);
  }
}

// A one-hot weight row makes y[m, n] = x[m, k_n] · w exactly, in any summation order: at large K
// this catches a lost or doubled term, which the rounding bound above (~K u Σ|x w|) would not.
TEST_CASE("linear reads every k of every row exactly once, at the LLM's depth") {
  const int64_t K = 8192, N = 600;
  std::vector<uint16_t> w(N * K, 0);
  std::vector<int64_t> hot(N);
  for (int64_t n = 0; n < N; ++n) {
    hot[n] = (n * 8191 / (N - 1) + (n % 17)) % K;  // spread over every depth block and lane
    w[n * K + hot[n]] = float_to_bf16(1.0f + static_cast<float>(n % 5));
  }
  for (Isa isa : fast_isas())
    for (int64_t M : {1, 3, 13}) {
      const auto x = random_floats(M * K, M);
      std::vector<float> y(M * N);
      std::vector<float> y_bf16(M * N);
      op_table(isa).linear(x.data(), M, K, w.data(), N, nullptr, y.data());
      op_table(isa).linear_bf16(x.data(), M, K, w.data(), N, nullptr, y_bf16.data());
      int64_t wrong = 0, wrong_bf16 = 0;
      for (int64_t m = 0; m < M; ++m)
        for (int64_t n = 0; n < N; ++n) {
          const float scale = 1.0f + static_cast<float>(n % 5);
          wrong += y[m * N + n] != x[m * K + hot[n]] * scale;
          wrong_bf16 += y_bf16[m * N + n] != round_to_bf16(x[m * K + hot[n]]) * scale;
        }
      INFO(isa_name(isa) << " M=" << M);
      CHECK(wrong == 0);
      CHECK(wrong_bf16 == 0);
    }
}

TEST_CASE("linear matches the reference whatever the thread count") {
  for (Isa isa : fast_isas()) {
    for (int threads : {1, 3, 2}) {
      set_num_threads(threads);
      run_linear(isa, 1, 300, 257, true, 7);
      run_linear(isa, 37, 300, 257, false, 8);
      run_linear(isa, 300, 70, 5, true, 9);
      run_linear_bf16(isa, 37, 300, 257, false, 10);
      run_linear_bf16(isa, 300, 71, 5, true, 11);
    }
  }
  set_num_threads(physical_core_count());
}

TEST_CASE("linear matches the reference on the ViT and LLM shapes (sampled)") {
  struct Shape { int64_t M, K, N; bool bias; };
  const Shape shapes[] = {
      {1025, 1024, 3072, true},  {1025, 1024, 1024, true}, {1025, 1024, 4096, true}, {1025, 4096, 1024, true},
      {1, 2048, 4096, false},    {1, 2048, 2048, false},   {1, 2048, 8192, false},   {1, 8192, 2048, false},
      {67, 2048, 4096, false},   {67, 2048, 8192, false},  {67, 8192, 2048, false},  {1, 2048, 92553, false},
  };
  for (Isa isa : fast_isas())
    for (const Shape& s : shapes)
      run_linear(isa, s.M, s.K, s.N, s.bias, s.M + s.K + s.N, sample(s.M, 6, 1), sample(s.N, 48, 2));
  for (Isa isa : fast_isas())
    for (const Shape& s : shapes)
      if (s.M > 1) run_linear_bf16(isa, s.M, s.K, s.N, s.bias, s.M + s.K + s.N, sample(s.M, 6, 1), sample(s.N, 48, 2));
}

// ---- norms and elementwise ------------------------------------------------------------------------

TEST_CASE("layernorm and rmsnorm match the reference, in place too") {
  for (Isa isa : fast_isas()) {
    const OpTable& t = op_table(isa);
    for (int64_t rows : {1, 3, 17})
      for (int64_t dim : {1, 15, 33, 64, 1000, 1024, 2048}) {
        const auto x = random_floats(rows * dim, dim + rows, -3.0f, 5.0f);
        const auto w = random_floats(dim, dim + 1, 0.5f, 1.5f);
        const auto b = random_floats(dim, dim + 2);
        for (bool in_place : {false, true}) {
          std::vector<float> want(rows * dim), got = x, separate(rows * dim);
          float* out = in_place ? got.data() : separate.data();
          reference::layernorm(x.data(), rows, dim, w.data(), b.data(), 1e-6f, want.data());
          t.layernorm(got.data(), rows, dim, w.data(), b.data(), 1e-6f, out);
          Worst worst;
          for (int64_t r = 0; r < rows; ++r) {
            double mean = 0, var = 0;
            for (int64_t d = 0; d < dim; ++d) mean += x[r * dim + d];
            mean /= dim;
            for (int64_t d = 0; d < dim; ++d) var += (x[r * dim + d] - mean) * (x[r * dim + d] - mean);
            const double rstd = 1.0 / std::sqrt(var / dim + 1e-6);
            for (int64_t d = 0; d < dim; ++d) {
              const size_t i = r * dim + d;
              const double mag = std::fabs((x[i] - mean) * rstd * w[d]) + std::fabs(mean * rstd * w[d]) + std::fabs(b[d]);
              worst.add(i, out[i], want[i], (2.0 * dim + 16) * kU * mag + 1e-37);
            }
          }
          CHECK_WORST(worst, isa_name(isa) << " layernorm " << shape({{"rows", rows}, {"dim", dim}}));

          std::vector<float> got2 = x, separate2(rows * dim);
          float* out2 = in_place ? got2.data() : separate2.data();
          reference::rmsnorm(x.data(), rows, dim, w.data(), 1e-5f, want.data());
          t.rmsnorm(got2.data(), rows, dim, w.data(), 1e-5f, out2);
          Worst worst2;
          for (int64_t i = 0; i < rows * dim; ++i)
            worst2.add(i, out2[i], want[i], (2.0 * dim + 8) * kU * std::fabs(want[i]) + 1e-37);
          CHECK_WORST(worst2, isa_name(isa) << " rmsnorm " << shape({{"rows", rows}, {"dim", dim}}));
        }
      }
  }
}

TEST_CASE("gelu_erf matches exact GELU over the whole fp32 range the model sees") {
  std::vector<float> x;
  for (int i = -200000; i <= 200000; ++i) x.push_back(i * 1e-4f);  // [-20, 20] densely
  for (float v : {0.0f, -0.0f, 1e-30f, -1e-30f, 1e-8f, 30.0f, -30.0f, 100.0f, -100.0f, 1e6f, -1e6f}) x.push_back(v);
  x.push_back(0.921875f * 1.41421356f);  // the erf branch point
  for (Isa isa : fast_isas()) {
    for (int64_t n : {int64_t(1), int64_t(17), static_cast<int64_t>(x.size())}) {
      std::vector<float> want(x.begin(), x.begin() + n), got = want;
      reference::gelu_erf(want.data(), n);
      op_table(isa).gelu_erf(got.data(), n);
      Worst worst;
      for (int64_t i = 0; i < n; ++i)
        worst.add(i, got[i], want[i], 4e-7 * std::fabs(x[i]) + 4 * kU * std::fabs(want[i]) + 1e-37);
      CHECK_WORST(worst, isa_name(isa) << " gelu_erf n=" << n);
    }
  }
}

TEST_CASE("swiglu matches the reference, writing over gate or up too") {
  const int64_t n = 100003;
  std::vector<float> gate = random_floats(n, 5, -30.0f, 30.0f), up = random_floats(n, 6, -2.0f, 2.0f);
  gate[0] = -100.0f;
  gate[1] = 100.0f;
  gate[2] = 0.0f;
  std::vector<float> want(n);
  reference::swiglu(gate.data(), up.data(), want.data(), n);
  for (Isa isa : fast_isas())
    for (int mode = 0; mode < 3; ++mode) {
      std::vector<float> g = gate, u = up, o(n);
      float* out = mode == 0 ? o.data() : mode == 1 ? g.data() : u.data();
      op_table(isa).swiglu(g.data(), u.data(), out, n);
      Worst worst;
      for (int64_t i = 0; i < n; ++i) worst.add(i, out[i], want[i], 10 * kU * std::fabs(want[i]) + 1e-30);
      CHECK_WORST(worst, isa_name(isa) << " swiglu alias mode " << mode);
    }
}

TEST_CASE("residual add and layer-scale add match the reference") {
  for (Isa isa : fast_isas())
    for (int64_t rows : {1, 3, 1025})
      for (int64_t dim : {1, 33, 1024}) {
        const auto h0 = random_floats(rows * dim, 1), x = random_floats(rows * dim, 2);
        const auto s = random_floats(dim, 3, -0.2f, 0.2f);
        std::vector<float> want = h0, got = h0;
        reference::add(want.data(), x.data(), rows * dim);
        op_table(isa).add(got.data(), x.data(), rows * dim);
        Worst w1;
        for (int64_t i = 0; i < rows * dim; ++i) w1.add(i, got[i], want[i], kU * std::fabs(want[i]) + 1e-37);
        CHECK_WORST(w1, isa_name(isa) << " add " << rows * dim);
        want = h0;
        got = h0;
        reference::scale_add(want.data(), x.data(), s.data(), rows, dim);
        op_table(isa).scale_add(got.data(), x.data(), s.data(), rows, dim);
        Worst w2;
        for (int64_t i = 0; i < rows * dim; ++i)
          w2.add(i, got[i], want[i], 2 * kU * (std::fabs(want[i]) + std::fabs(s[i % dim] * x[i])) + 1e-37);
        CHECK_WORST(w2, isa_name(isa) << " scale_add " << shape({{"rows", rows}, {"dim", dim}}));
      }
}

TEST_CASE("rope rotates exactly the heads it is given and leaves the rest of each row alone") {
  for (Isa isa : fast_isas())
    for (int64_t hd : {16, 64, 128})
      for (int64_t T : {1, 3, 17})
        for (int64_t heads : {1, 2, 16}) {
          const int64_t stride = heads * hd + 3 * hd + 5;  // e.g. q heads inside a fused qkv row
          const auto x = random_floats(T * stride, hd + T + heads, -4.0f, 4.0f);
          const auto c = random_floats(T * hd / 2, 1), s = random_floats(T * hd / 2, 2);
          std::vector<float> want = x, got = x;
          reference::rope(want.data(), T, heads, hd, stride, c.data(), s.data());
          op_table(isa).rope(got.data(), T, heads, hd, stride, c.data(), s.data());
          Worst worst;
          const int64_t half = hd / 2;
          for (int64_t t = 0; t < T; ++t)
            for (int64_t j = 0; j < stride; ++j) {
              const size_t i = t * stride + j;
              double tol = 0;
              if (j < heads * hd) {
                const int64_t e = (j % hd) % half, base = t * stride + (j / hd) * hd;
                tol = 2 * kU * (std::fabs(x[base + e]) + std::fabs(x[base + e + half])) *
                      (std::fabs(c[t * half + e]) + std::fabs(s[t * half + e]));
              }
              worst.add(i, got[i], want[i], tol + 1e-37);
            }
          CHECK_WORST(worst, isa_name(isa) << " rope " << shape({{"hd", hd}, {"T", T}, {"heads", heads}}));
        }
}

TEST_CASE("bf16 widening and embedding lookup are exact") {
  const auto table = random_bf16(1000 * 37, 3, 2.0f);
  std::vector<int32_t> ids = {0, 999, 5, 5, 123, 998, 1};
  for (Isa isa : fast_isas()) {
    for (int64_t n : {1, 15, 16, 17, 1000 * 37}) {
      std::vector<float> want(n), got(n, -1.0f);
      reference::bf16_to_f32(table.data(), want.data(), n);
      op_table(isa).bf16_to_f32(table.data(), got.data(), n);
      CHECK(want == got);
    }
    std::vector<float> want(ids.size() * 37), got(ids.size() * 37);
    reference::embedding(table.data(), 37, ids.data(), static_cast<int64_t>(ids.size()), want.data());
    op_table(isa).embedding(table.data(), 37, ids.data(), static_cast<int64_t>(ids.size()), got.data());
    CHECK(want == got);
  }
}

// ---- attention ----------------------------------------------------------------------------------

namespace {

struct AttnCase {
  int64_t Tq, Tk, q_heads, kv_heads, hd;
  bool causal;
  int64_t q_pos0;
};

// Checks query rows `rows` (all when empty) of `isa`'s attention against the reference.
void run_attention(Isa isa, const AttnCase& c, uint64_t seed, std::vector<int64_t> rows = {}) {
  const int64_t q_stride = c.q_heads * c.hd + 2 * c.kv_heads * c.hd;  // as in a fused qkv row
  const int64_t kv_stride = c.kv_heads * c.hd + 3;
  const auto q = random_floats(c.Tq * q_stride, seed, -2.0f, 2.0f);
  const auto k = random_floats(c.Tk * kv_stride, seed + 1, -2.0f, 2.0f);
  const auto v = random_floats(c.Tk * kv_stride, seed + 2, -1.0f, 1.0f);
  const float scale = 1.0f / std::sqrt(static_cast<float>(c.hd));
  const int64_t width = c.q_heads * c.hd;
  std::vector<float> got(c.Tq * width, std::nanf(""));
  op_table(isa).attention(q.data(), q_stride, k.data(), v.data(), kv_stride, c.Tq, c.Tk, c.q_heads, c.kv_heads, c.hd,
                          scale, c.causal, c.q_pos0, got.data());
  if (rows.empty())
    for (int64_t i = 0; i < c.Tq; ++i) rows.push_back(i);
  Worst worst;
  std::vector<float> want(width);
  const int64_t group = c.q_heads / c.kv_heads;
  for (int64_t i : rows) {
    reference::attention(q.data() + i * q_stride, q_stride, k.data(), v.data(), kv_stride, 1, c.Tk, c.q_heads,
                         c.kv_heads, c.hd, scale, c.causal, c.q_pos0 + i, want.data());
    const int64_t keys = c.causal ? std::min(c.Tk, c.q_pos0 + i + 1) : c.Tk;
    for (int64_t h = 0; h < c.q_heads; ++h) {
      const int64_t g = h / group;
      double s_max = 0;
      for (int64_t j = 0; j < keys; ++j) {
        double s = 0;
        for (int64_t d = 0; d < c.hd; ++d)
          s += std::fabs(q[i * q_stride + h * c.hd + d] * k[j * kv_stride + g * c.hd + d]);
        s_max = std::max(s_max, s * scale);
      }
      for (int64_t d = 0; d < c.hd; ++d) {
        double v_max = 0;
        for (int64_t j = 0; j < keys; ++j) v_max = std::max(v_max, double(std::fabs(v[j * kv_stride + g * c.hd + d])));
        const double tol = 4 * ((c.hd + 2) * kU * s_max + (keys + 16) * kU) * v_max + 1e-37;
        worst.add(i * width + h * c.hd + d, got[i * width + h * c.hd + d], want[h * c.hd + d], tol);
      }
    }
  }
  CHECK_WORST(worst, isa_name(isa) << " attention "
                                   << shape({{"Tq", c.Tq}, {"Tk", c.Tk}, {"qh", c.q_heads}, {"kvh", c.kv_heads},
                                             {"hd", c.hd}, {"causal", c.causal}, {"q_pos0", c.q_pos0}}));
}

}  // namespace

TEST_CASE("decode attention (one query) matches the reference for every cache length") {
  for (Isa isa : fast_isas())
    for (int64_t hd : {16, 64, 128})
      for (int64_t Tk : {1, 2, 3, 15, 16, 17, 31, 63, 64, 65, 129, 700, 1025, 1100}) {
        run_attention(isa, {1, Tk, 4, 2, hd, true, Tk - 1}, Tk + hd);
        run_attention(isa, {1, Tk, 3, 3, hd, false, 0}, Tk + hd + 1);
      }
}

TEST_CASE("prefill attention matches the reference: causal chunks at any offset, GQA, non-causal") {
  for (Isa isa : fast_isas())
    for (int64_t hd : {16, 64, 128}) {
      const AttnCase cases[] = {
          {3, 3, 2, 1, hd, true, 0},      {17, 17, 4, 2, hd, true, 0},   {17, 30, 4, 4, hd, true, 13},
          {17, 40, 4, 1, hd, true, 5},    {50, 50, 2, 2, hd, false, 0},  {65, 129, 2, 1, hd, true, 64},
          {100, 37, 2, 2, hd, false, 0},  {7, 7, 8, 2, hd, true, 0},     {130, 130, 1, 1, hd, true, 0},
      };
      uint64_t seed = 1000 + hd;
      for (const AttnCase& c : cases) run_attention(isa, c, ++seed);
    }
}

TEST_CASE("attention matches the reference on the ViT and LLM shapes (sampled query rows)") {
  for (Isa isa : fast_isas()) {
    run_attention(isa, {1025, 1025, 16, 16, 64, false, 0}, 1, sample(1025, 6, 3));
    run_attention(isa, {700, 700, 16, 8, 128, true, 0}, 2, sample(700, 6, 4));
    run_attention(isa, {1, 700, 16, 8, 128, true, 699}, 3);
    run_attention(isa, {256, 956, 16, 8, 128, true, 700}, 4, sample(256, 6, 5));  // a later prefill chunk
  }
}
