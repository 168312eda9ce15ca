// What the CPU (and the OS, for the wider register state) supports, read once from cpuid + xgetbv.
// The op table chooses its kernels from this at run time; nothing is compiled for the build machine.
#pragma once

#include <string>
#include <vector>

namespace vlac {

struct CpuFeatures {
  bool avx2 = false;
  bool fma = false;
  bool f16c = false;
  bool avx512f = false;
  bool avx512dq = false;
  bool avx512bw = false;
  bool avx512vl = false;
  bool avx512bf16 = false;
  bool avx512vnni = false;
  bool avxvnni = false;
};

// AVX/AVX-512 flags are set only when the OS also saves that register state (XCR0), so a flag
// means "usable", not merely "present in silicon".
const CpuFeatures& cpu_features();

// The names of the set flags ("avx2", "fma", ..., "avx512bf16"), in CpuFeatures' order.
std::vector<std::string> cpu_feature_names();

}  // namespace vlac
