#include "image/preprocess.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "common/error.h"
#include "common/workspace.h"
#include "image/resample.h"

namespace vlac {
namespace {

// ---- CPython set order ----------------------------------------------------------------------
// InternVL builds its candidates with `set((i, j) for n in ... for i in ... for j in ...)`. The
// iteration order of that set is fixed by CPython (>= 3.8) internals, replayed here: the xxHash-based
// tuple hash of two small ints (hash(i) == i), and an open-addressing table that starts at 8 slots,
// probes 9 neighbours then jumps by i = 5i + 1 + (perturb >>= 5), and grows to the smallest power of
// two > 4 * used once fill * 5 >= mask * 3, re-inserting in slot order (Objects/setobject.c,
// Objects/tupleobject.c).
uint64_t cpython_tuple_hash(int64_t a, int64_t b) {
  constexpr uint64_t kPrime1 = 11400714785074694791ULL;
  constexpr uint64_t kPrime2 = 14029467366897019727ULL;
  constexpr uint64_t kPrime5 = 2870177450012600261ULL;
  uint64_t acc = kPrime5;
  for (int64_t lane : {a, b}) {
    acc += static_cast<uint64_t>(lane) * kPrime2;
    acc = (acc << 31) | (acc >> 33);
    acc *= kPrime1;
  }
  acc += 2 ^ (kPrime5 ^ 3527539ULL);
  if (acc == std::numeric_limits<uint64_t>::max()) return 1546275796;
  return acc;
}

struct CpythonSet {
  struct Slot {
    bool used = false;
    uint64_t hash = 0;
    TileGrid key{0, 0};
  };
  std::vector<Slot> table = std::vector<Slot>(8);
  size_t fill = 0;

  // The slot where `hash` lands: the key's own slot, or the first free one on its probe path.
  static size_t probe(const std::vector<Slot>& table, uint64_t hash, const TileGrid* key) {
    constexpr size_t kLinearProbes = 9;
    const size_t mask = table.size() - 1;
    uint64_t perturb = hash;
    size_t i = hash & mask;
    while (true) {
      const size_t probes = i + kLinearProbes <= mask ? kLinearProbes : 0;
      for (size_t p = 0; p <= probes; ++p) {
        const Slot& slot = table[i + p];
        if (!slot.used || (key && slot.hash == hash && slot.key == *key)) return i + p;
      }
      perturb >>= 5;
      i = (i * 5 + 1 + perturb) & mask;
    }
  }

  void add(TileGrid key) {
    const uint64_t hash = cpython_tuple_hash(key.columns, key.rows);
    const size_t at = probe(table, hash, &key);
    if (table[at].used) return;
    table[at] = Slot{true, hash, key};
    ++fill;
    const size_t mask = table.size() - 1;
    if (fill * 5 < mask * 3) return;
    size_t size = 8;
    while (size <= fill * 4) size <<= 1;
    std::vector<Slot> grown(size);
    for (const Slot& slot : table) {
      if (slot.used) grown[probe(grown, slot.hash, nullptr)] = slot;
    }
    table.swap(grown);
  }
};

// architecture.md §6.1, as CPython 3.11 iterates them (the reference's interpreter).
const std::vector<TileGrid> kCandidates12 = {
    {1, 1}, {1, 2}, {2, 1}, {3, 1}, {1, 3}, {2, 2}, {4, 1}, {1, 4}, {5, 1},  {1, 5},  {1, 6},  {6, 1},
    {3, 2}, {2, 3}, {7, 1}, {1, 7}, {4, 2}, {2, 4}, {1, 8}, {8, 1}, {1, 9},  {3, 3},  {9, 1},  {2, 5},
    {5, 2}, {10, 1}, {1, 10}, {11, 1}, {1, 11}, {12, 1}, {3, 4}, {4, 3}, {1, 12}, {6, 2}, {2, 6}};
const std::vector<TileGrid> kCandidates6 = {{1, 1}, {1, 2}, {2, 1}, {3, 1}, {1, 3}, {4, 1}, {1, 4},
                                            {2, 2}, {1, 5}, {5, 1}, {6, 1}, {2, 3}, {1, 6}, {3, 2}};

void validate_tile_options(int max_tiles, int min_tiles, int tile_size) {
  if (tile_size < 1 || tile_size > kMaxTileSize) {
    fail(ErrorCode::BadArgument, "tileSize must be between 1 and " + std::to_string(kMaxTileSize) +
                                     ", got " + std::to_string(tile_size));
  }
  if (min_tiles < 1 || max_tiles < min_tiles || max_tiles > kMaxTiles) {
    fail(ErrorCode::BadArgument, "tiles must satisfy 1 <= minTiles <= maxTiles <= " +
                                     std::to_string(kMaxTiles) + ", got minTiles " +
                                     std::to_string(min_tiles) + ", maxTiles " +
                                     std::to_string(max_tiles));
  }
}

void copy_tile(const uint8_t* image, int image_width, int x0, int y0, int size, uint8_t* tile) {
  const size_t row_bytes = static_cast<size_t>(size) * 3;
  for (int y = 0; y < size; ++y) {
    const uint8_t* src = image + (static_cast<size_t>(y0 + y) * image_width + x0) * 3;
    std::memcpy(tile + y * row_bytes, src, row_bytes);
  }
}

}  // namespace

void validate_image_size(int width, int height, const std::string& label) {
  if (width < 1 || height < 1) {
    fail(ErrorCode::BadImage, label + ": image is empty (" + std::to_string(width) + "x" +
                                  std::to_string(height) + ")");
  }
  if (width > kMaxImageSide || height > kMaxImageSide ||
      static_cast<int64_t>(width) * height > kMaxImagePixels) {
    fail(ErrorCode::BadImage, label + ": image is too large (" + std::to_string(width) + "x" +
                                  std::to_string(height) + "; at most " +
                                  std::to_string(kMaxImageSide) + " per side and " +
                                  std::to_string(kMaxImagePixels) + " pixels)");
  }
}

std::vector<TileGrid> internvl_candidate_grids(int min_tiles, int max_tiles) {
  if (min_tiles == 1 && max_tiles == 12) return kCandidates12;
  if (min_tiles == 1 && max_tiles == 6) return kCandidates6;
  return cpython_sorted_grid_set(min_tiles, max_tiles);
}

std::vector<TileGrid> cpython_sorted_grid_set(int min_tiles, int max_tiles) {
  CpythonSet set;
  for (int n = min_tiles; n <= max_tiles; ++n) {
    for (int i = 1; i <= n; ++i) {
      for (int j = 1; j <= n; ++j) {
        if (i * j <= max_tiles && i * j >= min_tiles) set.add({i, j});
      }
    }
  }
  std::vector<TileGrid> grids;
  for (const auto& slot : set.table) {
    if (slot.used) grids.push_back(slot.key);
  }
  std::stable_sort(grids.begin(), grids.end(), [](const TileGrid& a, const TileGrid& b) {
    return a.columns * a.rows < b.columns * b.rows;
  });
  return grids;
}

TileGrid choose_internvl_grid(int width, int height, int min_tiles, int max_tiles, int tile_size) {
  const double aspect = static_cast<double>(width) / height;
  const int64_t area = static_cast<int64_t>(width) * height;
  const int64_t tile_area = static_cast<int64_t>(tile_size) * tile_size;
  TileGrid best{1, 1};
  double best_diff = std::numeric_limits<double>::infinity();
  for (const TileGrid& grid : internvl_candidate_grids(min_tiles, max_tiles)) {
    const double diff = std::fabs(aspect - static_cast<double>(grid.columns) / grid.rows);
    if (diff < best_diff) {
      best_diff = diff;
      best = grid;
    } else if (diff == best_diff) {
      // area > 0.5 * tile_size^2 * i * j, in integers: exact, like Python's int/float comparison
      // of these exactly representable values.
      if (2 * area > tile_area * grid.columns * grid.rows) best = grid;
    }
  }
  return best;
}

int preprocess_tile_count(int width, int height, ResizeMode mode, int max_tiles, int min_tiles, int tile_size,
                          bool use_thumbnail, const std::string& label) {
  validate_image_size(width, height, label);
  if (mode == ResizeMode::Vlac) {
    validate_tile_options(1, 1, tile_size);
    return 1;  // swift's tiling of the square result picks grid (1, 1) and its resize is a same-size copy
  }
  validate_tile_options(max_tiles, min_tiles, tile_size);
  const TileGrid grid = choose_internvl_grid(width, height, min_tiles, max_tiles, tile_size);
  const int blocks = grid.columns * grid.rows;
  return blocks + (use_thumbnail && blocks != 1 ? 1 : 0);
}

void preprocess_image(const uint8_t* rgb, int width, int height, ResizeMode mode, int max_tiles, int min_tiles,
                      int tile_size, bool use_thumbnail, const std::string& label, uint8_t* out) {
  const int count = preprocess_tile_count(width, height, mode, max_tiles, min_tiles, tile_size, use_thumbnail, label);
  if (mode == ResizeMode::Vlac) {
    resize_rgb8(rgb, width, height, tile_size, tile_size, Filter::Lanczos, out);
    return;
  }
  const TileGrid grid = choose_internvl_grid(width, height, min_tiles, max_tiles, tile_size);
  const int blocks = grid.columns * grid.rows;
  const size_t tile_bytes = static_cast<size_t>(tile_size) * tile_size * 3;
  const int resized_width = tile_size * grid.columns;
  {
    WorkspaceScope ws;  // the resized grid: the thread's kept memory, not an allocation per image
    uint8_t* resized = ws.take<uint8_t>(static_cast<size_t>(resized_width) * tile_size * grid.rows * 3);
    resize_rgb8(rgb, width, height, resized_width, tile_size * grid.rows, Filter::Bicubic, resized);
    for (int k = 0; k < blocks; ++k)
      copy_tile(resized, resized_width, (k % grid.columns) * tile_size, (k / grid.columns) * tile_size, tile_size,
                out + tile_bytes * k);
  }
  if (count > blocks) resize_rgb8(rgb, width, height, tile_size, tile_size, Filter::Bicubic, out + tile_bytes * blocks);
}

ImageTiles preprocess_image(const uint8_t* rgb, int width, int height, ResizeMode mode,
                            int max_tiles, int min_tiles, int tile_size, bool use_thumbnail,
                            const std::string& label) {
  ImageTiles tiles;
  tiles.size = tile_size;
  tiles.count = preprocess_tile_count(width, height, mode, max_tiles, min_tiles, tile_size, use_thumbnail, label);
  tiles.rgb.resize(static_cast<size_t>(tile_size) * tile_size * 3 * tiles.count);
  preprocess_image(rgb, width, height, mode, max_tiles, min_tiles, tile_size, use_thumbnail, label, tiles.rgb.data());
  return tiles;
}

void normalize_tile(const uint8_t* hwc, int size, float* chw_out) {
  // torchvision's constants as float32 tensors; the divisions are IEEE float divisions.
  static const float kMean[3] = {0.485f, 0.456f, 0.406f};
  static const float kStd[3] = {0.229f, 0.224f, 0.225f};
  float table[3][256];
  for (int c = 0; c < 3; ++c) {
    for (int v = 0; v < 256; ++v) {
      const float unit = static_cast<float>(v) / 255.0f;
      table[c][v] = (unit - kMean[c]) / kStd[c];
    }
  }
  const size_t plane = static_cast<size_t>(size) * size;
  for (size_t p = 0; p < plane; ++p) {
    for (int c = 0; c < 3; ++c) chw_out[c * plane + p] = table[c][hwc[p * 3 + c]];
  }
}

}  // namespace vlac
