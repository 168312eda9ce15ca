// libFuzzer harness: encode and decode arbitrary bytes with the real InternLM2 tokenizer
// ($VLAC_FIXTURES/tiny-a, else ../shared/fixtures beside the repository).
// Input byte 0 picks the mode, the rest is the payload:
//   even: payload is text. encode must give ids in range; decode must give well-formed UTF-8; and
//         decode(encode(x)) with specials kept must be x as TextDecoder reads it, unless x spells
//         U+2581 (decodes to a space) or [UNUSED_TOKEN_141..146] (decode to their renamed specials).
//   odd:  payload is little-endian int32 ids (reduced into the vocabulary); decode must not fail.
// Seeds: native/fuzz/corpus/tokenizer_encode/.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace {

volatile size_t g_sink;  // toolchain.md P8: keeps -O1 from dropping the work

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_tokenizer_encode: %s\n", what.c_str());
  std::abort();
}

const vlac::Tokenizer& internlm2() {
  static const vlac::Tokenizer t = [] {
    const char* env = std::getenv("VLAC_FIXTURES");
    const std::filesystem::path fixtures =
        env && *env ? std::filesystem::path(env)
                    : std::filesystem::path(__FILE__).parent_path() / "../../../shared/fixtures";
    try {
      return vlac::Tokenizer::load((fixtures / "tiny-a").string());
    } catch (const vlac::Error& e) {
      finding(std::string("cannot load the fixture tokenizer (set VLAC_FIXTURES): ") + e.what());
    }
  }();
  return t;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  internlm2();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const vlac::Tokenizer& t = internlm2();
  const std::string_view payload(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    if (data[0] % 2 == 0) {
      const std::vector<int32_t> ids = t.encode(payload, data[0] & 2);
      for (int32_t id : ids)
        if (id < 0 || id >= t.vocab_size()) finding("encode produced an id outside the vocabulary");
      const size_t first = (data[0] & 2) ? 1 : 0;
      const std::string kept = t.decode(ids.data() + first, ids.size() - first, false);
      const std::string skipped = t.decode(ids.data(), ids.size(), true);
      if (!vlac::utf8::is_valid(kept) || !vlac::utf8::is_valid(skipped)) finding("decode produced ill-formed UTF-8");
      const bool round_trips = payload.find("\xE2\x96\x81") == std::string_view::npos &&
                               payload.find("[UNUSED_TOKEN_14") == std::string_view::npos;
      if (round_trips && kept != vlac::utf8::sanitize(payload)) finding("decode(encode(x)) != x");
      g_sink = g_sink + kept.size() + skipped.size();
    } else {
      std::vector<int32_t> ids(payload.size() / 4);
      for (size_t k = 0; k < ids.size(); ++k) {
        uint32_t v;
        std::memcpy(&v, payload.data() + 4 * k, 4);
        ids[k] = static_cast<int32_t>(v % static_cast<uint32_t>(t.vocab_size()));
      }
      for (bool skip : {false, true}) {
        const std::string out = t.decode(ids.data(), ids.size(), skip);
        if (!vlac::utf8::is_valid(out)) finding("decode produced ill-formed UTF-8");
        g_sink = g_sink + out.size();
      }
    }
  } catch (const vlac::Error& e) {
    finding(std::string("unexpected error: ") + e.what());
  }
  return 0;
}
