#include "model/internvit.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/bf16.h"
#include "common/error.h"
#include "common/workspace.h"
#include "ops/ops.h"

namespace vlac {

namespace {

// Tiles per pass through the encoder: bounds the activation memory ([tiles·tokens, intermediate]
// fp32) while keeping enough rows per GEMM to amortise the weight reads.
constexpr int64_t kTilesPerPass = 8;

// Keys cubic convolution with A = -0.75 (PyTorch's upsample_bicubic2d constant).
constexpr float kCubicA = -0.75f;

void cubic_coefficients(float t, float w[4]) {
  auto near = [](float x) { return ((kCubicA + 2.0f) * x - (kCubicA + 3.0f)) * x * x + 1.0f; };      // |x| <= 1
  auto far = [](float x) { return ((kCubicA * x - 5.0f * kCubicA) * x + 8.0f * kCubicA) * x - 4.0f * kCubicA; };  // 1 < |x| < 2
  w[0] = far(t + 1.0f);
  w[1] = near(t);
  w[2] = near(1.0f - t);
  w[3] = far(2.0f - t);
}

// Source taps and weights of one output axis (align_corners=False, cubic: the source coordinate is
// not clamped, the taps are).
void cubic_axis(int64_t in, int64_t out, std::vector<int64_t>& taps, std::vector<float>& weights) {
  taps.resize(static_cast<size_t>(out * 4));
  weights.resize(static_cast<size_t>(out * 4));
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t d = 0; d < out; ++d) {
    const float s = scale * (static_cast<float>(d) + 0.5f) - 0.5f;
    const float f = std::floor(s);
    const int64_t i0 = static_cast<int64_t>(f);
    cubic_coefficients(s - f, &weights[d * 4]);
    for (int64_t k = 0; k < 4; ++k) taps[d * 4 + k] = std::min(std::max(i0 - 1 + k, int64_t(0)), in - 1);
  }
}

}  // namespace

void interpolate_bicubic(const float* in, int64_t in_h, int64_t in_w, int64_t channels, int64_t out_h,
                         int64_t out_w, float* out) {
  std::vector<int64_t> tx, ty;
  std::vector<float> wx, wy;
  cubic_axis(in_w, out_w, tx, wx);
  cubic_axis(in_h, out_h, ty, wy);
  std::vector<float> row(static_cast<size_t>(channels));
  for (int64_t y = 0; y < out_h; ++y) {
    for (int64_t x = 0; x < out_w; ++x) {
      float* o = out + (y * out_w + x) * channels;
      std::fill(o, o + channels, 0.0f);
      for (int64_t ky = 0; ky < 4; ++ky) {
        // along the width first, then the four row results along the height
        std::fill(row.begin(), row.end(), 0.0f);
        const float* src_row = in + ty[y * 4 + ky] * in_w * channels;
        for (int64_t kx = 0; kx < 4; ++kx) {
          const float* s = src_row + tx[x * 4 + kx] * channels;
          const float w = wx[x * 4 + kx];
          for (int64_t c = 0; c < channels; ++c) row[c] += w * s[c];
        }
        const float w = wy[y * 4 + ky];
        for (int64_t c = 0; c < channels; ++c) o[c] += w * row[c];
      }
    }
  }
}

void im2col_patches_bf16_rounded(const float* pixels, int64_t n_tiles, int64_t channels, int64_t size, int64_t patch,
                                 float* rows) {
  const int64_t grid = size / patch, width = channels * patch * patch;
  for (int64_t t = 0; t < n_tiles; ++t) {
    const float* tile = pixels + t * channels * size * size;
    for (int64_t r = 0; r < grid; ++r)
      for (int64_t c = 0; c < grid; ++c) {
        float* row = rows + ((t * grid + r) * grid + c) * width;
        for (int64_t ch = 0; ch < channels; ++ch)
          for (int64_t ky = 0; ky < patch; ++ky) {
            const float* src = tile + (ch * size + r * patch + ky) * size + c * patch;
            float* dst = row + (ch * patch + ky) * patch;
            for (int64_t kx = 0; kx < patch; ++kx) dst[kx] = round_to_bf16(src[kx]);
          }
      }
  }
}

InternVit::InternVit(const Checkpoint& ck, const WeightOptions& weights) {
  const bool int8 = weights.format == WeightFormat::Int8;
  const ModelConfig& c = ck.config();
  vc_ = c.vision;
  tile_size_ = c.image_size;
  grid_ = c.patch_grid();
  width_ = vc_.hidden_size;
  const std::string e = "vision_model.embeddings.";
  patch_w_ = ck.bf16(e + "patch_embedding.weight");
  patch_b_ = ck.f32(e + "patch_embedding.bias");
  class_embedding_ = ck.f32(e + "class_embedding");

  // The table covers the ViT's native grid; a tile of another size gets it resized once here.
  const int64_t table_grid = vc_.image_size / vc_.patch_size, D = width_;
  const float* table = ck.f32(e + "position_embedding");
  position_embedding_.resize(static_cast<size_t>(tokens() * D));
  std::memcpy(position_embedding_.data(), table, sizeof(float) * D);
  if (table_grid == grid_)
    std::memcpy(position_embedding_.data() + D, table + D, sizeof(float) * grid_ * grid_ * D);
  else
    interpolate_bicubic(table + D, table_grid, table_grid, D, grid_, grid_, position_embedding_.data() + D);

  for (int64_t i = 0; i < c.vision_layers_used(); ++i) {
    const std::string p = "vision_model.encoder.layers." + std::to_string(i) + ".";
    Block b{};
    b.norm1_w = ck.f32(p + "norm1.weight");
    b.norm1_b = vc_.rms_norm ? nullptr : ck.f32(p + "norm1.bias");
    b.qkv_w = load_linear(ck, p + "attn.qkv.weight", 3 * D, D, int8);
    b.qkv_b = vc_.qkv_bias ? ck.f32(p + "attn.qkv.bias") : nullptr;
    b.proj_w = load_linear(ck, p + "attn.proj.weight", D, D, int8);
    b.proj_b = ck.f32(p + "attn.proj.bias");
    b.ls1 = ck.f32(p + "ls1");
    b.norm2_w = ck.f32(p + "norm2.weight");
    b.norm2_b = vc_.rms_norm ? nullptr : ck.f32(p + "norm2.bias");
    b.fc1_w = load_linear(ck, p + "mlp.fc1.weight", vc_.intermediate_size, D, int8);
    b.fc1_b = ck.f32(p + "mlp.fc1.bias");
    b.fc2_w = load_linear(ck, p + "mlp.fc2.weight", D, vc_.intermediate_size, int8);
    b.fc2_b = ck.f32(p + "mlp.fc2.bias");
    b.ls2 = ck.f32(p + "ls2");
    for (LinearWeight* w : {&b.qkv_w, &b.proj_w, &b.fc1_w, &b.fc2_w}) w->set_bf16_activations(weights.bf16_activations);
    blocks_.push_back(std::move(b));
  }
}

uint64_t InternVit::linear_weight_bytes() const {
  uint64_t n = 0;
  for (const Block& b : blocks_) n += b.qkv_w.bytes() + b.proj_w.bytes() + b.fc1_w.bytes() + b.fc2_w.bytes();
  return n;
}

void InternVit::norm(const float* x, int64_t rows, const float* w, const float* b, float* y) const {
  const float eps = static_cast<float>(vc_.layer_norm_eps);
  if (vc_.rms_norm)
    ops::rmsnorm(x, rows, width_, w, eps, y);
  else
    ops::layernorm(x, rows, width_, w, b, eps, y);
}

void InternVit::forward(const float* pixels, int64_t n_tiles, float* out) const {
  const int64_t D = width_, T = tokens(), patches = grid_ * grid_, C = vc_.num_channels, p = vc_.patch_size;
  const int64_t F = vc_.intermediate_size, heads = vc_.num_heads, hd = vc_.head_dim();
  const int64_t patch_width = C * p * p;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  const int64_t pass = std::min(n_tiles, kTilesPerPass);
  WorkspaceScope ws;
  float* cols = ws.take<float>(static_cast<size_t>(pass * patches * patch_width));
  float* x = ws.take<float>(static_cast<size_t>(pass * T * D));
  float* qkv = ws.take<float>(static_cast<size_t>(pass * T * 3 * D));
  float* attn = ws.take<float>(static_cast<size_t>(pass * T * D));
  float* mlp = ws.take<float>(static_cast<size_t>(pass * T * F));

  for (int64_t t0 = 0; t0 < n_tiles; t0 += pass) {
    const int64_t nt = std::min(pass, n_tiles - t0), rows = nt * T;
    float* h = out + t0 * T * D;  // the residual stream lives in the output

    // patch embedding as a GEMM over unfolded patches, then [CLS | patches] + position embedding
    im2col_patches_bf16_rounded(pixels + t0 * C * tile_size_ * tile_size_, nt, C, tile_size_, p, cols);
    ops::linear(cols, nt * patches, patch_width, patch_w_, D, patch_b_, x);
    for (int64_t t = 0; t < nt; ++t) {
      float* tile = h + t * T * D;
      for (int64_t d = 0; d < D; ++d) tile[d] = class_embedding_[d] + position_embedding_[d];
      const float* patch_rows = x + t * patches * D;
      const float* pos = position_embedding_.data() + D;
      for (int64_t i = 0; i < patches * D; ++i) tile[D + i] = patch_rows[i] + pos[i];
    }

    for (const Block& b : blocks_) {
      norm(h, rows, b.norm1_w, b.norm1_b, x);
      b.qkv_w.apply(x, rows, b.qkv_b, qkv);
      for (int64_t t = 0; t < nt; ++t) {  // bidirectional attention within each tile
        const float* q = qkv + t * T * 3 * D;
        ops::attention(q, 3 * D, q + D, q + 2 * D, 3 * D, T, T, heads, heads, hd, scale, false, 0,
                       attn + t * T * D);
      }
      b.proj_w.apply(attn, rows, b.proj_b, x);
      ops::scale_add(h, x, b.ls1, rows, D);

      norm(h, rows, b.norm2_w, b.norm2_b, x);
      b.fc1_w.apply(x, rows, b.fc1_b, mlp);
      ops::gelu_erf(mlp, rows * F);
      b.fc2_w.apply(mlp, rows, b.fc2_b, x);
      ops::scale_add(h, x, b.ls2, rows, D);
    }
  }
}

}  // namespace vlac
