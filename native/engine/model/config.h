// The model configuration, read from an InternVL2 checkpoint's config.json (architecture.md §1.2).
// Every size the engine uses comes from here; nothing is specialised to one checkpoint.
#pragma once

#include <cstdint>
#include <string>

namespace vlac {

struct VisionConfig {
  int64_t hidden_size = 0;          // D_v
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t intermediate_size = 0;
  int64_t image_size = 0;           // the ViT's native size (position table grid = image_size / patch_size)
  int64_t patch_size = 0;
  int64_t num_channels = 3;
  double layer_norm_eps = 1e-6;
  bool qkv_bias = true;
  bool rms_norm = false;            // norm_type 'rms_norm' instead of 'layer_norm'
  int64_t head_dim() const { return hidden_size / num_heads; }
};

struct LlmConfig {
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;          // D
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-5;
  double rope_theta = 10000.0;
  bool rope_dynamic = false;        // rope_scaling {type: dynamic}: dynamic NTK (architecture.md §5.6)
  double rope_factor = 1.0;
  int64_t bos_token_id = 1;
  int64_t eos_token_id = 2;
  int64_t head_dim() const { return hidden_size / num_heads; }
  int64_t kv_group() const { return num_heads / num_kv_heads; }  // q heads per kv head
};

struct ModelConfig {
  VisionConfig vision;
  LlmConfig llm;
  int64_t image_size = 0;           // force_image_size or vision.image_size: the tile size
  double downsample_ratio = 0.5;
  int64_t select_layer = -1;        // -1 = last ViT block; k >= 0 = hidden_states[k] (0 = embeddings)
  int ps_version = 2;               // pixel shuffle v1 or v2
  bool use_thumbnail = true;
  bool dynamic_image_size = true;
  int64_t min_dynamic_patch = 1;
  int64_t max_dynamic_patch = 12;

  int64_t patch_grid() const { return image_size / vision.patch_size; }            // 32 for 448/14
  int64_t shuffle_factor() const;                                                    // 1/downsample_ratio: 2
  int64_t shuffled_grid() const { return patch_grid() / shuffle_factor(); }          // 16
  int64_t image_tokens() const { return shuffled_grid() * shuffled_grid(); }         // 256 per tile
  int64_t projector_in() const { return vision.hidden_size * shuffle_factor() * shuffle_factor(); }
  // Number of ViT blocks actually run for select_layer.
  int64_t vision_layers_used() const;
};

// Parses and validates config.json text. Errors: ErrorCode::BadConfig naming `path` and the field.
ModelConfig parse_model_config(const std::string& json_text, const std::string& path);

}  // namespace vlac
