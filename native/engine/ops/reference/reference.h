// The plain C++ reference of every op: one thread, one obvious loop nest, fp32 throughout, summing
// in index order. It is the oracle the fast kernels are tested against (native/tests/test_ops.cpp)
// and the kernel set on a CPU without AVX2. Signatures and contracts are ops.h's.
#pragma once

#include <cstdint>

namespace vlac::ops::reference {

void linear(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias, float* y);
void linear_bf16(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias,
                 float* y);
void layernorm(const float* x, int64_t rows, int64_t dim, const float* w, const float* b, float eps, float* y);
void rmsnorm(const float* x, int64_t rows, int64_t dim, const float* w, float eps, float* y);
void gelu_erf(float* x, int64_t n);
void swiglu(const float* gate, const float* up, float* out, int64_t n);
void add(float* h, const float* x, int64_t n);
void scale_add(float* h, const float* x, const float* scale, int64_t rows, int64_t dim);
void rope(float* x, int64_t T, int64_t heads, int64_t head_dim, int64_t row_stride, const float* cos,
          const float* sin);
void attention(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride, int64_t Tq,
               int64_t Tk, int64_t q_heads, int64_t kv_heads, int64_t head_dim, float scale, bool causal,
               int64_t q_pos0, float* out);
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);
void embedding(const uint16_t* table_bf16, int64_t dim, const int32_t* ids, int64_t n, float* out);
double fma_loop(int64_t iters);

}  // namespace vlac::ops::reference
