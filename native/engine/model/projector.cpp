#include "model/projector.h"

#include <cstring>

#include "common/workspace.h"
#include "ops/ops.h"

namespace vlac {

namespace {
// nn.LayerNorm's default eps: mlp1.0 is built without one (architecture.md §4.2).
constexpr float kProjectorNormEps = 1e-5f;
}  // namespace

void pixel_shuffle(const float* x, int64_t grid, int64_t channels, int64_t factor, int ps_version, float* out) {
  const int64_t g = grid / factor, block = channels * factor * factor;
  for (int64_t i = 0; i < g; ++i)
    for (int64_t j = 0; j < g; ++j) {
      const int64_t token = ps_version == 1 ? j * g + i : i * g + j;
      float* dst = out + token * block;
      for (int64_t m = 0; m < factor; ++m)
        for (int64_t k = 0; k < factor; ++k) {
          const float* src = x + ((factor * i + m) * grid + (factor * j + k)) * channels;
          std::memcpy(dst + (m * factor + k) * channels, src, sizeof(float) * channels);
        }
    }
}

Projector::Projector(const Checkpoint& ck, const WeightOptions& weights) {
  const ModelConfig& c = ck.config();
  grid_ = c.patch_grid();
  factor_ = c.shuffle_factor();
  shuffled_grid_ = c.shuffled_grid();
  vit_width_ = c.vision.hidden_size;
  in_width_ = c.projector_in();
  out_width_ = c.llm.hidden_size;
  ps_version_ = c.ps_version;
  norm_w_ = ck.f32("mlp1.0.weight");
  norm_b_ = ck.f32("mlp1.0.bias");
  const bool int8 = weights.format == WeightFormat::Int8;
  fc1_w_ = load_linear(ck, "mlp1.1.weight", out_width_, in_width_, int8);
  fc1_b_ = ck.f32("mlp1.1.bias");
  fc2_w_ = load_linear(ck, "mlp1.3.weight", out_width_, out_width_, int8);
  fc2_b_ = ck.f32("mlp1.3.bias");
  for (LinearWeight* w : {&fc1_w_, &fc2_w_}) w->set_bf16_activations(weights.bf16_activations);
}

void Projector::forward(const float* vit, int64_t n_tiles, float* out) const {
  const int64_t per_tile = tokens_per_tile(), rows = n_tiles * per_tile, vit_tokens = 1 + grid_ * grid_;
  WorkspaceScope ws;
  float* shuffled = ws.take<float>(static_cast<size_t>(rows * in_width_));
  for (int64_t t = 0; t < n_tiles; ++t)
    pixel_shuffle(vit + (t * vit_tokens + 1) * vit_width_, grid_, vit_width_, factor_, ps_version_,
                  shuffled + t * per_tile * in_width_);
  float* normed = ws.take<float>(static_cast<size_t>(rows * in_width_));
  float* hidden = ws.take<float>(static_cast<size_t>(rows * out_width_));
  ops::layernorm(shuffled, rows, in_width_, norm_w_, norm_b_, kProjectorNormEps, normed);
  fc1_w_.apply(normed, rows, fc1_b_, hidden);
  ops::gelu_erf(hidden, rows * out_width_);
  fc2_w_.apply(hidden, rows, fc2_b_, out);
}

}  // namespace vlac
