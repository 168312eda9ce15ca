#include "model/rope.h"

#include <cmath>
#include <vector>

namespace vlac {

double rope_base(const LlmConfig& c, int64_t seq_len) {
  if (!c.rope_dynamic || seq_len <= c.max_position_embeddings) return c.rope_theta;
  const double hd = static_cast<double>(c.head_dim());
  const double ratio = c.rope_factor * static_cast<double>(seq_len) / static_cast<double>(c.max_position_embeddings) -
                       (c.rope_factor - 1.0);
  return c.rope_theta * std::pow(ratio, hd / (hd - 2.0));
}

void rope_tables(double base, int64_t head_dim, int64_t pos0, int64_t count, float* cos, float* sin) {
  const int64_t half = head_dim / 2;
  // The reference: 1.0 / (base ** (arange(0, hd, 2).float() / hd)), a float32 tensor op with the
  // Python-float base taken as float32; then einsum(t, inv_freq) and .cos()/.sin() in float32.
  const float base_f = static_cast<float>(base);
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    const float exponent = static_cast<float>(2 * i) / static_cast<float>(head_dim);
    inv_freq[i] = 1.0f / static_cast<float>(std::pow(static_cast<double>(base_f), static_cast<double>(exponent)));
  }
  for (int64_t t = 0; t < count; ++t) {
    const float p = static_cast<float>(pos0 + t);
    for (int64_t i = 0; i < half; ++i) {
      const float angle = p * inv_freq[i];
      cos[t * half + i] = static_cast<float>(std::cos(static_cast<double>(angle)));
      sin[t * half + i] = static_cast<float>(std::sin(static_cast<double>(angle)));
    }
  }
}

}  // namespace vlac
