// Per-thread scratch memory for kernels: a few growable, 64-byte aligned buffers per thread, kept
// between calls so a kernel in the decode loop never allocates. Defined in generic code so that
// instruction-set specific files need no library containers.
#pragma once

#include <cstddef>

namespace vlac::ops {

// The calling thread's buffer number `slot` (0 <= slot < kScratchSlots), at least `floats` long.
// Contents are unspecified; valid until the same thread asks for the same slot again.
constexpr int kScratchSlots = 4;
float* thread_scratch(int slot, size_t floats);

}  // namespace vlac::ops
