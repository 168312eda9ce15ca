#include "ops/scratch.h"

#include <cstdlib>
#include <new>
#include <string>

#include "common/error.h"

namespace vlac::ops {
namespace {

struct Buffer {
  float* data = nullptr;
  size_t floats = 0;
  ~Buffer() { std::free(data); }
};

thread_local Buffer t_buffers[kScratchSlots];

}  // namespace

float* thread_scratch(int slot, size_t floats) {
  VLAC_CHECK(slot >= 0 && slot < kScratchSlots, "thread_scratch: bad slot");
  Buffer& b = t_buffers[slot];
  if (b.floats < floats) {
    std::free(b.data);
    b.data = nullptr;
    b.floats = 0;
    const size_t bytes = ((floats * sizeof(float) + 63) / 64) * 64;
    void* p = std::aligned_alloc(64, bytes);
    if (!p) fail(ErrorCode::OutOfMemory, "kernel scratch: cannot allocate " + std::to_string(bytes) + " bytes");
    b.data = static_cast<float*>(p);
    b.floats = floats;
  }
  return b.data;
}

}  // namespace vlac::ops
