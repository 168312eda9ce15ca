// vlac_cuda.h: device query and memory helpers (thin wrappers of the CUDA runtime, so that no CUDA
// header or type reaches the caller).
#include <cuda_runtime.h>

#include <string.h>

#include "ops/cuda/vlac_cuda.h"

extern "C" {

int64_t vlac_cuda_codes_ld(int64_t K) { return (K + 31) / 32 * 32; }
int64_t vlac_cuda_bf16_ld(int64_t K) { return (K + 7) / 8 * 8; }

int vlac_cuda_device_count(int* count) {
  *count = 0;
  return cudaGetDeviceCount(count);
}

int vlac_cuda_device_info_get(int device, vlac_cuda_device_info* info) {
  cudaDeviceProp p;
  const cudaError_t e = cudaGetDeviceProperties(&p, device);
  if (e != cudaSuccess) return e;
  memset(info, 0, sizeof *info);
  strncpy(info->name, p.name, sizeof info->name - 1);
  info->cc_major = p.major;
  info->cc_minor = p.minor;
  info->multiprocessors = p.multiProcessorCount;
  info->total_memory = p.totalGlobalMem;
  return cudaSuccess;
}

int vlac_cuda_set_device(int device) { return cudaSetDevice(device); }

const char* vlac_cuda_error_string(int error) { return cudaGetErrorString(static_cast<cudaError_t>(error)); }

int vlac_cuda_malloc(void** ptr, size_t bytes) { return cudaMalloc(ptr, bytes); }
int vlac_cuda_free(void* ptr) { return cudaFree(ptr); }
int vlac_cuda_memset(void* ptr, int value, size_t bytes) { return cudaMemset(ptr, value, bytes); }
int vlac_cuda_copy_to_device(void* dst, const void* src, size_t bytes) {
  return cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
}
int vlac_cuda_copy_to_host(void* dst, const void* src, size_t bytes) {
  return cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
}
int vlac_cuda_synchronize(void) { return cudaDeviceSynchronize(); }

}  // extern "C"
