#include "tokenizer/tokenizer_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "common/error.h"
#include "common/json.h"
#include "common/mapped_file.h"
#include "tokenizer/utf8.h"

namespace vlac {

namespace {

// The training text: our own sentences about robot tasks, numbers, and the wording of VLAC's
// prompts (paraphrased), so the learned pieces cover what the demo sends.
constexpr std::string_view kCorpus = R"(You are a visual-language assistant that reads images and text about robot tasks.
Give precise answers that help the robot reach the task objective.
Image-1: <image>
Image-2: <image>
Compare the two images and decide whether the second image is closer to finishing the task than the first image.
A positive score means the second image is closer, a negative score means the first image is closer.
Answer with the relative progress of the target task after <score>. The target task is: <task> Pick up the red cup. </task> <score>
The target task is: <task> Put the sponge in the sink. </task> <score>
The target task is: <task> Open the top drawer. </task> <score>
The target task is: <task> Close the laptop lid. </task> <score>
The target task is: <task> Scoop the beans into the bowl. </task> <score>
The target task is: <task> Fold the towel in half. </task> <score>
The target task is: <task> Stack the green block on the blue block. </task> <score>
The target task is: <task> Wipe the table with the cloth. </task> <score>
The target task is: <task> Pour the water into the glass. </task> <score>
The target task is: <task> Hang the mug on the rack. </task> <score>
This image is the start of the trajectory of the two images that follow.
Look at the image and tell whether the task is done. Answer yes or no after <done>.
The task to finish is: <task> Move the banana to the plate. </task> <done>
<trajectory> <task> Push the box to the left. </task>: 0% <image>
 20% <image>
 40% <image>
 60% <image>
 80% <image>
 100% <image>
</trajectory>
The current state of the gripper of the robot arm in the image is: <state> {x: -19mm, y: 11mm, z: 418mm, roll: -125 degrees, pitch: 65 degrees, yaw: -134 degrees, open: 27} </state>.
What action should the robot take next to complete the instruction: <task> Turn on the lamp. </task> <action>
The action the robot takes now: <action> {x: 12mm, y: -3mm, z: -40mm, roll: 5 degrees, pitch: 0 degrees, yaw: 10 degrees, open: 0} </action>.
Rate the score of the action for the task: <task> Place the apple in the basket. </task> <score>
Compare the two images and infer which action happened between them. <infer> <action>
Compare the two images and infer which task is being done. <infer> <task>
<think> The first image progressing: 35% and the second image progressing: 60% </think>25
<think> first image progressing: 70%, second image progressing: 65% </think>-5
+12 -8 +0 -100 +100 12.5 -3.75 0.125 99.9 1.0 2.0 3.0 4.5 7.25 10 15 20 25 30 35 40 45 50 55 60 65 70 75 80 85 90 95 100
0 1 2 3 4 5 6 7 8 9 11 13 14 16 17 18 19 21 22 23 24 26 27 28 29 31 32 33 34 36 37 38 39 41 42 43 44
2024 2025 1000 1024 2048 4096 448 256 14 0.5 0.25 0.75 -0.5 -1 -2 -10 -20 -25 -50
The robot arm moves its gripper above the cup, lowers it, closes the fingers and lifts the cup.
The gripper opens, the block falls onto the table, and the arm returns to its home position.
The camera on the wrist sees the handle of the drawer; the arm pulls the handle and the drawer opens.
The second frame shows the towel folded once; the first frame shows the towel flat on the table.
The cup is now in the sink, so the task is complete and the progress is one hundred percent.
The arm knocked the cup over, so the second image is further from the goal than the first image.
Both images show the same state of the scene, so the score is zero.
The left arm holds the bowl while the right arm scoops the rice with the spoon.
The robot reaches for the bottle, grasps the cap, turns it two times and puts the cap on the table.
Frame 3 of 10: the lid is half closed. Frame 7 of 10: the lid is closed. Frame 10 of 10: done.
Task progress values: 0.0, 0.1, 0.25, 0.4, 0.55, 0.7, 0.85, 1.0.
The value of each frame is the sum of the scores before it, clipped between 0 and 100.
The episode has 120 frames at 5 frames per second, and every fifth frame is scored.
Pick the pen up from the desk and put it into the cup on the right side.
Slide the door of the cabinet to the left until it is fully open.
Press the red button on the panel and then press the green button.
Sort the fruit: put the apples in the left basket and the oranges in the right basket.
Insert the plug into the socket carefully without bending the pins.
Pull the chair back from the table and push it in again.
Take the lid off the pot, stir the soup with the ladle and put the lid back.
Water the plant with the small can and put the can back on the shelf.
Is the task finished? Yes, the object is in the target area. No, the gripper is still empty.
Describe the image: a white table, a robot arm, a red cup, a blue plate and a green sponge.
The user asks a question and the assistant answers it in one short sentence.
system
user
assistant
Hello world! How are you? I am fine, thank you. What is the next step?
Please rate the score directly, following these rules:
Positive score: if the second image is closer to the task objective than the first image, give a positive score that reflects how large the improvement is.
Negative score: if the second image moves away from the task objective compared with the first image, give a negative score that reflects how large the setback is.
Zero score: if both images show the same level of completion, give a score of 0.
)";

// The chat specials as sentencepiece spells them, in id order, and the names tokenizer_config.json
// gives them (architecture.md §7.2 item 2).
constexpr const char* kChatPieces[] = {"[UNUSED_TOKEN_141]", "[UNUSED_TOKEN_142]", "[UNUSED_TOKEN_143]",
                                       "[UNUSED_TOKEN_144]", "[UNUSED_TOKEN_145]", "[UNUSED_TOKEN_146]"};
constexpr const char* kChatNames[] = {"<|plugin|>",       "<|interpreter|>", "<|action_end|>",
                                      "<|action_start|>", "<|im_end|>",      "<|im_start|>"};
// added_tokens.json, in id order after the sentencepiece pieces (architecture.md §7.3).
constexpr const char* kAddedTokens[] = {"<img>", "</img>", "<IMG_CONTEXT>", "<quad>", "</quad>",
                                        "<ref>", "</ref>", "<box>",        "</box>"};
constexpr int32_t kFixedPieces = 3 + 256;  // <unk> <s> </s> and the byte pieces
constexpr int32_t kMaxPieces = 1 << 24;
constexpr const char* kSpace = "\xE2\x96\x81";  // U+2581, sentencepiece's escaped space

enum Type : uint8_t { kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6 };

struct Piece {
  std::string text;
  float score;
  Type type;
};

// ---- protobuf wire format (the reader's counterpart, tokenizer/sentencepiece_model.cpp) ----------

void put_varint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7F) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}
void put_tag(std::string& out, uint32_t field, uint32_t wire_type) { put_varint(out, uint64_t{field} << 3 | wire_type); }
// int32 fields are sign-extended to 64 bits on the wire (so -1 takes 10 bytes).
void put_int(std::string& out, uint32_t field, int64_t v) {
  put_tag(out, field, 0);
  put_varint(out, static_cast<uint64_t>(v));
}
void put_bytes(std::string& out, uint32_t field, std::string_view bytes) {
  put_tag(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes.data(), bytes.size());
}
void put_float(std::string& out, uint32_t field, float f) {
  put_tag(out, field, 5);
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  for (int i = 0; i < 4; ++i) out += static_cast<char>(bits >> (8 * i));  // little-endian
}

std::string model_proto(const std::vector<Piece>& pieces) {
  std::string out;
  for (const Piece& p : pieces) {
    std::string m;  // ModelProto.SentencePiece: piece 1, score 2, type 3
    put_bytes(m, 1, p.text);
    put_float(m, 2, p.score);
    if (p.type != kNormal) put_int(m, 3, p.type);
    put_bytes(out, 1, m);
  }
  std::string trainer;  // TrainerSpec
  put_int(trainer, 3, 2);  // model_type BPE
  put_int(trainer, 4, static_cast<int64_t>(pieces.size()));  // vocab_size
  put_int(trainer, 35, 1);  // byte_fallback
  put_int(trainer, 40, 0);  // unk_id
  put_int(trainer, 41, 1);  // bos_id
  put_int(trainer, 42, 2);  // eos_id
  put_int(trainer, 43, -1);  // pad_id: none (HF pads with </s>)
  put_bytes(trainer, 45, "<unk>");
  put_bytes(trainer, 46, "<s>");
  put_bytes(trainer, 47, "</s>");
  put_bytes(out, 2, trainer);
  std::string normalizer;  // NormalizerSpec, as InternLM2's (architecture.md §7.1)
  put_bytes(normalizer, 1, "identity");
  put_int(normalizer, 3, 0);  // add_dummy_prefix
  put_int(normalizer, 4, 0);  // remove_extra_whitespaces
  put_int(normalizer, 5, 1);  // escape_whitespaces
  put_bytes(out, 3, normalizer);
  return out;
}

// ---- training -------------------------------------------------------------------------------------

std::vector<std::string> code_points(std::string_view s) {
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;  // kCorpus is well-formed UTF-8
    out.emplace_back(s.substr(i, n));
    i += n;
  }
  return out;
}

// Training words: spaces become U+2581 and start a word (sentencepiece's split_by_whitespace);
// runs of newlines are words of their own. Counted, so the training works on distinct words.
std::map<std::string, int64_t> corpus_words() {
  std::map<std::string, int64_t> words;
  std::string word;
  auto flush = [&] {
    if (!word.empty()) ++words[word];
    word.clear();
  };
  for (size_t i = 0; i < kCorpus.size(); ++i) {
    const char c = kCorpus[i];
    if (c == ' ') {
      flush();
      word = kSpace;
    } else if (c == '\n') {
      if (!word.empty() && word.back() != '\n') flush();
      word += c;
    } else {
      if (!word.empty() && word.back() == '\n') flush();
      word += c;
    }
  }
  flush();
  return words;
}

// The single characters: the corpus's, printable ASCII, tab and U+2581, most frequent first (ties by
// byte order), so any ASCII text encodes without byte fallback.
std::vector<std::string> base_characters(const std::map<std::string, int64_t>& words) {
  std::map<std::string, int64_t> count;
  for (const auto& [w, n] : words)
    for (const std::string& c : code_points(w)) count[c] += n;
  for (char c = 0x21; c < 0x7F; ++c) count.emplace(std::string(1, c), 0);
  count.emplace("\t", 0);
  count.emplace(kSpace, 0);
  std::vector<std::pair<std::string, int64_t>> v(count.begin(), count.end());
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  std::vector<std::string> out;
  for (const auto& kv : v) out.push_back(kv.first);
  return out;
}

// Classic BPE on the counted words: merge the most frequent adjacent pair (ties: the smaller pair in
// byte order) while it occurs at least twice, recording each new piece. At most `limit` pieces.
std::vector<std::string> learn_merges(const std::map<std::string, int64_t>& words, size_t limit,
                                      const std::unordered_set<std::string>& existing) {
  std::vector<std::pair<std::vector<std::string>, int64_t>> seqs;
  for (const auto& [w, n] : words) seqs.emplace_back(code_points(w), n);
  std::unordered_set<std::string> known = existing;
  std::vector<std::string> learned;
  while (learned.size() < limit) {
    std::map<std::pair<std::string, std::string>, int64_t> pairs;
    for (const auto& [s, n] : seqs)
      for (size_t i = 0; i + 1 < s.size(); ++i) pairs[{s[i], s[i + 1]}] += n;
    const std::pair<std::string, std::string>* best = nullptr;
    int64_t best_n = 1;
    for (const auto& [p, n] : pairs)
      if (n > best_n) {  // strict: the first (smallest) pair wins a tie
        best = &p;
        best_n = n;
      }
    if (!best) break;
    const std::string left = best->first, right = best->second, merged = left + right;
    for (auto& [s, n] : seqs) {
      std::vector<std::string> next;
      next.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == left && s[i + 1] == right) {
          next.push_back(merged);
          ++i;
        } else {
          next.push_back(s[i]);
        }
      }
      s = std::move(next);
    }
    if (known.insert(merged).second) learned.push_back(merged);
  }
  return learned;
}

// The tokenizer's learned part: single characters, then merges, then fillers, `n` in all.
// Fillers ("▁qz" + letters, in counting order) only give the vocabulary its size: they spell words
// that the text the engine sends does not contain.
std::vector<std::string> learned_pieces(size_t n) {
  const auto words = corpus_words();
  std::vector<std::string> out = base_characters(words);
  std::unordered_set<std::string> known(out.begin(), out.end());
  const std::vector<std::string> merges = learn_merges(words, n - out.size(), known);
  for (const std::string& m : merges) known.insert(m);
  out.insert(out.end(), merges.begin(), merges.end());
  for (uint64_t k = 0; out.size() < n; ++k) {
    std::string filler = kSpace;
    std::string letters;
    uint64_t v = k;
    do {
      letters += static_cast<char>('a' + v % 26);
      v /= 26;
    } while (v);
    filler += "qz" + letters;  // "qz": no English word starts so; keeps fillers apart from merges
    if (known.insert(filler).second) out.push_back(filler);
  }
  return out;
}

int32_t base_character_count() { return static_cast<int32_t>(base_characters(corpus_words()).size()); }

std::vector<Piece> all_pieces(int32_t vocab_pieces) {
  if (vocab_pieces < min_generated_tokenizer_pieces() || vocab_pieces > kMaxPieces)
    fail(ErrorCode::BadArgument, "generated tokenizer: vocab_pieces " + std::to_string(vocab_pieces) +
                                     " is outside [" + std::to_string(min_generated_tokenizer_pieces()) + ", " +
                                     std::to_string(kMaxPieces) + "]");
  std::vector<Piece> pieces;
  pieces.reserve(static_cast<size_t>(vocab_pieces));
  pieces.push_back({"<unk>", 0.0f, kUnknown});
  pieces.push_back({"<s>", 0.0f, kControl});
  pieces.push_back({"</s>", 0.0f, kControl});
  char name[8];
  for (int b = 0; b < 256; ++b) {
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    pieces.push_back({name, 0.0f, kByte});
  }
  const size_t n_learned = static_cast<size_t>(vocab_pieces) - kFixedPieces - std::size(kChatPieces);
  const std::vector<std::string> learned = learned_pieces(n_learned);
  for (size_t r = 0; r < learned.size(); ++r) pieces.push_back({learned[r], -static_cast<float>(r), kNormal});
  for (const char* p : kChatPieces) pieces.push_back({p, 0.0f, kUserDefined});
  return pieces;
}

void write_file(const std::string& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) fail(ErrorCode::BadArgument, "cannot create " + path + ": " + std::strerror(errno));
  const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
  if (std::fclose(f) != 0 || !ok) fail(ErrorCode::BadArgument, "cannot write " + path + ": " + std::strerror(errno));
}

using ojson = nlohmann::ordered_json;

ojson added_token(const std::string& content) {
  return {{"content", content}, {"lstrip", false}, {"normalized", false},
          {"rstrip", false},    {"single_word", false}, {"special", true}};
}

ojson additional_special_tokens() {
  ojson list = ojson::array();
  for (int i = 5; i >= 0; --i) list.push_back(kChatNames[i]);  // <|im_start|> first, as InternVL2 lists them
  for (const char* t : kAddedTokens) list.push_back(t);
  return list;
}

}  // namespace

int32_t min_generated_tokenizer_pieces() {
  return kFixedPieces + base_character_count() + static_cast<int32_t>(std::size(kChatPieces));
}

std::string generated_tokenizer_model(int32_t vocab_pieces) { return model_proto(all_pieces(vocab_pieces)); }

void write_generated_tokenizer(const std::string& dir, int32_t vocab_pieces) {
  const std::string model = generated_tokenizer_model(vocab_pieces);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail(ErrorCode::BadArgument, "cannot create folder " + dir + ": " + ec.message());

  const int32_t chat0 = vocab_pieces - static_cast<int32_t>(std::size(kChatPieces));
  const int32_t im_end = chat0 + 4, im_start = chat0 + 5;
  ojson decoder = ojson::object();
  decoder["0"] = added_token("<unk>");
  decoder["1"] = added_token("<s>");
  decoder["2"] = added_token("</s>");
  for (size_t i = 0; i < std::size(kChatNames); ++i) decoder[std::to_string(chat0 + i)] = added_token(kChatNames[i]);
  ojson added = ojson::object();
  for (size_t i = 0; i < std::size(kAddedTokens); ++i) {
    decoder[std::to_string(vocab_pieces + i)] = added_token(kAddedTokens[i]);
    added[kAddedTokens[i]] = vocab_pieces + static_cast<int32_t>(i);
  }
  const ojson config = {
      {"add_bos_token", true},
      {"add_eos_token", false},
      {"added_tokens_decoder", decoder},
      {"additional_special_tokens", additional_special_tokens()},
      {"bos_token", "<s>"},
      {"chat_template",
       "{{ bos_token }}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
       "message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}"
       "{{ '<|im_start|>assistant\\n' }}{% endif %}"},
      {"clean_up_tokenization_spaces", false},
      {"eos_token", "</s>"},
      {"model_max_length", 8192},
      {"pad_token", "</s>"},
      {"tokenizer_class", "InternLM2Tokenizer"},
      {"unk_token", "<unk>"},
      // Says, to whoever opens the folder, that these are not InternLM2's pieces.
      {"vlac_generated", true},
  };
  const ojson special_map = {{"bos_token", "<s>"},
                             {"eos_token", "</s>"},
                             {"pad_token", "</s>"},
                             {"unk_token", "<unk>"},
                             {"additional_special_tokens", additional_special_tokens()}};
  const ojson generation = {{"_from_model_config", true}, {"eos_token_id", {im_end, im_start}}};

  write_file(join_path(dir, "tokenizer.model"), model);
  write_file(join_path(dir, "tokenizer_config.json"), config.dump(2) + "\n");
  write_file(join_path(dir, "added_tokens.json"), added.dump(2) + "\n");
  write_file(join_path(dir, "special_tokens_map.json"), special_map.dump(2) + "\n");
  write_file(join_path(dir, "generation_config.json"), generation.dump(2) + "\n");
}

}  // namespace vlac
