// InternLM2 rotary position embedding: rotate-half (NeoX) pairs (i, i + head_dim/2), base rope_theta,
// with dynamic NTK scaling (architecture.md §5.5-§5.6).
#pragma once

#include <cstdint>

#include "model/config.h"

namespace vlac {

// The RoPE base the reference uses for a forward after which the sequence's KV length is `seq_len`
// (past + new tokens). With rope_scaling dynamic and seq_len > max_position_embeddings it is the
// NTK-scaled base θ·((factor·seq_len/max_pos) − (factor − 1))^(hd/(hd − 2)); otherwise rope_theta.
// The reference keeps this state module-global and never shrinks it; the engine applies it per
// sequence (the goldens reset it per sequence), which is the one deliberate deviation.
double rope_base(const LlmConfig& config, int64_t seq_len);

// cos/sin for positions pos0 .. pos0+count-1, each row [head_dim/2] (the two halves of a head share
// them). Computed as the reference does in fp32: inv_freq = 1/base^(2i/hd), angle = fp32(p·inv_freq).
void rope_tables(double base, int64_t head_dim, int64_t pos0, int64_t count, float* cos, float* sin);

}  // namespace vlac
