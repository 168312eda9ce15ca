// The project's generated tokenizer (tokenizer/tokenizer_writer.h): it loads with the engine's
// Tokenizer, has the InternVL2 id layout relative to its size, and round-trips text.
#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_writer.h"

using vlac::ErrorCode;
using vlac::Tokenizer;
using vlac::json;

namespace {

namespace fs = std::filesystem;

// A fresh folder under the system temp dir, removed at scope end.
struct TempDir {
  fs::path path;
  explicit TempDir(const std::string& tag) {
    path = fs::temp_directory_path() / ("vlac-test-gen-tok-" + tag + "-" + std::to_string(::getpid()));
    fs::remove_all(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string str() const { return path.string(); }
};

const Tokenizer& demo_tokenizer() {
  static TempDir dir("demo");
  static const Tokenizer t = [] {
    vlac::write_generated_tokenizer(dir.str(), vlac::kDemoTokenizerPieces);
    return Tokenizer::load(dir.str());
  }();
  return t;
}

std::string repeat(const std::string& s, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += s;
  return out;
}

// The VLAC pair-critic prompt as the swift template renders it (vlac-behavior.md §2), with 4 image
// tokens per image instead of 256.
std::string pair_prompt() {
  const std::string image = "<img>" + repeat("<IMG_CONTEXT>", 4) + "</img>\n";
  return "<|im_start|>system\nYou are a visual-language assistant designed to interpret spatial and task-related "
         "information from images and text.<|im_end|>\n<|im_start|>user\nImage-1: " +
         image + "\nImage-2: " + image +
         "\nCompare two images and evaluate whether the second image is closer to achieving task objectives "
         "compared to the first image.\nThe target task is: <task> Scoop the rice into the rice cooker. </task> "
         "<score><|im_end|>\n<|im_start|>assistant\n";
}

}  // namespace

TEST_CASE("the generated tokenizer loads and has the InternVL2 id layout for its size") {
  const Tokenizer& t = demo_tokenizer();
  const int32_t n = vlac::kDemoTokenizerPieces;
  CHECK(t.vocab_size() == n + 9);
  const vlac::SpecialTokens& s = t.special();
  CHECK(s.unk == 0);
  CHECK(s.bos == 1);
  CHECK(s.eos == 2);
  CHECK(s.im_end == n - 2);
  CHECK(s.im_start == n - 1);
  CHECK(s.img == n);
  CHECK(s.img_end == n + 1);
  CHECK(s.img_context == n + 2);
  CHECK(t.add_bos_token());
  const char* chat[] = {"<|plugin|>", "<|interpreter|>", "<|action_end|>", "<|action_start|>", "<|im_end|>", "<|im_start|>"};
  for (int i = 0; i < 6; ++i) {
    CHECK(t.token_to_id(chat[i]) == n - 6 + i);
    CHECK(t.is_special(n - 6 + i));
    CHECK(t.id_to_token(n - 6 + i) == chat[i]);
  }
  const char* added[] = {"<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>", "<ref>", "</ref>", "<box>", "</box>"};
  for (int i = 0; i < 9; ++i) CHECK(t.token_to_id(added[i]) == n + i);
  for (int b : {0, 10, 0x41, 0xFF}) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    CHECK(t.token_to_id(name) == b + 3);
  }
}

TEST_CASE("text round-trips through the generated tokenizer, prompts and odd text included") {
  const Tokenizer& t = demo_tokenizer();
  const std::vector<std::string> texts = {
      "Hello world",
      " Hello",
      "  two  spaces",
      "Image-1: ",
      "The target task is: <task> Pick up the cup. </task> <score>",
      "+12 -100 12.5 2024 0.125",
      "line one\nline two\n\n\tindented",
      "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C",  // 你好，世界: byte fallback
      "\xF0\x9F\x98\x80 emoji",
      "caf\xC3\xA9 na\xC3\xAFve",
      "<think> first image progressing: 35% second image progressing: 60% </think>25",
      "{x: -19mm, y: 11mm, z: 418mm, roll: -125 degrees, open: 27}",
      "~!@#$%^&*()_+`-=[]\\{}|;':\",./<>?",
      pair_prompt(),
  };
  for (const std::string& text : texts) {
    CAPTURE(text);
    const std::vector<int32_t> ids = t.encode(text, true);
    REQUIRE(!ids.empty());
    CHECK(ids[0] == 1);
    for (int32_t id : ids) CHECK((id >= 0 && id < t.vocab_size()));
    const std::vector<int32_t> body(ids.begin() + 1, ids.end());
    CHECK(t.decode(body, false) == text);
  }
}

TEST_CASE("the generated tokenizer learned pieces: prompt text takes far fewer ids than bytes") {
  const Tokenizer& t = demo_tokenizer();
  const std::string text = "Compare two images and evaluate whether the second image is closer to the task.";
  const std::vector<int32_t> ids = t.encode(text, false);
  CHECK(ids.size() * 3 < text.size());
  for (int32_t id : ids) CHECK(id >= 259);  // no byte fallback for ASCII
}

TEST_CASE("prompt specials become single ids and decode back to their names") {
  const Tokenizer& t = demo_tokenizer();
  const int32_t n = vlac::kDemoTokenizerPieces;
  const std::vector<int32_t> ids = t.encode("<|im_start|>user\nImage-1: <img><IMG_CONTEXT><IMG_CONTEXT></img><|im_end|>", false);
  REQUIRE(ids.size() >= 7);
  CHECK(ids.front() == n - 1);
  CHECK(ids.back() == n - 2);
  int context = 0;
  for (int32_t id : ids) context += id == n + 2;
  CHECK(context == 2);
  // sentencepiece's own spelling of the renamed pieces is atomic too (architecture.md §7.2 item 2)
  CHECK(t.encode("[UNUSED_TOKEN_145]", false) == std::vector<int32_t>{n - 2});
  CHECK(t.decode(ids, true) == "user\nImage-1: ");
}

TEST_CASE("the generated tokenizer is deterministic and writes InternVL2's companion files") {
  CHECK(vlac::generated_tokenizer_model(1000) == vlac::generated_tokenizer_model(1000));
  TempDir dir("files");
  vlac::write_generated_tokenizer(dir.str(), 1000);
  for (const char* f : {"tokenizer.model", "tokenizer_config.json", "added_tokens.json", "special_tokens_map.json",
                        "generation_config.json"})
    CHECK(fs::is_regular_file(dir.path / f));
  CHECK(vlac::read_text_file((dir.path / "tokenizer.model").string()) == vlac::generated_tokenizer_model(1000));
  const json gen = json::parse(vlac::read_text_file((dir.path / "generation_config.json").string()));
  CHECK(gen["eos_token_id"] == json::array({998, 999}));
  const json added = json::parse(vlac::read_text_file((dir.path / "added_tokens.json").string()));
  CHECK(added.size() == 9);
  CHECK(added["<IMG_CONTEXT>"] == 1002);
  CHECK(Tokenizer::load(dir.str()).vocab_size() == 1009);
}

TEST_CASE("the generated tokenizer can have the real InternVL2 size, padded past what it learned") {
  TempDir dir("full");
  vlac::write_generated_tokenizer(dir.str(), 92544);
  const Tokenizer t = Tokenizer::load(dir.str());
  CHECK(t.vocab_size() == 92553);
  CHECK(t.special().im_end == 92542);
  CHECK(t.special().im_start == 92543);
  CHECK(t.special().img_context == 92546);
  const std::string text = "Pick up the red cup and put it in the sink.";
  CHECK(t.decode(t.encode(text, false), false) == text);
}

TEST_CASE("a generated tokenizer too small for its fixed pieces is refused") {
  const int32_t least = vlac::min_generated_tokenizer_pieces();
  CHECK(least > 259 + 6);
  CHECK(vlac::generated_tokenizer_model(least).size() > 0);
  try {
    vlac::generated_tokenizer_model(least - 1);
    FAIL("expected BadArgument");
  } catch (const vlac::Error& e) {
    CHECK(e.code() == ErrorCode::BadArgument);
    CHECK(std::string(e.what()).find("vocab_pieces") != std::string::npos);
  }
}
