// Reader for sentencepiece's `tokenizer.model`: a serialized `sentencepiece.ModelProto`
// (sentencepiece_model.proto, proto2). Hand-written wire-format reader; no protobuf library.
// Only the fields that encoding and decoding depend on are kept; every other field is skipped.
// Anything malformed is ERR_VLAC_BAD_TOKENIZER naming the file and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace vlac {

// ModelProto.SentencePiece.Type, with the proto's numbers.
enum class PieceType : uint8_t {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
};

struct SentencePiece {
  std::string piece;
  float score = 0.0f;
  PieceType type = PieceType::Normal;
};

struct SentencePieceModel {
  std::vector<SentencePiece> pieces;  // id = index
  // TrainerSpec
  bool byte_fallback = false;           // field 35
  std::string unk_surface = " \xE2\x81\x87 ";  // field 44: what decode prints for <unk> (" ⁇ ")
  // NormalizerSpec (proto defaults are true for all three)
  bool add_dummy_prefix = true;          // field 3
  bool remove_extra_whitespaces = true;  // field 4
  bool escape_whitespaces = true;        // field 5
};

// Parses and checks the fields one by one (wire format, enum values, finite scores, BPE model type,
// no normalisation rules that the engine does not implement). `file` names the source in errors.
// Cross-piece checks (duplicates, the unknown piece, byte pieces) are BpeModel's.
SentencePieceModel parse_sentencepiece_model(std::string_view bytes, const std::string& file);

}  // namespace vlac
