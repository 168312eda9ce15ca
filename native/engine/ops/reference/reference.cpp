#include "ops/reference/reference.h"

#include <cmath>
#include <limits>
#include <vector>

#include "common/bf16.h"
#include "ops/op_table.h"

namespace vlac::ops::reference {

void linear(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias, float* y) {
  for (int64_t m = 0; m < M; ++m) {
    const float* xr = x + m * K;
    for (int64_t n = 0; n < N; ++n) {
      const uint16_t* wr = w_bf16 + n * K;
      float acc = 0.0f;
      for (int64_t k = 0; k < K; ++k) acc += xr[k] * bf16_to_float(wr[k]);
      y[m * N + n] = bias ? acc + bias[n] : acc;
    }
  }
}

void linear_bf16(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias,
                 float* y) {
  std::vector<float> rounded(x, x + M * K);
  for (float& v : rounded) v = round_to_bf16(v);
  linear(rounded.data(), M, K, w_bf16, N, bias, y);
}

void layernorm(const float* x, int64_t rows, int64_t dim, const float* w, const float* b, float eps, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    float sum = 0.0f;
    for (int64_t d = 0; d < dim; ++d) sum += xr[d];
    const float mean = sum / static_cast<float>(dim);
    float sq = 0.0f;
    for (int64_t d = 0; d < dim; ++d) sq += (xr[d] - mean) * (xr[d] - mean);
    const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(dim) + eps);
    for (int64_t d = 0; d < dim; ++d) yr[d] = (xr[d] - mean) * rstd * w[d] + b[d];
  }
}

void rmsnorm(const float* x, int64_t rows, int64_t dim, const float* w, float eps, float* y) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    float* yr = y + r * dim;
    float sq = 0.0f;
    for (int64_t d = 0; d < dim; ++d) sq += xr[d] * xr[d];
    const float rstd = 1.0f / std::sqrt(sq / static_cast<float>(dim) + eps);
    for (int64_t d = 0; d < dim; ++d) yr[d] = w[d] * (xr[d] * rstd);
  }
}

void gelu_erf(float* x, int64_t n) {
  constexpr float kSqrtHalf = 0.70710678118654752440f;
  for (int64_t i = 0; i < n; ++i) x[i] = x[i] * 0.5f * (1.0f + std::erf(x[i] * kSqrtHalf));
}

void swiglu(const float* gate, const float* up, float* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = gate[i];
    out[i] = g / (1.0f + std::exp(-g)) * up[i];
  }
}

void add(float* h, const float* x, int64_t n) {
  for (int64_t i = 0; i < n; ++i) h[i] += x[i];
}

void scale_add(float* h, const float* x, const float* scale, int64_t rows, int64_t dim) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t d = 0; d < dim; ++d) h[r * dim + d] += scale[d] * x[r * dim + d];
}

void rope(float* x, int64_t T, int64_t heads, int64_t head_dim, int64_t row_stride, const float* cos,
          const float* sin) {
  const int64_t half = head_dim / 2;
  for (int64_t t = 0; t < T; ++t) {
    const float* c = cos + t * half;
    const float* s = sin + t * half;
    for (int64_t h = 0; h < heads; ++h) {
      float* xh = x + t * row_stride + h * head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const float a = xh[i];
        const float b = xh[i + half];
        xh[i] = a * c[i] - b * s[i];
        xh[i + half] = b * c[i] + a * s[i];
      }
    }
  }
}

// Softmax then P·V, in the order of the eager PyTorch attention the goldens were made with.
void attention(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride, int64_t Tq,
               int64_t Tk, int64_t q_heads, int64_t kv_heads, int64_t head_dim, float scale, bool causal,
               int64_t q_pos0, float* out) {
  const int64_t group = q_heads / kv_heads;
  std::vector<float> p(static_cast<size_t>(Tk));
  for (int64_t i = 0; i < Tq; ++i) {
    const int64_t keys = causal ? std::min(Tk, q_pos0 + i + 1) : Tk;
    for (int64_t h = 0; h < q_heads; ++h) {
      const float* qh = q + i * q_stride + h * head_dim;
      const int64_t g = h / group;
      float* o = out + i * q_heads * head_dim + h * head_dim;
      float max = -std::numeric_limits<float>::infinity();
      for (int64_t j = 0; j < keys; ++j) {
        const float* kj = k + j * kv_stride + g * head_dim;
        float dot = 0.0f;
        for (int64_t d = 0; d < head_dim; ++d) dot += qh[d] * kj[d];
        p[j] = scale * dot;
        max = std::max(max, p[j]);
      }
      float sum = 0.0f;
      for (int64_t j = 0; j < keys; ++j) {
        p[j] = std::exp(p[j] - max);
        sum += p[j];
      }
      for (int64_t j = 0; j < keys; ++j) p[j] /= sum;
      for (int64_t d = 0; d < head_dim; ++d) o[d] = 0.0f;
      for (int64_t j = 0; j < keys; ++j) {
        const float* vj = v + j * kv_stride + g * head_dim;
        for (int64_t d = 0; d < head_dim; ++d) o[d] += p[j] * vj[d];
      }
    }
  }
}

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) {
  for (int64_t i = 0; i < n; ++i) dst[i] = bf16_to_float(src[i]);
}

void embedding(const uint16_t* table_bf16, int64_t dim, const int32_t* ids, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i) bf16_to_f32(table_bf16 + static_cast<int64_t>(ids[i]) * dim, out + i * dim, dim);
}

// Four independent chains so the loop measures throughput, not the latency of one multiply-add.
double fma_loop(int64_t iters) {
  volatile float seed = 1.0f;
  float a0 = seed, a1 = seed, a2 = seed, a3 = seed;
  const float m = 0.999999f, c = 1e-7f;
  for (int64_t i = 0; i < iters; ++i) {
    a0 = a0 * m + c;
    a1 = a1 * m + c;
    a2 = a2 * m + c;
    a3 = a3 * m + c;
  }
  seed = a0 + a1 + a2 + a3;
  return 8.0 * static_cast<double>(iters);
}

}  // namespace vlac::ops::reference

namespace vlac::ops {

const OpTable& reference_op_table() {
  static const OpTable table = {
      Isa::Reference,         reference::linear,    reference::linear_bf16, reference::layernorm, reference::rmsnorm,
      reference::gelu_erf,    reference::swiglu,    reference::add,       reference::scale_add,
      reference::rope,        reference::attention, reference::bf16_to_f32, reference::embedding,
      reference::fma_loop,     nullptr,
  };
  return table;
}

}  // namespace vlac::ops
