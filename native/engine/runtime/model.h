// A loaded model: the checkpoint (mapped, validated), its tokenizer, and the three networks built
// from it with weights converted once (InternViT, projector, InternLM2). Immutable after load and
// shared by every Sequence made from it (each holds a shared_ptr to it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/checkpoint.h"
#include "model/internlm2.h"
#include "model/internvit.h"
#include "model/projector.h"
#include "tokenizer/tokenizer.h"

namespace vlac {

class Sequence;
class LogitsPool;

struct ModelOptions {
  int64_t max_context = 4096;  // tokens per sequence (prompt + generated): the KV cache size
  int threads = 0;             // > 0: set the engine's (process-wide) op thread count
  // Linear weights as stored in the checkpoint (bf16) or quantized to int8 per output channel at
  // load (model/linear_weight.h; quantize_lm_head false keeps the LM head bf16). A pre-quantized
  // checkpoint (model/quantize_checkpoint.h) loads its stored int8 Linears whatever this says.
  WeightOptions weights;
};

class Model : public std::enable_shared_from_this<Model> {
 public:
  // Opens <dir> (Checkpoint::open + Tokenizer::load + generation_config.json if present) and builds
  // the networks. Errors: the Checkpoint/Tokenizer codes; BadArgument for options; BadConfig when
  // the tokenizer has ids beyond the LLM vocabulary.
  static std::shared_ptr<Model> load(const std::string& dir, const ModelOptions& options = {});
  ~Model();

  const ModelConfig& config() const { return checkpoint_->config(); }
  const Checkpoint& checkpoint() const { return *checkpoint_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  const InternVit& vit() const { return *vit_; }
  const Projector& projector() const { return *projector_; }
  const InternLm2& llm() const { return *llm_; }

  int64_t max_context() const { return max_context_; }
  int64_t tile_size() const { return config().image_size; }
  int64_t image_tokens_per_tile() const { return projector_->tokens_per_tile(); }  // 256 for InternVL2
  int64_t hidden_size() const { return config().llm.hidden_size; }
  int32_t image_context_id() const { return tokenizer_->special().img_context; }
  // generation_config.json eos ids (or llm eos) + <|im_end|> + </s>, deduplicated: the official stop set.
  const std::vector<int32_t>& default_stop_ids() const { return default_stop_ids_; }
  uint64_t kv_cache_bytes_per_sequence() const;
  const WeightOptions& weights() const { return weights_; }
  // Seconds Model::load spent building the networks (with int8: quantizing the weights).
  double build_seconds() const { return build_seconds_; }
  // Bytes of Linear weights the products read (int8: codes + scales + column sums).
  uint64_t linear_weight_bytes() const;
  // The weights the engine reads: the checkpoint's bf16 weights with the Linears as held (int8 about
  // half). The mapped bf16 pages of quantized Linears are not read after load.
  uint64_t resident_weight_bytes() const;

  // Tiles -> the LLM rows that replace their <IMG_CONTEXT> tokens, [n_tiles · image_tokens_per_tile(),
  // hidden_size()], tile after tile. Normalised fp32 CHW tiles [n, 3, S, S], or uint8 HWC RGB tiles
  // [n, S, S, 3] (normalised here with the image library's normalize_tile). All tiles go through the
  // ViT in one batched pass.
  std::vector<float> encode_tiles(const float* pixels_chw, int64_t n_tiles) const;
  std::vector<float> encode_tiles(const uint8_t* tiles_hwc, int64_t n_tiles) const;
  // The same into `rows` (n_tiles · image_tokens_per_tile() · hidden_size() floats), the
  // intermediate pixels and ViT states in the thread's workspace (common/workspace.h).
  void encode_tiles(const float* pixels_chw, int64_t n_tiles, float* rows) const;
  void encode_tiles(const uint8_t* tiles_hwc, int64_t n_tiles, float* rows) const;
  // The two halves of encode_tiles: ViT hidden state at select_layer [n, 1 + grid², D_v] (CLS first),
  // and pixel shuffle + mlp1 of it.
  std::vector<float> vit_hidden(const float* pixels_chw, int64_t n_tiles) const;
  std::vector<float> project(const float* vit_hidden, int64_t n_tiles) const;

  std::unique_ptr<Sequence> create_sequence() const;
  // The logits rows of this model's ended sequences (runtime/sequence.h): the one mutable part of
  // a loaded model, internally synchronised.
  LogitsPool& logits_pool() const { return *logits_pool_; }

 private:
  Model() = default;
  std::unique_ptr<Checkpoint> checkpoint_;
  std::optional<Tokenizer> tokenizer_;  // set by load (Tokenizer has no empty state)
  std::unique_ptr<InternVit> vit_;
  std::unique_ptr<Projector> projector_;
  std::unique_ptr<InternLm2> llm_;
  int64_t max_context_ = 0;
  WeightOptions weights_;
  double build_seconds_ = 0;
  std::vector<int32_t> default_stop_ids_;
  std::unique_ptr<LogitsPool> logits_pool_;
};

}  // namespace vlac
