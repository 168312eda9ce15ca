// InternViT: patch embedding, class token, position embedding, pre-LN encoder blocks with layer scale
// (architecture.md §3). fp32 activations on bf16 weights; the only rounding is the normalised pixels
// to bf16 before the patch embedding, as the official path casts them (§12).
#pragma once

#include <cstdint>
#include <vector>

#include "model/checkpoint.h"
#include "model/linear_weight.h"

namespace vlac {

class InternVit {
 public:
  explicit InternVit(const Checkpoint& checkpoint, const WeightOptions& weights = {});

  // pixels: n_tiles normalised tiles, fp32 CHW [n_tiles, C, S, S] with S = config.image_size.
  // out: [n_tiles, tokens(), width()], the hidden state at select_layer (CLS first).
  void forward(const float* pixels, int64_t n_tiles, float* out) const;

  int64_t tokens() const { return 1 + grid_ * grid_; }
  int64_t width() const { return width_; }
  uint64_t linear_weight_bytes() const;  // the blocks' Linears as held (model/linear_weight.h)

 private:
  struct Block {
    const float* norm1_w;
    const float* norm1_b;  // null for rms_norm
    LinearWeight qkv_w;  // [3·D_v, D_v]: rows Q | K | V, heads contiguous in each
    const float* qkv_b;     // null without qkv_bias
    LinearWeight proj_w;
    const float* proj_b;
    const float* ls1;
    const float* norm2_w;
    const float* norm2_b;
    LinearWeight fc1_w;
    const float* fc1_b;
    LinearWeight fc2_w;
    const float* fc2_b;
    const float* ls2;
  };

  void norm(const float* x, int64_t rows, const float* w, const float* b, float* y) const;

  VisionConfig vc_;
  int64_t tile_size_ = 0;
  int64_t grid_ = 0;   // patches per side of a tile
  int64_t width_ = 0;  // D_v
  const uint16_t* patch_w_ = nullptr;  // conv weight viewed as [D_v, C·p·p] in (ch, ky, kx) order
  const float* patch_b_ = nullptr;
  const float* class_embedding_ = nullptr;
  std::vector<float> position_embedding_;  // [1 + grid², D_v], resized to this tile grid at load
  std::vector<Block> blocks_;              // only the blocks select_layer needs
};

// F.interpolate(mode='bicubic', align_corners=False, antialias=False) of a [in_h, in_w, C] grid to
// [out_h, out_w, C]: Keys cubic with A = -0.75, taps clamped to the edge, separable (§3.3).
void interpolate_bicubic(const float* in, int64_t in_h, int64_t in_w, int64_t channels, int64_t out_h,
                         int64_t out_w, float* out);

// Unfolds patch×patch pixel blocks of CHW tiles into rows [n_tiles·grid², C·patch²] in (ch, ky, kx)
// order, grid row-major, rounding each pixel to bf16 (the official pixel_values.to(bfloat16)).
void im2col_patches_bf16_rounded(const float* pixels, int64_t n_tiles, int64_t channels, int64_t size, int64_t patch,
                                 float* rows);

}  // namespace vlac
