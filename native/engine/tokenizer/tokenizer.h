// The InternLM2 tokenizer as HF's slow `InternLM2Tokenizer` applies it (architecture.md §7):
// literal added/special tokens are cut out of the text first (leftmost, then longest match), each
// remaining chunk is encoded by sentencepiece BPE independently, and decode follows the engine's
// rule of architecture.md §7.2 item 4. Immutable after loading; safe to share between threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace vlac {

// The ids the prompt renderer and the generator need (InternVL2-2B: 0, 1, 2, 92543, 92542, 92544,
// 92545, 92546).
struct SpecialTokens {
  int32_t unk, bos, eos, im_start, im_end, img, img_end, img_context;
};

class Tokenizer {
 public:
  // Reads <dir>/tokenizer.model, <dir>/tokenizer_config.json (added_tokens_decoder, add_bos_token,
  // bos/eos/unk/pad_token, additional_special_tokens) and <dir>/added_tokens.json.
  // A missing file is ERR_VLAC_NOT_FOUND naming it; anything malformed is ERR_VLAC_BAD_TOKENIZER.
  static Tokenizer load(const std::string& model_dir);
  // The same from the three files' bytes; errors name "<label_for_errors>/<file name>".
  static Tokenizer from_parts(std::string_view model_proto_bytes, std::string_view tokenizer_config_json,
                              std::string_view added_tokens_json, const std::string& label_for_errors);

  // Token ids of `utf8`, BOS first when `bos`. Added/special tokens spelled in the text become their
  // ids. Ill-formed UTF-8 is read as TextDecoder reads it (each maximal ill-formed subsequence is one
  // U+FFFD).
  std::vector<int32_t> encode(std::string_view utf8, bool bos) const;

  // Text of ids[0..n). skip_special drops special ids and decodes the rest as one run; otherwise
  // each added token is its tokenizer_config name, joined directly to the decoded runs between them.
  // Ill-formed UTF-8 from byte pieces becomes U+FFFD (as TextDecoder). An id outside
  // [0, vocab_size()) is ERR_VLAC_BAD_ARGUMENT.
  std::string decode(const int32_t* ids, size_t n, bool skip_special) const;
  std::string decode(const std::vector<int32_t>& ids, bool skip_special) const {
    return decode(ids.data(), ids.size(), skip_special);
  }

  // Piece text ("▁world", "<0x0A>"); added tokens by their tokenizer_config name ("<|im_end|>").
  // ERR_VLAC_BAD_ARGUMENT outside [0, vocab_size()).
  std::string id_to_token(int32_t id) const;
  // Added-token name first, then sentencepiece piece.
  std::optional<int32_t> token_to_id(std::string_view piece) const;

  // len(tokenizer): sentencepiece pieces plus added tokens beyond them (92553 for InternVL2-2B).
  int32_t vocab_size() const;
  const SpecialTokens& special() const;
  bool is_special(int32_t id) const;
  // tokenizer_config.json's add_bos_token (default true, as InternLM2Tokenizer).
  bool add_bos_token() const;

 private:
  struct Impl;
  explicit Tokenizer(std::shared_ptr<const Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<const Impl> impl_;
};

}  // namespace vlac
