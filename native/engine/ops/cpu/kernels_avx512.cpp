#include "ops/op_table.h"
#include "ops/reference/reference.h"

namespace vlac::ops {

const OpTable& avx512_op_table() {
  static const OpTable table = {
      Isa::Avx512,
      reference::linear,    reference::layernorm, reference::rmsnorm,     reference::gelu_erf,
      reference::swiglu,    reference::add,       reference::scale_add,   reference::rope,
      reference::attention, reference::bf16_to_f32, reference::embedding, reference::fma_loop,
  };
  return table;
}

}  // namespace vlac::ops
