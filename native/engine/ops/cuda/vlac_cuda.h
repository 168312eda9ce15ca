/* The C ABI of libvlac_cuda.so (issue 16): the int8 Linear kernels of ops/int8.h on an NVIDIA GPU,
 * the device query and the few memory helpers a caller needs. Plain C, no C++ type crosses it, so
 * the library (CUDA runtime linked statically) can be loaded beside any build of the engine.
 *
 * Every function returns a cudaError_t value (0 = success); vlac_cuda_error_string() names it.
 * With no driver, vlac_cuda_device_count() returns 35 (cudaErrorInsufficientDriver): the caller maps
 * that to ERR_VLAC_CUDA_UNAVAILABLE with the reason. Kernels run on the default stream and return
 * after the launch (vlac_cuda_synchronize() waits); every pointer they take is device memory.
 *
 * Layout contract (device memory):
 *   activations x       fp32 [M, K] row-major, unpadded.
 *   activation codes    int8 [M, ld] row-major, ld = vlac_cuda_codes_ld(K) = ceil(K / 32) · 32,
 *                       padded with code 0 (the mma k-step is 32: the k-loop needs no edge).
 *   int8 weight q       int8 [N, ld] row-major, the same ld, padded with code 0. Row n is output
 *                       channel n: 4 consecutive k of one n is exactly one 32-bit register of the
 *                       mma "col" B operand, and a row of codes is the "row" A operand.
 *   bf16 weight         uint16 (bf16 bits) [N, vlac_cuda_bf16_ld(K) = ceil(K / 8) · 8], zero-padded
 *                       (16-byte rows: one vector load is 8 weights).
 *   outlier weights     fp32 [n_outliers, N] row-major (row j = column outlier_columns[j] of W),
 *                       outlier_columns int32 ascending; their codes in q are 0 (ops/int8.h).
 * Every array starts 16-byte aligned (cudaMalloc's are 256): the kernels load 16 bytes at a time.
 */
#ifndef VLAC_CUDA_H
#define VLAC_CUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct vlac_cuda_device_info {
  char name[256];
  int cc_major, cc_minor;         /* compute capability; the int8 mma needs 8.0 or later */
  int multiprocessors;
  uint64_t total_memory;          /* bytes */
} vlac_cuda_device_info;

/* A quantized [N, K] weight in device memory (see the layout contract above). */
typedef struct vlac_cuda_int8_weight {
  const int8_t* q;                /* [N, vlac_cuda_codes_ld(K)] */
  const float* scale;             /* [N], s_n */
  int64_t N, K;
  const int32_t* outlier_columns; /* [n_outliers], ascending; NULL when n_outliers = 0 */
  const float* outlier_weights;   /* [n_outliers, N] */
  int64_t n_outliers;
} vlac_cuda_int8_weight;

int64_t vlac_cuda_codes_ld(int64_t K);
int64_t vlac_cuda_bf16_ld(int64_t K);

/* ---- device ---------------------------------------------------------------------------------- */
int vlac_cuda_device_count(int* count);
int vlac_cuda_device_info_get(int device, vlac_cuda_device_info* info);
int vlac_cuda_set_device(int device);
const char* vlac_cuda_error_string(int error);

/* ---- memory ---------------------------------------------------------------------------------- */
int vlac_cuda_malloc(void** ptr, size_t bytes);
int vlac_cuda_free(void* ptr);
int vlac_cuda_memset(void* ptr, int value, size_t bytes);
int vlac_cuda_copy_to_device(void* dst, const void* src, size_t bytes);
int vlac_cuda_copy_to_host(void* dst, const void* src, size_t bytes);
int vlac_cuda_synchronize(void);

/* ---- int8 kernels (ops/int8.h's scheme) -------------------------------------------------------- */
/* out[k] = max_m |x[m,k]| (the activation-outlier rule's input; the selection itself,
 * select_outlier_columns, is the caller's: a median of K values). */
int vlac_cuda_column_max(const float* x, int64_t M, int64_t K, float* out);
/* Row m of x over the channels not in skip[0 .. n_skip) (ascending): scales[m] = t_m = max|x| / 127,
 * codes[m, k] = round_half_even(x · (127 / max|x|)), skipped channels and the padding code 0. */
int vlac_cuda_quantize_rows(const float* x, int64_t M, int64_t K, const int32_t* skip, int64_t n_skip, int8_t* codes,
                            float* scales);
/* acc [M, N] = Σ_k p[m,k] q[n,k], exact (int8 tensor cores, mma m16n8k32). */
int vlac_cuda_gemm_w8a8_s32(const int8_t* codes, int64_t M, const vlac_cuda_int8_weight* w, int32_t* acc);
/* y [M, N] = fma(float(acc), t_m · s_n, b_n or 0), then the weight's outlier columns
 * y = fma(x[m,k_j], W_j[n], y) for j in order, then the activation-outlier channels act[0 .. n_act)
 * (ascending, not among the weight's) y = fma(x[m,k], s_n · q[n,k], y) in order: linear_w8a8 of
 * ops/int8.h once the codes are made with skip = the weight's outlier columns ∪ act. bias may be NULL. */
int vlac_cuda_linear_w8a8(const int8_t* codes, const float* scales, const float* x, int64_t M,
                          const vlac_cuda_int8_weight* w, const float* bias, const int32_t* act, int64_t n_act, float* y);
/* y [M, N] = (x · qᵀ) · s_n (+ b_n), then the outlier columns as above: the decode product
 * (written for M = 1..16: one pass for M <= 8, larger M in slices of 8 rows). */
int vlac_cuda_linear_w8a16(const float* x, int64_t M, const vlac_cuda_int8_weight* w, const float* bias, float* y);
/* y [M, N] = x · Wᵀ (+ b) on bf16 weights [N, vlac_cuda_bf16_ld(K)]: the W8A16 kernel's structure on
 * 2-byte weights, the baseline of the decode ratio. */
int vlac_cuda_linear_bf16(const float* x, int64_t M, const uint16_t* w, int64_t N, int64_t K, const float* bias,
                          float* y);

#ifdef __cplusplus
}
#endif

#endif
