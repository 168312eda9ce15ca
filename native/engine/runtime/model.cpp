#include "runtime/model.h"

#include <algorithm>
#include <chrono>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "common/thread_pool.h"
#include "common/workspace.h"
#include "image/preprocess.h"
#include "runtime/sequence.h"

namespace vlac {

namespace {

// generation_config.json's eos_token_id (an id or a list of ids); absent file or field: none.
std::vector<int32_t> generation_config_eos(const std::string& dir) {
  const std::string path = join_path(dir, "generation_config.json");
  if (!is_regular_file(path)) return {};
  json g;
  try {
    g = json::parse(read_text_file(path));
  } catch (const json::exception& e) {
    fail(ErrorCode::BadConfig, path + ": not valid JSON (" + e.what() + ")");
  }
  std::vector<int32_t> ids;
  if (!g.is_object() || !g.contains("eos_token_id") || g["eos_token_id"].is_null()) return ids;
  const json& eos = g["eos_token_id"];
  auto add = [&](const json& v) {
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > INT32_MAX)
      fail(ErrorCode::BadConfig, path + ": field 'eos_token_id' must be a token id or a list of them");
    ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
  };
  if (eos.is_array())
    for (const auto& v : eos) add(v);
  else
    add(eos);
  return ids;
}

}  // namespace

std::shared_ptr<Model> Model::load(const std::string& dir, const ModelOptions& options) {
  if (options.max_context < 1)
    fail(ErrorCode::BadArgument, "maxContext must be at least 1 (got " + std::to_string(options.max_context) + ")");
  if (options.threads < 0)
    fail(ErrorCode::BadArgument, "threads must be positive (got " + std::to_string(options.threads) + ")");
  if (options.threads > 0) set_num_threads(options.threads);

  std::shared_ptr<Model> m(new Model());
  m->logits_pool_ = std::make_unique<LogitsPool>();
  m->checkpoint_ = Checkpoint::open(dir);
  m->tokenizer_.emplace(Tokenizer::load(dir));
  const ModelConfig& c = m->config();
  if (m->tokenizer_->vocab_size() > c.llm.vocab_size)
    fail(ErrorCode::BadConfig, join_path(dir, "config.json") + ": field 'llm_config.vocab_size' (" +
                                   std::to_string(c.llm.vocab_size) + ") is smaller than the tokenizer's " +
                                   std::to_string(m->tokenizer_->vocab_size()) + " ids");
  m->max_context_ = options.max_context;
  m->weights_ = options.weights;
  // a pre-quantized checkpoint's Linears are int8 whatever was asked (there is no bf16 to use)
  if (!m->checkpoint_->quantization().empty()) m->weights_.format = WeightFormat::Int8;
  const auto build_start = std::chrono::steady_clock::now();
  m->vit_ = std::make_unique<InternVit>(*m->checkpoint_, options.weights);
  m->projector_ = std::make_unique<Projector>(*m->checkpoint_, options.weights);
  m->llm_ = std::make_unique<InternLm2>(*m->checkpoint_, options.weights);
  m->build_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - build_start).count();

  std::vector<int32_t> stops = generation_config_eos(dir);
  if (stops.empty()) stops.push_back(static_cast<int32_t>(c.llm.eos_token_id));
  stops.push_back(m->tokenizer_->special().im_end);
  stops.push_back(m->tokenizer_->special().eos);
  for (int32_t id : stops)
    if (std::find(m->default_stop_ids_.begin(), m->default_stop_ids_.end(), id) == m->default_stop_ids_.end())
      m->default_stop_ids_.push_back(id);
  return m;
}

Model::~Model() = default;

uint64_t Model::linear_weight_bytes() const {
  return vit_->linear_weight_bytes() + projector_->linear_weight_bytes() + llm_->linear_weight_bytes();
}

uint64_t Model::resident_weight_bytes() const {
  return checkpoint_->non_linear_weight_bytes() + linear_weight_bytes();
}

uint64_t Model::kv_cache_bytes_per_sequence() const {
  const LlmConfig& l = config().llm;
  return static_cast<uint64_t>(2 * l.num_layers) * static_cast<uint64_t>(max_context_) *
         static_cast<uint64_t>(l.num_kv_heads * l.head_dim()) * sizeof(float);
}

std::vector<float> Model::vit_hidden(const float* pixels_chw, int64_t n_tiles) const {
  if (n_tiles < 0) fail(ErrorCode::BadArgument, "tile count must not be negative");
  std::vector<float> out(static_cast<size_t>(n_tiles * vit_->tokens() * vit_->width()));
  if (n_tiles > 0) vit_->forward(pixels_chw, n_tiles, out.data());
  return out;
}

std::vector<float> Model::project(const float* vit_hidden, int64_t n_tiles) const {
  std::vector<float> out(static_cast<size_t>(n_tiles * projector_->tokens_per_tile() * projector_->width()));
  if (n_tiles > 0) projector_->forward(vit_hidden, n_tiles, out.data());
  return out;
}

std::vector<float> Model::encode_tiles(const float* pixels_chw, int64_t n_tiles) const {
  if (n_tiles < 0) fail(ErrorCode::BadArgument, "tile count must not be negative");
  std::vector<float> out(static_cast<size_t>(n_tiles * projector_->tokens_per_tile() * projector_->width()));
  encode_tiles(pixels_chw, n_tiles, out.data());
  return out;
}

std::vector<float> Model::encode_tiles(const uint8_t* tiles_hwc, int64_t n_tiles) const {
  if (n_tiles < 0) fail(ErrorCode::BadArgument, "tile count must not be negative");
  std::vector<float> out(static_cast<size_t>(n_tiles * projector_->tokens_per_tile() * projector_->width()));
  encode_tiles(tiles_hwc, n_tiles, out.data());
  return out;
}

void Model::encode_tiles(const float* pixels_chw, int64_t n_tiles, float* rows) const {
  if (n_tiles <= 0) return;
  WorkspaceScope ws;
  float* hidden = ws.take<float>(static_cast<size_t>(n_tiles * vit_->tokens() * vit_->width()));
  vit_->forward(pixels_chw, n_tiles, hidden);
  projector_->forward(hidden, n_tiles, rows);
}

void Model::encode_tiles(const uint8_t* tiles_hwc, int64_t n_tiles, float* rows) const {
  if (n_tiles <= 0) return;
  const int64_t S = tile_size(), per_tile = 3 * S * S;
  WorkspaceScope ws;
  float* pixels = ws.take<float>(static_cast<size_t>(n_tiles * per_tile));
  for (int64_t t = 0; t < n_tiles; ++t)
    normalize_tile(tiles_hwc + t * per_tile, static_cast<int>(S), pixels + t * per_tile);
  encode_tiles(pixels, n_tiles, rows);
}

std::unique_ptr<Sequence> Model::create_sequence() const { return std::make_unique<Sequence>(shared_from_this()); }

}  // namespace vlac
