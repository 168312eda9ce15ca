#include "common/workspace.h"

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "common/page_buffer.h"

namespace vlac {

namespace {

constexpr size_t kAlign = 64;  // a cache line: what the kernels' vector loads prefer

struct Arena {
  PageBuffer block;
  size_t used = 0;    // bytes of `block` taken by open scopes
  size_t demand = 0;  // bytes taken by open scopes, overflow blocks included
  size_t peak = 0;    // the largest demand since the outermost scope opened
  std::vector<PageBuffer> overflow;  // takes that did not fit in `block`, newest last
  int depth = 0;
};

thread_local Arena t_arena;

}  // namespace

WorkspaceScope::WorkspaceScope()
    : used_mark_(t_arena.used), demand_mark_(t_arena.demand), overflow_mark_(t_arena.overflow.size()) {
  ++t_arena.depth;
}

WorkspaceScope::~WorkspaceScope() {
  Arena& a = t_arena;
  a.used = used_mark_;
  a.demand = demand_mark_;
  a.overflow.resize(overflow_mark_);
  if (--a.depth == 0) {
    if (a.peak > a.block.size()) {
      a.block = PageBuffer();  // the old block's pages go back before the bigger one is mapped
      try {
        a.block = PageBuffer(a.peak);
      } catch (const Error&) {
        // out of memory: no kept block; the next scope's takes are served one by one again
      }
    }
    a.peak = 0;
  }
}

void* WorkspaceScope::take_bytes(size_t bytes) {
  Arena& a = t_arena;
  const size_t size = (bytes + kAlign - 1) / kAlign * kAlign;
  a.demand += size;
  a.peak = std::max(a.peak, a.demand);
  if (a.used + size <= a.block.size()) {
    void* p = a.block.data() + a.used;
    a.used += size;
    return p;
  }
  a.overflow.emplace_back(size);
  return a.overflow.back().data();
}

size_t workspace_block_bytes() { return t_arena.block.size(); }

}  // namespace vlac
