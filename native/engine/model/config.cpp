#include "model/config.h"

#include <cmath>

#include "common/error.h"
#include "common/json.h"

namespace vlac {

namespace {

// Bounds on what a config may ask for, far above any InternVL model, so that every size derived
// from them (grid², tensor element counts, KV bytes) stays well inside int64.
constexpr int64_t kMaxWidth = 1 << 18;       // hidden, intermediate and head counts
constexpr int64_t kMaxLayers = 4096;
constexpr int64_t kMaxVocab = 1 << 24;
constexpr int64_t kMaxImageSide = 1 << 14;   // image and patch sizes in pixels
constexpr int64_t kMaxPositions = 1 << 26;
constexpr int64_t kMaxTokenId = (1ll << 31) - 1;

// Reads config.json fields with messages that name the file and the field.
class ConfigReader {
 public:
  ConfigReader(const json& root, std::string path) : root_(root), path_(std::move(path)) {}

  const json& object(const json& parent, const char* key, const std::string& where) const {
    auto it = parent.find(key);
    if (it == parent.end() || !it->is_object()) bad(where + key, "missing or not an object");
    return *it;
  }
  int64_t integer(const json& obj, const char* key, const std::string& where, int64_t min_value,
                  int64_t max_value = kMaxWidth) const {
    auto it = obj.find(key);
    if (it == obj.end()) bad(where + key, "missing");
    if (!it->is_number_integer() && !(it->is_number_float() && std::floor(it->get<double>()) == it->get<double>()))
      bad(where + key, "must be an integer");
    double d = it->get<double>();
    if (d < static_cast<double>(min_value) || d > static_cast<double>(max_value))
      bad(where + key, "out of range (" + it->dump() + "; the engine takes " + std::to_string(min_value) + ".." +
                           std::to_string(max_value) + ")");
    return static_cast<int64_t>(d);
  }
  int64_t integer_or(const json& obj, const char* key, const std::string& where, int64_t fallback,
                     int64_t min_value, int64_t max_value = kMaxWidth) const {
    if (!obj.contains(key) || obj[key].is_null()) return fallback;
    return integer(obj, key, where, min_value, max_value);
  }
  double number(const json& obj, const char* key, const std::string& where, double fallback, bool required,
                double min_value, double max_value) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) {
      if (required) bad(where + key, "missing");
      return fallback;
    }
    if (!it->is_number()) bad(where + key, "must be a number");
    double d = it->get<double>();
    if (!std::isfinite(d) || d < min_value || d > max_value) bad(where + key, "out of range (" + it->dump() + ")");
    return d;
  }
  bool boolean(const json& obj, const char* key, const std::string& where, bool fallback) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (it->is_boolean()) return it->get<bool>();
    if (it->is_number_integer()) return it->get<int64_t>() != 0;
    bad(where + key, "must be a boolean");
  }
  std::string string(const json& obj, const char* key, const std::string& where, const std::string& fallback) const {
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return fallback;
    if (!it->is_string()) bad(where + key, "must be a string");
    return it->get<std::string>();
  }
  [[noreturn]] void bad(const std::string& field, const std::string& what) const {
    fail(ErrorCode::BadConfig, path_ + ": field '" + field + "' " + what);
  }

 private:
  const json& root_;
  std::string path_;
};

}  // namespace

int64_t ModelConfig::shuffle_factor() const { return static_cast<int64_t>(std::llround(1.0 / downsample_ratio)); }

int64_t ModelConfig::vision_layers_used() const {
  return select_layer < 0 ? vision.num_layers + 1 + select_layer : select_layer;
}

ModelConfig parse_model_config(const std::string& json_text, const std::string& path) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    fail(ErrorCode::BadConfig, path + ": not valid JSON (" + e.what() + ")");
  }
  if (!root.is_object()) fail(ErrorCode::BadConfig, path + ": the top level must be a JSON object");
  ConfigReader r(root, path);
  ModelConfig c;

  const json& v = r.object(root, "vision_config", "");
  const std::string vw = "vision_config.";
  c.vision.hidden_size = r.integer(v, "hidden_size", vw, 1);
  c.vision.num_layers = r.integer(v, "num_hidden_layers", vw, 1, kMaxLayers);
  c.vision.num_heads = r.integer(v, "num_attention_heads", vw, 1);
  c.vision.intermediate_size = r.integer(v, "intermediate_size", vw, 1);
  c.vision.image_size = r.integer(v, "image_size", vw, 1, kMaxImageSide);
  c.vision.patch_size = r.integer(v, "patch_size", vw, 1, kMaxImageSide);
  c.vision.num_channels = r.integer_or(v, "num_channels", vw, 3, 1, 16);
  c.vision.layer_norm_eps = r.number(v, "layer_norm_eps", vw, 1e-6, false, 0.0, 1.0);
  c.vision.qkv_bias = r.boolean(v, "qkv_bias", vw, true);
  const std::string norm_type = r.string(v, "norm_type", vw, "layer_norm");
  if (norm_type == "rms_norm") c.vision.rms_norm = true;
  else if (norm_type != "layer_norm") r.bad(vw + "norm_type", "'" + norm_type + "' is not supported (layer_norm, rms_norm)");
  if (r.boolean(v, "qk_normalization", vw, false)) r.bad(vw + "qk_normalization", "true is not supported");
  const std::string vact = r.string(v, "hidden_act", vw, "gelu");
  if (vact != "gelu") r.bad(vw + "hidden_act", "'" + vact + "' is not supported (gelu)");
  if (c.vision.hidden_size % c.vision.num_heads != 0)
    r.bad(vw + "num_attention_heads", "does not divide hidden_size");
  if (c.vision.num_channels != 3) r.bad(vw + "num_channels", "must be 3 (RGB)");

  const json& l = r.object(root, "llm_config", "");
  const std::string lw = "llm_config.";
  c.llm.vocab_size = r.integer(l, "vocab_size", lw, 1, kMaxVocab);
  c.llm.hidden_size = r.integer(l, "hidden_size", lw, 1);
  c.llm.intermediate_size = r.integer(l, "intermediate_size", lw, 1);
  c.llm.num_layers = r.integer(l, "num_hidden_layers", lw, 1, kMaxLayers);
  c.llm.num_heads = r.integer(l, "num_attention_heads", lw, 1);
  c.llm.num_kv_heads = r.integer_or(l, "num_key_value_heads", lw, c.llm.num_heads, 1);
  c.llm.max_position_embeddings = r.integer(l, "max_position_embeddings", lw, 1, kMaxPositions);
  c.llm.rms_norm_eps = r.number(l, "rms_norm_eps", lw, 1e-6, false, 0.0, 1.0);
  c.llm.rope_theta = r.number(l, "rope_theta", lw, 10000.0, false, 1.0, 1e12);
  c.llm.bos_token_id = r.integer_or(l, "bos_token_id", lw, 1, 0, kMaxTokenId);
  c.llm.eos_token_id = r.integer_or(l, "eos_token_id", lw, 2, 0, kMaxTokenId);
  const std::string lact = r.string(l, "hidden_act", lw, "silu");
  if (lact != "silu") r.bad(lw + "hidden_act", "'" + lact + "' is not supported (silu)");
  if (r.boolean(l, "bias", lw, false)) r.bad(lw + "bias", "true is not supported (InternLM2 has no linear biases)");
  if (c.llm.num_heads % c.llm.num_kv_heads != 0)
    r.bad(lw + "num_key_value_heads", "must divide num_attention_heads");
  if (c.llm.hidden_size % c.llm.num_heads != 0) r.bad(lw + "num_attention_heads", "does not divide hidden_size");
  if (c.llm.head_dim() % 2 != 0) r.bad(lw + "num_attention_heads", "gives an odd head dim (RoPE needs pairs)");
  if (l.contains("rope_scaling") && !l["rope_scaling"].is_null()) {
    const json& rs = l["rope_scaling"];
    if (!rs.is_object()) r.bad(lw + "rope_scaling", "must be an object or null");
    std::string type = r.string(rs, "type", lw + "rope_scaling.", "");
    if (type.empty()) type = r.string(rs, "rope_type", lw + "rope_scaling.", "");
    if (type != "dynamic") r.bad(lw + "rope_scaling.type", "'" + type + "' is not supported (dynamic or null)");
    c.llm.rope_dynamic = true;
    c.llm.rope_factor = r.number(rs, "factor", lw + "rope_scaling.", 1.0, true, 1.0, 1e6);
  }
  if (l.contains("tie_word_embeddings") && r.boolean(l, "tie_word_embeddings", lw, false))
    r.bad(lw + "tie_word_embeddings", "true is not supported (InternLM2 has an untied output head)");

  c.image_size = r.integer_or(root, "force_image_size", "", c.vision.image_size, 1, kMaxImageSide);
  c.downsample_ratio = r.number(root, "downsample_ratio", "", 0.5, false, 1e-6, 1.0);
  c.select_layer = r.integer_or(root, "select_layer", "", -1, -kMaxLayers - 1, kMaxLayers);
  const std::string ps = r.string(root, "ps_version", "", "v1");
  if (ps == "v1") c.ps_version = 1;
  else if (ps == "v2") c.ps_version = 2;
  else r.bad("ps_version", "'" + ps + "' is not supported (v1, v2)");
  c.use_thumbnail = r.boolean(root, "use_thumbnail", "", true);
  c.dynamic_image_size = r.boolean(root, "dynamic_image_size", "", true);
  c.min_dynamic_patch = r.integer_or(root, "min_dynamic_patch", "", 1, 1);
  c.max_dynamic_patch = r.integer_or(root, "max_dynamic_patch", "", 12, 1);
  if (c.max_dynamic_patch < c.min_dynamic_patch) r.bad("max_dynamic_patch", "is below min_dynamic_patch");
  if (r.integer_or(root, "use_backbone_lora", "", 0, 0) != 0) r.bad("use_backbone_lora", "LoRA is not supported");
  if (r.integer_or(root, "use_llm_lora", "", 0, 0) != 0) r.bad("use_llm_lora", "LoRA is not supported");

  if (c.image_size % c.vision.patch_size != 0) r.bad("force_image_size", "is not a multiple of vision_config.patch_size");
  const double inv = 1.0 / c.downsample_ratio;
  if (std::fabs(inv - std::round(inv)) > 1e-9) r.bad("downsample_ratio", "must be 1/k for an integer k");
  if (c.patch_grid() % c.shuffle_factor() != 0) r.bad("downsample_ratio", "does not divide the patch grid");
  if (c.vision.image_size % c.vision.patch_size != 0)
    r.bad(vw + "image_size", "is not a multiple of vision_config.patch_size");
  if (c.select_layer < -(c.vision.num_layers + 1) || c.select_layer > c.vision.num_layers)
    r.bad("select_layer", "out of range for " + std::to_string(c.vision.num_layers) + " vision layers");
  return c;
}

}  // namespace vlac
