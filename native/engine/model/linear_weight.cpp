#include "model/linear_weight.h"

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

LinearWeight load_linear(const Checkpoint& ck, const std::string& name, int64_t N, int64_t K, bool int8) {
  // once quantized or repacked, the mapped original is not read again: let the OS drop its pages
  if (ck.is_int8(name)) {
    LinearWeight w(ops::QuantizedWeight(ck.int8(name), ck.int8_scale(name), N, K));
    ck.release_pages(name);
    return w;
  }
  LinearWeight w(ck.bf16(name), N, K, int8);
  if (int8) ck.release_pages(name);
  return w;
}

size_t LinearWeight::bytes() const { return q_ ? q_->bytes() : static_cast<size_t>(N_ * K_ * 2); }

}  // namespace vlac
