// sentencepiece's BPE model (bpe_model.cc of sentencepiece 0.1.97) over one chunk of text:
// normalise (spaces -> U+2581), split into code points and atomic user-defined pieces, then merge
// the adjacent pair whose merged piece has the highest score (ties: leftmost) until no pair is a
// piece; out-of-vocabulary symbols fall back to their UTF-8 bytes (<0xHH> pieces).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/prefix_trie.h"
#include "tokenizer/sentencepiece_model.h"

namespace vlac {

class BpeModel {
 public:
  // Checks what sentencepiece checks when it loads a model (no duplicate pieces, exactly one
  // UNKNOWN piece, BYTE pieces only with byte_fallback and spelled <0xHH>); BadTokenizer naming `file`.
  BpeModel(SentencePieceModel model, const std::string& file);

  int32_t size() const { return static_cast<int32_t>(pieces_.size()); }
  const std::string& piece(int32_t id) const { return pieces_[id].piece; }
  PieceType type(int32_t id) const { return pieces_[id].type; }
  int32_t unk_id() const { return unk_id_; }
  std::optional<int32_t> piece_to_id(std::string_view piece) const;

  // Appends the ids of `text` (well-formed UTF-8, already cut at added tokens).
  void encode(std::string_view text, std::vector<int32_t>& ids) const;

  // Appends the text of ids[0..n) (each in [0, size())): pieces with U+2581 as spaces, byte pieces as
  // raw bytes (so the result may be ill-formed UTF-8), control pieces as nothing, <unk> as the
  // model's unk_surface.
  void decode(const int32_t* ids, size_t n, std::string& out) const;

 private:
  std::string normalize(std::string_view text) const;
  size_t symbol_length(std::string_view rest, bool* user_defined) const;
  int32_t find(std::string_view piece) const;  // -1 if absent

  std::vector<SentencePiece> pieces_;
  // Open-addressing table piece text -> id over all pieces (power-of-two size, -1 = empty).
  std::vector<int32_t> slots_;
  PrefixTrie user_defined_;
  std::array<int32_t, 256> byte_ids_;  // id of <0xHH>, or unk where the model lacks it
  std::vector<uint8_t> piece_byte_;     // per id: the byte a BYTE piece stands for
  int32_t unk_id_ = -1;
  bool has_unused_ = false;
  bool byte_fallback_;
  std::string unk_surface_;
  bool add_dummy_prefix_, remove_extra_whitespaces_, escape_whitespaces_;
};

}  // namespace vlac
