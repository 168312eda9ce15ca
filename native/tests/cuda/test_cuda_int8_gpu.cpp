// The real CUDA int8 kernels through the C ABI (ops/cuda/vlac_cuda.h) against the CPU reference:
// the cases of int8_cases.h (the same ones the host emulation runs). Built only with nvcc (the CUDA
// block of CMakeLists.txt); with no usable device it checks that the entry points fail cleanly,
// prints the reason and runs no case (see main): no driver here and in CI gives cudaGetDeviceCount
// = 35.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "cuda/int8_cases.h"
#include "ops/cuda/vlac_cuda.h"

namespace vlac::test {
namespace {

void check_cuda(int error, const char* what) {
  if (error != 0) FAIL(what << ": " << vlac_cuda_error_string(error) << " (cudaError " << error << ")");
}

// Device memory for one call, freed at scope exit.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes) {
    if (bytes) check_cuda(vlac_cuda_malloc(&ptr_, bytes), "cudaMalloc");
  }
  DeviceBuffer(const void* src, size_t bytes) : DeviceBuffer(bytes) {
    if (bytes) check_cuda(vlac_cuda_copy_to_device(ptr_, src, bytes), "copy to device");
  }
  template <class T>
  explicit DeviceBuffer(const std::vector<T>& v) : DeviceBuffer(v.data(), v.size() * sizeof(T)) {}
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (ptr_) vlac_cuda_free(ptr_);
  }
  template <class T>
  T* as() const { return static_cast<T*>(ptr_); }
  void to_host(void* dst, size_t bytes) const {
    check_cuda(vlac_cuda_synchronize(), "kernel");
    check_cuda(vlac_cuda_copy_to_host(dst, ptr_, bytes), "copy to host");
  }

 private:
  void* ptr_ = nullptr;
};

// A CudaInt8Weight uploaded.
struct DeviceWeight {
  DeviceBuffer q, scale, outlier_columns, outlier_weights;
  vlac_cuda_int8_weight view;
  explicit DeviceWeight(const CudaInt8Weight& w)
      : q(w.q), scale(w.scale), outlier_columns(w.outlier_columns), outlier_weights(w.outlier_weights), view(w.view()) {
    view.q = q.as<int8_t>();
    view.scale = scale.as<float>();
    view.outlier_columns = outlier_columns.as<int32_t>();
    view.outlier_weights = outlier_weights.as<float>();
  }
};

class GpuBackend final : public CudaInt8Backend {
 public:
  void column_max(const float* x, int64_t M, int64_t K, float* out) override {
    DeviceBuffer dx(x, M * K * 4), dout(K * 4);
    check_cuda(vlac_cuda_column_max(dx.as<float>(), M, K, dout.as<float>()), "column_max launch");
    dout.to_host(out, K * 4);
  }
  void quantize_rows(const float* x, int64_t M, int64_t K, const std::vector<int32_t>& skip, int8_t* codes,
                     float* scales) override {
    DeviceBuffer dx(x, M * K * 4), dskip(skip), dcodes(M * vlac_cuda_codes_ld(K)), dscales(M * 4);
    check_cuda(vlac_cuda_quantize_rows(dx.as<float>(), M, K, dskip.as<int32_t>(), static_cast<int64_t>(skip.size()),
                                       dcodes.as<int8_t>(), dscales.as<float>()),
               "quantize_rows launch");
    dcodes.to_host(codes, M * vlac_cuda_codes_ld(K));
    dscales.to_host(scales, M * 4);
  }
  void gemm_s32(const int8_t* codes, int64_t M, const CudaInt8Weight& w, int32_t* acc) override {
    const DeviceWeight dw(w);
    DeviceBuffer dcodes(codes, M * vlac_cuda_codes_ld(w.K)), dacc(M * w.N * 4);
    check_cuda(vlac_cuda_gemm_w8a8_s32(dcodes.as<int8_t>(), M, &dw.view, dacc.as<int32_t>()), "gemm_w8a8_s32 launch");
    dacc.to_host(acc, M * w.N * 4);
  }
  void linear_w8a8(const int8_t* codes, const float* scales, const float* x, int64_t M, const CudaInt8Weight& w,
                   const float* bias, const std::vector<int32_t>& act, float* y) override {
    const DeviceWeight dw(w);
    DeviceBuffer dcodes(codes, M * vlac_cuda_codes_ld(w.K)), dscales(scales, M * 4), dx(x, M * w.K * 4),
        dbias(bias, bias ? w.N * 4 : 0), dact(act), dy(M * w.N * 4);
    check_cuda(vlac_cuda_linear_w8a8(dcodes.as<int8_t>(), dscales.as<float>(), dx.as<float>(), M, &dw.view,
                                     dbias.as<float>(), dact.as<int32_t>(), static_cast<int64_t>(act.size()),
                                     dy.as<float>()),
               "linear_w8a8 launch");
    dy.to_host(y, M * w.N * 4);
  }
  void linear_w8a16(const float* x, int64_t M, const CudaInt8Weight& w, const float* bias, float* y) override {
    const DeviceWeight dw(w);
    DeviceBuffer dx(x, M * w.K * 4), dbias(bias, bias ? w.N * 4 : 0), dy(M * w.N * 4);
    check_cuda(vlac_cuda_linear_w8a16(dx.as<float>(), M, &dw.view, dbias.as<float>(), dy.as<float>()),
               "linear_w8a16 launch");
    dy.to_host(y, M * w.N * 4);
  }
  void linear_bf16(const float* x, int64_t M, const uint16_t* w, int64_t N, int64_t K, const float* bias,
                   float* y) override {
    DeviceBuffer dx(x, M * K * 4), dw(w, N * vlac_cuda_bf16_ld(K) * 2), dbias(bias, bias ? N * 4 : 0), dy(M * N * 4);
    check_cuda(vlac_cuda_linear_bf16(dx.as<float>(), M, dw.as<uint16_t>(), N, K, dbias.as<float>(), dy.as<float>()),
               "linear_bf16 launch");
    dy.to_host(y, M * N * 4);
  }
};

}  // namespace

CudaInt8Backend& cuda_int8_backend() {
  static GpuBackend backend;
  return backend;
}

// VLAC-2B's own shapes, too slow for the host emulation: the LLM prefill and a ViT tile batch against
// the engine's CPU linear_w8a8 (its fast set, bit-identical to the reference: test_ops_int8), and
// decode against the reference within int8_cases.h's bound.
TEST_CASE("CUDA W8A8 at VLAC-2B's prefill and ViT shapes is bit-identical to the engine's CPU linear_w8a8") {
  using namespace cuda_cases;
  Rng r(11);
  for (const Shape s : {Shape{700, 4096, 2048}, Shape{1025, 4096, 1024}}) {
    const ops::QuantizedWeight qw = random_weight(s.N, s.K, true, r);
    const CudaInt8Weight w = cuda_layout(qw);
    std::vector<float> x = random_floats(static_cast<size_t>(s.M * s.K), r);
    for (int64_t m = 0; m < s.M; ++m) x[m * s.K + 100] *= 40.0f;  // an activation-outlier channel
    const std::vector<float> bias = random_floats(static_cast<size_t>(s.N), r);
    std::vector<float> want(static_cast<size_t>(s.M * s.N)), got(want.size(), NAN);
    ops::linear_w8a8(x.data(), s.M, qw.view(), bias.data(), want.data());
    // the caller's selection, as ops::linear_w8a8 makes it
    std::vector<float> column_max(static_cast<size_t>(s.K));
    ops::reference_int8_kernels().column_max(x.data(), s.M, s.K, column_max.data());
    std::vector<int32_t> act = ops::select_outlier_columns(column_max.data(), s.K), skip = w.outlier_columns;
    act.erase(std::remove_if(act.begin(), act.end(),
                             [&](int32_t k) { return std::binary_search(skip.begin(), skip.end(), k); }),
              act.end());
    skip.insert(skip.end(), act.begin(), act.end());
    std::sort(skip.begin(), skip.end());
    std::vector<int8_t> codes(static_cast<size_t>(s.M * vlac_cuda_codes_ld(s.K)));
    std::vector<float> scales(static_cast<size_t>(s.M));
    cuda_int8_backend().quantize_rows(x.data(), s.M, s.K, skip, codes.data(), scales.data());
    cuda_int8_backend().linear_w8a8(codes.data(), scales.data(), x.data(), s.M, w, bias.data(), act, got.data());
    INFO(shape_name(s.M, s.N, s.K) << " weight outliers " << w.outlier_columns.size() << " activation outliers "
                                   << act.size());
    REQUIRE(!w.outlier_columns.empty());
    REQUIRE(!act.empty());
    CHECK(std::equal(want.begin(), want.end(), got.begin(), same_bits));
  }
}

TEST_CASE("CUDA W8A16 at VLAC-2B's decode shapes is within the fp32 bound of the reference") {
  using namespace cuda_cases;
  Rng r(12);
  for (const Shape s : {Shape{1, 4096, 2048}, Shape{1, 8192, 2048}, Shape{1, 2048, 8192}, Shape{8, 2048, 2048}}) {
    const ops::QuantizedWeight qw = random_weight(s.N, s.K, true, r);
    const CudaInt8Weight w = cuda_layout(qw);
    const auto x = random_floats(static_cast<size_t>(s.M * s.K), r);
    std::vector<float> want(static_cast<size_t>(s.M * s.N)), got(want.size(), NAN);
    ops::reference_int8_kernels().linear_w8a16(x.data(), s.M, qw.view(), nullptr, want.data());
    ops::reference_int8_kernels().add_outliers(x.data(), s.M, qw.view(), want.data());
    cuda_int8_backend().linear_w8a16(x.data(), s.M, w, nullptr, got.data());
    INFO(shape_name(s.M, s.N, s.K) << " weight outliers " << w.outlier_columns.size());
    CHECK(outside_w8a16_bound(s, x, qw, w, nullptr, got, want) == 0);
  }
}

}  // namespace vlac::test

// Why no case can run here, or "" when device 0 can run them (and it is named).
static std::string no_device_reason() {
  int count = 0;
  const int error = vlac_cuda_device_count(&count);
  if (error == 0 && count > 0) {
    vlac_cuda_device_info info;
    if (vlac_cuda_device_info_get(0, &info) != 0 || info.cc_major < 8)
      return "device 0 is not compute capability 8.0+ (the int8 mma needs sm_80)";
    std::printf("device 0: %s, compute capability %d.%d, %d SMs, %.1f GiB\n", info.name, info.cc_major, info.cc_minor,
                info.multiprocessors, double(info.total_memory) / (1 << 30));
    return "";
  }
  return std::string(error ? vlac_cuda_error_string(error) : "none found") + " (cudaGetDeviceCount: cudaError " +
         std::to_string(error) + ", " + std::to_string(count) + " devices)";
}

// Without a device every entry point must fail with a reason, not crash: that is what the engine
// turns into ERR_VLAC_CUDA_UNAVAILABLE. A bad shape is refused before any CUDA call.
static bool fails_cleanly_without_device() {
  void* p = nullptr;
  const int alloc = vlac_cuda_malloc(&p, 16);
  const int launch = vlac_cuda_column_max(nullptr, 1, 1, nullptr);
  const int bad_shape = vlac_cuda_quantize_rows(nullptr, 0, 1, nullptr, 0, nullptr, nullptr);
  if (alloc != 0 && launch != 0 && bad_shape != 0) return true;
  std::printf("FAILED: with no device, cudaMalloc returned %d, a launch %d, a bad shape %d (all must fail)\n", alloc,
              launch, bad_shape);
  return false;
}

// No usable device: the line ctest matches (SKIP_REGULAR_EXPRESSION) to report the test skipped, and
// a doctest run with every case excluded, so that scripts/test.mjs and scripts/sanitize.sh, which
// run each executable and read its doctest summary, count 0 passed, 0 failed (an exit status of 77,
// ctest's other skip mechanism, would count there as a failure).
int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const std::string reason = no_device_reason();
  if (!reason.empty()) {
    if (!fails_cleanly_without_device()) return 1;
    std::printf("SKIPPED: no usable CUDA device: %s\n", reason.c_str());
    context.addFilter("test-case-exclude", "*");
  }
  return context.run();
}
