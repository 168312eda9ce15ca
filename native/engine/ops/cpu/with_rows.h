// The register tile's row count as a compile-time constant: the kernels' tiles are templates on it,
// and a block's last tile has fewer rows. In an unnamed namespace like the kernel headers that
// include it: each ISA's translation unit has its own copy.
#pragma once

#include <type_traits>

namespace vlac::ops {
namespace {

// fn(std::integral_constant<int, rows>{}) for 1 <= rows <= MR <= 14.
template <int MR, class Fn>
void with_rows(int rows, Fn&& fn) {
  static_assert(MR >= 1 && MR <= 14, "with_rows: 1..14 rows");
  switch (rows) {
#define VLAC_TILE_ROWS(R) \
  case R: if constexpr (R <= MR) fn(std::integral_constant<int, R>{}); break;
    VLAC_TILE_ROWS(1) VLAC_TILE_ROWS(2) VLAC_TILE_ROWS(3) VLAC_TILE_ROWS(4) VLAC_TILE_ROWS(5)
    VLAC_TILE_ROWS(6) VLAC_TILE_ROWS(7) VLAC_TILE_ROWS(8) VLAC_TILE_ROWS(9) VLAC_TILE_ROWS(10)
    VLAC_TILE_ROWS(11) VLAC_TILE_ROWS(12) VLAC_TILE_ROWS(13) VLAC_TILE_ROWS(14)
#undef VLAC_TILE_ROWS
    default: break;
  }
}

}  // namespace
}  // namespace vlac::ops
