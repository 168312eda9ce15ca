// The engine's own thread pool: a fixed set of workers that every op uses for its data parallelism.
// parallel_for partitions [0, n) statically into a few contiguous ranges per thread; the caller and
// the workers take them in turn, and the split never depends on timing.
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

// Runs fn(begin, end) over a static partition of [0, n): at most 4 x num_threads() ranges, each at
// least `grain` long (except when n < grain), all done when it returns; with one thread, one range.
// The ranges depend only on (n, grain, num_threads()); which thread runs each does not matter to the
// result and is decided at run time (a thread takes the next unstarted range), so a descheduled
// worker delays nothing. The first exception thrown by any range is rethrown here after every range
// has finished.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end)>& fn);

// The same with a plain function pointer, for code compiled for one instruction set only
// (ops/cpu/*_avx512.cpp): such a file must not instantiate library templates (std::function,
// std::vector) whose out-of-line copies the linker could then hand to the rest of the program.
using RangeFn = void (*)(void* context, int64_t begin, int64_t end);
void parallel_for(int64_t n, int64_t grain, RangeFn fn, void* context);

}  // namespace vlac
