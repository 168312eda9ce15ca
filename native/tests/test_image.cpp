// Image preprocessing: Pillow-exact resizing, InternVL's grid choice, tiling, colour conversion and
// normalisation. Bit-exact parity with Pillow on the fixture images is test_image_parity.cpp (and
// test/preprocess.test.ts through sharp); here are the properties and an independent resampler.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "common/error.h"
#include "image/color.h"
#include "image/preprocess.h"
#include "image/resample.h"

using namespace vlac;

namespace {

std::vector<uint8_t> random_image(int width, int height, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (auto& v : rgb) v = static_cast<uint8_t>(rng() & 0xff);
  return rgb;
}

// Smooth content with edges: what photographs look like to a resampler (random noise is the
// worst case for ringing, this is the common case).
std::vector<uint8_t> gradient_image(int width, int height) {
  std::vector<uint8_t> rgb(static_cast<size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      uint8_t* p = &rgb[(static_cast<size_t>(y) * width + x) * 3];
      p[0] = static_cast<uint8_t>(255 * x / std::max(width - 1, 1));
      p[1] = static_cast<uint8_t>(255 * y / std::max(height - 1, 1));
      p[2] = ((x / 7 + y / 5) % 2) ? 230 : 20;
    }
  }
  return rgb;
}

// ---- an independent reference resampler --------------------------------------------------------
// The textbook formulation in double precision: each output sample is the weighted mean of the
// source samples under the (widened) kernel, weights written from the kernels' definitions and
// divided by their sum at the end; between the passes values are clamped to 0..255 but not
// rounded; the result is rounded once. Pillow differs from it only by quantising coefficients
// to 2^-22 and rounding the intermediate, which moves an output by at most
// 0.5 * sum|k| (< 0.65 for these kernels) + 2^-22 * 255 * taps, so the two agree within 1.
double reference_kernel(Filter filter, double x) {
  constexpr double pi = 3.14159265358979323846;
  const double ax = std::fabs(x);
  switch (filter) {
    case Filter::Box:
      return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0;
    case Filter::Bilinear:
      return ax < 1.0 ? 1.0 - ax : 0.0;
    case Filter::Hamming:
      if (ax >= 1.0) return 0.0;
      return ax == 0.0 ? 1.0 : std::sin(pi * ax) / (pi * ax) * (0.54 + 0.46 * std::cos(pi * ax));
    case Filter::Bicubic:  // Keys, a = -0.5
      if (ax < 1.0) return 1.5 * ax * ax * ax - 2.5 * ax * ax + 1.0;
      if (ax < 2.0) return -0.5 * ax * ax * ax + 2.5 * ax * ax - 4.0 * ax + 2.0;
      return 0.0;
    case Filter::Lanczos:
      if (ax >= 3.0) return 0.0;
      return ax == 0.0 ? 1.0 : 3.0 * std::sin(pi * ax) * std::sin(pi * ax / 3.0) / (pi * pi * ax * ax);
  }
  return 0.0;
}

double reference_support(Filter filter) {
  switch (filter) {
    case Filter::Box: return 0.5;
    case Filter::Bilinear:
    case Filter::Hamming: return 1.0;
    case Filter::Bicubic: return 2.0;
    case Filter::Lanczos: return 3.0;
  }
  return 0.0;
}

// A double-precision image, height x width x 3.
struct Plane {
  int width, height;
  std::vector<double> v;  // height x width x 3
  double& at(int x, int y, int c) { return v[(static_cast<size_t>(y) * width + x) * 3 + c]; }
};

Plane reference_axis(Plane& in, int out_size, bool horizontal, Filter filter) {
  const int in_size = horizontal ? in.width : in.height;
  Plane out{horizontal ? out_size : in.width, horizontal ? in.height : out_size, {}};
  out.v.assign(static_cast<size_t>(out.width) * out.height * 3, 0.0);
  const double scale = static_cast<double>(in_size) / out_size;
  const double widen = std::max(scale, 1.0);
  const double support = reference_support(filter) * widen;
  const int lines = horizontal ? in.height : in.width;
  for (int o = 0; o < out_size; ++o) {
    const double center = (o + 0.5) * scale;
    const int lo = std::max(0, static_cast<int>(std::floor(center - support)) - 1);
    const int hi = std::min(in_size, static_cast<int>(std::ceil(center + support)) + 1);
    std::vector<double> w(hi - lo);
    double weight = 0.0;
    for (int i = lo; i < hi; ++i) weight += w[i - lo] = reference_kernel(filter, (i + 0.5 - center) / widen);
    for (int line = 0; line < lines; ++line) {
      for (int c = 0; c < 3; ++c) {
        double sum = 0.0;
        for (int i = lo; i < hi; ++i) sum += w[i - lo] * (horizontal ? in.at(i, line, c) : in.at(line, i, c));
        const double v = std::min(255.0, std::max(0.0, sum / weight));
        (horizontal ? out.at(o, line, c) : out.at(line, o, c)) = v;
      }
    }
  }
  return out;
}

std::vector<uint8_t> reference_resize(const std::vector<uint8_t>& rgb, int width, int height,
                                      int dst_width, int dst_height, Filter filter) {
  Plane img{width, height, std::vector<double>(rgb.begin(), rgb.end())};
  Plane h = reference_axis(img, dst_width, true, filter);
  Plane v = reference_axis(h, dst_height, false, filter);
  std::vector<uint8_t> out(v.v.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = static_cast<uint8_t>(std::floor(v.v[i] + 0.5));
  return out;
}

int max_difference(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  REQUIRE(a.size() == b.size());
  int worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(int(a[i]) - int(b[i])));
  return worst;
}

std::string filter_name(Filter f) {
  switch (f) {
    case Filter::Box: return "box";
    case Filter::Bilinear: return "bilinear";
    case Filter::Hamming: return "hamming";
    case Filter::Bicubic: return "bicubic";
    case Filter::Lanczos: return "lanczos";
  }
  return "?";
}

template <class F>
ErrorCode error_code_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  FAIL("expected a vlac::Error");
  return ErrorCode::Internal;
}

}  // namespace

TEST_CASE("resizing to the same size returns the pixels unchanged") {
  const auto img = random_image(449, 447, 1);
  for (Filter f : {Filter::Lanczos, Filter::Bicubic}) {
    CHECK(resize_rgb8(img.data(), 449, 447, 449, 447, f) == img);
  }
  const auto tile = random_image(448, 448, 2);
  const ImageTiles vlac_tiles =
      preprocess_image(tile.data(), 448, 448, ResizeMode::Vlac, 12, 1, 448, true, "image 0");
  CHECK(vlac_tiles.count == 1);
  CHECK(vlac_tiles.rgb == tile);
  // InternVL keeps a 448x448 image as one tile without thumbnail, a same-size copy.
  const ImageTiles internvl_tiles =
      preprocess_image(tile.data(), 448, 448, ResizeMode::InternVL, 12, 1, 448, true, "image 0");
  CHECK(internvl_tiles.count == 1);
  CHECK(internvl_tiles.rgb == tile);
}

TEST_CASE("a uniform image stays uniform at any size, with every filter") {
  for (Filter f : {Filter::Box, Filter::Bilinear, Filter::Hamming, Filter::Bicubic, Filter::Lanczos}) {
    CAPTURE(filter_name(f));
    for (auto [w, h, dw, dh] : std::vector<std::array<int, 4>>{
             {1, 1, 448, 448}, {3000, 10, 448, 448}, {7, 5, 3, 2}, {640, 480, 1344, 1344}}) {
      std::vector<uint8_t> img(static_cast<size_t>(w) * h * 3);
      for (size_t i = 0; i < img.size(); i += 3) {
        img[i] = 255;
        img[i + 1] = 0;
        img[i + 2] = 97;
      }
      const auto out = resize_rgb8(img.data(), w, h, dw, dh, f);
      REQUIRE(out.size() == static_cast<size_t>(dw) * dh * 3);
      bool uniform = true;
      for (size_t i = 0; i < out.size(); i += 3) {
        uniform = uniform && out[i] == 255 && out[i + 1] == 0 && out[i + 2] == 97;
      }
      CHECK(uniform);
    }
  }
}

TEST_CASE("Pillow's fixed point rounds halves up between and after the passes") {
  // Bilinear 2 -> 1 weighs both pixels 0.5 = 2^21 / 2^22: (255 * 2^21 + 2^21) >> 22 = 128.
  const uint8_t row[6] = {0, 10, 255, 255, 11, 0};
  const auto out = resize_rgb8(row, 2, 1, 1, 1, Filter::Bilinear);
  CHECK(out == std::vector<uint8_t>{128, 11, 128});
}

TEST_CASE("box downscaling by an integer factor averages blocks") {
  // 4x2 -> 2x1: each pass takes the mean of 2 and rounds half up, so the horizontal pass turns
  // (100 + 201) / 2 into 151 before the vertical pass: (150 + 151) / 2 -> 151, not 150.
  const uint8_t img[24] = {0, 0, 0,   10, 20, 30,  100, 100, 100, 200, 200, 200,
                           1, 1, 1,   11, 21, 31,  100, 100, 100, 201, 201, 201};
  CHECK(resize_rgb8(img, 4, 2, 2, 1, Filter::Box) == std::vector<uint8_t>{6, 11, 16, 151, 151, 151});
}

TEST_CASE("resizing agrees with an independent double-precision resampler within 1") {
  struct Case {
    int w, h, dw, dh;
  };
  const std::vector<Case> cases = {
      {640, 480, 448, 448},   // VLAC's usual frame: downscale both ways
      {37, 23, 448, 448},     // upsampling both ways
      {1000, 50, 448, 448},   // down across, up down
      {50, 1000, 448, 448},   // up across, down down
      {449, 447, 448, 448},   // almost the same size
      {448, 300, 448, 448},   // vertical pass only
      {300, 448, 448, 448},   // horizontal pass only
      {5, 7, 3, 11},          // tiny, odd ratios
      {1, 1, 448, 448},       // one pixel
      {2, 3, 896, 1344},      // the 2x3 fixture's InternVL grid
  };
  // Not Box: at some ratios a source pixel sits exactly on a box edge, where Pillow's truncated
  // window bounds (not the kernel) decide; Box is checked on exact values below.
  for (Filter f : {Filter::Bilinear, Filter::Hamming, Filter::Bicubic, Filter::Lanczos}) {
    for (const Case& c : cases) {
      CAPTURE(filter_name(f));
      CAPTURE(c.w);
      CAPTURE(c.h);
      CAPTURE(c.dw);
      CAPTURE(c.dh);
      for (const auto& img : {random_image(c.w, c.h, c.w * 131 + c.h), gradient_image(c.w, c.h)}) {
        const auto got = resize_rgb8(img.data(), c.w, c.h, c.dw, c.dh, f);
        CHECK(max_difference(got, reference_resize(img, c.w, c.h, c.dw, c.dh, f)) <= 1);
      }
    }
  }
}

TEST_CASE("extreme aspect ratios resize correctly: 3000x10 and 20000x10") {
  for (auto [w, h] : std::vector<std::pair<int, int>>{{3000, 10}, {20000, 10}, {10, 3000}}) {
    CAPTURE(w);
    CAPTURE(h);
    const auto img = random_image(w, h, 7);
    for (Filter f : {Filter::Lanczos, Filter::Bicubic}) {
      const auto got = resize_rgb8(img.data(), w, h, 448, 448, f);
      CHECK(max_difference(got, reference_resize(img, w, h, 448, 448, f)) <= 1);
    }
    // InternVL puts such an image on the longest grid: 12 (or 6) tiles in a line, plus thumbnail.
    const ImageTiles t12 = preprocess_image(img.data(), w, h, ResizeMode::InternVL, 12, 1, 448, true, "x");
    CHECK(t12.count == 13);
    const ImageTiles t6 = preprocess_image(img.data(), w, h, ResizeMode::InternVL, 6, 1, 448, true, "x");
    CHECK(t6.count == 7);
  }
}

TEST_CASE("InternVL scans candidate grids in CPython's set order, sorted by area") {
  const auto g12 = internvl_candidate_grids(1, 12);
  REQUIRE(g12.size() == 35);
  CHECK(g12[5] == TileGrid{2, 2});
  CHECK(g12[12] == TileGrid{3, 2});
  CHECK(g12[13] == TileGrid{2, 3});
  CHECK(g12[34] == TileGrid{2, 6});
  const auto g6 = internvl_candidate_grids(1, 6);
  REQUIRE(g6.size() == 14);
  CHECK(g6[7] == TileGrid{2, 2});
  CHECK(g6[13] == TileGrid{3, 2});

  // Other ranges replay CPython's set; the replay gives the two hard-coded lists, and this list
  // for 1..9 is what CPython 3.11 prints (the replay matched it for every 1 <= min <= max <= 40).
  CHECK(cpython_sorted_grid_set(1, 12) == g12);
  CHECK(cpython_sorted_grid_set(1, 6) == g6);
  const std::vector<TileGrid> g9 = {{1, 1}, {1, 2}, {2, 1}, {3, 1}, {1, 3}, {2, 2}, {4, 1}, {1, 4},
                                    {5, 1}, {1, 5}, {1, 6}, {6, 1}, {3, 2}, {2, 3}, {7, 1}, {1, 7},
                                    {4, 2}, {2, 4}, {1, 8}, {8, 1}, {1, 9}, {3, 3}, {9, 1}};
  CHECK(internvl_candidate_grids(1, 9) == g9);
  for (const auto& g : internvl_candidate_grids(3, 20)) {
    CHECK(g.columns * g.rows >= 3);
    CHECK(g.columns * g.rows <= 20);
  }
}

TEST_CASE("InternVL picks the grid closest in aspect ratio, preferring larger grids only for large images") {
  struct Case {
    int w, h, max_tiles;
    TileGrid grid;
  };
  // Expected grids from the official find_closest_aspect_ratio (CPython 3.11).
  const std::vector<Case> cases = {
      {448, 448, 12, {1, 1}},   {449, 447, 12, {1, 1}},  {896, 896, 12, {2, 2}},
      {1344, 1344, 12, {3, 3}}, {896, 448, 12, {2, 1}},  {1792, 896, 12, {4, 2}},
      {640, 480, 12, {4, 3}},   {1920, 1080, 12, {4, 2}}, {2, 3, 12, {2, 3}},
      {3000, 10, 12, {12, 1}},  {37, 1200, 12, {1, 12}}, {123, 457, 12, {1, 4}},
      {100, 80, 12, {4, 3}},    {1, 1, 12, {1, 1}},      {20000, 10, 12, {12, 1}},
      {10, 20000, 12, {1, 12}}, {300, 200, 12, {3, 2}},  {200, 300, 12, {2, 3}},
      {1000, 1000, 12, {3, 3}}, {448, 448, 6, {1, 1}},   {449, 447, 6, {1, 1}},
      {896, 896, 6, {2, 2}},    {1344, 1344, 6, {2, 2}}, {896, 448, 6, {2, 1}},
      {1792, 896, 6, {2, 1}},   {640, 480, 6, {3, 2}},   {1920, 1080, 6, {2, 1}},
      {2, 3, 6, {2, 3}},        {3000, 10, 6, {6, 1}},   {37, 1200, 6, {1, 6}},
      {123, 457, 6, {1, 4}},    {100, 80, 6, {1, 1}},    {1, 1, 6, {1, 1}},
      {20000, 10, 6, {6, 1}},   {10, 20000, 6, {1, 6}},  {300, 200, 6, {3, 2}},
      {200, 300, 6, {2, 3}},    {1000, 1000, 6, {2, 2}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.w);
    CAPTURE(c.h);
    CAPTURE(c.max_tiles);
    const TileGrid g = choose_internvl_grid(c.w, c.h, 1, c.max_tiles, 448);
    CHECK(g.columns == c.grid.columns);
    CHECK(g.rows == c.grid.rows);
  }
  // Other ranges (CPython 3.11 again).
  CHECK(choose_internvl_grid(640, 480, 1, 40, 448) == TileGrid{4, 3});
  CHECK(choose_internvl_grid(640, 480, 2, 9, 448) == TileGrid{3, 2});
  CHECK(choose_internvl_grid(448, 448, 2, 12, 448) == TileGrid{2, 2});
  CHECK(choose_internvl_grid(1920, 1080, 1, 24, 448) == TileGrid{5, 3});
}

TEST_CASE("InternVL tiles are crops of the grid resize, left to right then top to bottom, then the thumbnail") {
  const int w = 700, h = 500;  // 1.4 -> grid (3, 2) with max 6
  const auto img = gradient_image(w, h);
  const ImageTiles t = preprocess_image(img.data(), w, h, ResizeMode::InternVL, 6, 1, 448, true, "x");
  REQUIRE(t.count == 7);
  CHECK(t.size == 448);
  const auto grid = resize_rgb8(img.data(), w, h, 3 * 448, 2 * 448, Filter::Bicubic);
  const size_t tile_bytes = 448 * 448 * 3;
  for (int k = 0; k < 6; ++k) {
    const int x0 = (k % 3) * 448, y0 = (k / 3) * 448;
    bool same = true;
    for (int y = 0; y < 448 && same; ++y) {
      for (int x = 0; x < 448 * 3; ++x) {
        if (t.rgb[k * tile_bytes + y * 448 * 3 + x] != grid[((y0 + y) * 3 * 448 + x0) * 3 + x]) {
          same = false;
          break;
        }
      }
    }
    CHECK_MESSAGE(same, "tile " << k);
  }
  const auto thumb = resize_rgb8(img.data(), w, h, 448, 448, Filter::Bicubic);
  CHECK(std::equal(thumb.begin(), thumb.end(), t.rgb.begin() + 6 * tile_bytes));

  const ImageTiles no_thumb =
      preprocess_image(img.data(), w, h, ResizeMode::InternVL, 6, 1, 448, false, "x");
  CHECK(no_thumb.count == 6);

  // VLAC squashes to one LANCZOS tile whatever the shape.
  const ImageTiles v = preprocess_image(img.data(), w, h, ResizeMode::Vlac, 12, 1, 448, true, "x");
  CHECK(v.count == 1);
  CHECK(v.rgb == resize_rgb8(img.data(), w, h, 448, 448, Filter::Lanczos));
}

TEST_CASE("normalisation is torchvision's ToTensor + ImageNet Normalize in fp32") {
  // Values from torch 1.13: (x.float().div(255) - mean) / std on float32 tensors.
  const uint8_t levels[6] = {0, 1, 127, 128, 254, 255};
  const float expected[3][6] = {
      {-0x1.0f177ap+1f, -0x1.0ce656p+1f, 0x1.d2734cp-5f, 0x1.2f5e64p-4f, 0x1.1dab14p+1f, 0x1.1fdc3ap+1f},
      {-0x1.049248p+1f, -0x1.02549ep+1f, 0x1.805bc8p-3f, 0x1.a43690p-3f, 0x1.349dc0p+1f, 0x1.36db6ep+1f},
      {-0x1.cdf012p+0f, -0x1.c979d4p+0f, 0x1.a2e17ap-2f, 0x1.b4ba78p-2f, 0x1.4fb068p+1f, 0x1.51eb86p+1f},
  };
  // A 6x6 tile whose pixel p has every channel at levels[p % 6].
  const int size = 6;
  std::vector<uint8_t> hwc(size * size * 3);
  for (int p = 0; p < size * size; ++p) {
    for (int c = 0; c < 3; ++c) hwc[p * 3 + c] = levels[p % 6];
  }
  std::vector<float> chw(3 * size * size);
  normalize_tile(hwc.data(), size, chw.data());
  for (int c = 0; c < 3; ++c) {
    for (int p = 0; p < size * size; ++p) {
      CAPTURE(c);
      CAPTURE(p);
      CHECK(chw[c * size * size + p] == expected[c][p % 6]);  // exact: same IEEE operations
    }
  }
}

TEST_CASE("gray, gray+alpha and RGBA pixels become RGB with alpha dropped, not composited") {
  const uint8_t gray[2] = {10, 200};
  CHECK(to_rgb(gray, 2, 1, 1, "x") == std::vector<uint8_t>{10, 10, 10, 200, 200, 200});
  const uint8_t la[4] = {10, 0, 200, 128};
  CHECK(to_rgb(la, 2, 1, 2, "x") == std::vector<uint8_t>{10, 10, 10, 200, 200, 200});
  const uint8_t rgb[3] = {1, 2, 3};
  CHECK(to_rgb(rgb, 1, 1, 3, "x") == std::vector<uint8_t>{1, 2, 3});
  const uint8_t rgba[8] = {1, 2, 3, 0, 4, 5, 6, 255};
  CHECK(to_rgb(rgba, 2, 1, 4, "x") == std::vector<uint8_t>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("CMYK becomes RGB by Pillow's plain formula, without ICC") {
  // nk = 255 - K; R = nk - round(C * nk / 255).
  const uint8_t cmyk[16] = {0, 0, 0, 0, 255, 255, 255, 0, 0, 0, 0, 255, 100, 50, 200, 30};
  const auto rgb = cmyk_to_rgb(cmyk, 4, 1, "x");
  // 225 - round(100 * 225 / 255) = 225 - 88; 225 - round(50 * 225 / 255) = 225 - 44; 225 - 176.
  CHECK(rgb == std::vector<uint8_t>{255, 255, 255, 0, 0, 0, 0, 0, 0, 137, 181, 49});
}

TEST_CASE("bad images and options are rejected with the input named") {
  const uint8_t px[12] = {};
  CHECK(error_code_of([&] { to_rgb(px, 0, 1, 3, "image 3"); }) == ErrorCode::BadImage);
  CHECK(error_code_of([&] { to_rgb(px, 1, -5, 3, "image 3"); }) == ErrorCode::BadImage);
  CHECK(error_code_of([&] { to_rgb(px, 1, 1, 5, "image 3"); }) == ErrorCode::BadImage);
  CHECK(error_code_of([&] { to_rgb(px, 1, 1, 0, "image 3"); }) == ErrorCode::BadImage);
  CHECK(error_code_of([&] { cmyk_to_rgb(px, 0, 0, "image 3"); }) == ErrorCode::BadImage);
  // Sizes whose byte counts overflow 32 bits, or are simply too large, never reach an allocation.
  CHECK(error_code_of([&] { validate_image_size(1 << 20, 1 << 20, "image 3"); }) == ErrorCode::BadImage);
  CHECK(error_code_of([&] { validate_image_size(65536, 65536, "image 3"); }) == ErrorCode::BadImage);
  CHECK(error_code_of([&] { validate_image_size(2147483647, 1, "image 3"); }) == ErrorCode::BadImage);
  CHECK(error_code_of([&] {
          preprocess_image(px, 0, 4, ResizeMode::Vlac, 12, 1, 448, true, "image 3");
        }) == ErrorCode::BadImage);
  CHECK(error_code_of([&] {
          preprocess_image(px, 2, 2, ResizeMode::InternVL, 0, 1, 448, true, "image 3");
        }) == ErrorCode::BadArgument);
  CHECK(error_code_of([&] {
          preprocess_image(px, 2, 2, ResizeMode::InternVL, 12, 1, 0, true, "image 3");
        }) == ErrorCode::BadArgument);
  CHECK(error_code_of([&] {
          preprocess_image(px, 2, 2, ResizeMode::InternVL, 41, 1, 448, true, "image 3");
        }) == ErrorCode::BadArgument);
  try {
    to_rgb(px, 0, 1, 3, "image 3");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("image 3") != std::string::npos);
  }
}
