// The streaming critic's background prefill (runtime/prefetch.h) on the tiny-a checkpoint: pushes
// that fork the prefetched prefix reply bitwise like the uncached pairs, prefill only the tail, and
// a cancelled or refused prefetch leaves the caches as they were.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/safetensors.h"
#include "runtime/cached_batch.h"
#include "runtime/model.h"
#include "runtime/prefetch.h"
#include "runtime/sequence.h"
#include "support/fixtures.h"
#include "support/runtime_fixture.h"

using namespace vlac;
using namespace vlac::test;

namespace {

// Frame k of a synthetic trajectory: a golden tile with every 61st byte shifted by k, so each
// frame hashes (and encodes) differently.
std::vector<uint8_t> frame(int k) {
  std::vector<uint8_t> px = golden_pixels(golden_case("two-image")["images"][0].get<std::string>());
  for (size_t i = 0; i < px.size(); i += 61) px[i] = static_cast<uint8_t>(px[i] + 37 * k);
  return px;
}

// The VLAC pair prompt without reference (655 tokens), and the same with one more image before the
// pair (the place of the reference frames and frame 0): the second keeps a shared prefix of its own
// image in front of `Image-1: <img>`, below the dynamic-NTK threshold (1,024) of tiny-a.
std::vector<int32_t> pair_ids() { return golden_case("two-image")["input_ids"].get<std::vector<int32_t>>(); }

std::vector<int32_t> pair_ids_with_start_frame(const Model& m) {
  std::vector<int32_t> ids = pair_ids();
  const auto first = std::find(ids.begin(), ids.end(), m.image_context_id()) - ids.begin();
  // <img> + the rows + </img> + the text up to the next <img>: the first image's slot, repeated.
  const auto next_img = std::find(ids.begin() + first, ids.end(), m.tokenizer().special().img) - ids.begin();
  std::vector<int32_t> slot(ids.begin() + first - 1, ids.begin() + next_img);
  ids.insert(ids.begin() + first - 1, slot.begin(), slot.end());
  return ids;
}

std::vector<uint8_t> concat(const std::vector<std::vector<uint8_t>>& tiles) {
  std::vector<uint8_t> out;
  for (const auto& t : tiles) out.insert(out.end(), t.begin(), t.end());
  return out;
}

int64_t last_run_start(const std::vector<int32_t>& ids, int32_t img_context) {
  for (int64_t i = static_cast<int64_t>(ids.size()) - 1; i > 0; --i)
    if (ids[i] == img_context && ids[i - 1] != img_context) return i;
  return -1;
}

// A control loop over `n_frames` frames with `start` (frame 0 as an extra image before the pair,
// as the reference prompt has it) or without: after each push the next pair's prefix is prefetched,
// as criticStream does. Every push must equal the uncached pair, bit for bit, and prefill only the
// prompt after the prefetched prefix.
void run_stream(bool start, const CacheOptions& budget, int n_frames) {
  auto model = tiny_model();
  const std::vector<int32_t> ids = start ? pair_ids_with_start_frame(*model) : pair_ids();
  const int64_t n = static_cast<int64_t>(ids.size());
  const int64_t L = last_run_start(ids, model->image_context_id());
  ModelCaches caches(budget);
  std::vector<std::vector<uint8_t>> frames;
  for (int k = 0; k < n_frames; ++k) frames.push_back(frame(k));
  for (int k = 0; k < n_frames; ++k) {
    CAPTURE(k);
    if (k > 0) {
      std::vector<std::vector<uint8_t>> images{frames[k - 1], frames[k]};
      if (start) images.insert(images.begin(), frames[0]);
      const std::vector<uint8_t> tiles = concat(images);
      const std::vector<BatchRequest> req{{ids.data(), n, tiles.data(), static_cast<int64_t>(images.size())}};
      BatchStats st;
      const auto pushed = generate_batch(*model, req, greedy(3), &caches, &st);
      const auto uncached = generate_batch(*model, req, greedy(3), nullptr);
      check_identical(pushed[0], uncached[0]);
      CHECK(st.counts.prefix_hits == 1);
      CHECK(st.counts.prefilled_tokens == static_cast<uint64_t>(n - L));  // the new frame and the tail only
      CHECK(st.counts.frame_misses == 1);                                 // the new frame only
    }
    // The next pair: (frame k, frame k+1), frame k+1 not known yet.
    std::vector<std::vector<uint8_t>> known{frames[k]};
    if (start) known.insert(known.begin(), frames[0]);
    const std::vector<uint8_t> tiles = concat(known);
    const PrefetchResult r = prefetch_prefix(*model, ids.data(), n, tiles.data(), static_cast<int64_t>(known.size()), &caches);
    CHECK(r.stored);
    CHECK_FALSE(r.cancelled);
  }
}

}  // namespace

TEST_CASE("pushes that fork the background-prefilled prefix reply bitwise like the uncached pairs, without start frame") {
  run_stream(false, CacheOptions{}, 4);
}

TEST_CASE("pushes that fork the background-prefilled prefix reply bitwise like the uncached pairs, with a start frame") {
  run_stream(true, CacheOptions{}, 4);
}

TEST_CASE("a prefix budget that holds one snapshot at a time still serves every push from the prefetched prefix") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = pair_ids_with_start_frame(*model);
  const uint64_t position_bytes = model->kv_cache_bytes_per_sequence() / static_cast<uint64_t>(model->max_context());
  CacheOptions one;
  one.prefix_bytes = position_bytes * static_cast<uint64_t>(last_run_start(ids, model->image_context_id()));
  run_stream(true, one, 4);

  // The shared prefix (everything before Image-1's rows) comes out of the previous snapshot.
  ModelCaches caches(one);
  const std::vector<uint8_t> f0 = frame(0), f1 = frame(1);
  const int64_t n = static_cast<int64_t>(ids.size());
  const std::vector<uint8_t> first = concat({f0, f0}), second = concat({f0, f1});
  const PrefetchResult a = prefetch_prefix(*model, ids.data(), n, first.data(), 2, &caches);
  const PrefetchResult b = prefetch_prefix(*model, ids.data(), n, second.data(), 2, &caches);
  const int64_t L = last_run_start(ids, model->image_context_id());
  int64_t B = L - 1;
  while (!(ids[B] == model->image_context_id() && ids[B - 1] != model->image_context_id())) --B;
  CHECK(a.counts.prefilled_tokens == static_cast<uint64_t>(L));
  CHECK(b.counts.prefilled_tokens == static_cast<uint64_t>(L - B));
  CHECK(b.counts.prefix_tokens_reused == static_cast<uint64_t>(B));
  CHECK(caches.prefixes().entries() == 1);
}

TEST_CASE("a prefetch of a prefix already stored does no work") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = pair_ids();
  const std::vector<uint8_t> f0 = frame(0);
  ModelCaches caches;
  const PrefetchResult a = prefetch_prefix(*model, ids.data(), static_cast<int64_t>(ids.size()), f0.data(), 1, &caches);
  const PrefetchResult b = prefetch_prefix(*model, ids.data(), static_cast<int64_t>(ids.size()), f0.data(), 1, &caches);
  CHECK(a.stored);
  CHECK(a.counts.frame_misses == 1);
  CHECK(b.stored);
  CHECK(b.counts.prefilled_tokens == 0);
  CHECK(b.counts.frame_hits == 1);
  CHECK(b.counts.frame_misses == 0);
}

TEST_CASE("a prefetch cancelled in the middle of its prefill stores no KV, and the next push still replies bitwise") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = pair_ids();
  const int64_t n = static_cast<int64_t>(ids.size());
  const std::vector<uint8_t> f0 = frame(0), f1 = frame(1);
  ModelCaches caches;
  // Polled once before the work, then after each layer: fire at the first layer of the prefill.
  int polls = 0;
  const PrefetchResult r = prefetch_prefix(*model, ids.data(), n, f0.data(), 1, &caches, [&] { return ++polls >= 3; });
  CHECK(r.cancelled);
  CHECK_FALSE(r.stored);
  CHECK(polls >= 3);
  CHECK(caches.prefixes().entries() == 0);
  CHECK(caches.frames().entries() == 1);  // the encoded tile is complete and kept

  const std::vector<uint8_t> tiles = concat({f0, f1});
  const std::vector<BatchRequest> req{{ids.data(), n, tiles.data(), 2}};
  check_identical(generate_batch(*model, req, greedy(3), &caches)[0], generate_batch(*model, req, greedy(3), nullptr)[0]);

  // Cancelled before it starts: nothing at all.
  ModelCaches fresh;
  const PrefetchResult before = prefetch_prefix(*model, ids.data(), n, f0.data(), 1, &fresh, [] { return true; });
  CHECK(before.cancelled);
  CHECK(fresh.bytes() == 0);
}

TEST_CASE("a prefetch refuses bad ids and tile counts before any work, and skips prompts past the dynamic-NTK threshold") {
  auto model = tiny_model();
  std::vector<int32_t> ids = pair_ids();
  const int64_t n = static_cast<int64_t>(ids.size());
  const std::vector<uint8_t> f0 = frame(0), two = concat({f0, f0});
  ModelCaches caches;
  CHECK_THROWS_AS(prefetch_prefix(*model, ids.data(), n, two.data(), 2, &caches), vlac::Error);  // one image before the last
  const std::vector<int32_t> text(ids.begin(), ids.begin() + 10);
  CHECK_THROWS_AS(prefetch_prefix(*model, text.data(), 10, nullptr, 0, &caches), vlac::Error);  // no image at all
  ids[3] = 1 << 30;
  CHECK_THROWS_AS(prefetch_prefix(*model, ids.data(), n, f0.data(), 1, &caches), vlac::Error);
  CHECK(caches.bytes() == 0);

  const json& c = golden_case("ntk-prompt");  // 1,479 tokens > max_position_embeddings 1,024
  const std::vector<int32_t> long_ids = c["input_ids"].get<std::vector<int32_t>>();
  std::vector<uint8_t> tiles;
  for (size_t i = 0; i + 1 < c["images"].size(); ++i) {
    const std::vector<uint8_t> px = golden_pixels(c["images"][i].get<std::string>());
    tiles.insert(tiles.end(), px.begin(), px.end());
  }
  const PrefetchResult r = prefetch_prefix(*model, long_ids.data(), static_cast<int64_t>(long_ids.size()), tiles.data(),
                                           static_cast<int64_t>(c["images"].size()) - 1, &caches);
  CHECK_FALSE(r.stored);
  CHECK(caches.bytes() == 0);
  CHECK(prefetch_prefix(*model, pair_ids().data(), n, f0.data(), 1, nullptr).stored == false);  // no caches
}
