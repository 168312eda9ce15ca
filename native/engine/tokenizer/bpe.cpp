#include "tokenizer/bpe.h"

#include <cstdint>
#include <functional>
#include <queue>
#include <unordered_map>

#include "common/error.h"

namespace vlac {
namespace {

// U+2581 LOWER ONE EIGHTH BLOCK: sentencepiece's visible space.
constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";

size_t hash_piece(std::string_view s) { return std::hash<std::string_view>{}(s); }

// sentencepiece's byte piece spelling for byte b: "<0x" + two upper-case hex digits + ">".
std::string byte_piece(uint8_t b) {
  static const char* hex = "0123456789ABCDEF";
  return std::string("<0x") + hex[b >> 4] + hex[b & 15] + ">";
}

// Pieces a merge may produce (sentencepiece's `pieces_`; CONTROL, UNKNOWN and BYTE are reserved).
bool mergeable(PieceType t) {
  return t == PieceType::Normal || t == PieceType::UserDefined || t == PieceType::Unused;
}

// Bytes in the UTF-8 sequence led by `lead` (the text is well-formed, so this is exact).
size_t utf8_length(uint8_t lead) {
  if (lead < 0x80) return 1;
  if (lead < 0xE0) return 2;
  if (lead < 0xF0) return 3;
  return 4;
}

}  // namespace

BpeModel::BpeModel(SentencePieceModel model, const std::string& file)
    : pieces_(std::move(model.pieces)),
      byte_fallback_(model.byte_fallback),
      unk_surface_(std::move(model.unk_surface)),
      add_dummy_prefix_(model.add_dummy_prefix),
      remove_extra_whitespaces_(model.remove_extra_whitespaces),
      escape_whitespaces_(model.escape_whitespaces) {
  size_t capacity = 16;
  while (capacity < pieces_.size() * 2) capacity *= 2;
  slots_.assign(capacity, -1);
  byte_ids_.fill(-1);
  piece_byte_.assign(pieces_.size(), 0);
  for (size_t i = 0; i < pieces_.size(); ++i) {
    const SentencePiece& p = pieces_[i];
    const int32_t id = static_cast<int32_t>(i);
    size_t slot = hash_piece(p.piece) & (capacity - 1);
    while (slots_[slot] >= 0) {
      if (pieces_[slots_[slot]].piece == p.piece)
        fail(ErrorCode::BadTokenizer, file + ": piece " + std::to_string(id) + " \"" + p.piece +
                                          "\" is already defined as piece " + std::to_string(slots_[slot]));
      slot = (slot + 1) & (capacity - 1);
    }
    slots_[slot] = id;
    switch (p.type) {
      case PieceType::Unknown:
        if (unk_id_ >= 0)
          fail(ErrorCode::BadTokenizer, file + ": pieces " + std::to_string(unk_id_) + " and " + std::to_string(id) +
                                            " are both of type UNKNOWN");
        unk_id_ = id;
        break;
      case PieceType::UserDefined: user_defined_.insert(p.piece, id); break;
      case PieceType::Unused: has_unused_ = true; break;
      case PieceType::Byte: {
        if (!byte_fallback_)
          fail(ErrorCode::BadTokenizer, file + ": byte piece " + std::to_string(id) +
                                            " found although trainer_spec.byte_fallback is false");
        // Only the exact spelling "<0xHH>" (upper-case hex) names a byte.
        int byte = -1;
        for (int b = 0; b < 256 && byte < 0; ++b)
          if (p.piece == byte_piece(static_cast<uint8_t>(b))) byte = b;
        if (byte < 0) fail(ErrorCode::BadTokenizer, file + ": byte piece " + std::to_string(id) + " \"" + p.piece +
                                                         "\" is not of the form <0xHH>");
        byte_ids_[byte] = id;
        piece_byte_[id] = static_cast<uint8_t>(byte);
        break;
      }
      default: break;
    }
  }
  if (unk_id_ < 0) fail(ErrorCode::BadTokenizer, file + ": no piece of type UNKNOWN (<unk>)");
  for (auto& id : byte_ids_)
    if (id < 0) id = unk_id_;
}

int32_t BpeModel::find(std::string_view piece) const {
  const size_t mask = slots_.size() - 1;
  for (size_t slot = hash_piece(piece) & mask;; slot = (slot + 1) & mask) {
    const int32_t id = slots_[slot];
    if (id < 0) return -1;
    if (pieces_[id].piece == piece) return id;
  }
}

std::optional<int32_t> BpeModel::piece_to_id(std::string_view piece) const {
  const int32_t id = find(piece);
  if (id < 0) return std::nullopt;
  return id;
}

size_t BpeModel::symbol_length(std::string_view rest, bool* user_defined) const {
  int32_t id;
  const size_t n = user_defined_.longest_prefix(rest, &id);
  *user_defined = n > 0;
  if (n > 0) return n;
  return std::min(rest.size(), utf8_length(static_cast<uint8_t>(rest[0])));
}

// sentencepiece normalizer.cc Normalize() without a charsmap: user-defined pieces and code points
// pass unchanged, spaces become U+2581 (escape_whitespaces), and the two optional whitespace rules.
std::string BpeModel::normalize(std::string_view text) const {
  std::string out;
  out.reserve(text.size() + text.size() / 2 + 3);
  const std::string_view space = escape_whitespaces_ ? kSpaceSymbol : std::string_view(" ");
  size_t i = 0;
  bool user_defined;
  if (remove_extra_whitespaces_) {
    while (i < text.size()) {
      const size_t n = symbol_length(text.substr(i), &user_defined);
      if (text.substr(i, n) != " ") break;
      i += n;
    }
  }
  if (i == text.size()) return out;
  if (add_dummy_prefix_) out.append(space);
  bool is_prev_space = remove_extra_whitespaces_;
  while (i < text.size()) {
    const size_t n = symbol_length(text.substr(i), &user_defined);
    std::string_view sp = text.substr(i, n);
    if (is_prev_space)
      while (!sp.empty() && sp[0] == ' ') sp.remove_prefix(1);
    if (!sp.empty()) {
      for (char c : sp) {
        if (c == ' ' && escape_whitespaces_)
          out.append(kSpaceSymbol);
        else
          out.push_back(c);
      }
      is_prev_space = sp.back() == ' ';
    }
    i += n;
    if (!remove_extra_whitespaces_) is_prev_space = false;
  }
  if (remove_extra_whitespaces_)
    while (out.size() >= space.size() && out.compare(out.size() - space.size(), space.size(), space) == 0)
      out.resize(out.size() - space.size());
  return out;
}

void BpeModel::encode(std::string_view text, std::vector<int32_t>& ids) const {
  const std::string normalized = normalize(text);
  if (normalized.empty()) return;
  // Symbols address the text with 32-bit offsets.
  if (normalized.size() > static_cast<size_t>(INT32_MAX))
    fail(ErrorCode::BadArgument, "text to tokenize is longer than 2 GiB");
  const std::string_view s = normalized;

  struct Symbol {
    uint32_t begin, size;  // bytes of `s`; size 0 once merged into its left neighbour
    int32_t prev, next;
    bool frozen;  // a user-defined piece: never merged
  };
  std::vector<Symbol> symbols;
  symbols.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    bool frozen;
    const size_t n = symbol_length(s.substr(i), &frozen);
    const int32_t index = static_cast<int32_t>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(i), static_cast<uint32_t>(n), index - 1,
                       i + n < s.size() ? index + 1 : -1, frozen});
    i += n;
  }

  struct Pair {
    float score;
    int32_t left, right;
    uint32_t size;  // bytes of the merged piece, to recognise stale entries
  };
  // Highest score first; equal scores: smaller left index first (sentencepiece's comparator).
  auto lower = [](const Pair& a, const Pair& b) {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  };
  std::vector<Pair> storage;
  storage.reserve(symbols.size());
  std::priority_queue<Pair, std::vector<Pair>, decltype(lower)> agenda(lower, std::move(storage));
  // Only models with UNUSED pieces need this: such a piece is split back into what formed it.
  std::unordered_map<std::string_view, std::pair<std::string_view, std::string_view>> unused_merges;

  auto piece_of = [&](const Symbol& sym) { return s.substr(sym.begin, sym.size); };
  auto add_pair = [&](int32_t left, int32_t right) {
    if (left < 0 || right < 0 || symbols[left].frozen || symbols[right].frozen) return;
    const std::string_view merged = s.substr(symbols[left].begin, symbols[left].size + symbols[right].size);
    const int32_t id = find(merged);
    if (id < 0 || !mergeable(pieces_[id].type)) return;
    agenda.push({pieces_[id].score, left, right, static_cast<uint32_t>(merged.size())});
    if (pieces_[id].type == PieceType::Unused)
      unused_merges[merged] = {piece_of(symbols[left]), piece_of(symbols[right])};
  };

  for (size_t i = 1; i < symbols.size(); ++i) add_pair(static_cast<int32_t>(i - 1), static_cast<int32_t>(i));

  while (!agenda.empty()) {
    const Pair top = agenda.top();
    agenda.pop();
    Symbol& left = symbols[top.left];
    Symbol& right = symbols[top.right];
    if (left.size == 0 || right.size == 0 || left.size + right.size != top.size) continue;
    left.size += right.size;
    left.next = right.next;
    if (right.next >= 0) symbols[right.next].prev = top.left;
    right.size = 0;
    add_pair(left.prev, top.left);
    add_pair(top.left, left.next);
  }

  std::function<void(std::string_view)> emit = [&](std::string_view piece) {
    int32_t id = find(piece);
    if (id >= 0 && pieces_[id].type == PieceType::Unused) {
      const auto it = unused_merges.find(piece);
      if (it != unused_merges.end()) {
        emit(it->second.first);
        emit(it->second.second);
        return;
      }
    }
    if (id < 0) id = unk_id_;
    if (id == unk_id_ && byte_fallback_) {
      for (char c : piece) ids.push_back(byte_ids_[static_cast<uint8_t>(c)]);
    } else {
      ids.push_back(id);
    }
  };
  for (int32_t i = 0; i >= 0; i = symbols[i].next) emit(piece_of(symbols[i]));
}

void BpeModel::decode(const int32_t* ids, size_t n, std::string& out) const {
  const size_t start = out.size();
  for (size_t k = 0; k < n; ++k) {
    const SentencePiece& p = pieces_[ids[k]];
    switch (p.type) {
      case PieceType::Control: break;
      case PieceType::Unknown: out.append(unk_surface_); break;
      case PieceType::Byte: out.push_back(static_cast<char>(piece_byte_[ids[k]])); break;
      default: {
        std::string_view piece = p.piece;
        // sentencepiece drops the dummy-prefix space of the first piece of a text.
        if (out.size() == start && (add_dummy_prefix_ || remove_extra_whitespaces_) &&
            piece.substr(0, kSpaceSymbol.size()) == kSpaceSymbol)
          piece.remove_prefix(kSpaceSymbol.size());
        for (size_t pos = 0; pos < piece.size();) {
          if (piece.compare(pos, kSpaceSymbol.size(), kSpaceSymbol) == 0) {
            out.push_back(' ');
            pos += kSpaceSymbol.size();
          } else {
            out.push_back(piece[pos++]);
          }
        }
      }
    }
  }
}

}  // namespace vlac
