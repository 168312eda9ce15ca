// From ViT hidden states to LLM image rows: drop CLS, pixel shuffle (v1 or v2), then mlp1 =
// LayerNorm(eps 1e-5) -> Linear -> exact GELU -> Linear (architecture.md §3.6, §4).
#pragma once

#include <cstdint>

#include "model/checkpoint.h"
#include "model/linear_weight.h"

namespace vlac {

// X [grid, grid, C] (patch tokens, row-major, CLS already dropped) -> [(grid/f)², f²·C] with f the
// shuffle factor. v2: token i·(grid/f) + j holds X[f·i + m, f·j + k] at channel block m·f + k
// (the left/right neighbours first, then the next row down); v1 stores the same vector at token
// j·(grid/f) + i (the reference's "transposed image").
void pixel_shuffle(const float* x, int64_t grid, int64_t channels, int64_t factor, int ps_version, float* out);

class Projector {
 public:
  explicit Projector(const Checkpoint& checkpoint, const WeightOptions& weights = {});

  // vit: [n_tiles, 1 + grid², D_v] ViT output (CLS first); out: [n_tiles · tokens_per_tile(), D].
  void forward(const float* vit, int64_t n_tiles, float* out) const;

  int64_t tokens_per_tile() const { return shuffled_grid_ * shuffled_grid_; }
  int64_t width() const { return out_width_; }
  uint64_t linear_weight_bytes() const { return fc1_w_.bytes() + fc2_w_.bytes(); }

 private:
  int64_t grid_, factor_, shuffled_grid_, vit_width_, in_width_, out_width_;
  int ps_version_;
  const float* norm_w_;
  const float* norm_b_;
  LinearWeight fc1_w_;
  const float* fc1_b_;
  LinearWeight fc2_w_;
  const float* fc2_b_;
};

}  // namespace vlac
