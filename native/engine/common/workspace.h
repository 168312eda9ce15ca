// Per-thread memory for the transient buffers of a forward pass or an image resize (activations,
// unfolded patches, logits of a batch, resampled rows), so that a steady stream of calls makes no
// big allocation (issue 19). Buffers are taken through a WorkspaceScope and stay valid until it
// ends; scopes nest, last in first out. The thread keeps one block between calls, grown to the
// largest demand of an outermost scope (the high-water mark): a demand that does not fit is served
// by a block of its own for that call, and the next outermost scope starts on one block that holds
// it all. Each thread has its own block: models on different inference threads never share one,
// and it is freed when the thread ends (a model's inference thread, at dispose).
#pragma once

#include <cstddef>

namespace vlac {

class WorkspaceScope {
 public:
  WorkspaceScope();
  ~WorkspaceScope();
  WorkspaceScope(const WorkspaceScope&) = delete;
  WorkspaceScope& operator=(const WorkspaceScope&) = delete;

  // n elements of T, 64-byte aligned, contents unspecified (whatever an earlier call left).
  template <class T>
  T* take(size_t n) {
    return static_cast<T*>(take_bytes(n * sizeof(T)));
  }

 private:
  void* take_bytes(size_t bytes);
  size_t used_mark_, demand_mark_, overflow_mark_;
};

// Bytes of the calling thread's kept block (diagnostics and tests).
size_t workspace_block_bytes();

}  // namespace vlac
