// libFuzzer harness: model.safetensors.index.json (parse_safetensors_index) on arbitrary bytes.
// The only acceptable failure is a vlac::Error with ERR_VLAC_BAD_WEIGHTS; anything else (a crash,
// a sanitizer report, another exception or code) is a finding. An accepted index must map at least
// one tensor, and only to plain file names inside the folder (no '/', not "." or "..", not empty),
// since Checkpoint::open joins them to the checkpoint folder.
// Seeds: native/fuzz/corpus/safetensors_index/.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "model/checkpoint.h"

namespace {

volatile size_t g_sink;  // toolchain.md P8: keeps -O1 from dropping the work

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_safetensors_index: %s\n", what.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto map = vlac::parse_safetensors_index(text, "fuzz/model.safetensors.index.json");
    if (map.empty()) finding("an empty weight_map was accepted");
    for (const auto& [tensor, shard] : map) {
      if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos)
        finding("shard '" + shard + "' of tensor '" + tensor + "' is not a file name in the folder");
      g_sink = g_sink + tensor.size() + shard.size();
    }
  } catch (const vlac::Error& e) {
    if (e.code() != vlac::ErrorCode::BadWeights)
      finding(std::string(vlac::error_code_name(e.code())) + ": " + e.what());
    g_sink = g_sink + std::string(e.what()).size();
  }
  return 0;
}
