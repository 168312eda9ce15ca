#include "tokenizer/utf8.h"

#include <cstdint>

namespace vlac::utf8 {

const std::string_view kReplacement = "\xEF\xBF\xBD";

size_t well_formed_prefix(std::string_view s, size_t* bad_length) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const size_t n = s.size();
  const uint8_t lead = p[0];
  if (lead < 0x80) return 1;
  // Table 3-7 of the Unicode Standard (well-formed byte sequences): the second byte's range
  // depends on the lead byte; that excludes overlongs, surrogates and code points above U+10FFFF.
  size_t need;
  uint8_t lower = 0x80, upper = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    need = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 2;
    if (lead == 0xE0) lower = 0xA0;
    if (lead == 0xED) upper = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 3;
    if (lead == 0xF0) lower = 0x90;
    if (lead == 0xF4) upper = 0x8F;
  } else {
    *bad_length = 1;
    return 0;
  }
  for (size_t k = 1; k <= need; ++k) {
    if (k >= n) {  // truncated: the whole rest is one maximal subpart
      *bad_length = k;
      return 0;
    }
    const uint8_t b = p[k];
    if (b < lower || b > upper) {
      *bad_length = k;
      return 0;
    }
    lower = 0x80;
    upper = 0xBF;
  }
  return need + 1;
}

bool is_valid(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    size_t bad = 0;
    const size_t len = well_formed_prefix(s.substr(i), &bad);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string sanitize(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      out.push_back(s[i++]);
      continue;
    }
    size_t bad = 0;
    const size_t len = well_formed_prefix(s.substr(i), &bad);
    if (len > 0) {
      out.append(s.data() + i, len);
      i += len;
    } else {
      out.append(kReplacement);
      i += bad;
    }
  }
  return out;
}

}  // namespace vlac::utf8
