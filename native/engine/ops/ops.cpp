// ops.h's entry points: argument checks, then the active table's kernel.
#include "ops/ops.h"

#include <atomic>
#include <cstdlib>
#include <string>

#include "common/cpu_features.h"
#include "common/error.h"
#include "ops/op_table.h"

namespace vlac::ops {
namespace {

std::atomic<const OpTable*> g_active{nullptr};

std::string supported_list() {
  std::string s;
  for (Isa isa : supported_isas()) s += (s.empty() ? "" : ", ") + std::string(isa_name(isa));
  return s;
}

Isa isa_from_environment() {
  const char* forced = std::getenv("VLAC_CPU_ISA");
  if (!forced || !*forced) return supported_isas().back();
  return isa_from_name(forced);
}

}  // namespace

Isa isa_from_name(const std::string& name) {
  for (Isa isa : {Isa::Reference, Isa::Avx2, Isa::Avx512}) {
    if (name != isa_name(isa)) continue;
    if (!isa_supported(isa))
      fail(ErrorCode::BadArgument, "VLAC_CPU_ISA=" + name + " but this CPU supports only: " + supported_list());
    return isa;
  }
  fail(ErrorCode::BadArgument, "VLAC_CPU_ISA=" + name + " is not one of reference, avx2, avx512");
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Reference: return "reference";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

bool isa_supported(Isa isa) {
  const CpuFeatures& f = cpu_features();
  const bool avx2 = f.avx2 && f.fma && f.f16c;
  switch (isa) {
    case Isa::Reference: return true;
    case Isa::Avx2: return avx2;
    case Isa::Avx512: return avx2 && f.avx512f && f.avx512dq && f.avx512bw && f.avx512vl;
  }
  return false;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Reference, Isa::Avx2, Isa::Avx512})
    if (isa_supported(isa)) isas.push_back(isa);
  return isas;
}

const OpTable& op_table(Isa isa) {
  if (!isa_supported(isa))
    fail(ErrorCode::BadArgument,
         std::string("instruction set ") + isa_name(isa) + " is not supported here (supported: " + supported_list() + ")");
  switch (isa) {
    case Isa::Avx2: return avx2_op_table();
    case Isa::Avx512: return avx512_op_table();
    case Isa::Reference: break;
  }
  return reference_op_table();
}

const OpTable& active_op_table() {
  const OpTable* table = g_active.load(std::memory_order_acquire);
  if (!table) {
    table = &op_table(isa_from_environment());
    g_active.store(table, std::memory_order_release);
  }
  return *table;
}

Isa active_isa() { return active_op_table().isa; }

void set_active_isa(Isa isa) { g_active.store(&op_table(isa), std::memory_order_release); }

const std::vector<OpInfo>& op_infos() {
  static const std::vector<OpInfo> infos = {
      {"linear", [](const OpTable& t) { return reinterpret_cast<const void*>(t.linear); }},
      {"linear_bf16", [](const OpTable& t) { return reinterpret_cast<const void*>(t.linear_bf16); }},
      {"layernorm", [](const OpTable& t) { return reinterpret_cast<const void*>(t.layernorm); }},
      {"rmsnorm", [](const OpTable& t) { return reinterpret_cast<const void*>(t.rmsnorm); }},
      {"gelu_erf", [](const OpTable& t) { return reinterpret_cast<const void*>(t.gelu_erf); }},
      {"swiglu", [](const OpTable& t) { return reinterpret_cast<const void*>(t.swiglu); }},
      {"add", [](const OpTable& t) { return reinterpret_cast<const void*>(t.add); }},
      {"scale_add", [](const OpTable& t) { return reinterpret_cast<const void*>(t.scale_add); }},
      {"rope", [](const OpTable& t) { return reinterpret_cast<const void*>(t.rope); }},
      {"attention", [](const OpTable& t) { return reinterpret_cast<const void*>(t.attention); }},
      {"bf16_to_f32", [](const OpTable& t) { return reinterpret_cast<const void*>(t.bf16_to_f32); }},
      {"embedding", [](const OpTable& t) { return reinterpret_cast<const void*>(t.embedding); }},
  };
  return infos;
}

bool is_specialised(const OpInfo& op, Isa isa) {
  return op.kernel(op_table(isa)) != op.kernel(reference_op_table());
}

void linear(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias, float* y) {
  VLAC_CHECK(M >= 0 && K >= 0 && N >= 0, "linear: negative size");
  active_op_table().linear(x, M, K, w_bf16, N, bias, y);
}

void linear_bf16(const float* x, int64_t M, int64_t K, const uint16_t* w_bf16, int64_t N, const float* bias,
                 float* y) {
  VLAC_CHECK(M >= 0 && K >= 0 && N >= 0, "linear_bf16: negative size");
  active_op_table().linear_bf16(x, M, K, w_bf16, N, bias, y);
}

void layernorm(const float* x, int64_t rows, int64_t dim, const float* w, const float* b, float eps, float* y) {
  VLAC_CHECK(rows >= 0 && dim > 0, "layernorm: bad size");
  active_op_table().layernorm(x, rows, dim, w, b, eps, y);
}

void rmsnorm(const float* x, int64_t rows, int64_t dim, const float* w, float eps, float* y) {
  VLAC_CHECK(rows >= 0 && dim > 0, "rmsnorm: bad size");
  active_op_table().rmsnorm(x, rows, dim, w, eps, y);
}

void gelu_erf(float* x, int64_t n) { active_op_table().gelu_erf(x, n); }

void swiglu(const float* gate, const float* up, float* out, int64_t n) { active_op_table().swiglu(gate, up, out, n); }

void add(float* h, const float* x, int64_t n) { active_op_table().add(h, x, n); }

void scale_add(float* h, const float* x, const float* scale, int64_t rows, int64_t dim) {
  active_op_table().scale_add(h, x, scale, rows, dim);
}

void rope(float* x, int64_t T, int64_t heads, int64_t head_dim, int64_t row_stride, const float* cos,
          const float* sin) {
  VLAC_CHECK(head_dim % 2 == 0 && row_stride >= heads * head_dim, "rope: odd head_dim or row_stride too small");
  active_op_table().rope(x, T, heads, head_dim, row_stride, cos, sin);
}

void attention(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride, int64_t Tq,
               int64_t Tk, int64_t q_heads, int64_t kv_heads, int64_t head_dim, float scale, bool causal,
               int64_t q_pos0, float* out) {
  VLAC_CHECK(q_heads > 0 && kv_heads > 0 && q_heads % kv_heads == 0, "attention: q_heads not a multiple of kv_heads");
  VLAC_CHECK(head_dim > 0 && q_stride >= q_heads * head_dim && kv_stride >= kv_heads * head_dim,
             "attention: row stride shorter than its heads");
  VLAC_CHECK(Tq >= 0 && Tk >= 1 && q_pos0 >= 0, "attention: bad lengths");
  active_op_table().attention(q, q_stride, k, v, kv_stride, Tq, Tk, q_heads, kv_heads, head_dim, scale, causal,
                              q_pos0, out);
}

void bf16_to_f32(const uint16_t* src, float* dst, int64_t n) { active_op_table().bf16_to_f32(src, dst, n); }

void embedding(const uint16_t* table_bf16, int64_t dim, const int32_t* ids, int64_t n, float* out) {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0) fail(ErrorCode::BadArgument, "embedding: negative token id " + std::to_string(ids[i]));
  active_op_table().embedding(table_bf16, dim, ids, n, out);
}

}  // namespace vlac::ops
