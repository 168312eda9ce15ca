// The benchmark report as the aligned text table both CLIs print (vlac_cli bench, npx vlac bench).
#pragma once

#include <string>

#include "common/json.h"

namespace vlac {

// A report of run_benchmark or run_benchmark_compare (bench/benchmark.h) -> the peaks each
// configuration was graded against, then one row per scenario (per scenario and configuration with
// --compare, the ratio of the last configuration to the first on its row). Stages not measured
// (null) print as "-".
std::string format_bench_table(const json& report);

}  // namespace vlac
