// The engine's own thread pool: a fixed set of workers that every op uses for its data parallelism.
// parallel_for partitions [0, n) statically into one contiguous range per thread (the caller takes the
// first), so a kernel sees at most num_threads() ranges and their split never depends on timing.
// A parallel_for issued from inside another one (or while another thread owns the pool) runs serially
// on the calling thread: nesting can never deadlock.
#pragma once

#include <cstdint>
#include <functional>

namespace vlac {

// Number of threads ops use (caller included). Default: the physical cores available to this process.
// n outside [1, 4096] is a BadArgument. Not to be called while a parallel_for is running.
void set_num_threads(int n);
int num_threads();

// Physical cores usable by this process (sysfs topology intersected with the affinity mask).
int physical_core_count();

// Runs fn(begin, end) over a static partition of [0, n): at most num_threads() ranges, each at least
// `grain` long (except when n < grain), all done when it returns. The ranges are fixed; the thread
// that runs each is not (the caller takes over ranges a busy or descheduled worker has not started). The first exception thrown by any
// range is rethrown here after every range has finished.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

// The same with a plain function pointer, for code compiled for one instruction set only
// (ops/cpu/*_avx512.cpp): such a file must not instantiate library templates (std::function,
// std::vector) whose out-of-line copies the linker could then hand to the rest of the program.
using RangeFn = void (*)(void* context, int64_t begin, int64_t end);
void parallel_for(int64_t n, int64_t grain, RangeFn fn, void* context);

}  // namespace vlac
