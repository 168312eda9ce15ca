#include "image/color.h"

#include "common/error.h"
#include "image/preprocess.h"

namespace vlac {

std::vector<uint8_t> to_rgb(const uint8_t* data, int width, int height, int channels,
                            const std::string& label) {
  validate_image_size(width, height, label);
  if (channels < 1 || channels > 4) {
    fail(ErrorCode::BadImage, label + ": raw pixels must have 1, 2, 3 or 4 channels, got " +
                                  std::to_string(channels));
  }
  const size_t pixels = static_cast<size_t>(width) * height;
  std::vector<uint8_t> rgb(pixels * 3);
  const bool gray = channels <= 2;
  for (size_t p = 0; p < pixels; ++p) {
    const uint8_t* in = data + p * channels;
    uint8_t* out = &rgb[p * 3];
    out[0] = in[0];
    out[1] = gray ? in[0] : in[1];
    out[2] = gray ? in[0] : in[2];
  }
  return rgb;
}

std::vector<uint8_t> cmyk_to_rgb(const uint8_t* cmyk, int width, int height,
                                 const std::string& label) {
  validate_image_size(width, height, label);
  // Pillow's MULDIV255: a * b / 255 rounded to nearest, in integers.
  auto muldiv255 = [](int a, int b) {
    const int t = a * b + 128;
    return ((t >> 8) + t) >> 8;
  };
  const size_t pixels = static_cast<size_t>(width) * height;
  std::vector<uint8_t> rgb(pixels * 3);
  for (size_t p = 0; p < pixels; ++p) {
    const uint8_t* in = cmyk + p * 4;
    const int nk = 255 - in[3];
    for (int c = 0; c < 3; ++c) rgb[p * 3 + c] = static_cast<uint8_t>(nk - muldiv255(in[c], nk));
  }
  return rgb;
}

}  // namespace vlac
