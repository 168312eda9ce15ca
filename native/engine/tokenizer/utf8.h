// UTF-8 handling shared by encode and decode. Invalid input is replaced the way the WHATWG
// Encoding Standard's decoder (JavaScript's TextDecoder) does it: each maximal ill-formed
// subsequence becomes one U+FFFD. Encode therefore sees exactly the text a JS caller would get from
// TextDecoder on the same bytes, and decode's output is always valid UTF-8 for N-API strings.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace vlac::utf8 {

// "\xEF\xBF\xBD": U+FFFD REPLACEMENT CHARACTER.
extern const std::string_view kReplacement;

// Length of the first well-formed code point of `s` (1..4), or 0 when `s` starts with an ill-formed
// subsequence; `bad_length` then receives that maximal subpart's length (>= 1). `s` must be non-empty.
size_t well_formed_prefix(std::string_view s, size_t* bad_length);

bool is_valid(std::string_view s);

// `s` with every maximal ill-formed subsequence replaced by U+FFFD.
std::string sanitize(std::string_view s);

}  // namespace vlac::utf8
