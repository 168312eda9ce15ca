// The peaks torch reaches on this machine, measured in a short python3 subprocess, so that the
// benchmark grades the engine against the better of its own microbenchmark and an independent
// implementation (an engine must not grade itself).
#pragma once

#include <string>
#include <vector>

#include "common/json.h"

namespace vlac {

struct TorchPeakOptions {
  int threads = 1;                 // torch.set_num_threads
  std::vector<std::string> pythons{"python3", "/usr/bin/python3"};  // tried in order until one imports torch
  double timeout_s = 30;           // the whole subprocess (import + GEMMs + copy); killed after
  int gemm_size = 2048;            // square GEMM side
};

// Runs the measurement; never throws for a missing or failing python or torch:
//   { "status": "measured", "python", "torch_version", "threads", "gemm_size",
//     "bf16_matmul_gflops", "fp32_matmul_gflops", "fp32_gemm" ("matmul" | "onednn"), "copy_gbs", "seconds" }
//   { "status": "absent", "tried": [ { "python", "result" } ] }   no candidate imports torch
//   { "status": "failed", "python", "message" }                   torch imported, the measurement did not finish
// copy_gbs counts the bytes read plus the bytes written (the STREAM copy convention).
json measure_torch_peaks(const TorchPeakOptions& options);

}  // namespace vlac
