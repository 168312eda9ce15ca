// The image path of the model: RGB pixels -> 448x448 uint8 tiles -> normalised fp32 (architecture.md
// §6). Two ways to make tiles, both Pillow-exact:
//   Vlac      VLAC's `_process_image_to_pil` + ms-swift `transform_image`: LANCZOS squash to
//             tile x tile (aspect ratio not kept), which swift's tiling then leaves as one tile;
//   InternVL  InternVL's `dynamic_preprocess`: BICUBIC resize to a grid of tiles chosen by aspect
//             ratio, crops left to right then top to bottom, plus a thumbnail of the whole image.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vlac {

// Input bounds. Sides up to 2^20 keep every coordinate exact in the float box Pillow resamples;
// 2^28 pixels (768 MiB of RGB) bounds the memory one image may take.
constexpr int kMaxImageSide = 1 << 20;
constexpr int64_t kMaxImagePixels = int64_t{1} << 28;
// Option bounds: InternVL configurations use at most 40 tiles; 448 is the model's tile.
constexpr int kMaxTiles = 40;
constexpr int kMaxTileSize = 1024;

// Throws BadImage naming `label` unless 1 <= width, height <= kMaxImageSide and
// width * height <= kMaxImagePixels.
void validate_image_size(int width, int height, const std::string& label);

enum class ResizeMode { Vlac, InternVL };

// A grid of tiles: `columns` across (i in InternVL's code), `rows` down (j).
struct TileGrid {
  int columns;
  int rows;
  bool operator==(const TileGrid& o) const { return columns == o.columns && rows == o.rows; }
};

// InternVL's candidate grids in the order it scans them: every (i, j) with
// min_tiles <= i * j <= max_tiles, built in a Python set and stably sorted by i * j, so equal
// areas keep CPython's set iteration order. 12 and 6 (with min 1) are the lists of architecture.md
// §6.1; other ranges replay CPython's (3.8+) tuple hash and set insertion to get the same order.
std::vector<TileGrid> internvl_candidate_grids(int min_tiles, int max_tiles);

// The replay alone: `sorted(set(...), key=area)` as CPython computes it, for any range.
std::vector<TileGrid> cpython_sorted_grid_set(int min_tiles, int max_tiles);

// find_closest_aspect_ratio: the first candidate closest to width / height (float64), and on an
// exactly equal difference a later one when width * height > 0.5 * tile_size^2 * i * j.
TileGrid choose_internvl_grid(int width, int height, int min_tiles, int max_tiles, int tile_size);

struct ImageTiles {
  int count = 0;              // tiles
  int size = 0;               // tile side
  std::vector<uint8_t> rgb;   // count x size x size x 3, HWC RGB
};

// rgb: width x height x 3 interleaved. For Vlac the tile options other than tile_size are unused
// (one tile). Sizes -> BadImage naming `label`; tile options -> BadArgument.
ImageTiles preprocess_image(const uint8_t* rgb, int width, int height, ResizeMode mode,
                            int max_tiles, int min_tiles, int tile_size, bool use_thumbnail,
                            const std::string& label);

// The two halves of preprocess_image, for a caller that owns the tile memory: the tile count (all
// the checks, no pixel work), then the tiles into `out` (count x tile_size x tile_size x 3 bytes).
int preprocess_tile_count(int width, int height, ResizeMode mode, int max_tiles, int min_tiles, int tile_size,
                          bool use_thumbnail, const std::string& label);
void preprocess_image(const uint8_t* rgb, int width, int height, ResizeMode mode, int max_tiles, int min_tiles,
                      int tile_size, bool use_thumbnail, const std::string& label, uint8_t* out);

// ToTensor + Normalize(ImageNet mean/std) in fp32 as torchvision computes it, (x / 255 - mean) / std
// with each step rounded to float: one size x size x 3 HWC tile -> 3 x size x size CHW.
void normalize_tile(const uint8_t* hwc, int size, float* chw_out);

}  // namespace vlac
