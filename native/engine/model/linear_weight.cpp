#include "model/linear_weight.h"

#include <algorithm>
#include <cstring>

#include "common/error.h"
#include "ops/ops.h"

namespace vlac {

const char* weight_format_name(WeightFormat format) { return format == WeightFormat::Int8 ? "int8" : "bf16"; }

LinearWeight::LinearWeight(const uint16_t* w, int64_t N, int64_t K, bool int8) : N_(N), K_(K) {
  if (int8)
    q_ = ops::quantize_weight_bf16(w, N, K);
  else
    bf16_ = w;
}

LinearWeight::LinearWeight(std::vector<uint16_t> w, int64_t N, int64_t K, bool int8) : N_(N), K_(K) {
  if (int8) {
    q_ = ops::quantize_weight_bf16(w.data(), N, K);
  } else {
    owned_ = std::move(w);
    bf16_ = owned_.data();  // the heap buffer stays put when this object moves
  }
}

LinearWeight::LinearWeight(ops::QuantizedWeight q) : q_(std::move(q)) {
  N_ = q_->N();
  K_ = q_->K();
}

void LinearWeight::apply(const float* x, int64_t M, const float* bias, float* y) const {
  if (!q_) {
    if (bf16_activations_ && M > kDecodeRows) return ops::linear_bf16(x, M, K_, bf16_, N_, bias, y);
    return ops::linear(x, M, K_, bf16_, N_, bias, y);
  }
  if (M <= kDecodeRows) return ops::linear_w8a16(x, M, q_->view(), bias, y);
  ops::linear_w8a8(x, M, q_->view(), bias, y);
}

void LinearWeight::apply_rows(const float* x, int64_t M, const float* bias, float* y) const {
  for (int64_t m = 0; m < M; m += kDecodeRows) apply(x + m * K_, std::min(kDecodeRows, M - m), bias, y + m * N_);
}

LinearWeight load_linear(const Checkpoint& ck, const std::string& name, int64_t N, int64_t K, bool int8) {
  // once quantized or repacked, the mapped original is not read again: let the OS drop its pages
  if (ck.is_int8(name)) {
    LinearWeight w(stored_int8_linear(ck, name, N, K));
    ck.release_pages(name);
    return w;
  }
  LinearWeight w(ck.bf16(name), N, K, int8);
  if (int8) ck.release_pages(name);
  return w;
}

ops::QuantizedWeight stored_int8_linear(const Checkpoint& ck, const std::string& name, int64_t N, int64_t K,
                                        const std::vector<int64_t>& row_order) {
  const int8_t* q = ck.int8(name);
  const float* s = ck.int8_scale(name);
  const std::vector<int32_t>& columns = ck.int8_outlier_columns(name);
  const std::vector<float>& outliers = ck.int8_outlier_weights(name);
  if (row_order.empty()) return ops::QuantizedWeight(q, s, N, K, columns, outliers);
  VLAC_CHECK(static_cast<int64_t>(row_order.size()) == N, "stored_int8_linear: row order of '" + name + "' is not [N]");
  std::vector<int8_t> q2(static_cast<size_t>(N * K));
  std::vector<float> s2(static_cast<size_t>(N)), o2(outliers.size());
  for (int64_t n = 0; n < N; ++n) {
    const int64_t from = row_order[n];
    std::memcpy(q2.data() + n * K, q + from * K, static_cast<size_t>(K));
    s2[n] = s[from];
    for (size_t j = 0; j < columns.size(); ++j) o2[j * N + n] = outliers[j * N + from];
  }
  return ops::QuantizedWeight(q2.data(), s2.data(), N, K, columns, std::move(o2));
}

size_t LinearWeight::bytes() const { return q_ ? q_->bytes() : static_cast<size_t>(N_ * K_ * 2); }

}  // namespace vlac
