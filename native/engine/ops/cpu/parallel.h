// parallel_for for kernels compiled for one instruction set: hands a lambda to the thread pool
// through the function-pointer entry (common/thread_pool.h), so no std::function is instantiated
// in an ISA-specific file.
#pragma once

#include <cstdint>
#include <type_traits>

#include "common/thread_pool.h"

namespace vlac::ops {
namespace {

template <class Fn>
void parallel_ranges(int64_t n, int64_t grain, Fn&& fn) {
  using F = std::remove_reference_t<Fn>;
  vlac::parallel_for(
      n, grain, [](void* context, int64_t begin, int64_t end) { (*static_cast<F*>(context))(begin, end); },
      static_cast<void*>(&fn));
}

inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

// Elementwise work below this many elements per thread is not worth waking a worker for.
constexpr int64_t kElementwiseGrain = 16384;

}  // namespace
}  // namespace vlac::ops
