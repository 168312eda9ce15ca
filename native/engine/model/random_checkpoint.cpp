#include "model/random_checkpoint.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "common/bf16.h"
#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "common/thread_pool.h"
#include "model/checkpoint.h"
#include "model/safetensors_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_writer.h"

namespace vlac {

namespace {

namespace fs = std::filesystem;

// Elements drawn from one generator: the unit of determinism and of parallel work.
constexpr int64_t kChunkElements = int64_t{1} << 20;
// Chunks generated (in parallel) per write call: 32 MiB of bf16.
constexpr int64_t kChunksPerBlock = 16;
// The tokenizer files copied from RandomCheckpointOptions::tokenizer_from (architecture.md §1.1).
const char* const kTokenizerFiles[] = {"tokenizer.model", "tokenizer_config.json", "added_tokens.json"};
const char* const kOptionalFiles[] = {"special_tokens_map.json", "generation_config.json"};

uint64_t mix64(uint64_t z) {  // splitmix64's finaliser
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// Inverse standard normal CDF (P. J. Acklam's rational approximation, relative error < 1.2e-9).
double normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  const double low = 0.02425;
  auto tail = [&](double q) {
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1.0);
  };
  if (p < low) return tail(std::sqrt(-2.0 * std::log(p)));
  if (p > 1.0 - low) return -tail(std::sqrt(-2.0 * std::log(1.0 - p)));
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1.0);
}

// bf16 bits of mean + std·Φ⁻¹((i + 0.5) / 65536): a 16-bit uniform draw indexes it.
std::vector<uint16_t> normal_table(double mean, double std) {
  std::vector<uint16_t> t(65536);
  for (int i = 0; i < 65536; ++i)
    t[i] = float_to_bf16(static_cast<float>(mean + std * normal_quantile((i + 0.5) / 65536.0)));
  return t;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// (mean, std) of a tensor's draws, by its role (std 0: every element is the mean).
std::pair<double, double> init_of(const std::string& name, const std::vector<int64_t>& shape) {
  if (ends_with(name, ".ls1") || ends_with(name, ".ls2")) return {0.1, 0.0};
  if (ends_with(name, "norm1.weight") || ends_with(name, "norm2.weight") || ends_with(name, "_norm.weight") ||
      name == "language_model.model.norm.weight" || name == "mlp1.0.weight")
    return {1.0, 0.0};
  if (ends_with(name, ".bias")) return {0.0, 0.0};
  if (ends_with(name, "_embedding") || ends_with(name, "tok_embeddings.weight")) return {0.0, 0.02};
  // Linear [out, in] and the patch convolution [out, channels, k, k]: half the variance-preserving
  // scale, so the residual streams grow slowly with depth.
  int64_t fan_in = 1;
  for (size_t i = 1; i < shape.size(); ++i) fan_in *= shape[i];
  return {0.0, 0.5 / std::sqrt(static_cast<double>(fan_in))};
}

struct Tensor {
  std::string name;
  std::vector<int64_t> shape;
  int64_t numel;
};

void write_text(const std::string& path, const std::string& text) {
  FileWriter w(path);
  w.write(text.data(), text.size());
  w.close();
}

// Bytes of tensor data written so far, for on_progress.
struct Progress {
  const std::function<void(uint64_t, uint64_t)>* callback;
  uint64_t written = 0;
  uint64_t total = 0;
  void add(uint64_t n) {
    written += n;
    if (*callback) (*callback)(written, total);
  }
};

void write_shard(const std::string& path, const std::vector<Tensor>& tensors, uint64_t seed, Progress& progress) {
  std::vector<SafetensorsWriter::Tensor> layout;
  for (const Tensor& t : tensors) layout.push_back({t.name, "BF16", t.shape, static_cast<uint64_t>(2 * t.numel)});
  SafetensorsWriter w(path, layout, {{"format", "pt"}, {"vlac_random", "true"}});

  std::map<std::pair<double, double>, std::vector<uint16_t>> tables;
  std::vector<uint16_t> block(static_cast<size_t>(kChunkElements * kChunksPerBlock));
  for (const Tensor& t : tensors) {
    const auto init = init_of(t.name, t.shape);
    auto& table = tables[init];
    if (table.empty()) table = normal_table(init.first, init.second);
    const uint64_t tensor_seed = mix64(seed ^ fnv1a(t.name));
    const int64_t chunks = (t.numel + kChunkElements - 1) / kChunkElements;
    for (int64_t c0 = 0; c0 < chunks; c0 += kChunksPerBlock) {
      const int64_t nc = std::min(kChunksPerBlock, chunks - c0);
      const int64_t elements = std::min(nc * kChunkElements, t.numel - c0 * kChunkElements);
      parallel_for(nc, 1, [&](int64_t begin, int64_t end) {
        for (int64_t c = begin; c < end; ++c) {
          uint64_t state = mix64(tensor_seed + static_cast<uint64_t>(c0 + c));
          uint16_t* out = block.data() + c * kChunkElements;
          const int64_t n_c = std::min(kChunkElements, elements - c * kChunkElements);
          for (int64_t i = 0; i < n_c; i += 4) {
            state += 0x9e3779b97f4a7c15ull;
            const uint64_t r = mix64(state);
            for (int64_t k = 0; k < 4 && i + k < n_c; ++k) out[i + k] = table[(r >> (16 * k)) & 0xffff];
          }
        }
      });
      w.write(block.data(), static_cast<size_t>(elements) * 2);
      progress.add(static_cast<uint64_t>(elements) * 2);
    }
  }
  w.close();
}

}  // namespace

ModelConfig random_checkpoint_preset(const std::string& name) {
  ModelConfig c;
  c.image_size = 448;
  c.downsample_ratio = 0.5;
  c.select_layer = -1;
  c.ps_version = 2;
  c.vision.image_size = 448;
  c.vision.patch_size = 14;
  c.vision.num_channels = 3;
  c.vision.layer_norm_eps = 1e-6;
  c.vision.qkv_bias = true;
  c.llm.vocab_size = 92553;
  c.llm.rms_norm_eps = 1e-5;
  c.llm.rope_theta = 1e6;
  c.llm.rope_dynamic = true;
  c.llm.rope_factor = 2.0;
  c.llm.max_position_embeddings = 32768;
  if (name == "vlac-2b") {
    c.vision.hidden_size = 1024;
    c.vision.num_layers = 24;
    c.vision.num_heads = 16;
    c.vision.intermediate_size = 4096;
    c.llm.hidden_size = 2048;
    c.llm.intermediate_size = 8192;
    c.llm.num_layers = 24;
    c.llm.num_heads = 16;
    c.llm.num_kv_heads = 8;
  } else if (name == "demo") {
    c.vision.hidden_size = 64;
    c.vision.num_layers = 2;
    c.vision.num_heads = 2;
    c.vision.intermediate_size = 256;
    c.llm.vocab_size = kDemoTokenizerPieces + 9;
    c.llm.hidden_size = 128;
    c.llm.intermediate_size = 512;
    c.llm.num_layers = 2;
    c.llm.num_heads = 4;
    c.llm.num_kv_heads = 2;
  } else if (name == "tiny") {
    c.vision.hidden_size = 32;
    c.vision.num_layers = 2;
    c.vision.num_heads = 2;
    c.vision.intermediate_size = 96;
    c.llm.hidden_size = 64;
    c.llm.intermediate_size = 128;
    c.llm.num_layers = 2;
    c.llm.num_heads = 4;
    c.llm.num_kv_heads = 2;
    c.llm.max_position_embeddings = 1024;
  } else {
    fail(ErrorCode::BadArgument, "unknown checkpoint preset '" + name + "' (vlac-2b, demo, tiny)");
  }
  return c;
}

std::string config_json(const ModelConfig& c) {
  using ojson = nlohmann::ordered_json;
  const VisionConfig& v = c.vision;
  const LlmConfig& l = c.llm;
  ojson vision = {
      {"architectures", {"InternVisionModel"}},
      {"model_type", "intern_vit_6b"},
      {"num_channels", v.num_channels},
      {"patch_size", v.patch_size},
      {"image_size", v.image_size},
      {"qkv_bias", v.qkv_bias},
      {"qk_normalization", false},
      {"use_flash_attn", false},
      {"hidden_act", "gelu"},
      {"norm_type", v.rms_norm ? "rms_norm" : "layer_norm"},
      {"layer_norm_eps", v.layer_norm_eps},
      {"dropout", 0.0},
      {"drop_path_rate", 0.0},
      {"attention_dropout", 0.0},
      {"initializer_range", 0.02},
      {"initializer_factor", 1.0},
      {"torch_dtype", "bfloat16"},
      {"hidden_size", v.hidden_size},
      {"num_hidden_layers", v.num_layers},
      {"num_attention_heads", v.num_heads},
      {"intermediate_size", v.intermediate_size},
  };
  ojson rope_scaling = nullptr;
  if (l.rope_dynamic) rope_scaling = {{"type", "dynamic"}, {"factor", l.rope_factor}};
  ojson llm = {
      {"architectures", {"InternLM2ForCausalLM"}},
      {"model_type", "internlm2"},
      {"vocab_size", l.vocab_size},
      {"hidden_act", "silu"},
      {"rms_norm_eps", l.rms_norm_eps},
      {"bias", false},
      {"rope_scaling", rope_scaling},
      {"attn_implementation", "eager"},
      {"bos_token_id", l.bos_token_id},
      {"eos_token_id", l.eos_token_id},
      {"pad_token_id", 2},
      {"tie_word_embeddings", false},
      {"initializer_range", 0.02},
      {"use_cache", true},
      {"torch_dtype", "bfloat16"},
      {"hidden_size", l.hidden_size},
      {"num_hidden_layers", l.num_layers},
      {"num_attention_heads", l.num_heads},
      {"num_key_value_heads", l.num_kv_heads},
      {"intermediate_size", l.intermediate_size},
      {"max_position_embeddings", l.max_position_embeddings},
      {"rope_theta", l.rope_theta},
  };
  ojson root = {
      {"architectures", {"InternVLChatModel"}},
      {"model_type", "internvl_chat"},
      {"torch_dtype", "bfloat16"},
      {"force_image_size", c.image_size},
      {"downsample_ratio", c.downsample_ratio},
      {"select_layer", c.select_layer},
      {"ps_version", c.ps_version == 1 ? "v1" : "v2"},
      {"template", "internlm2-chat"},
      {"dynamic_image_size", c.dynamic_image_size},
      {"use_thumbnail", c.use_thumbnail},
      {"min_dynamic_patch", c.min_dynamic_patch},
      {"max_dynamic_patch", c.max_dynamic_patch},
      {"use_backbone_lora", 0},
      {"use_llm_lora", 0},
      {"pad2square", false},
      {"tie_word_embeddings", false},
      {"vision_config", vision},
      {"llm_config", llm},
  };
  return root.dump(2) + "\n";
}

void write_random_checkpoint(const std::string& dir, const RandomCheckpointOptions& o) {
  ModelConfig config = random_checkpoint_preset(o.preset);
  if (!o.tokenizer_from.empty()) config.llm.vocab_size = Tokenizer::load(o.tokenizer_from).vocab_size();
  write_random_checkpoint(dir, config, o);
}

void write_random_checkpoint(const std::string& dir, const ModelConfig& config, const RandomCheckpointOptions& o) {
  // Every ViT block, as a real checkpoint holds them, even those select_layer leaves unused.
  ModelConfig all_blocks = config;
  all_blocks.select_layer = -1;
  const auto shapes = required_tensor_shapes(all_blocks);
  std::vector<Tensor> tensors;
  int64_t total = 0;
  for (const auto& kv : shapes) {
    int64_t n = 1;
    for (int64_t d : kv.second) n *= d;
    tensors.push_back({kv.first, kv.second, n});
    total += n;
  }
  if (o.shards < 1 || o.shards > static_cast<int>(tensors.size()))
    fail(ErrorCode::BadArgument, "shards must be in [1, " + std::to_string(tensors.size()) + "]");
  // Round-trip the config through the engine's own parser: a geometry the loader would refuse is
  // refused here, before anything is written.
  const std::string config_path = join_path(dir, "config.json");
  const std::string config_text = config_json(config);
  parse_model_config(config_text, config_path);
  // The tokenizer first: a bad source folder fails before gigabytes are written.
  std::optional<Tokenizer> source;
  if (!o.tokenizer_from.empty()) {
    source.emplace(Tokenizer::load(o.tokenizer_from));
    if (source->vocab_size() > config.llm.vocab_size)
      fail(ErrorCode::BadArgument, o.tokenizer_from + ": the tokenizer has " + std::to_string(source->vocab_size()) +
                                       " ids, more than the vocab_size " + std::to_string(config.llm.vocab_size) +
                                       " of the checkpoint to write");
  } else if (config.llm.vocab_size - 9 < min_generated_tokenizer_pieces()) {
    fail(ErrorCode::BadArgument, "vocab_size " + std::to_string(config.llm.vocab_size) +
                                     " is too small for the generated tokenizer (at least " +
                                     std::to_string(min_generated_tokenizer_pieces() + 9) + ")");
  }

  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) fail(ErrorCode::BadArgument, "cannot create folder " + dir + ": " + ec.message());
  fs::remove(config_path, ec);  // config.json last: until then the folder is not a checkpoint
  if (ec) fail(ErrorCode::BadArgument, "cannot remove the old " + config_path + ": " + ec.message());
  fs::remove(join_path(dir, "model.safetensors.index.json"), ec);

  if (source) {
    for (const char* file : kTokenizerFiles)
      write_text(join_path(dir, file), read_text_file(join_path(o.tokenizer_from, file)));
    bool copied_generation_config = false;
    for (const char* file : kOptionalFiles) {
      const std::string from = join_path(o.tokenizer_from, file);
      if (!is_regular_file(from)) continue;
      write_text(join_path(dir, file), read_text_file(from));
      copied_generation_config |= std::strcmp(file, "generation_config.json") == 0;
    }
    if (!copied_generation_config) {  // VLAC's (architecture.md §8)
      const json generation = {{"_from_model_config", true},
                               {"eos_token_id", {source->special().im_end, source->special().im_start}}};
      write_text(join_path(dir, "generation_config.json"), generation.dump(2) + "\n");
    }
  } else {
    write_generated_tokenizer(dir, static_cast<int32_t>(config.llm.vocab_size - 9));
  }

  Progress progress{&o.on_progress, 0, static_cast<uint64_t>(2 * total)};
  if (o.shards == 1) {
    write_shard(join_path(dir, "model.safetensors"), tensors, o.seed, progress);
  } else {
    // consecutive tensors (by name) per shard, split at equal shares of the bytes
    char name[64];
    json weight_map = json::object();
    size_t next = 0;
    int64_t done = 0;
    for (int s = 0; s < o.shards; ++s) {
      std::snprintf(name, sizeof(name), "model-%05d-of-%05d.safetensors", s + 1, o.shards);
      std::vector<Tensor> part;
      const int64_t target = total / o.shards * (s + 1);
      const size_t must_leave = static_cast<size_t>(o.shards - s - 1);  // one tensor for each later shard
      while (next < tensors.size() - must_leave && (part.empty() || done < target || s + 1 == o.shards)) {
        done += tensors[next].numel;
        weight_map[tensors[next].name] = name;
        part.push_back(tensors[next++]);
      }
      write_shard(join_path(dir, name), part, o.seed, progress);
    }
    const json index = {{"metadata", {{"total_size", 2 * total}}}, {"weight_map", weight_map}};
    write_text(join_path(dir, "model.safetensors.index.json"), index.dump(2) + "\n");
  }
  write_text(config_path, config_text);
}

}  // namespace vlac
