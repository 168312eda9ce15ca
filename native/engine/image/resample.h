// Pillow-exact resizing of 8-bit RGB images (Pillow 9.4 `Image.resize`, libImaging/Resample.c).
//
// The official VLAC and InternVL pipelines resize with Pillow, and the model sees the uint8 result,
// so the engine reproduces Pillow bit for bit (architecture.md §6): a separable filter, horizontal
// pass first, support widened by the downscale factor, coefficients normalised to sum 1 and then
// quantised to fixed point with 22 fractional bits, each pass rounded and clamped to uint8.
#pragma once

#include <cstdint>
#include <vector>

namespace vlac {

// Pillow's resampling filters (PIL.Image.Resampling), with their supports in source pixels at scale 1.
enum class Filter {
  Box,       // support 0.5
  Bilinear,  // support 1
  Hamming,   // support 1
  Bicubic,   // support 2, Keys cubic with a = -0.5 (the PIL default filter)
  Lanczos,   // support 3, sinc(x) * sinc(x/3)
};

// One axis of a resize: for each output index, the first source index and the number of taps,
// and `ksize` fixed-point coefficients (22 fractional bits) of which the first `count` are used.
struct ResampleAxis {
  int ksize = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> coeffs;  // out_size x ksize
};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the full box (0, in_size).
ResampleAxis resample_axis(int in_size, int out_size, Filter filter);

// Resizes interleaved RGB (width x height x 3) to dst_width x dst_height x 3 exactly as Pillow's
// `Image.resize((dst_width, dst_height), filter)` on an RGB image. Sizes must be >= 1 (the caller
// validates user input; see preprocess.h). An equal size returns a copy, as Pillow does.
std::vector<uint8_t> resize_rgb8(const uint8_t* rgb, int width, int height, int dst_width,
                                 int dst_height, Filter filter);
// The same into `out` (dst_width x dst_height x 3 bytes).
void resize_rgb8(const uint8_t* rgb, int width, int height, int dst_width, int dst_height, Filter filter,
                 uint8_t* out);

}  // namespace vlac
