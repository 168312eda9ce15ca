#include "tokenizer/sentencepiece_model.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "common/error.h"

namespace vlac {
namespace {

// Protobuf wire types (https://protobuf.dev/programming-guides/encoding/).
enum WireType : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kStartGroup = 3, kEndGroup = 4, kFixed32 = 5 };

// Reads one message's bytes. `where` names the message for errors ("ModelProto.pieces[17]");
// offsets in messages are from the start of the file.
class WireReader {
 public:
  WireReader(std::string_view bytes, size_t file_offset, const std::string& file, std::string where)
      : data_(bytes), base_(file_offset), file_(file), where_(std::move(where)) {}

  bool done() const { return pos_ >= data_.size(); }

  // Returns the field number and stores the wire type.
  uint32_t tag(uint32_t* wire_type) {
    const uint64_t key = varint();
    const uint64_t number = key >> 3;
    *wire_type = static_cast<uint32_t>(key & 7);
    if (number == 0 || number > (1u << 29) - 1) corrupt("invalid field number " + std::to_string(number));
    if (*wire_type == kStartGroup || *wire_type == kEndGroup) corrupt("groups are not used by sentencepiece");
    if (*wire_type > kFixed32) corrupt("invalid wire type " + std::to_string(*wire_type));
    return static_cast<uint32_t>(number);
  }

  uint64_t varint() {
    uint64_t value = 0;
    for (int i = 0; i < 10; ++i) {
      if (pos_ >= data_.size()) corrupt("truncated varint");
      const uint8_t b = static_cast<uint8_t>(data_[pos_++]);
      if (i == 9 && b > 1) corrupt("varint longer than 64 bits");
      value |= static_cast<uint64_t>(b & 0x7F) << (7 * i);
      if (!(b & 0x80)) return value;
    }
    corrupt("varint longer than 10 bytes");
  }

  // A length-delimited payload; `offset` receives its file offset.
  std::string_view len(size_t* offset = nullptr) {
    const uint64_t n = varint();
    if (n > data_.size() - pos_)
      corrupt("length " + std::to_string(n) + " runs past the end (" + std::to_string(data_.size() - pos_) +
              " bytes left)");
    if (offset) *offset = base_ + pos_;
    std::string_view out = data_.substr(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return out;
  }

  float fixed32_float() {
    if (data_.size() - pos_ < 4) corrupt("truncated fixed32");
    // Little-endian on the wire, as on every platform the engine builds for.
    uint8_t b[4];
    std::memcpy(b, data_.data() + pos_, 4);
    pos_ += 4;
    const uint32_t bits = uint32_t(b[0]) | uint32_t(b[1]) << 8 | uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24;
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
  }

  void skip(uint32_t wire_type) {
    switch (wire_type) {
      case kVarint: varint(); return;
      case kLen: len(); return;
      case kFixed64:
        if (data_.size() - pos_ < 8) corrupt("truncated fixed64");
        pos_ += 8;
        return;
      case kFixed32:
        if (data_.size() - pos_ < 4) corrupt("truncated fixed32");
        pos_ += 4;
        return;
      default: corrupt("invalid wire type " + std::to_string(wire_type));
    }
  }

  void expect(uint32_t wire_type, uint32_t wanted, const char* field) {
    if (wire_type != wanted)
      corrupt(std::string("field ") + field + " has wire type " + std::to_string(wire_type) + ", expected " +
              std::to_string(wanted));
  }

  [[noreturn]] void corrupt(const std::string& what) const {
    fail(ErrorCode::BadTokenizer, file_ + ": not a valid sentencepiece model: " + where_ + " at byte " +
                                      std::to_string(base_ + pos_) + ": " + what);
  }

  [[noreturn]] void unsupported(const std::string& what) const {
    fail(ErrorCode::BadTokenizer, file_ + ": unsupported sentencepiece model: " + where_ + ": " + what);
  }

  const std::string& file() const { return file_; }

 private:
  std::string_view data_;
  size_t base_;
  size_t pos_ = 0;
  const std::string& file_;
  std::string where_;
};

bool read_bool(WireReader& r, uint32_t wire_type, const char* field) {
  r.expect(wire_type, kVarint, field);
  return r.varint() != 0;
}

SentencePiece parse_piece(std::string_view bytes, size_t offset, size_t index, const std::string& file) {
  WireReader r(bytes, offset, file, "ModelProto.pieces[" + std::to_string(index) + "]");
  SentencePiece p;
  while (!r.done()) {
    uint32_t wt;
    switch (r.tag(&wt)) {
      case 1:
        r.expect(wt, kLen, "piece");
        p.piece = std::string(r.len());
        break;
      case 2: {
        r.expect(wt, kFixed32, "score");
        p.score = r.fixed32_float();
        // Scores order the BPE merges; a NaN would break that order.
        if (!std::isfinite(p.score)) r.corrupt("score is not a finite number");
        break;
      }
      case 3: {
        r.expect(wt, kVarint, "type");
        const uint64_t t = r.varint();
        if (t < 1 || t > 6) r.corrupt("unknown piece type " + std::to_string(static_cast<int64_t>(t)));
        p.type = static_cast<PieceType>(t);
        break;
      }
      default: r.skip(wt);
    }
  }
  if (p.piece.empty()) r.corrupt("empty piece");
  return p;
}

void parse_trainer_spec(std::string_view bytes, size_t offset, const std::string& file, SentencePieceModel& m,
                        uint64_t* model_type) {
  WireReader r(bytes, offset, file, "ModelProto.trainer_spec");
  while (!r.done()) {
    uint32_t wt;
    switch (r.tag(&wt)) {
      case 3:
        r.expect(wt, kVarint, "model_type");
        *model_type = r.varint();
        break;
      case 24:
        if (read_bool(r, wt, "treat_whitespace_as_suffix")) r.unsupported("treat_whitespace_as_suffix is set");
        break;
      case 35: m.byte_fallback = read_bool(r, wt, "byte_fallback"); break;
      case 44:
        r.expect(wt, kLen, "unk_surface");
        m.unk_surface = std::string(r.len());
        break;
      default: r.skip(wt);
    }
  }
}

void parse_normalizer_spec(std::string_view bytes, size_t offset, const std::string& file, SentencePieceModel* m,
                           const char* name) {
  WireReader r(bytes, offset, file, std::string("ModelProto.") + name);
  while (!r.done()) {
    uint32_t wt;
    const uint32_t field = r.tag(&wt);
    if (field == 2) {
      r.expect(wt, kLen, "precompiled_charsmap");
      // A charsmap is a Unicode normalisation (e.g. NFKC) that the engine does not implement.
      if (!r.len().empty()) r.unsupported("precompiled_charsmap (Unicode normalisation rules) is not empty");
    } else if (m && field == 3) {
      m->add_dummy_prefix = read_bool(r, wt, "add_dummy_prefix");
    } else if (m && field == 4) {
      m->remove_extra_whitespaces = read_bool(r, wt, "remove_extra_whitespaces");
    } else if (m && field == 5) {
      m->escape_whitespaces = read_bool(r, wt, "escape_whitespaces");
    } else {
      r.skip(wt);
    }
  }
}

}  // namespace

SentencePieceModel parse_sentencepiece_model(std::string_view bytes, const std::string& file) {
  constexpr uint64_t kUnigram = 1, kBpe = 2;  // TrainerSpec.ModelType
  SentencePieceModel m;
  uint64_t model_type = kUnigram;  // the proto default
  WireReader r(bytes, 0, file, "ModelProto");
  while (!r.done()) {
    uint32_t wt;
    const uint32_t field = r.tag(&wt);
    size_t offset = 0;
    switch (field) {
      case 1: {
        r.expect(wt, kLen, "pieces");
        const std::string_view payload = r.len(&offset);
        if (m.pieces.size() >= static_cast<size_t>(std::numeric_limits<int32_t>::max()))
          r.corrupt("more pieces than int32 ids");
        m.pieces.push_back(parse_piece(payload, offset, m.pieces.size(), file));
        break;
      }
      case 2: {
        r.expect(wt, kLen, "trainer_spec");
        const std::string_view payload = r.len(&offset);
        parse_trainer_spec(payload, offset, file, m, &model_type);
        break;
      }
      case 3: {
        r.expect(wt, kLen, "normalizer_spec");
        const std::string_view payload = r.len(&offset);
        parse_normalizer_spec(payload, offset, file, &m, "normalizer_spec");
        break;
      }
      case 5: {
        r.expect(wt, kLen, "denormalizer_spec");
        const std::string_view payload = r.len(&offset);
        parse_normalizer_spec(payload, offset, file, nullptr, "denormalizer_spec");
        break;
      }
      default: r.skip(wt);
    }
  }
  if (m.pieces.empty()) r.unsupported("no pieces (is this a sentencepiece model?)");
  if (model_type != kBpe)
    r.unsupported("trainer_spec.model_type is " + std::to_string(model_type) +
                  (model_type == kUnigram ? " (UNIGRAM)" : "") + "; only BPE (2) is implemented");
  return m;
}

}  // namespace vlac
