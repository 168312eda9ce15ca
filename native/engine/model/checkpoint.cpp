#include "model/checkpoint.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <mutex>
#include <set>

#include "common/bf16.h"
#include "common/error.h"
#include "common/json.h"

namespace vlac {

struct Checkpoint::Entry {
  TensorView view;
  const uint16_t* bf16 = nullptr;
  std::vector<uint16_t> owned_bf16;  // F16/F32 converted, or an unaligned BF16 span copied
  const int8_t* int8 = nullptr;      // an I8 Linear (pre-quantized checkpoint)
  std::vector<float> int8_scale;     // its "<name>.scale", copied (the span may be unaligned)
  std::vector<int32_t> outlier_columns;  // its "<name>.outlier_columns" and "<name>.outlier_weights"
  std::vector<float> outlier_weights;    // (copied; empty when it has none)
  std::once_flag f32_once;
  std::vector<float> f32;
};

Checkpoint::~Checkpoint() = default;

std::map<std::string, std::vector<int64_t>> required_tensor_shapes(const ModelConfig& c) {
  std::map<std::string, std::vector<int64_t>> t;
  const auto& v = c.vision;
  const int64_t Dv = v.hidden_size, grid = v.image_size / v.patch_size;
  const std::string ve = "vision_model.embeddings.";
  t[ve + "class_embedding"] = {1, 1, Dv};
  t[ve + "patch_embedding.weight"] = {Dv, v.num_channels, v.patch_size, v.patch_size};
  t[ve + "patch_embedding.bias"] = {Dv};
  t[ve + "position_embedding"] = {1, grid * grid + 1, Dv};
  for (int64_t i = 0; i < c.vision_layers_used(); ++i) {
    const std::string p = "vision_model.encoder.layers." + std::to_string(i) + ".";
    t[p + "norm1.weight"] = {Dv};
    t[p + "norm2.weight"] = {Dv};
    if (!v.rms_norm) {
      t[p + "norm1.bias"] = {Dv};
      t[p + "norm2.bias"] = {Dv};
    }
    t[p + "attn.qkv.weight"] = {3 * Dv, Dv};
    if (v.qkv_bias) t[p + "attn.qkv.bias"] = {3 * Dv};
    t[p + "attn.proj.weight"] = {Dv, Dv};
    t[p + "attn.proj.bias"] = {Dv};
    t[p + "ls1"] = {Dv};
    t[p + "ls2"] = {Dv};
    t[p + "mlp.fc1.weight"] = {v.intermediate_size, Dv};
    t[p + "mlp.fc1.bias"] = {v.intermediate_size};
    t[p + "mlp.fc2.weight"] = {Dv, v.intermediate_size};
    t[p + "mlp.fc2.bias"] = {Dv};
  }
  const auto& l = c.llm;
  const int64_t D = l.hidden_size, P = c.projector_in();
  t["mlp1.0.weight"] = {P};
  t["mlp1.0.bias"] = {P};
  t["mlp1.1.weight"] = {D, P};
  t["mlp1.1.bias"] = {D};
  t["mlp1.3.weight"] = {D, D};
  t["mlp1.3.bias"] = {D};
  const int64_t hd = l.head_dim();
  t["language_model.model.tok_embeddings.weight"] = {l.vocab_size, D};
  for (int64_t i = 0; i < l.num_layers; ++i) {
    const std::string p = "language_model.model.layers." + std::to_string(i) + ".";
    t[p + "attention_norm.weight"] = {D};
    t[p + "attention.wqkv.weight"] = {(l.num_heads + 2 * l.num_kv_heads) * hd, D};
    t[p + "attention.wo.weight"] = {D, l.num_heads * hd};
    t[p + "ffn_norm.weight"] = {D};
    t[p + "feed_forward.w1.weight"] = {l.intermediate_size, D};
    t[p + "feed_forward.w3.weight"] = {l.intermediate_size, D};
    t[p + "feed_forward.w2.weight"] = {D, l.intermediate_size};
  }
  t["language_model.model.norm.weight"] = {D};
  t["language_model.output.weight"] = {l.vocab_size, D};
  return t;
}

namespace {

std::string shape_string(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

}  // namespace

std::map<std::string, std::string> parse_safetensors_index(const std::string& text, const std::string& index_path) {
  json index;
  try {
    index = json::parse(text);
  } catch (const json::exception& e) {
    fail(ErrorCode::BadWeights, index_path + ": not valid JSON (" + e.what() + ")");
  }
  if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
    fail(ErrorCode::BadWeights, index_path + ": needs a \"weight_map\" object");
  std::map<std::string, std::string> map;
  for (auto it = index["weight_map"].begin(); it != index["weight_map"].end(); ++it) {
    if (!it.value().is_string() || it.value().get<std::string>().empty())
      fail(ErrorCode::BadWeights, index_path + ": weight_map entry '" + it.key() + "' names no shard file");
    const std::string shard = it.value().get<std::string>();
    if (shard.find('/') != std::string::npos || shard == "." || shard == "..")
      fail(ErrorCode::BadWeights, index_path + ": shard '" + shard + "' must be a file name in the folder");
    map[it.key()] = shard;
  }
  if (map.empty()) fail(ErrorCode::BadWeights, index_path + ": weight_map is empty");
  return map;
}

bool is_quantizable_linear(const std::string& name) {
  auto ends = [&](const char* s) {
    const size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  auto starts = [&](const char* s) { return name.rfind(s, 0) == 0; };
  if (starts("vision_model.encoder.layers."))
    return ends(".attn.qkv.weight") || ends(".attn.proj.weight") || ends(".mlp.fc1.weight") || ends(".mlp.fc2.weight");
  if (starts("language_model.model.layers."))
    return ends(".attention.wqkv.weight") || ends(".attention.wo.weight") || ends(".feed_forward.w1.weight") ||
           ends(".feed_forward.w2.weight") || ends(".feed_forward.w3.weight");
  return name == "mlp1.1.weight" || name == "mlp1.3.weight" || name == "language_model.output.weight";
}

std::unique_ptr<Checkpoint> Checkpoint::open(const std::string& dir) {
  std::unique_ptr<Checkpoint> ck(new Checkpoint());
  ck->dir_ = dir;
  const std::string config_path = join_path(dir, "config.json");
  ck->config_ = parse_model_config(read_text_file(config_path), config_path);

  // name -> (file index, view), from one file or the shards an index names.
  std::map<std::string, std::pair<size_t, TensorView>> all;
  const std::string index_path = join_path(dir, "model.safetensors.index.json");
  if (is_regular_file(index_path)) {
    const auto map = parse_safetensors_index(read_text_file(index_path), index_path);
    std::map<std::string, size_t> shard_index;
    for (const auto& kv : map) {
      if (shard_index.count(kv.second)) continue;
      shard_index[kv.second] = ck->files_.size();
      ck->files_.push_back(std::make_unique<SafetensorsFile>(join_path(dir, kv.second)));
    }
    for (const auto& kv : map) {
      const size_t fi = shard_index[kv.second];
      const auto& tensors = ck->files_[fi]->tensors();
      auto it = tensors.find(kv.first);
      if (it == tensors.end())
        fail(ErrorCode::BadWeights, index_path + ": names tensor '" + kv.first + "' in shard " + kv.second +
                                        ", which does not hold it");
      all.emplace(kv.first, std::make_pair(fi, it->second));
    }
    for (size_t fi = 0; fi < ck->files_.size(); ++fi)
      for (const auto& kv : ck->files_[fi]->tensors())
        if (!map.count(kv.first))
          fail(ErrorCode::BadWeights, ck->files_[fi]->path() + ": holds tensor '" + kv.first +
                                          "' that the index does not list");
  } else {
    ck->files_.push_back(std::make_unique<SafetensorsFile>(join_path(dir, "model.safetensors")));
    for (const auto& kv : ck->files_[0]->tensors()) all.emplace(kv.first, std::make_pair(size_t(0), kv.second));
  }

  const auto required = required_tensor_shapes(ck->config_);
  std::set<std::string> stored, scales_used;
  for (const auto& kv : required) {
    auto it = all.find(kv.first);
    if (it == all.end())
      fail(ErrorCode::MissingTensor, dir + ": the checkpoint has no tensor '" + kv.first +
                                         "', which the architecture in config.json needs");
    const TensorView& view = it->second.second;
    const std::string file = ck->files_[it->second.first]->path();
    if (view.shape != kv.second)
      fail(ErrorCode::TensorShape, file + ": tensor '" + kv.first + "' has shape " + shape_string(view.shape) +
                                       ", config.json implies " + shape_string(kv.second));
    if (view.dtype == DType::I8 && is_quantizable_linear(kv.first)) {
      const std::string quantization = ck->files_[it->second.first]->metadata().count("vlac_quantization")
                                           ? ck->files_[it->second.first]->metadata().at("vlac_quantization")
                                           : "";
      if (quantization != kInt8Quantization && quantization != kInt8QuantizationV1)
        fail(ErrorCode::BadWeights, file + ": tensor '" + kv.first + "' is I8 but the file's __metadata__ has no " +
                                        "\"vlac_quantization\": \"" + kInt8Quantization + "\" (or \"" +
                                        kInt8QuantizationV1 + "\")");
      const std::string scale_name = kv.first + ".scale";
      auto s = all.find(scale_name);
      if (s == all.end())
        fail(ErrorCode::MissingTensor, dir + ": the I8 tensor '" + kv.first + "' has no '" + scale_name + "'");
      const TensorView& sv = s->second.second;
      if (sv.dtype != DType::F32 || sv.shape != std::vector<int64_t>{kv.second[0]})
        fail(ErrorCode::TensorShape, ck->files_[s->second.first]->path() + ": tensor '" + scale_name + "' must be F32 " +
                                         shape_string({kv.second[0]}));
      auto e = std::make_unique<Entry>();
      e->view = view;
      e->int8 = reinterpret_cast<const int8_t*>(view.data);
      e->int8_scale.resize(static_cast<size_t>(kv.second[0]));
      std::memcpy(e->int8_scale.data(), sv.data, sv.nbytes);
      if (std::memchr(view.data, 0x80, view.nbytes))  // the byte of -128 (memchr: SIMD, GB/s)
        fail(ErrorCode::BadWeights, file + ": tensor '" + kv.first + "' holds the code -128 (the scheme is symmetric)");
      // v2: optional outlier input columns, I32 [n] ascending below K, with F32 [n, N] weights and zero codes
      const std::string cols_name = kv.first + ".outlier_columns", ow_name = kv.first + ".outlier_weights";
      auto oc = all.find(cols_name), ow = all.find(ow_name);
      if ((oc == all.end()) != (ow == all.end()))
        fail(ErrorCode::MissingTensor, dir + ": the I8 tensor '" + kv.first + "' has only one of '" + cols_name +
                                           "' and '" + ow_name + "'");
      if (oc != all.end()) {
        const TensorView& cv = oc->second.second;
        const TensorView& wv = ow->second.second;
        const int64_t n_out = cv.shape.size() == 1 ? cv.shape[0] : -1;
        if (cv.dtype != DType::I32 || n_out < 0 || wv.dtype != DType::F32 ||
            wv.shape != std::vector<int64_t>{n_out, kv.second[0]})
          fail(ErrorCode::TensorShape, file + ": '" + cols_name + "' must be I32 [n] and '" + ow_name + "' F32 [n, " +
                                           std::to_string(kv.second[0]) + "]");
        e->outlier_columns.resize(static_cast<size_t>(n_out));
        std::memcpy(e->outlier_columns.data(), cv.data, cv.nbytes);
        e->outlier_weights.resize(static_cast<size_t>(n_out * kv.second[0]));
        std::memcpy(e->outlier_weights.data(), wv.data, wv.nbytes);
        for (int64_t j = 0; j < n_out; ++j) {
          const int32_t k = e->outlier_columns[j];
          if (k < 0 || k >= kv.second[1] || (j > 0 && k <= e->outlier_columns[j - 1]))
            fail(ErrorCode::BadWeights, file + ": '" + cols_name + "' must be ascending columns below " +
                                            std::to_string(kv.second[1]));
          for (int64_t n = 0; n < kv.second[0]; ++n)
            if (e->int8[n * kv.second[1] + k] != 0)
              fail(ErrorCode::BadWeights, file + ": tensor '" + kv.first + "' has nonzero codes in outlier column " +
                                              std::to_string(k));
        }
        scales_used.insert(cols_name);
        scales_used.insert(ow_name);
      }
      ck->quantization_ = quantization;
      stored.insert("int8");
      scales_used.insert(scale_name);
      ck->tensors_.emplace(kv.first, std::move(e));
      continue;
    }
    if (view.dtype != DType::BF16 && view.dtype != DType::F16 && view.dtype != DType::F32)
      fail(ErrorCode::TensorShape, file + ": tensor '" + kv.first + "' is " + dtype_name(view.dtype) +
                                       "; weights must be BF16, F16 or F32 (or I8 for a Linear of a pre-quantized " +
                                       "checkpoint)");
    stored.insert(view.dtype == DType::BF16 ? "bf16" : view.dtype == DType::F16 ? "f16" : "f32");
    auto e = std::make_unique<Entry>();
    e->view = view;
    const int64_t n = view.numel();
    if (view.dtype == DType::BF16 && reinterpret_cast<uintptr_t>(view.data) % alignof(uint16_t) == 0) {
      e->bf16 = reinterpret_cast<const uint16_t*>(view.data);
    } else {
      e->owned_bf16.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) {
        const uint8_t* p = view.data + i * dtype_size(view.dtype);
        if (view.dtype == DType::BF16) {
          std::memcpy(&e->owned_bf16[i], p, 2);
        } else if (view.dtype == DType::F16) {
          uint16_t h;
          std::memcpy(&h, p, 2);
          e->owned_bf16[i] = float_to_bf16(f16_to_float(h));
        } else {
          float f;
          std::memcpy(&f, p, 4);
          e->owned_bf16[i] = float_to_bf16(f);
        }
      }
      e->bf16 = e->owned_bf16.data();
    }
    ck->tensors_.emplace(kv.first, std::move(e));
  }
  for (const auto& kv : all)
    if (!required.count(kv.first) && !scales_used.count(kv.first)) ck->unused_.push_back(kv.first);
  // a pre-quantized file keeps its norms, embeddings and biases in their own dtype
  if (stored.count("int8")) stored = {"int8"};
  ck->stored_dtype_ = stored.size() == 1 ? *stored.begin() : "mixed";
  return ck;
}

const uint16_t* Checkpoint::bf16(const std::string& name) const {
  auto it = tensors_.find(name);
  VLAC_CHECK(it != tensors_.end(), "tensor '" + name + "' was not loaded");
  VLAC_CHECK(!it->second->int8, "tensor '" + name + "' is stored int8");
  return it->second->bf16;
}

void Checkpoint::release_pages(const std::string& name) const {
  auto it = tensors_.find(name);
  VLAC_CHECK(it != tensors_.end(), "tensor '" + name + "' was not loaded");
  const Entry& e = *it->second;
  if (!e.int8 && !e.owned_bf16.empty()) return;  // the engine's own copy, not the mapping
  static const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const uintptr_t begin = (reinterpret_cast<uintptr_t>(e.view.data) + page - 1) / page * page;
  const uintptr_t end = (reinterpret_cast<uintptr_t>(e.view.data) + e.view.nbytes) / page * page;
  // advice only: a failure leaves the pages resident, which is harmless
  if (end > begin) (void)madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
}

bool Checkpoint::is_int8(const std::string& name) const {
  auto it = tensors_.find(name);
  return it != tensors_.end() && it->second->int8 != nullptr;
}

const int8_t* Checkpoint::int8(const std::string& name) const {
  VLAC_CHECK(is_int8(name), "tensor '" + name + "' is not stored int8");
  return tensors_.find(name)->second->int8;
}

const float* Checkpoint::int8_scale(const std::string& name) const {
  VLAC_CHECK(is_int8(name), "tensor '" + name + "' is not stored int8");
  return tensors_.find(name)->second->int8_scale.data();
}

const std::vector<int32_t>& Checkpoint::int8_outlier_columns(const std::string& name) const {
  VLAC_CHECK(is_int8(name), "tensor '" + name + "' is not stored int8");
  return tensors_.find(name)->second->outlier_columns;
}

const std::vector<float>& Checkpoint::int8_outlier_weights(const std::string& name) const {
  VLAC_CHECK(is_int8(name), "tensor '" + name + "' is not stored int8");
  return tensors_.find(name)->second->outlier_weights;
}

const float* Checkpoint::f32(const std::string& name) const {
  auto it = tensors_.find(name);
  VLAC_CHECK(it != tensors_.end(), "tensor '" + name + "' was not loaded");
  VLAC_CHECK(!it->second->int8, "tensor '" + name + "' is stored int8");
  Entry& e = *it->second;
  std::call_once(e.f32_once, [&e] {
    const int64_t n = e.view.numel();
    e.f32.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) e.f32[i] = bf16_to_float(e.bf16[i]);
  });
  return e.f32.data();
}

const std::vector<int64_t>& Checkpoint::shape(const std::string& name) const {
  auto it = tensors_.find(name);
  VLAC_CHECK(it != tensors_.end(), "tensor '" + name + "' was not loaded");
  return it->second->view.shape;
}

bool Checkpoint::has(const std::string& name) const { return tensors_.count(name) != 0; }

uint64_t Checkpoint::non_linear_weight_bytes() const {
  uint64_t total = 0;
  for (const auto& kv : tensors_)
    if (!is_quantizable_linear(kv.first)) total += static_cast<uint64_t>(kv.second->view.numel()) * 2;
  return total;
}

uint64_t Checkpoint::weight_bytes() const {
  uint64_t total = 0;
  for (const auto& kv : tensors_)
    total += kv.second->int8 ? static_cast<uint64_t>(kv.second->view.numel()) +
                                   (kv.second->int8_scale.size() + kv.second->outlier_columns.size() +
                                    kv.second->outlier_weights.size()) * 4
                             : static_cast<uint64_t>(kv.second->view.numel()) * 2;
  return total;
}

}  // namespace vlac
