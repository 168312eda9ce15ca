// attention (ops.h) for any primitive set S.
//
// Prefill / ViT (Tq > kDecodeRows): K of every kv head is transposed once into Kt [head_dim][keys]
// (zero padded to whole key tiles), so q·k becomes a small GEMM: a register tile of R queries x
// NV·W keys, one broadcast of q and NV loads of Kt per head dim. Work is split over (q head, block of
// QB queries); each task writes its scores to per-thread scratch [QB][keys], takes the max-subtracted
// softmax of each row over its own visible keys (zero beyond them) and multiplies by V with a tile of
// R queries x NV·W head dims, dividing by the row sum at the end.
// Decode (Tq <= kDecodeRows): per (q head, query) one dot product per key straight from the cache,
// then the same softmax and P·V, split over heads.
#pragma once

#include <cstdint>

#include "ops/cpu/parallel.h"
#include "ops/cpu/vec_math.h"
#include "ops/scratch.h"

namespace vlac::ops {
namespace {

template <class S>
struct Attention {
  using F = typename S::F;
  static constexpr int W = S::W;
  static constexpr int R = S::kAttnRows;
  static constexpr int NV = S::kAttnNV;
  static constexpr int64_t KT = NV * W;             // keys per q·k tile
  static constexpr int64_t kDecodeRows = 2;
  static constexpr int64_t kScoreBytes = 256 << 10;  // per-thread score block budget (L2)
  static constexpr int64_t kMaxBlock = 8 * R;         // queries per task at most
  static constexpr int64_t kValueChunkBytes = 32 << 10;  // keys of V per p·v pass: stays in L1

  struct Args {
    const float* q;
    int64_t q_stride;
    const float* k;
    const float* v;
    int64_t kv_stride;
    int64_t Tq, Tk, q_heads, kv_heads, head_dim;
    float scale;
    bool causal;
    int64_t q_pos0;
    float* out;
    int64_t visible(int64_t i) const { return causal ? min64(Tk, q_pos0 + i + 1) : Tk; }
  };

  // Kt[g][d][j] = K[j][g][d] for keys [0, keys), zero for [keys, keys_pad).
  static void transpose_keys(const Args& a, int64_t keys, int64_t keys_pad, float* kt) {
    const int64_t hd = a.head_dim;
    const int64_t key_blocks = keys_pad / W;
    parallel_ranges(a.kv_heads * key_blocks, max64(1, 4096 / (W * hd) + 1), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t g = t / key_blocks, j0 = (t % key_blocks) * W;
        for (int64_t d0 = 0; d0 < hd; d0 += W) {
          const int64_t dw = min64(W, hd - d0);
          F r[W];
          for (int i = 0; i < W; ++i)
            r[i] = j0 + i < keys ? S::load_n(a.k + (j0 + i) * a.kv_stride + g * hd + d0, dw) : S::zero();
          S::transpose(r);
          for (int64_t dd = 0; dd < dw; ++dd) S::store(kt + (g * hd + d0 + dd) * keys_pad + j0, r[dd]);
        }
      }
    });
  }

  // scores[r][j0 .. j0 + KT) = scale * q_r · k_j for ROWS query rows.
  template <int ROWS>
  static void score_tile(const float* const* qr, int64_t hd, const float* kt, int64_t keys_pad, int64_t j0,
                         float scale, float* scores, int64_t score_stride) {
    F acc[ROWS][NV];
    for (int r = 0; r < ROWS; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] = S::zero();
    for (int64_t d = 0; d < hd; ++d) {
      F kv[NV];
      for (int v = 0; v < NV; ++v) kv[v] = S::load(kt + d * keys_pad + j0 + v * W);
      for (int r = 0; r < ROWS; ++r) {
        const F qv = S::set1(qr[r][d]);
        for (int v = 0; v < NV; ++v) acc[r][v] = S::fmadd(qv, kv[v], acc[r][v]);
      }
    }
    const F sc = S::set1(scale);
    for (int r = 0; r < ROWS; ++r)
      for (int v = 0; v < NV; ++v) S::store(scores + r * score_stride + j0 + v * W, S::mul(sc, acc[r][v]));
  }

  // o_r[0 .. dims) (+)= sum_j p_r[j] v_j over j in [0, keys), dims in (NVEC-1, NVEC]·W: `first`
  // overwrites o, otherwise adds to it; a non-null row_sum then divides by row_sum[r] (the last key
  // chunk). PARTIAL: dims < NVEC·W (the last vector masked).
  template <int ROWS, int NVEC, bool PARTIAL>
  static void value_tile(const float* p, int64_t p_stride, int64_t keys, const float* v, int64_t kv_stride,
                         int64_t dims, bool first, const float* row_sum, float* const* o) {
    const int64_t last = dims - (NVEC - 1) * W;  // lanes of the last vector
    F acc[ROWS][NVEC];
    for (int r = 0; r < ROWS; ++r)
      for (int c = 0; c < NVEC; ++c)
        acc[r][c] = first ? S::zero() : (PARTIAL && c == NVEC - 1) ? S::load_n(o[r] + c * W, last) : S::load(o[r] + c * W);
    for (int64_t j = 0; j < keys; ++j) {
      F vv[NVEC];
      const float* vj = v + j * kv_stride;
      for (int c = 0; c < NVEC; ++c)
        vv[c] = (PARTIAL && c == NVEC - 1) ? S::load_n(vj + c * W, last) : S::load(vj + c * W);
      for (int r = 0; r < ROWS; ++r) {
        const F pv = S::set1(p[r * p_stride + j]);
        for (int c = 0; c < NVEC; ++c) acc[r][c] = S::fmadd(pv, vv[c], acc[r][c]);
      }
    }
    for (int r = 0; r < ROWS; ++r) {
      const F sum = S::set1(row_sum ? row_sum[r] : 1.0f);
      for (int c = 0; c < NVEC; ++c) {
        const F out = row_sum ? S::div(acc[r][c], sum) : acc[r][c];
        if (PARTIAL && c == NVEC - 1) {
          S::store_n(o[r] + c * W, out, last);
        } else {
          S::store(o[r] + c * W, out);
        }
      }
    }
  }

  template <int ROWS, int NVEC>
  static void value_chunk(const float* p, int64_t p_stride, int64_t keys, const float* v, int64_t kv_stride,
                          int64_t dims, bool first, const float* row_sum, float* const* o) {
    if (dims == NVEC * W)
      return value_tile<ROWS, NVEC, false>(p, p_stride, keys, v, kv_stride, dims, first, row_sum, o);
    value_tile<ROWS, NVEC, true>(p, p_stride, keys, v, kv_stride, dims, first, row_sum, o);
  }

  template <int ROWS>
  static void value_rows(const float* p, int64_t p_stride, int64_t keys, const float* v, int64_t kv_stride,
                         int64_t hd, bool first, const float* row_sum, float* const* o) {
    float* od[ROWS];
    for (int64_t d0 = 0; d0 < hd; d0 += NV * W) {
      const int64_t dims = min64(NV * W, hd - d0);
      for (int r = 0; r < ROWS; ++r) od[r] = o[r] + d0;
      switch ((dims + W - 1) / W) {
        case 1: value_chunk<ROWS, 1>(p, p_stride, keys, v + d0, kv_stride, dims, first, row_sum, od); break;
        case 2: value_chunk<ROWS, 2>(p, p_stride, keys, v + d0, kv_stride, dims, first, row_sum, od); break;
        case 3: value_chunk<ROWS, (NV >= 3 ? 3 : NV)>(p, p_stride, keys, v + d0, kv_stride, dims, first, row_sum, od); break;
        default: value_chunk<ROWS, NV>(p, p_stride, keys, v + d0, kv_stride, dims, first, row_sum, od); break;
      }
    }
  }

  // Softmax numerator of one row in place: e_j = exp(s_j - max) for j < visible, 0 up to `width`
  // (a multiple of W). Returns sum_j e_j.
  static float softmax_row(float* s, int64_t visible, int64_t width) {
    F mv = S::set1(s[0]);
    int64_t j = 0;
    for (; j + W <= visible; j += W) mv = S::max(mv, S::load(s + j));
    if (j < visible) mv = S::max(mv, S::select_first(visible - j, S::load(s + j), mv));
    const F m = S::set1(S::reduce_max(mv));
    F sum = S::zero();
    for (j = 0; j + W <= visible; j += W) {
      const F e = exp_v<S>(S::sub(S::load(s + j), m));
      S::store(s + j, e);
      sum = S::add(sum, e);
    }
    if (j < visible) {
      const F e = S::keep_first(exp_v<S>(S::sub(S::load(s + j), m)), visible - j);
      S::store(s + j, e);
      sum = S::add(sum, e);
      j += W;
    }
    for (; j < width; j += W) S::store(s + j, S::zero());
    return S::reduce_add(sum);
  }

  template <int ROWS>
  static void score_rows(int rows, const float* const* qr, int64_t hd, const float* kt, int64_t keys_pad, int64_t j0,
                         float scale, float* scores, int64_t score_stride) {
    if (rows == ROWS) return score_tile<ROWS>(qr, hd, kt, keys_pad, j0, scale, scores, score_stride);
    if constexpr (ROWS > 1) score_rows<ROWS - 1>(rows, qr, hd, kt, keys_pad, j0, scale, scores, score_stride);
  }

  template <int ROWS>
  static void value_rows_n(int rows, const float* p, int64_t p_stride, int64_t keys, const float* v,
                           int64_t kv_stride, int64_t hd, bool first, const float* row_sum, float* const* o) {
    if (rows == ROWS) return value_rows<ROWS>(p, p_stride, keys, v, kv_stride, hd, first, row_sum, o);
    if constexpr (ROWS > 1) value_rows_n<ROWS - 1>(rows, p, p_stride, keys, v, kv_stride, hd, first, row_sum, o);
  }

  // Queries [i0, i1) of q head h (at most kMaxBlock), with Kt of its kv head; scores: scratch
  // [i1 - i0][keys_pad]. Key tiles are the outer loop of q·k (one Kt tile stays in L1 for every row
  // tile) and key chunks the outer loop of p·v (one chunk of V likewise); the output rows hold the
  // p·v partial sums between chunks.
  static void query_block(const Args& a, int64_t h, int64_t i0, int64_t i1, const float* kt, int64_t keys_pad,
                          float* scores) {
    const int64_t hd = a.head_dim, g = h / (a.q_heads / a.kv_heads);
    const float* ktg = kt + g * hd * keys_pad;
    const float* vg = a.v + g * hd;
    const int64_t block_keys = a.visible(i1 - 1);
    auto tile_rows = [&](int64_t t0) { return static_cast<int>(min64(R, i1 - t0)); };
    auto tile_keys = [&](int64_t t0) { return a.visible(t0 + tile_rows(t0) - 1); };  // its last row sees most
    for (int64_t j0 = 0; j0 < block_keys; j0 += KT)
      for (int64_t t0 = i0; t0 < i1; t0 += R) {
        if (j0 >= tile_keys(t0)) continue;
        const int rows = tile_rows(t0);
        const float* qr[R];
        for (int r = 0; r < rows; ++r) qr[r] = a.q + (t0 + r) * a.q_stride + h * hd;
        score_rows<R>(rows, qr, hd, ktg, keys_pad, j0, a.scale, scores + (t0 - i0) * keys_pad, keys_pad);
      }
    float row_sum[kMaxBlock];
    for (int64_t t0 = i0; t0 < i1; t0 += R) {
      const int64_t width = (tile_keys(t0) + W - 1) / W * W;  // p·v of the tile reads this far
      for (int r = 0; r < tile_rows(t0); ++r)
        row_sum[t0 - i0 + r] = softmax_row(scores + (t0 - i0 + r) * keys_pad, a.visible(t0 + r), width);
    }
    const int64_t chunk = max64(KT, kValueChunkBytes / (hd * int64_t(sizeof(float))) / KT * KT);
    for (int64_t jc = 0; jc < block_keys; jc += chunk)
      for (int64_t t0 = i0; t0 < i1; t0 += R) {
        const int64_t keys = tile_keys(t0);
        if (jc >= keys) continue;
        const int rows = tile_rows(t0);
        float* o[R];
        for (int r = 0; r < rows; ++r) o[r] = a.out + (t0 + r) * a.q_heads * hd + h * hd;
        const bool last = jc + chunk >= keys;
        value_rows_n<R>(rows, scores + (t0 - i0) * keys_pad + jc, keys_pad, min64(chunk, keys - jc),
                        vg + jc * a.kv_stride, a.kv_stride, hd, jc == 0, last ? row_sum + (t0 - i0) : nullptr, o);
      }
  }

  // One query row of one head straight from the cache (decode).
  static void decode_row(const Args& a, int64_t h, int64_t i, float* s) {
    const int64_t hd = a.head_dim, g = h / (a.q_heads / a.kv_heads);
    const float* qh = a.q + i * a.q_stride + h * hd;
    const int64_t keys = a.visible(i);
    for (int64_t j = 0; j < keys; ++j) {
      const float* kj = a.k + j * a.kv_stride + g * hd;
      F acc = S::zero();
      int64_t d = 0;
      for (; d + W <= hd; d += W) acc = S::fmadd(S::load(qh + d), S::load(kj + d), acc);
      if (d < hd) acc = S::fmadd(S::load_n(qh + d, hd - d), S::load_n(kj + d, hd - d), acc);
      s[j] = a.scale * S::reduce_add(acc);
    }
    const int64_t width = (keys + W - 1) / W * W;
    const float sum = softmax_row(s, keys, width);
    float* o = a.out + i * a.q_heads * hd + h * hd;
    value_rows<1>(s, width, keys, a.v + g * hd, a.kv_stride, hd, true, &sum, &o);
  }

  static void run(const Args& a) {
    if (a.Tq == 0) return;
    const int64_t hd = a.head_dim;
    if (a.Tq <= kDecodeRows) {
      parallel_ranges(a.q_heads * a.Tq, 1, [&](int64_t t0, int64_t t1) {
        float* s = thread_scratch(2, static_cast<size_t>((a.Tk + W - 1) / W * W));
        for (int64_t t = t0; t < t1; ++t) decode_row(a, t / a.Tq, t % a.Tq, s);
      });
      return;
    }
    const int64_t keys = a.visible(a.Tq - 1);
    const int64_t keys_pad = (keys + KT - 1) / KT * KT;
    float* kt = thread_scratch(1, static_cast<size_t>(a.kv_heads * hd * keys_pad));
    transpose_keys(a, keys, keys_pad, kt);
    const int64_t by_budget = kScoreBytes / (keys_pad * int64_t(sizeof(float))) / R * R;
    const int64_t qb = min64(kMaxBlock, max64(R, by_budget));
    const int64_t blocks = (a.Tq + qb - 1) / qb;
    parallel_ranges(a.q_heads * blocks, 1, [&](int64_t t0, int64_t t1) {
      float* scores = thread_scratch(2, static_cast<size_t>(qb * keys_pad));
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t h = t / blocks, i0 = (t % blocks) * qb;
        query_block(a, h, i0, min64(a.Tq, i0 + qb), kt, keys_pad, scores);
      }
    });
  }
};

template <class S>
void attention(const float* q, int64_t q_stride, const float* k, const float* v, int64_t kv_stride, int64_t Tq,
               int64_t Tk, int64_t q_heads, int64_t kv_heads, int64_t head_dim, float scale, bool causal,
               int64_t q_pos0, float* out) {
  const typename Attention<S>::Args args{q,  q_stride, k,        v,    kv_stride, Tq,     Tk,
                                         q_heads, kv_heads, head_dim, scale, causal, q_pos0, out};
  Attention<S>::run(args);
}

}  // namespace
}  // namespace vlac::ops
