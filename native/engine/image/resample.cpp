#include "image/resample.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/cpu_features.h"
#include "common/error.h"
#include "common/workspace.h"

namespace vlac {
namespace {

// Pillow's 8-bit coefficients: 32-bit accumulators, 8 bits of pixel, 2 bits of headroom for the
// negative lobes (Resample.c PRECISION_BITS).
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);
constexpr double kPi = 3.14159265358979323846;  // M_PI

// The filters exactly as Pillow evaluates them in double precision: the same expressions in the same
// order, because a last-bit difference can move a quantised coefficient.
double sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * kPi;
  return std::sin(x) / x;
}

double filter_value(Filter filter, double x) {
  switch (filter) {
    case Filter::Box:
      return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
    case Filter::Bilinear:
      if (x < 0.0) x = -x;
      return x < 1.0 ? 1.0 - x : 0.0;
    case Filter::Hamming:
      if (x < 0.0) x = -x;
      if (x == 0.0) return 1.0;
      if (x >= 1.0) return 0.0;
      x = x * kPi;
      // Pillow writes these two constants as floats.
      return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
    case Filter::Bicubic: {
      constexpr double a = -0.5;
      if (x < 0.0) x = -x;
      if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
      if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
      return 0.0;
    }
    case Filter::Lanczos:
      return (-3.0 <= x && x < 3.0) ? sinc(x) * sinc(x / 3) : 0.0;
  }
  return 0.0;
}

double filter_support(Filter filter) {
  switch (filter) {
    case Filter::Box: return 0.5;
    case Filter::Bilinear: return 1.0;
    case Filter::Hamming: return 1.0;
    case Filter::Bicubic: return 2.0;
    case Filter::Lanczos: return 3.0;
  }
  return 0.0;
}

inline uint8_t clip_fixed(int32_t acc) {
  // Pillow's clip8: arithmetic shift, then a table that saturates to 0..255.
  const int32_t v = acc >> kPrecisionBits;
  return static_cast<uint8_t>(v < 0 ? 0 : (v > 255 ? 255 : v));
}

// ---- kernels --------------------------------------------------------------------------------
// Both passes are "output line = weighted sum of input lines, lane by lane": the vertical pass over
// image rows, the horizontal pass over the columns of a transposed strip of kStripRows rows. The
// lanes are independent, so the integer loop vectorises; the arithmetic is Pillow's exactly.
constexpr int kStripRows = 32;
constexpr int kStripLanes = kStripRows * 3;
constexpr size_t kLaneBlock = 1024;  // vertical-pass accumulators per block: 4 KiB, stays in L1

#define VLAC_RESAMPLE_INLINE inline __attribute__((always_inline))

// columns: in_width x kStripLanes (a transposed strip); out: out_width x kStripLanes.
VLAC_RESAMPLE_INLINE void horizontal_strip_body(const uint8_t* columns, const ResampleAxis& axis,
                                                uint8_t* out) {
  const size_t out_size = axis.first.size();
  for (size_t o = 0; o < out_size; ++o) {
    int32_t acc[kStripLanes];
    for (int l = 0; l < kStripLanes; ++l) acc[l] = kHalf;
    const int32_t* k = &axis.coeffs[o * axis.ksize];
    const uint8_t* column = columns + static_cast<size_t>(axis.first[o]) * kStripLanes;
    for (int t = 0; t < axis.count[o]; ++t, column += kStripLanes) {
      const int32_t kt = k[t];
      for (int l = 0; l < kStripLanes; ++l) acc[l] += kt * static_cast<int32_t>(column[l]);
    }
    uint8_t* dst = out + o * kStripLanes;
    for (int l = 0; l < kStripLanes; ++l) dst[l] = clip_fixed(acc[l]);
  }
}

// src: rows of row_bytes, src row r holds source row r + row_offset; dst: out_size rows.
VLAC_RESAMPLE_INLINE void vertical_rows_body(const uint8_t* src, size_t row_bytes,
                                             const ResampleAxis& axis, int row_offset,
                                             uint8_t* dst) {
  int32_t acc[kLaneBlock];
  const size_t out_size = axis.first.size();
  for (size_t o = 0; o < out_size; ++o) {
    const int32_t* k = &axis.coeffs[o * axis.ksize];
    const uint8_t* top = src + static_cast<size_t>(axis.first[o] - row_offset) * row_bytes;
    for (size_t b = 0; b < row_bytes; b += kLaneBlock) {
      const size_t lanes = std::min(kLaneBlock, row_bytes - b);
      for (size_t l = 0; l < lanes; ++l) acc[l] = kHalf;
      const uint8_t* row = top + b;
      for (int t = 0; t < axis.count[o]; ++t, row += row_bytes) {
        const int32_t kt = k[t];
        for (size_t l = 0; l < lanes; ++l) acc[l] += kt * static_cast<int32_t>(row[l]);
      }
      uint8_t* out = dst + o * row_bytes + b;
      for (size_t l = 0; l < lanes; ++l) out[l] = clip_fixed(acc[l]);
    }
  }
}

// Integer arithmetic gives identical bytes on every instruction set; AVX2 only makes the 32-bit
// multiplies wide. Chosen at run time so the library itself needs no ISA flags.
void horizontal_strip_baseline(const uint8_t* columns, const ResampleAxis& axis, uint8_t* out) {
  horizontal_strip_body(columns, axis, out);
}
__attribute__((target("avx2"))) void horizontal_strip_avx2(const uint8_t* columns,
                                                           const ResampleAxis& axis, uint8_t* out) {
  horizontal_strip_body(columns, axis, out);
}
void vertical_rows_baseline(const uint8_t* src, size_t row_bytes, const ResampleAxis& axis,
                            int row_offset, uint8_t* dst) {
  vertical_rows_body(src, row_bytes, axis, row_offset, dst);
}
__attribute__((target("avx2"))) void vertical_rows_avx2(const uint8_t* src, size_t row_bytes,
                                                        const ResampleAxis& axis, int row_offset,
                                                        uint8_t* dst) {
  vertical_rows_body(src, row_bytes, axis, row_offset, dst);
}

bool cpu_has_avx2() { return cpu_features().avx2; }

// Horizontal pass over source rows [row_begin, row_end) into out ((row_end - row_begin) x out_w x 3).
void horizontal_pass(const uint8_t* rgb, int width, int row_begin, int row_end,
                     const ResampleAxis& axis, uint8_t* out) {
  const size_t in_stride = static_cast<size_t>(width) * 3;
  const size_t out_width = axis.first.size();
  const size_t out_stride = out_width * 3;
  std::vector<uint8_t> columns(static_cast<size_t>(width) * kStripLanes);
  std::vector<uint8_t> resampled(out_width * kStripLanes);
  const bool avx2 = cpu_has_avx2();
  for (int y0 = row_begin; y0 < row_end; y0 += kStripRows) {
    const int rows = std::min(kStripRows, row_end - y0);
    if (rows < kStripRows) std::fill(columns.begin(), columns.end(), 0);
    const uint8_t* src = rgb + static_cast<size_t>(y0) * in_stride;
    for (int x = 0; x < width; ++x) {
      uint8_t* col = columns.data() + static_cast<size_t>(x) * kStripLanes;
      const uint8_t* pixel = src + static_cast<size_t>(x) * 3;
      for (int r = 0; r < rows; ++r, col += 3, pixel += in_stride) {
        col[0] = pixel[0];
        col[1] = pixel[1];
        col[2] = pixel[2];
      }
    }
    if (avx2) {
      horizontal_strip_avx2(columns.data(), axis, resampled.data());
    } else {
      horizontal_strip_baseline(columns.data(), axis, resampled.data());
    }
    for (int r = 0; r < rows; ++r) {
      uint8_t* dst = out + static_cast<size_t>(y0 + r - row_begin) * out_stride;
      const uint8_t* col = resampled.data() + r * 3;
      for (size_t x = 0; x < out_width; ++x, dst += 3, col += kStripLanes) {
        dst[0] = col[0];
        dst[1] = col[1];
        dst[2] = col[2];
      }
    }
  }
}

}  // namespace

ResampleAxis resample_axis(int in_size, int out_size, Filter filter) {
  VLAC_CHECK(in_size >= 1 && out_size >= 1, "resample_axis needs positive sizes");
  // Pillow resamples the box (0, 0, w, h) given as floats; scale is computed from the float width.
  const float in0 = 0.0f;
  const float in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  const double support = filter_support(filter) * filterscale;

  ResampleAxis axis;
  axis.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  axis.first.resize(out_size);
  axis.count.resize(out_size);
  axis.coeffs.assign(static_cast<size_t>(out_size) * axis.ksize, 0);
  std::vector<double> weights(axis.ksize);
  const double ss = 1.0 / filterscale;
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    // (int) truncates toward zero, which together with the clamps is Pillow's rounding here.
    const int xmin = std::max(static_cast<int>(center - support + 0.5), 0);
    const int xmax = std::min(static_cast<int>(center + support + 0.5), in_size) - xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter_value(filter, (x + xmin - center + 0.5) * ss);
      weights[x] = w;
      ww += w;
    }
    int32_t* k = &axis.coeffs[static_cast<size_t>(xx) * axis.ksize];
    for (int x = 0; x < xmax; ++x) {
      const double normalised = ww != 0.0 ? weights[x] / ww : weights[x];
      const double fixed = normalised * (1 << kPrecisionBits);
      // normalize_coeffs_8bpc: round half away from zero by truncating x +/- 0.5.
      k[x] = static_cast<int32_t>(normalised < 0 ? -0.5 + fixed : 0.5 + fixed);
    }
    axis.first[xx] = xmin;
    axis.count[xx] = std::max(xmax, 0);
  }
  return axis;
}

std::vector<uint8_t> resize_rgb8(const uint8_t* rgb, int width, int height, int dst_width,
                                 int dst_height, Filter filter) {
  VLAC_CHECK(width >= 1 && height >= 1 && dst_width >= 1 && dst_height >= 1,
             "resize_rgb8 needs positive sizes");
  std::vector<uint8_t> out(static_cast<size_t>(dst_width) * dst_height * 3);
  resize_rgb8(rgb, width, height, dst_width, dst_height, filter, out.data());
  return out;
}

void resize_rgb8(const uint8_t* rgb, int width, int height, int dst_width, int dst_height, Filter filter,
                 uint8_t* out) {
  VLAC_CHECK(width >= 1 && height >= 1 && dst_width >= 1 && dst_height >= 1,
             "resize_rgb8 needs positive sizes");
  if (dst_width == width && dst_height == height) {
    std::memcpy(out, rgb, static_cast<size_t>(width) * height * 3);
    return;
  }
  const bool need_horizontal = dst_width != width;
  const bool need_vertical = dst_height != height;

  // Like Pillow, the vertical coefficients come first so that the horizontal pass runs only on the
  // source rows the vertical pass reads (same bytes, less work).
  ResampleAxis vertical;
  int row_begin = 0;
  int row_end = height;
  if (need_vertical) {
    vertical = resample_axis(height, dst_height, filter);
    row_begin = vertical.first.front();
    row_end = vertical.first.back() + vertical.count.back();
  }

  if (!need_vertical) {
    horizontal_pass(rgb, width, 0, height, resample_axis(width, dst_width, filter), out);
    return;
  }
  WorkspaceScope ws;  // the horizontal pass's rows: the thread's kept memory, not an allocation per image
  const uint8_t* rows = rgb;
  if (need_horizontal) {
    uint8_t* horizontal = ws.take<uint8_t>(static_cast<size_t>(row_end - row_begin) * dst_width * 3);
    horizontal_pass(rgb, width, row_begin, row_end, resample_axis(width, dst_width, filter), horizontal);
    rows = horizontal;
  } else {
    rows = rgb + static_cast<size_t>(row_begin) * width * 3;
  }

  const size_t row_bytes = static_cast<size_t>(dst_width) * 3;
  if (cpu_has_avx2()) {
    vertical_rows_avx2(rows, row_bytes, vertical, row_begin, out);
  } else {
    vertical_rows_baseline(rows, row_bytes, vertical, row_begin, out);
  }
}

}  // namespace vlac
