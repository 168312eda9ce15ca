// vlac_cuda.h: the int8 kernels. Each __global__ runs the warp-level code of int8_warp.h with the
// GPU's warp policy; the host tests run the same code through an emulated launch.
#include <cuda_runtime.h>

#include "ops/cuda/int8_warp.h"
#include "ops/cuda/vlac_cuda.h"

namespace vlac::cuda {
namespace {

__global__ void column_max_kernel(const float* x, int64_t M, int64_t K, float* out) {
  const int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k < K) out[k] = column_max_at(x, M, K, k);
}

__global__ void quantize_rows_kernel(QuantizeArgs a) {
  quantize_rows_warp<DeviceWarp>(a, blockIdx.x, threadIdx.x / kWarpSize);
}

__global__ void w8a8_kernel(W8A8Args a) {
  w8a8_warp<DeviceWarp>(a, blockIdx.x, blockIdx.y, threadIdx.x / kWarpSize);
}

template <class Rows, int MaxM>
__global__ void gemv_kernel(GemvArgs a) {
  gemv_warp<DeviceWarp, Rows, MaxM>(a, blockIdx.x, blockIdx.y, threadIdx.x / kWarpSize);
}

bool bad_shape(int64_t M, const vlac_cuda_int8_weight* w) { return M <= 0 || !w || w->N <= 0 || w->K <= 0; }

int launch_w8a8(const W8A8Args& a) {
  const Grid2 g = w8a8_grid(a.M, a.w.N);
  if (g.y > 65535) return cudaErrorInvalidValue;
  w8a8_kernel<<<dim3(static_cast<unsigned>(g.x), static_cast<unsigned>(g.y)), kBlockThreads>>>(a);
  return cudaGetLastError();
}

template <class Rows>
int launch_gemv(const GemvArgs& a) {
  const Grid2 g = gemv_grid(a.M, a.N);
  if (g.y > 65535) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(g.x), static_cast<unsigned>(g.y));
  switch (gemv_max_m(a.M)) {
    case 1: gemv_kernel<Rows, 1><<<grid, kBlockThreads>>>(a); break;
    case 4: gemv_kernel<Rows, 4><<<grid, kBlockThreads>>>(a); break;
    default: gemv_kernel<Rows, kGemvMaxM><<<grid, kBlockThreads>>>(a); break;
  }
  return cudaGetLastError();
}

}  // namespace
}  // namespace vlac::cuda

using namespace vlac::cuda;

extern "C" {

int vlac_cuda_column_max(const float* x, int64_t M, int64_t K, float* out) {
  if (M <= 0 || K <= 0) return cudaErrorInvalidValue;
  column_max_kernel<<<static_cast<unsigned>(ceil_div(K, kBlockThreads)), kBlockThreads>>>(x, M, K, out);
  return cudaGetLastError();
}

int vlac_cuda_quantize_rows(const float* x, int64_t M, int64_t K, const int32_t* skip, int64_t n_skip, int8_t* codes,
                            float* scales) {
  if (M <= 0 || K <= 0 || n_skip < 0) return cudaErrorInvalidValue;
  const QuantizeArgs a{x, M, K, skip, n_skip, codes, scales};
  quantize_rows_kernel<<<static_cast<unsigned>(quantize_blocks(M)), kBlockThreads>>>(a);
  return cudaGetLastError();
}

int vlac_cuda_gemm_w8a8_s32(const int8_t* codes, int64_t M, const vlac_cuda_int8_weight* w, int32_t* acc) {
  if (bad_shape(M, w)) return cudaErrorInvalidValue;
  W8A8Args a{};
  a.codes = codes;
  a.M = M;
  a.w = *w;
  a.acc = acc;
  return launch_w8a8(a);
}

int vlac_cuda_linear_w8a8(const int8_t* codes, const float* scales, const float* x, int64_t M,
                          const vlac_cuda_int8_weight* w, const float* bias, const int32_t* act, int64_t n_act, float* y) {
  if (bad_shape(M, w) || n_act < 0) return cudaErrorInvalidValue;
  const W8A8Args a{codes, M, *w, nullptr, scales, x, bias, act, n_act, y};
  return launch_w8a8(a);
}

int vlac_cuda_linear_w8a16(const float* x, int64_t M, const vlac_cuda_int8_weight* w, const float* bias, float* y) {
  if (bad_shape(M, w)) return cudaErrorInvalidValue;
  const GemvArgs a{x, M, w->K, w->N, w->q, w->scale, w->outlier_columns, w->outlier_weights, w->n_outliers, bias, y};
  return launch_gemv<Int8Rows>(a);
}

int vlac_cuda_linear_bf16(const float* x, int64_t M, const uint16_t* w, int64_t N, int64_t K, const float* bias,
                          float* y) {
  if (M <= 0 || N <= 0 || K <= 0) return cudaErrorInvalidValue;
  const GemvArgs a{x, M, K, N, w, nullptr, nullptr, nullptr, 0, bias, y};
  return launch_gemv<Bf16Rows>(a);
}

}  // extern "C"
