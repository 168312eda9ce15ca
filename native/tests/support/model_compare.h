// Helpers of the tests that compare two model paths (int8 vs bf16 weights, bf16 vs fp32
// activations) on logits: cosine, largest difference, argmax and its margin, a prefilled sequence,
// and the golden cases' pixels. Header-only: only the model tests include it.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/json.h"
#include "image/preprocess.h"
#include "model/safetensors.h"
#include "runtime/model.h"
#include "runtime/sequence.h"

namespace vlac::test {

inline double cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

inline double max_abs_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double(a[i]) - b[i]));
  return m;
}

inline int32_t argmax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// The top logit minus the runner-up.
inline double margin(const std::vector<float>& v) {
  const int32_t top = argmax(v);
  float second = -INFINITY;
  for (size_t i = 0; i < v.size(); ++i)
    if (static_cast<int32_t>(i) != top) second = std::max(second, v[i]);
  return v[top] - second;
}

// A sequence of `model` prefilled with ids, its images' rows from the model's own ViT + projector.
inline std::unique_ptr<Sequence> prefilled(const Model& model, const std::vector<int32_t>& ids,
                                           const std::vector<float>& pixels, int64_t n_images) {
  std::vector<float> rows;
  if (n_images > 0) rows = model.encode_tiles(pixels.data(), n_images);
  auto seq = model.create_sequence();
  seq->prefill(ids.data(), static_cast<int64_t>(ids.size()), rows.data(),
               static_cast<int64_t>(rows.size()) / model.hidden_size());
  return seq;
}

// The normalised CHW pixels of a golden case's images (tiny-a/golden/tensors.safetensors).
inline std::vector<float> golden_pixels(const SafetensorsFile& tensors, const json& c, int64_t tile) {
  std::vector<float> pixels;
  for (const auto& name : c["images"]) {
    const TensorView& t = tensors.tensor("pixels/" + name.get<std::string>());
    std::vector<float> chw(static_cast<size_t>(3 * tile * tile));
    normalize_tile(t.data, static_cast<int>(tile), chw.data());
    pixels.insert(pixels.end(), chw.begin(), chw.end());
  }
  return pixels;
}

}  // namespace vlac::test
