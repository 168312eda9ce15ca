// The InternLM2 tokenizer against sentencepiece 0.1.97 + the HF added-token split: the shared
// fixtures (tokenizer/corpus.json, the tiny-a golden prompts, the VLAC prompts), the project's own
// corpus (native/tests/data/tokenizer/own_corpus.json, scripts/make-tokenizer-corpus.py), and every
// way a tokenizer folder can be broken.
#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

#include <unistd.h>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "support/fixtures.h"
#include "tokenizer/tokenizer.h"

using vlac::ErrorCode;
using vlac::Tokenizer;
using vlac::json;

namespace {

const Tokenizer& internlm2() {
  static const Tokenizer t = Tokenizer::load(vlac::test::fixture_path("tiny-a"));
  return t;
}

std::string tiny_file(const char* name) { return vlac::read_text_file(vlac::test::fixture_path(std::string("tiny-a/") + name)); }

// Written by scripts/make-tokenizer-corpus.py; found beside this source file.
json read_own_corpus() {
  const std::filesystem::path here = std::filesystem::path(__FILE__).parent_path();
  return json::parse(vlac::read_text_file((here / "data/tokenizer/own_corpus.json").string()));
}

// "{256 x <IMG_CONTEXT>}" in a fixture's `text` stands for that many literal tokens.
std::string expand_image_bodies(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t open = text.find('{', i);
    if (open == std::string::npos) break;
    const size_t x = text.find(" x ", open);
    const size_t close = text.find('}', open);
    if (x == std::string::npos || close == std::string::npos || x > close ||
        text.find_first_not_of("0123456789", open + 1) != x) {
      out.append(text, i, open + 1 - i);
      i = open + 1;
      continue;
    }
    const int count = std::stoi(text.substr(open + 1, x - open - 1));
    const std::string token = text.substr(x + 3, close - x - 3);
    out.append(text, i, open - i);
    for (int k = 0; k < count; ++k) out += token;
    i = close + 1;
  }
  out.append(text, i, std::string::npos);
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | cp >> 6));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | cp >> 12));
    out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | cp >> 18));
    out.push_back(static_cast<char>(0x80 | (cp >> 12 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp >> 6 & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// What TextEncoder makes of a JS string given as UTF-16LE hex: lone surrogates become U+FFFD.
std::string js_string_to_utf8(const std::string& utf16le_hex) {
  std::vector<uint32_t> units;
  for (size_t i = 0; i + 4 <= utf16le_hex.size(); i += 4) {
    const uint32_t lo = std::stoul(utf16le_hex.substr(i, 2), nullptr, 16);
    const uint32_t hi = std::stoul(utf16le_hex.substr(i + 2, 2), nullptr, 16);
    units.push_back(hi << 8 | lo);
  }
  std::string out;
  for (size_t i = 0; i < units.size(); ++i) {
    const uint32_t u = units[i];
    if (u >= 0xD800 && u <= 0xDBFF && i + 1 < units.size() && units[i + 1] >= 0xDC00 && units[i + 1] <= 0xDFFF) {
      append_utf8(out, 0x10000 + ((u - 0xD800) << 10) + (units[i + 1] - 0xDC00));
      ++i;
    } else if (u >= 0xD800 && u <= 0xDFFF) {
      append_utf8(out, 0xFFFD);
    } else {
      append_utf8(out, u);
    }
  }
  return out;
}

// Runs `f`, which must throw vlac::Error; returns its code and stores its message.
ErrorCode error_of(const std::function<void()>& f, std::string* message = nullptr) {
  try {
    f();
  } catch (const vlac::Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  FAIL("no vlac::Error was thrown");
  return ErrorCode::Internal;
}

bool contains(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

// ---- a minimal protobuf writer for synthetic sentencepiece models ------------------------------
std::string varint(uint64_t v) {
  std::string out;
  do {
    uint8_t b = v & 0x7F;
    v >>= 7;
    if (v) b |= 0x80;
    out.push_back(static_cast<char>(b));
  } while (v);
  return out;
}
std::string field_varint(uint32_t field, uint64_t v) { return varint(uint64_t(field) << 3 | 0) + varint(v); }
std::string field_bytes(uint32_t field, const std::string& payload) {
  return varint(uint64_t(field) << 3 | 2) + varint(payload.size()) + payload;
}
std::string field_float(uint32_t field, float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  std::string out = varint(uint64_t(field) << 3 | 5);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(bits >> (8 * i) & 0xFF));
  return out;
}

enum : int { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6 };
struct PieceSpec {
  std::string piece;
  float score;
  int type;
};

std::string piece_message(const PieceSpec& p) {
  return field_bytes(1, p.piece) + field_float(2, p.score) + field_varint(3, static_cast<uint64_t>(p.type));
}

struct ModelSpec {
  std::vector<PieceSpec> pieces;
  int model_type = 2;  // BPE
  bool byte_fallback = false;
  bool add_dummy_prefix = false, remove_extra_whitespaces = false;
  std::string extra_trainer, extra_normalizer, extra_model;
};

std::string model_bytes(const ModelSpec& m) {
  std::string out;
  for (const auto& p : m.pieces) out += field_bytes(1, piece_message(p));
  out += field_bytes(2, field_varint(3, static_cast<uint64_t>(m.model_type)) + field_varint(35, m.byte_fallback) +
                            m.extra_trainer);
  out += field_bytes(3, field_bytes(1, "identity") + field_varint(3, m.add_dummy_prefix) +
                            field_varint(4, m.remove_extra_whitespaces) + m.extra_normalizer);
  return out + m.extra_model;
}

// <unk> <s> </s> then the given pieces; config and added tokens give the InternVL names.
ModelSpec small_model(std::vector<PieceSpec> pieces) {
  ModelSpec m;
  m.pieces = {{"<unk>", 0, kUnknown}, {"<s>", 0, kControl}, {"</s>", 0, kControl}};
  m.pieces.insert(m.pieces.end(), pieces.begin(), pieces.end());
  return m;
}

const char* kSmallConfig = R"({"add_bos_token": true,
  "added_tokens_decoder": {"0": {"content": "<unk>", "special": true}, "1": {"content": "<s>", "special": true},
                           "2": {"content": "</s>", "special": true}}})";

std::string small_added(int32_t n_pieces) {
  json j;
  const char* names[] = {"<|im_start|>", "<|im_end|>", "<img>", "</img>", "<IMG_CONTEXT>"};
  for (int i = 0; i < 5; ++i) j[names[i]] = n_pieces + i;
  return j.dump();
}

Tokenizer small_tokenizer(const ModelSpec& m) {
  return Tokenizer::from_parts(model_bytes(m), kSmallConfig, small_added(static_cast<int32_t>(m.pieces.size())),
                               "synthetic");
}

std::vector<std::string> tokens_of(const Tokenizer& t, const std::vector<int32_t>& ids) {
  std::vector<std::string> out;
  for (int32_t id : ids) out.push_back(t.id_to_token(id));
  return out;
}

}  // namespace

TEST_CASE("the InternVL2 tokenizer folder loads with the documented sizes and special ids") {
  const Tokenizer& t = internlm2();
  CHECK(t.vocab_size() == 92553);
  const vlac::SpecialTokens& s = t.special();
  CHECK(s.unk == 0);
  CHECK(s.bos == 1);
  CHECK(s.eos == 2);
  CHECK(s.im_start == 92543);
  CHECK(s.im_end == 92542);
  CHECK(s.img == 92544);
  CHECK(s.img_end == 92545);
  CHECK(s.img_context == 92546);
  CHECK(t.add_bos_token());
  for (int32_t id : {0, 1, 2, 92538, 92539, 92540, 92541, 92542, 92543, 92544, 92545, 92546, 92547, 92548, 92549,
                     92550, 92551, 92552})
    CHECK_MESSAGE(t.is_special(id), id);
  for (int32_t id : {3, 258, 354, 92352, 92537, -1, 92553}) CHECK_MESSAGE(!t.is_special(id), id);
}

TEST_CASE("ids and token texts map both ways, with specials under their tokenizer_config names") {
  const Tokenizer& t = internlm2();
  CHECK(t.id_to_token(92543) == "<|im_start|>");
  CHECK(t.id_to_token(92546) == "<IMG_CONTEXT>");
  CHECK(t.id_to_token(1) == "<s>");
  CHECK(t.id_to_token(3) == "<0x00>");
  CHECK(t.id_to_token(258) == "<0xFF>");
  CHECK(t.id_to_token(2028) == "\xE2\x96\x81world");
  CHECK(t.id_to_token(354) == std::string(1, '\0'));
  CHECK(t.id_to_token(92402) == "[UNUSED_TOKEN_5]");
  CHECK(t.token_to_id("<|im_end|>") == 92542);
  CHECK(t.token_to_id("[UNUSED_TOKEN_145]") == 92542);  // the sentencepiece name of the same id
  CHECK(t.token_to_id("</box>") == 92552);
  CHECK(t.token_to_id("\xE2\x96\x81Hello") == 22190);
  CHECK(t.token_to_id(std::string_view("\0", 1)) == 354);
  CHECK_FALSE(t.token_to_id("no such piece").has_value());
  CHECK_FALSE(t.token_to_id("").has_value());
  CHECK(error_of([&] { t.id_to_token(-1); }) == ErrorCode::BadArgument);
  CHECK(error_of([&] { t.id_to_token(92553); }) == ErrorCode::BadArgument);
}

TEST_CASE("every text of the shared tokenizer corpus encodes to sentencepiece's ids and decodes back") {
  const Tokenizer& t = internlm2();
  const json corpus = vlac::test::read_fixture_json("tokenizer/corpus.json");
  REQUIRE(corpus["cases"].size() >= 100);
  int round_trips = 0;
  for (const json& c : corpus["cases"]) {
    const std::string text = c["text"].get<std::string>();
    INFO("text: ", json(text).dump());
    const std::vector<int32_t> expected = c["ids"].get<std::vector<int32_t>>();
    const std::vector<int32_t> ids = t.encode(text, false);
    CHECK(ids == expected);
    CHECK(t.decode(expected.data(), expected.size(), true) == c["decoded"].get<std::string>());
    CHECK(t.decode(expected.data(), expected.size(), false) == c["decoded_with_special"].get<std::string>());
    if (c["decoded"] == c["text"]) {
      CHECK(t.decode(ids, true) == text);
      ++round_trips;
    }
    if (c["decoded_with_special"] == c["text"]) CHECK(t.decode(ids, false) == text);
    std::vector<int32_t> with_bos = t.encode(text, true);
    REQUIRE(!with_bos.empty());
    CHECK(with_bos.front() == 1);
    CHECK(std::vector<int32_t>(with_bos.begin() + 1, with_bos.end()) == expected);
  }
  CHECK(round_trips > 100);
}

TEST_CASE("a JS string with lone surrogates encodes as if each were U+FFFD") {
  const Tokenizer& t = internlm2();
  const json corpus = vlac::test::read_fixture_json("tokenizer/corpus.json");
  REQUIRE(!corpus["lone_surrogates"].empty());
  for (const json& c : corpus["lone_surrogates"]) {
    const std::string utf8 = js_string_to_utf8(c["text_utf16_hex"].get<std::string>());
    INFO("utf16le: ", c["text_utf16_hex"].get<std::string>());
    CHECK(utf8 == c["text_as_encoded"].get<std::string>());
    CHECK(t.encode(utf8, false) == c["ids"].get<std::vector<int32_t>>());
  }
}

TEST_CASE("every tiny-a golden prompt tokenizes to its input_ids") {
  const Tokenizer& t = internlm2();
  const json golden = vlac::test::read_fixture_json("tiny-a/golden/cases.json");
  REQUIRE(golden["cases"].size() == 5);
  for (const json& c : golden["cases"]) {
    INFO("case: ", c["name"].get<std::string>());
    const std::string text = expand_image_bodies(c["text"].get<std::string>());
    CHECK(t.encode(text, true) == c["input_ids"].get<std::vector<int32_t>>());
  }
}

TEST_CASE("every VLAC prompt variant tokenizes to the official ids") {
  const Tokenizer& t = internlm2();
  const json prompts = vlac::test::read_fixture_json("vlac/prompts.json");
  REQUIRE(prompts["prompts"].size() >= 20);
  for (const json& p : prompts["prompts"]) {
    INFO("kind: ", p["kind"].get<std::string>(), " options: ", p["options"].dump());
    const std::vector<int32_t> expected = p["ids"].get<std::vector<int32_t>>();
    REQUIRE(!expected.empty());
    CHECK(expected.front() == 1);  // the prompts carry the BOS
    CHECK(t.encode(expand_image_bodies(p["text"].get<std::string>()), true) == expected);
  }
}

TEST_CASE("the project's own corpus encodes and decodes as sentencepiece does") {
  const Tokenizer& t = internlm2();
  const json corpus = read_own_corpus();
  REQUIRE(corpus["cases"].size() >= 300);
  for (const json& c : corpus["cases"]) {
    const std::string text = c["text"].get<std::string>();
    INFO("text: ", json(text).dump());
    const std::vector<int32_t> expected = c["ids"].get<std::vector<int32_t>>();
    CHECK(t.encode(text, false) == expected);
    CHECK(t.decode(expected, true) == c["decoded"].get<std::string>());
    CHECK(t.decode(expected, false) == c["decoded_with_special"].get<std::string>());
  }
}

TEST_CASE("ill-formed UTF-8 is read the way TextDecoder reads it") {
  const Tokenizer& t = internlm2();
  const std::vector<int32_t> replacement = t.encode("\xEF\xBF\xBD", false);
  CHECK(replacement == std::vector<int32_t>{65746});
  CHECK(t.encode("\xF0\x9F", false) == replacement);  // truncated: one maximal subpart
  CHECK(t.encode("\xFF", false) == replacement);
  CHECK(t.encode("\xED\xA0\x80", false) == t.encode("\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", false));  // surrogate
  CHECK(t.encode("a\xC0\xAF" "b", false) == t.encode("a\xEF\xBF\xBD\xEF\xBF\xBD" "b", false));      // overlong
  CHECK(t.encode("<s\xE4\xB8>", false) == t.encode("<s\xEF\xBF\xBD>", false));
}

TEST_CASE("decoding byte pieces that are not valid UTF-8 gives U+FFFD, never invalid text") {
  const Tokenizer& t = internlm2();
  // <0xF0> <0x9F> are the first two bytes of a 4-byte sequence; id 264 is "a".
  CHECK(t.decode({243, 162}, true) == "\xEF\xBF\xBD");
  CHECK(t.decode({243, 162, 264}, true) == "\xEF\xBF\xBD" "a");
  CHECK(t.decode({134}, true) == "\xEF\xBF\xBD");  // <0x83>: a lone continuation byte
  CHECK(t.decode({243, 162, 92542, 155, 131}, false) == "\xEF\xBF\xBD<|im_end|>\xEF\xBF\xBD\xEF\xBF\xBD");
  // A skipped special does not split the run: the bytes around it still form the emoji.
  CHECK(t.decode({243, 162, 92542, 155, 131}, true) == "\xF0\x9F\x98\x80");
}

TEST_CASE("decode rejects ids outside the vocabulary and accepts an empty list") {
  const Tokenizer& t = internlm2();
  std::string message;
  CHECK(error_of([&] { t.decode({264, 92553}, true); }, &message) == ErrorCode::BadArgument);
  CHECK(contains(message, "92553"));
  CHECK(contains(message, "index 1"));
  CHECK(error_of([&] { t.decode({-5}, false); }) == ErrorCode::BadArgument);
  CHECK(t.decode(nullptr, 0, true).empty());
  CHECK(error_of([&] { t.decode(nullptr, 3, true); }) == ErrorCode::BadArgument);
  CHECK(t.encode("", false).empty());
  CHECK(t.encode("", true) == std::vector<int32_t>{1});
}

// Best of 20 encodes of ~2,800 tokens. A Release build takes about 0.7 ms on the 2-core dev machine;
// sanitizer and unoptimised builds about 9 ms. An O(n^2) merge loop would take far longer than both.
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VLAC_TEST_SANITIZED 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(VLAC_TEST_SANITIZED) || !defined(NDEBUG)
constexpr double kEncodeBudgetMs = 60.0;
#else
constexpr double kEncodeBudgetMs = 3.0;
#endif

TEST_CASE("encoding a 2,500-token prompt takes well under a few milliseconds") {
  const Tokenizer& t = internlm2();
  const json corpus = read_own_corpus();
  std::string text;
  while (t.encode(text, false).size() < 2500)
    for (size_t i = 0; i < 100; ++i) text += corpus["cases"][i]["text"].get<std::string>() + "\n";
  const size_t tokens = t.encode(text, true).size();
  double best_ms = 1e9;
  for (int rep = 0; rep < 20; ++rep) {
    const auto start = std::chrono::steady_clock::now();
    const size_t n = t.encode(text, true).size();
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    REQUIRE(n == tokens);
    best_ms = std::min(best_ms, ms);
  }
  MESSAGE("encode: ", tokens, " tokens (", text.size(), " bytes) in ", best_ms, " ms");
  CHECK(best_ms < kEncodeBudgetMs);
}

TEST_CASE("BPE merges the highest-scoring pair first and the leftmost among equal scores") {
  SUBCASE("higher score wins") {
    const Tokenizer t = small_tokenizer(small_model(
        {{"a", -1, kNormal}, {"b", -1, kNormal}, {"c", -1, kNormal}, {"ab", -3, kNormal}, {"bc", -2, kNormal}}));
    CHECK(tokens_of(t, t.encode("abc", false)) == std::vector<std::string>{"a", "bc"});
  }
  SUBCASE("equal scores: leftmost") {
    const Tokenizer t = small_tokenizer(small_model(
        {{"a", -1, kNormal}, {"b", -1, kNormal}, {"c", -1, kNormal}, {"ab", -2, kNormal}, {"bc", -2, kNormal}}));
    CHECK(tokens_of(t, t.encode("abc", false)) == std::vector<std::string>{"ab", "c"});
    CHECK(tokens_of(t, t.encode("abcabc", false)) == std::vector<std::string>{"ab", "c", "ab", "c"});
  }
  SUBCASE("an UNUSED piece is split back into the pieces that formed it") {
    const Tokenizer t = small_tokenizer(small_model(
        {{"a", -1, kNormal}, {"b", -1, kNormal}, {"c", -1, kNormal}, {"ab", -2, kUnused}, {"abc", -3, kNormal}}));
    CHECK(tokens_of(t, t.encode("ab", false)) == std::vector<std::string>{"a", "b"});
    CHECK(tokens_of(t, t.encode("abc", false)) == std::vector<std::string>{"abc"});
  }
  SUBCASE("user-defined pieces are atomic and never merged") {
    const Tokenizer t = small_tokenizer(small_model(
        {{"a", -1, kNormal}, {"b", -1, kNormal}, {"ab", -2, kNormal}, {"[x]", 0, kUserDefined}, {"a[x]", 5, kNormal}}));
    CHECK(tokens_of(t, t.encode("a[x]b", false)) == std::vector<std::string>{"a", "[x]", "b"});
  }
  SUBCASE("without byte fallback an unknown character is <unk>") {
    const Tokenizer t = small_tokenizer(small_model({{"a", -1, kNormal}}));
    CHECK(t.encode("a\xC3\xA9" "a", false) == std::vector<int32_t>{3, 0, 3});
    CHECK(t.decode({3, 0, 3}, false) == "a<unk>a");  // <unk> is an added token here
  }
}

TEST_CASE("the normaliser flags add_dummy_prefix and remove_extra_whitespaces act as in sentencepiece") {
  ModelSpec m = small_model({{"\xE2\x96\x81", -1, kNormal}, {"a", -1, kNormal}, {"b", -1, kNormal}});
  m.add_dummy_prefix = true;
  m.remove_extra_whitespaces = true;
  const Tokenizer t = small_tokenizer(m);
  const std::vector<int32_t> ids = t.encode("  a   b ", false);
  CHECK(tokens_of(t, ids) == std::vector<std::string>{"\xE2\x96\x81", "a", "\xE2\x96\x81", "b"});
  CHECK(t.decode(ids, true) == "a b");  // the dummy prefix is dropped again
  CHECK(t.encode("   ", false).empty());
}

TEST_CASE("a missing tokenizer file is NotFound naming the file") {
  std::string message;
  CHECK(error_of([] { Tokenizer::load("/nonexistent/vlac-model"); }, &message) == ErrorCode::NotFound);
  CHECK(contains(message, "tokenizer.model"));

  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("vlac-tokenizer-test-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const fs::path tiny = vlac::test::fixture_path("tiny-a");
  fs::copy_file(tiny / "tokenizer.model", dir / "tokenizer.model", fs::copy_options::overwrite_existing);
  CHECK(error_of([&] { Tokenizer::load(dir.string()); }, &message) == ErrorCode::NotFound);
  CHECK(contains(message, "tokenizer_config.json"));
  fs::copy_file(tiny / "tokenizer_config.json", dir / "tokenizer_config.json", fs::copy_options::overwrite_existing);
  CHECK(error_of([&] { Tokenizer::load(dir.string()); }, &message) == ErrorCode::NotFound);
  CHECK(contains(message, "added_tokens.json"));
  fs::copy_file(tiny / "added_tokens.json", dir / "added_tokens.json", fs::copy_options::overwrite_existing);
  CHECK(Tokenizer::load(dir.string()).vocab_size() == 92553);
  fs::remove_all(dir);
}

TEST_CASE("a truncated tokenizer.model is BadTokenizer naming the file") {
  const vlac::MappedFile file(vlac::test::fixture_path("tiny-a/tokenizer.model"));
  const std::string_view model(reinterpret_cast<const char*>(file.data()), file.size());
  const std::string config = tiny_file("tokenizer_config.json"), added = tiny_file("added_tokens.json");
  // The file is 92,544 pieces, then trainer_spec, then normalizer_spec (the last 18 bytes). Every cut
  // before the end of trainer_spec loses model_type (BPE), every other cut ends inside a field.
  const size_t normalizer_start = model.size() - 18;
  std::vector<size_t> cuts = {0, 1, 2, 3, 10, 100, 1000, 12345, model.size() / 2, normalizer_start - 1,
                              normalizer_start - 40};
  for (size_t k = 1; k < 18; ++k) cuts.push_back(normalizer_start + k);
  for (size_t cut : cuts) {
    INFO("cut at ", cut);
    std::string message;
    CHECK(error_of([&] { Tokenizer::from_parts(model.substr(0, cut), config, added, "tiny"); }, &message) ==
          ErrorCode::BadTokenizer);
    CHECK(contains(message, "tiny/tokenizer.model"));
  }
}

TEST_CASE("a corrupt or hand-made tokenizer.model is BadTokenizer saying what is wrong") {
  const std::string config = kSmallConfig;
  auto check_bad = [&](const std::string& bytes, const std::string& what) {
    INFO("expect: ", what);
    std::string message;
    CHECK(error_of([&] { Tokenizer::from_parts(bytes, config, small_added(5), "m"); }, &message) ==
          ErrorCode::BadTokenizer);
    CHECK(contains(message, "m/tokenizer.model"));
    CHECK_MESSAGE(contains(message, what), message);
  };
  const ModelSpec good = small_model({{"a", -1, kNormal}, {"b", -1, kNormal}});
  REQUIRE(small_tokenizer(good).vocab_size() == 10);

  check_bad("", "no pieces");
  check_bad("this is plain text, not a protobuf", "not a valid sentencepiece model");
  check_bad(std::string(64, '\xFF'), "varint");
  check_bad(std::string("\x0A\x80", 2), "truncated varint");
  check_bad(std::string("\x0A\x05" "ab", 4), "runs past the end");
  check_bad(std::string("\x00\x01", 2), "invalid field number");
  check_bad(std::string("\x0B", 1), "groups");
  check_bad(std::string("\x0E", 1), "invalid wire type");
  check_bad(field_varint(1, 5), "wire type");
  check_bad(model_bytes(good) + std::string("\x4D\x01\x02", 3), "truncated fixed32");  // field 9, fixed32

  ModelSpec m = good;
  m.model_type = 1;
  check_bad(model_bytes(m), "UNIGRAM");
  m = good;
  m.extra_normalizer = field_bytes(2, "\x01\x02\x03\x04");
  check_bad(model_bytes(m), "precompiled_charsmap");
  m = good;
  m.extra_trainer = field_varint(24, 1);
  check_bad(model_bytes(m), "treat_whitespace_as_suffix");
  m = good;
  m.pieces.push_back({"a", -2, kNormal});
  check_bad(model_bytes(m), "already defined");
  m = good;
  m.pieces[0].type = kNormal;
  check_bad(model_bytes(m), "UNKNOWN");
  m = good;
  m.pieces.push_back({"<unk2>", 0, kUnknown});
  check_bad(model_bytes(m), "both of type UNKNOWN");
  m = good;
  m.pieces.push_back({"<0x41>", 0, kByte});
  check_bad(model_bytes(m), "byte_fallback is false");
  m = good;
  m.byte_fallback = true;
  m.pieces.push_back({"<0xZZ>", 0, kByte});
  check_bad(model_bytes(m), "not of the form <0xHH>");
  m = good;
  m.pieces.push_back({"c", std::numeric_limits<float>::quiet_NaN(), kNormal});
  check_bad(model_bytes(m), "finite");
  m = good;
  m.pieces.push_back({"c", 0, 7});
  check_bad(model_bytes(m), "unknown piece type 7");
  m = good;
  m.pieces.push_back({"", 0, kNormal});
  check_bad(model_bytes(m), "empty piece");
  m = good;
  m.extra_model = field_bytes(5, field_bytes(2, "rules"));
  check_bad(model_bytes(m), "denormalizer_spec");

  // Unknown fields of every wire type are skipped.
  m = good;
  m.extra_model = field_varint(77, 3) + field_bytes(78, "x") + field_float(79, 1.0f) +
                  varint(80 << 3 | 1) + std::string(8, '\0');
  m.extra_trainer = field_bytes(1, "input.txt") + field_varint(4, 8000);
  CHECK(Tokenizer::from_parts(model_bytes(m), config, small_added(5), "m").vocab_size() == 10);
}

TEST_CASE("every single flipped byte of the real tokenizer.model loads or fails cleanly") {
  const std::string model = [] {
    const vlac::MappedFile f(vlac::test::fixture_path("tiny-a/tokenizer.model"));
    return std::string(reinterpret_cast<const char*>(f.data()), f.size());
  }();
  const std::string config = tiny_file("tokenizer_config.json"), added = tiny_file("added_tokens.json");
  int failed = 0, loaded = 0;
  for (size_t pos : {size_t(0), size_t(1), size_t(2), size_t(5), size_t(7), size_t(500000), model.size() - 90,
                     model.size() - 75, model.size() - 17, model.size() - 12, model.size() - 1}) {
    for (uint8_t mask : {0x01, 0x80, 0xFF}) {
      std::string bytes = model;
      bytes[pos] = static_cast<char>(bytes[pos] ^ mask);
      try {
        const Tokenizer t = Tokenizer::from_parts(bytes, config, added, "flip");
        t.decode(t.encode("Pick up the cup. <|im_end|> 你好 😀", true), false);
        ++loaded;
      } catch (const vlac::Error& e) {
        CHECK(e.code() == ErrorCode::BadTokenizer);
        ++failed;
      }
    }
  }
  CHECK(failed > 0);
  MESSAGE(failed, " corrupted copies rejected, ", loaded, " still valid");
}

TEST_CASE("a broken tokenizer_config.json or added_tokens.json is BadTokenizer naming the file") {
  const std::string model = model_bytes(small_model({{"a", -1, kNormal}}));
  const std::string added = small_added(4);
  auto check_config = [&](const std::string& config, const std::string& what) {
    INFO("config: ", config);
    std::string message;
    CHECK(error_of([&] { Tokenizer::from_parts(model, config, added, "dir"); }, &message) == ErrorCode::BadTokenizer);
    CHECK(contains(message, "dir/tokenizer_config.json"));
    CHECK_MESSAGE(contains(message, what), message);
  };
  check_config("", "invalid JSON");
  check_config("{\"add_bos_token\": true,", "invalid JSON");
  check_config("{\"bad\": \"\xFF\"}", "invalid JSON");
  check_config("[1, 2]", "not a JSON object");
  check_config(R"({"add_bos_token": "yes"})", "add_bos_token");
  check_config(R"({"added_tokens_decoder": []})", "added_tokens_decoder");
  check_config(R"({"added_tokens_decoder": {"x1": {"content": "<q>"}}})", "x1");
  check_config(R"({"added_tokens_decoder": {"-1": {"content": "<q>"}}})", "-1");
  check_config(R"({"added_tokens_decoder": {"99999999999": {"content": "<q>"}}})", "99999999999");
  check_config(R"({"added_tokens_decoder": {"4": {"special": true}}})", "content");
  check_config(R"({"added_tokens_decoder": {"4": {"content": 5}}})", "content");
  check_config(R"({"added_tokens_decoder": {"4": {"content": ""}}})", "empty");
  check_config(R"({"added_tokens_decoder": {"4": {"content": "<q>", "special": 1}}})", "special");
  {
    std::string message;  // found while reading added_tokens.json, which gives id 4 to <|im_start|>
    CHECK(error_of([&] { Tokenizer::from_parts(model, R"({"added_tokens_decoder": {"4": {"content": "<x>"}}})", added, "dir"); },
                   &message) == ErrorCode::BadTokenizer);
    CHECK(contains(message, "dir/added_tokens.json: token id 4 is both \"<x>\" and \"<|im_start|>\""));
  }
  check_config(R"({"bos_token": "<nope>"})", "<nope>");
  check_config(R"({"additional_special_tokens": "<img>"})", "additional_special_tokens");
  check_config(R"({"additional_special_tokens": [{"id": 3}]})", "content");

  auto check_added = [&](const std::string& added_json, const std::string& what) {
    INFO("added_tokens.json: ", added_json);
    std::string message;
    CHECK(error_of([&] { Tokenizer::from_parts(model, kSmallConfig, added_json, "dir"); }, &message) ==
          ErrorCode::BadTokenizer);
    CHECK_MESSAGE(contains(message, what), message);
  };
  check_added("not json", "dir/added_tokens.json");
  check_added("[]", "not a JSON object");
  check_added(R"({"<img>": "4"})", "not a token id");
  check_added(R"({"<img>": -4})", "not a token id");
  check_added(R"({"<img>": 4.5})", "not a token id");
  check_added(R"({"<img>": 1e30})", "not a token id");
  check_added(R"({"<img>": 9223372036854775808})", "not a token id");
  check_added(R"({"<|im_start|>": 4, "<|im_end|>": 5, "<img>": 6, "</img>": 7, "<IMG_CONTEXT>": 9})", "expected 8");
  check_added(R"({"<|im_start|>": 4, "<|im_end|>": 5, "<img>": 6, "</img>": 7})", "<IMG_CONTEXT>");
  check_added(R"({"<|im_start|>": 4, "<|im_end|>": 4})", "token id 4 is both");
  check_added(R"({"<s>": 4})", "has ids");
}
