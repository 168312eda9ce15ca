// libFuzzer harness: the safetensors reader (SafetensorsFile::parse) on arbitrary bytes, as a whole
// file: 8-byte length, JSON header, data. The only acceptable failure is a vlac::Error with
// ERR_VLAC_BAD_WEIGHTS; anything else (a crash, a sanitizer report, another exception or code) is a
// finding. An accepted file must keep the reader's promises: every tensor's span lies inside the
// data, its size is shape x dtype, and spans with bytes do not overlap.
// Seeds: native/fuzz/corpus/safetensors_header/ (small valid files and near misses).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/error.h"
#include "model/safetensors.h"

namespace {

volatile size_t g_sink;  // toolchain.md P8: keeps -O1 from dropping the work

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_safetensors_header: %s\n", what.c_str());
  std::abort();
}

void check_accepted(const uint8_t* data, size_t size, const std::map<std::string, vlac::TensorView>& tensors,
                    const std::map<std::string, std::string>& metadata) {
  std::vector<std::pair<const uint8_t*, const uint8_t*>> spans;
  for (const auto& [name, t] : tensors) {
    if (name != t.name) finding("tensor '" + name + "' is filed under another name");
    if (name == "__metadata__") finding("__metadata__ was read as a tensor");
    if (t.data < data + 8 || t.data + t.nbytes > data + size) finding("tensor '" + name + "' points outside the file");
    uint64_t numel = 1;
    for (int64_t d : t.shape) {
      if (d < 0) finding("tensor '" + name + "' has a negative dimension");
      numel *= static_cast<uint64_t>(d);
    }
    if (numel * vlac::dtype_size(t.dtype) != t.nbytes) finding("tensor '" + name + "' has nbytes != shape x dtype");
    if (static_cast<uint64_t>(t.numel()) != numel) finding("tensor '" + name + "' numel() disagrees with its shape");
    g_sink = g_sink + std::string(vlac::dtype_name(t.dtype)).size();
    if (t.nbytes) {
      // Touch both ends: ASan reports a span that leaves the buffer.
      g_sink = g_sink + t.data[0] + t.data[t.nbytes - 1];
      spans.emplace_back(t.data, t.data + t.nbytes);
    }
  }
  std::sort(spans.begin(), spans.end());
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i].first < spans[i - 1].second) finding("two accepted tensors share bytes");
  for (const auto& [key, value] : metadata) g_sink = g_sink + key.size() + value.size();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::map<std::string, std::string> metadata;
    const auto tensors = vlac::SafetensorsFile::parse(data, size, "fuzz.safetensors", &metadata);
    check_accepted(data, size, tensors, metadata);
  } catch (const vlac::Error& e) {
    if (e.code() != vlac::ErrorCode::BadWeights)
      finding(std::string(vlac::error_code_name(e.code())) + ": " + e.what());
    g_sink = g_sink + std::string(e.what()).size();
  }
  return 0;
}
