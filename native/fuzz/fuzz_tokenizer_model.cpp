// libFuzzer harness: tokenizer.model parsing (Tokenizer::from_parts on arbitrary bytes) and, when the
// bytes happen to be a usable model, encoding and decoding with it. The only acceptable failure is
// ERR_VLAC_BAD_TOKENIZER; anything else (a crash, a sanitizer report, another error code, an id out of
// range, ill-formed UTF-8 out of decode) is a finding.
// Seeds: native/fuzz/corpus/tokenizer_model/ (small hand-made BPE models).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/error.h"
#include "common/json.h"
#include "tokenizer/sentencepiece_model.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

volatile size_t g_sink;  // toolchain.md P8: keeps -O1 from dropping the work

[[noreturn]] void finding(const char* what) {
  std::fprintf(stderr, "fuzz_tokenizer_model: %s\n", what);
  std::abort();
}

void exercise(const vlac::Tokenizer& t, std::string_view text) {
  const std::vector<int32_t> ids = t.encode(text, true);
  for (int32_t id : ids) {
    if (id < 0 || id >= t.vocab_size()) finding("encode produced an id outside the vocabulary");
    g_sink = g_sink + t.id_to_token(id).size();
  }
  for (bool skip : {false, true}) {
    const std::string out = t.decode(ids.data(), ids.size(), skip);
    if (!vlac::utf8::is_valid(out)) finding("decode produced ill-formed UTF-8");
    g_sink = g_sink + out.size();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  try {
    // The added tokens the engine requires, numbered after the model's own pieces.
    const size_t n_pieces = vlac::parse_sentencepiece_model(bytes, "fuzz").pieces.size();
    vlac::json added = vlac::json::object();
    int32_t next = static_cast<int32_t>(n_pieces);
    for (const char* name : {"<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>"})
      added[name] = next++;
    const vlac::Tokenizer t = vlac::Tokenizer::from_parts(bytes, "{}", added.dump(), "fuzz");
    exercise(t, "Pick up the cup.  <|im_end|>\n\t12.5 \xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 \xFF");
    // The model bytes as text too: they spell the model's own pieces.
    exercise(t, bytes.substr(0, 512));
  } catch (const vlac::Error& e) {
    if (e.code() != vlac::ErrorCode::BadTokenizer) finding(e.what());
    g_sink = g_sink + std::string_view(e.what()).size();
  }
  return 0;
}
