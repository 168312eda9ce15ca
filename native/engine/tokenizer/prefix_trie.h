// Byte trie answering "which key is the longest prefix of the text here". Used for
// sentencepiece's user-defined pieces (matched atomically before BPE) and for the HF added-token
// split (literal special tokens in the text).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace vlac {

class PrefixTrie {
 public:
  PrefixTrie() { root_.fill(-1); }

  // `key` non-empty, `value` >= 0. Inserting a key twice keeps the last value.
  void insert(std::string_view key, int32_t value) {
    int32_t node = child_of_root(static_cast<uint8_t>(key[0]), /*create=*/true);
    for (size_t i = 1; i < key.size(); ++i) node = child(node, static_cast<uint8_t>(key[i]), true);
    nodes_[node].value = value;
  }

  bool empty() const { return nodes_.empty(); }

  // Length of the longest key that is a prefix of `text` (0 if none); its value goes to *value.
  size_t longest_prefix(std::string_view text, int32_t* value) const {
    if (text.empty()) return 0;
    int32_t node = root_[static_cast<uint8_t>(text[0])];
    size_t best = 0;
    for (size_t i = 1; node >= 0; ++i) {
      if (nodes_[node].value >= 0) {
        best = i;
        *value = nodes_[node].value;
      }
      if (i == text.size()) break;
      node = find(node, static_cast<uint8_t>(text[i]));
    }
    return best;
  }

 private:
  struct Node {
    int32_t value = -1;
    std::vector<std::pair<uint8_t, int32_t>> children;  // sorted by byte
  };

  int32_t child_of_root(uint8_t b, bool create) {
    if (root_[b] < 0 && create) {
      root_[b] = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
    }
    return root_[b];
  }

  int32_t find(int32_t node, uint8_t b) const {
    const auto& c = nodes_[node].children;
    auto it = std::lower_bound(c.begin(), c.end(), b, [](const auto& e, uint8_t x) { return e.first < x; });
    return (it != c.end() && it->first == b) ? it->second : -1;
  }

  int32_t child(int32_t node, uint8_t b, bool create) {
    int32_t found = find(node, b);
    if (found >= 0 || !create) return found;
    found = static_cast<int32_t>(nodes_.size());
    nodes_.emplace_back();  // may reallocate: index nodes_ afresh below
    auto& c = nodes_[node].children;
    auto it = std::lower_bound(c.begin(), c.end(), b, [](const auto& e, uint8_t x) { return e.first < x; });
    c.insert(it, {b, found});
    return found;
  }

  std::array<int32_t, 256> root_;
  std::vector<Node> nodes_;
};

}  // namespace vlac
