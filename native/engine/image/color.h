// Pixel formats to RGB, the way Pillow's `convert('RGB')` does it in the official path
// (vlac-behavior.md §13): alpha is dropped with no compositing, gray is replicated, CMYK uses
// Pillow's plain formula without any ICC profile.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vlac {

// Interleaved 8-bit pixels with 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels -> RGB.
// Sizes are validated (positive, not overflowing, see preprocess.h); failures are BadImage naming
// `label` (e.g. "image 2").
std::vector<uint8_t> to_rgb(const uint8_t* data, int width, int height, int channels,
                            const std::string& label);

// CMYK samples as Pillow holds them for a CMYK image (ink amounts, 0 = no ink; Pillow's JPEG
// reader un-inverts Adobe CMYK JPEGs into this form) -> RGB with Pillow's cmyk2rgb:
// nk = 255 - K, R = nk - round(C * nk / 255), and likewise G from M, B from Y.
std::vector<uint8_t> cmyk_to_rgb(const uint8_t* cmyk, int width, int height,
                                 const std::string& label);

}  // namespace vlac
