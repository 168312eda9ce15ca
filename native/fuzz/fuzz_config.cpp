// libFuzzer harness: config.json (parse_model_config) on arbitrary bytes. The only acceptable failure
// is a vlac::Error with ERR_VLAC_BAD_CONFIG; anything else (a crash, a sanitizer report, another
// exception or code) is a finding. An accepted config must satisfy what the loader and the networks
// rely on without checking again: positive sizes, heads that divide the widths, an even LLM head
// dim, a tile that is a whole number of patches and of shuffle blocks, a select_layer inside the
// ViT, and derived sizes (image tokens, projector width, tensor shapes) that do not overflow.
// Seeds: native/fuzz/corpus/config/ (small hand-written configs, not copies of a checkpoint's).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "model/checkpoint.h"
#include "model/config.h"

namespace {

volatile size_t g_sink;  // toolchain.md P8: keeps -O1 from dropping the work

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_config: %s\n", what.c_str());
  std::abort();
}

void check_accepted(const vlac::ModelConfig& c) {
  const auto& v = c.vision;
  const auto& l = c.llm;
  if (v.hidden_size < 1 || v.num_layers < 1 || v.num_heads < 1 || v.intermediate_size < 1 || v.patch_size < 1 ||
      v.image_size < 1 || c.image_size < 1)
    finding("a vision size below 1 was accepted");
  if (l.vocab_size < 1 || l.hidden_size < 1 || l.intermediate_size < 1 || l.num_layers < 1 || l.num_heads < 1 ||
      l.num_kv_heads < 1 || l.max_position_embeddings < 1)
    finding("an LLM size below 1 was accepted");
  if (v.hidden_size % v.num_heads) finding("vision heads do not divide the width");
  if (l.hidden_size % l.num_heads || l.num_heads % l.num_kv_heads || l.head_dim() % 2)
    finding("LLM heads do not fit the width");
  if (c.ps_version != 1 && c.ps_version != 2) finding("an unknown ps_version was accepted");
  if (c.image_size % v.patch_size || v.image_size % v.patch_size) finding("a tile that is not whole patches");
  const int64_t s = c.shuffle_factor();
  if (s < 1 || c.patch_grid() % s) finding("a shuffle factor that does not divide the patch grid");
  const int64_t used = c.vision_layers_used();
  if (used < 0 || used > v.num_layers) finding("select_layer outside the ViT was accepted");
  if (c.image_tokens() < 1 || c.projector_in() < 1) finding("no image tokens or projector width");
  if (!(l.rope_theta > 0) || (l.rope_dynamic && !(l.rope_factor >= 1))) finding("bad RoPE settings accepted");
  if (c.max_dynamic_patch < c.min_dynamic_patch) finding("max_dynamic_patch below min_dynamic_patch");
  g_sink = g_sink + static_cast<size_t>(used + c.image_tokens() + c.projector_in() + l.kv_group() + v.head_dim());
  // What Checkpoint::open computes next from an accepted config.
  for (const auto& [name, shape] : vlac::required_tensor_shapes(c)) {
    int64_t numel = 1;
    for (int64_t d : shape) {
      if (d < 1) finding("tensor '" + name + "' gets a dimension below 1");
      if (__builtin_mul_overflow(numel, d, &numel)) finding("tensor '" + name + "' has more elements than int64 holds");
    }
    g_sink = g_sink + name.size() + static_cast<size_t>(numel);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    check_accepted(vlac::parse_model_config(text, "fuzz/config.json"));
  } catch (const vlac::Error& e) {
    if (e.code() != vlac::ErrorCode::BadConfig)
      finding(std::string(vlac::error_code_name(e.code())) + ": " + e.what());
    g_sink = g_sink + std::string(e.what()).size();
  }
  return 0;
}
