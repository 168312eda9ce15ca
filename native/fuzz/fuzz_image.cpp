// libFuzzer harness: image size validation, Pillow-exact resizing and tiling on arbitrary shapes.
// Input layout (little-endian, missing bytes read as 0):
//   [0..3] int32 width, [4..7] int32 height   raw descriptor as a caller might send it (any value)
//   [8]    channels (raw value, 0..255)       [9] mode: bit 0 InternVL, bit 1 thumbnail
//   [10]   filter for the direct resize       [11] max tiles (reduced to 1..40)
//   [12]   tile size (reduced to 1..32)       [13..14] destination width/height for the resize
//   rest   pixel bytes, repeated to fill the image
// Checks: invalid descriptors are BadImage before any pixel is read; valid ones (bounded to
// kMaxFuzzPixels so each run is fast) convert, resize and tile to exactly the promised sizes;
// same-size resizes are copies; a uniform image stays uniform wherever Pillow's coefficient
// rounding provably allows it (keeps_uniform); normalised
// values are finite. Seeds: native/fuzz/corpus/image/.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "image/color.h"
#include "image/preprocess.h"
#include "image/resample.h"

namespace {

volatile size_t g_sink;  // toolchain.md P8: keeps -O1 from dropping the work

// Work budget per input: extreme shapes (8192 x 1) fit, and a run stays in milliseconds under
// ASan. A resize costs about max(w, dst_w) * max(h, dst_h) * taps, hence the second bound.
constexpr int64_t kMaxFuzzPixels = 1 << 13;
constexpr int64_t kMaxFuzzResizeArea = 1 << 16;

// Whether every output's quantised coefficients sum closely enough to 1.0 (2^22) that a uniform
// image provably stays uniform: |sum - 2^22| * 255 < 2^21. Pillow's per-coefficient rounding adds
// up over very long windows (a 1x50000 -> 1x1 box has 50000 taps), and then it does not.
bool keeps_uniform(int in_size, int out_size, vlac::Filter filter) {
  if (in_size == out_size) return true;
  const vlac::ResampleAxis axis = vlac::resample_axis(in_size, out_size, filter);
  for (size_t o = 0; o < axis.first.size(); ++o) {
    int64_t sum = 0;
    for (int t = 0; t < axis.count[o]; ++t) sum += axis.coeffs[o * axis.ksize + t];
    if (std::llabs(sum - (int64_t{1} << 22)) * 255 >= (int64_t{1} << 21)) return false;
  }
  return true;
}

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz_image: %s\n", what.c_str());
  std::abort();
}

struct Reader {
  const uint8_t* data;
  size_t size;
  size_t at = 0;
  uint8_t byte() { return at < size ? data[at++] : 0; }
  int32_t int32() {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(byte()) << (8 * i);
    return static_cast<int32_t>(v);
  }
};

bool valid_size(int width, int height) {
  try {
    vlac::validate_image_size(width, height, "fuzz image");
    return true;
  } catch (const vlac::Error& e) {
    if (e.code() != vlac::ErrorCode::BadImage) finding(std::string("size check gave a non-BadImage error: ") + e.what());
    if (std::string(e.what()).find("fuzz image") == std::string::npos) finding("size error does not name the image");
    return false;
  }
}

void check_uniform(const std::vector<uint8_t>& rgb, const uint8_t colour[3], const char* what) {
  for (size_t i = 0; i < rgb.size(); i += 3) {
    if (rgb[i] != colour[0] || rgb[i + 1] != colour[1] || rgb[i + 2] != colour[2]) {
      finding(std::string(what) + ": a uniform image did not stay uniform");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Reader in{data, size};
  const int32_t width = in.int32();
  const int32_t height = in.int32();
  const int channels = in.byte();
  const uint8_t mode = in.byte();
  const auto filter = static_cast<vlac::Filter>(in.byte() % 5);
  const int max_tiles = 1 + in.byte() % vlac::kMaxTiles;
  const int tile_size = 1 + in.byte() % 32;
  const int dst_width = 1 + in.byte();
  const int dst_height = 1 + in.byte();
  const uint8_t* pixel_bytes = data + in.at;
  const size_t pixel_count = size - in.at;

  if (!valid_size(width, height)) {
    // The raw path must refuse the same descriptor, whatever the channel count.
    try {
      vlac::to_rgb(nullptr, width, height, 3, "fuzz image");
      finding("to_rgb accepted an invalid size");
    } catch (const vlac::Error& e) {
      if (e.code() != vlac::ErrorCode::BadImage) finding("to_rgb gave a non-BadImage error");
    }
    return 0;
  }
  if (static_cast<int64_t>(width) * height > kMaxFuzzPixels) return 0;

  const size_t pixels = static_cast<size_t>(width) * height;
  std::vector<uint8_t> raw(pixels * 4);
  for (size_t i = 0; i < raw.size(); ++i) raw[i] = pixel_count ? pixel_bytes[i % pixel_count] : 0;

  std::vector<uint8_t> rgb;
  try {
    rgb = vlac::to_rgb(raw.data(), width, height, channels, "fuzz image");
    if (channels < 1 || channels > 4) finding("to_rgb accepted a bad channel count");
  } catch (const vlac::Error& e) {
    if (e.code() != vlac::ErrorCode::BadImage || (channels >= 1 && channels <= 4)) {
      finding(std::string("to_rgb failed unexpectedly: ") + e.what());
    }
    rgb = vlac::to_rgb(raw.data(), width, height, 3, "fuzz image");
  }
  if (rgb.size() != pixels * 3) finding("to_rgb size");
  if (vlac::cmyk_to_rgb(raw.data(), width, height, "fuzz image").size() != pixels * 3) finding("cmyk_to_rgb size");

  // Direct resize, and the same-size copy.
  if (static_cast<int64_t>(std::max(width, dst_width)) * std::max(height, dst_height) <= kMaxFuzzResizeArea) {
    const auto resized = vlac::resize_rgb8(rgb.data(), width, height, dst_width, dst_height, filter);
    if (resized.size() != static_cast<size_t>(dst_width) * dst_height * 3) finding("resize size");
    g_sink = g_sink + resized[0];
    if (keeps_uniform(width, dst_width, filter) && keeps_uniform(height, dst_height, filter)) {
      const uint8_t colour[3] = {rgb[0], rgb[1], rgb[2]};
      std::vector<uint8_t> uniform(pixels * 3);
      for (size_t i = 0; i < uniform.size(); ++i) uniform[i] = colour[i % 3];
      check_uniform(vlac::resize_rgb8(uniform.data(), width, height, dst_width, dst_height, filter),
                    colour, "resize");
    }
  }
  if (vlac::resize_rgb8(rgb.data(), width, height, width, height, filter) != rgb) finding("same-size resize is not a copy");

  // Tiling.
  const bool internvl = mode & 1;
  const bool thumbnail = mode & 2;
  const vlac::ImageTiles tiles = vlac::preprocess_image(
      rgb.data(), width, height, internvl ? vlac::ResizeMode::InternVL : vlac::ResizeMode::Vlac,
      max_tiles, 1, tile_size, thumbnail, "fuzz image");
  int expected_count = 1;
  if (internvl) {
    const vlac::TileGrid grid = vlac::choose_internvl_grid(width, height, 1, max_tiles, tile_size);
    const int blocks = grid.columns * grid.rows;
    if (blocks < 1 || blocks > max_tiles) finding("grid outside 1..max_tiles");
    expected_count = blocks + (thumbnail && blocks != 1 ? 1 : 0);
  }
  if (tiles.count != expected_count || tiles.size != tile_size ||
      tiles.rgb.size() != static_cast<size_t>(expected_count) * tile_size * tile_size * 3) {
    finding("tile count or size");
  }
  std::vector<float> chw(static_cast<size_t>(tile_size) * tile_size * 3);
  vlac::normalize_tile(tiles.rgb.data(), tile_size, chw.data());
  for (float v : chw) {
    if (!std::isfinite(v) || v < -2.2f || v > 2.7f) finding("normalised value out of range");
  }
  g_sink = g_sink + tiles.rgb.size();
  return 0;
}
