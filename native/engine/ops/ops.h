// The numeric ops the model is built from. Each call runs the kernel of the active instruction set
// (ops/op_table.h: AVX-512, AVX2 or the plain C++ reference, chosen once from cpuid, or forced with
// VLAC_CPU_ISA=reference|avx2|avx512) and uses the engine's thread pool (common/thread_pool.h).
//
// Numerics (docs/tolerances-ops.md): activations, residuals, norms, softmax and RoPE are fp32;
// weights are bf16 (raw uint16_t bits) widened to fp32 inside the GEMM; every sum accumulates in
// fp32. Nothing here rounds an activation to bf16 except linear_bf16, whose contract that is. Tensors are row-major and contiguous unless a
// stride is given; sizes are element counts.
#pragma once

#include <cstdint>

namespace vlac::ops {

// y[M,N] = x[M,K] · W[N,K]ᵀ (+ bias[N]). W is a Linear weight in bf16, bias fp32 or nullptr.
// M = 1 (decode) streams W once (memory bound); large M (prefill, ViT) runs a blocked GEMM.
// y must not overlap x.
void linear(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias,
            float* y);

// linear on x rounded to bf16 (nearest even) first: y = bf16(x) · Wᵀ (+ bias), fp32 sums. This is the
// product of the PyTorch bf16 path (bf16 activations into every GEMM) and, on CPUs with AVX-512 BF16,
// runs `vdpbf16ps` at twice the depth per instruction of the fp32 GEMM. The model uses it for products
// of more than LinearWeight::kDecodeRows rows when loaded with precision bf16 (model/linear_weight.h).
void linear_bf16(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias,
                 float* y);

// LayerNorm over the last dim (population variance): y = (x - mu) / sqrt(var + eps) * w + b.
// y may alias x.
void layernorm(const float* x, int64_t rows, int64_t dim, const float* w, const float* b, float eps, float* y);

// RMSNorm: y = w * (x * rsqrt(mean(x²) + eps)). y may alias x.
void rmsnorm(const float* x, int64_t rows, int64_t dim, const float* w, float eps, float* y);

// Exact GELU, in place: 0.5 * x * (1 + erf(x / sqrt(2))).
void gelu_erf(float* x, int64_t n);

// out = silu(gate) * up, silu(g) = g / (1 + exp(-g)). out may alias gate or up.
void swiglu(const float* gate, const float* up, float* out, int64_t n);

// h += x (the residual add).
void add(float* h, const float* x, int64_t n);

// h[r, d] += scale[d] * x[r, d] (ViT layer scale then residual).
void scale_add(float* h, const float* x, const float* scale, int64_t rows, int64_t dim);

// RoPE rotate-half (NeoX layout), in place on `heads` heads of each of T rows: row t starts at
// x + t * row_stride, head h at + h * head_dim. For i < head_dim/2, with (a, b) = (x[i], x[i + half]):
// x[i] = a*cos - b*sin, x[i + half] = b*cos + a*sin, where cos/sin are [T, head_dim/2] (one row per
// token; the caller computes them with the right base for each position).
void rope(float* x, int64_t T, int64_t heads, int64_t head_dim, int64_t row_stride, const float* cos,
          const float* sin);

// Scaled dot-product attention.
// q: Tq rows of stride q_stride, head h at q + h*head_dim; k, v: Tk rows of stride kv_stride, kv head g
// at + g*head_dim. GQA: q head h reads kv head h / (q_heads / kv_heads). causal: query i (absolute
// position q_pos0 + i) sees keys j <= q_pos0 + i; non-causal: all Tk keys. s = scale * (q·k), fp32
// softmax (max-subtracted). out: [Tq, q_heads * head_dim] contiguous, must not overlap q, k or v.
void attention(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride, int64_t Tq,
               int64_t Tk, int64_t q_heads, int64_t kv_heads, int64_t head_dim, float scale, bool causal,
               int64_t q_pos0, float* out);

// dst[i] = float(src[i]) for bf16 bits src.
void bf16_to_f32(const uint16_t* src, float* dst, int64_t n);

// out[i, :] = table[ids[i], :] widened to fp32; table is bf16 [rows, dim]. The caller has checked
// every id against the table's row count (the table size is not passed in).
void embedding(const uint16_t* table_bf16, int64_t dim, const int32_t* ids, int64_t n, float* out);

// Machine peaks the benchmarks report against (ops/peak.cpp). Each runs for a fraction of a second.
// fp32 multiply-add throughput of `threads` threads running a register-only FMA loop at the active
// instruction set's full vector width (1 FMA = 2 FLOP).
double measure_fp32_fma_peak_gflops(int threads);
// The same for the bf16 dot product of linear_bf16 (vdpbf16ps: 1 instruction = 64 FLOP); 0 where the
// active instruction set has none.
double measure_bf16_dot_peak_gflops(int threads);
// The same for the int8 dot product of the W8A8 GEMM (ops/int8.h; vpdpbusd zmm: 1 instruction = 128
// integer ops), in GOP/s; 0 where the active int8 kernel set has no zmm VNNI.
double measure_int8_dot_peak_gops(int threads);
// Read bandwidth of `threads` threads streaming a buffer far larger than the last-level cache.
double measure_memory_bandwidth_gbs(int threads);

}  // namespace vlac::ops
