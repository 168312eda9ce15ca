// The project's own tokenizer, for checkpoints it generates (`vlac demo`, random benchmarks): the
// InternLM2 tokenizer.model is not the project's to ship (api.md §8). The files have the InternVL2
// layout and id conventions of architecture.md §7, so everything that reads a real checkpoint's
// tokenizer reads this one the same way; only the learned pieces differ.
//
// tokenizer.model: a sentencepiece ModelProto (BPE, byte_fallback, identity normaliser, no dummy
// prefix, no whitespace collapsing, spaces escaped as U+2581):
//   0 <unk> (UNKNOWN), 1 <s>, 2 </s> (CONTROL), 3..258 <0x00>..<0xFF> (BYTE),
//   259.. single characters, then pieces learned by a deterministic BPE training on an embedded
//   corpus of robot-task English, then filler pieces up to the size asked for (score = -rank),
//   and last the 6 USER_DEFINED [UNUSED_TOKEN_141]..[UNUSED_TOKEN_146] that tokenizer_config.json
//   renames <|plugin|> <|interpreter|> <|action_end|> <|action_start|> <|im_end|> <|im_start|>.
// added_tokens.json: <img> </img> <IMG_CONTEXT> <quad> </quad> <ref> </ref> <box> </box> right after
// the pieces. Also tokenizer_config.json, special_tokens_map.json and generation_config.json
// (eos = [<|im_end|>, <|im_start|>]).
#pragma once

#include <cstdint>
#include <string>

namespace vlac {

// Sentencepiece pieces of the demo checkpoint's tokenizer (its vocab_size is this + 9).
constexpr int32_t kDemoTokenizerPieces = 1024;

// The fewest pieces write_generated_tokenizer accepts: the 259 fixed pieces, the corpus's single
// characters and printable ASCII, and the 6 chat specials.
int32_t min_generated_tokenizer_pieces();

// The tokenizer.model bytes for `vocab_pieces` sentencepiece pieces (deterministic: the same bytes
// on every run and machine).
std::string generated_tokenizer_model(int32_t vocab_pieces);

// Writes the five tokenizer files into `dir` (created if missing). The tokenizer's ids are
// 0..vocab_pieces+8. BadArgument when vocab_pieces is below min_generated_tokenizer_pieces() or
// above 2^24; BadArgument naming the file when it cannot be written.
void write_generated_tokenizer(const std::string& dir, int32_t vocab_pieces);

}  // namespace vlac
