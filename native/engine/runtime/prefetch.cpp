#include "runtime/prefetch.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "runtime/model.h"
#include "runtime/sequence.h"

namespace vlac {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Thrown by the layer observer when should_abort fires: it unwinds the forward of a sequence that
// is then dropped, never stored.
struct Cancelled {};

// Start of the last run of <IMG_CONTEXT> ids that begins before `end`, or -1.
int64_t last_run_start(const int32_t* ids, int64_t end, int32_t img_context) {
  for (int64_t i = end - 1; i >= 0; --i)
    if (ids[i] == img_context && (i == 0 || ids[i - 1] != img_context)) return i;
  return -1;
}

}  // namespace

PrefetchResult prefetch_prefix(const Model& model, const int32_t* ids, int64_t n_ids, const uint8_t* tiles,
                               int64_t n_tiles, ModelCaches* caches, const std::function<bool()>& should_abort) {
  const int64_t vocab = model.config().llm.vocab_size, per_tile = model.image_tokens_per_tile();
  const int32_t img_context = model.image_context_id();
  if (n_ids <= 0 || ids == nullptr) fail(ErrorCode::BadArgument, "prefetch: no ids");
  if (n_tiles < 0 || (n_tiles > 0 && tiles == nullptr)) fail(ErrorCode::BadArgument, "prefetch: no tiles");
  for (int64_t i = 0; i < n_ids; ++i)
    if (ids[i] < 0 || ids[i] >= vocab)
      fail(ErrorCode::BadArgument, "prefetch: token id " + std::to_string(ids[i]) + " at index " + std::to_string(i) +
                                       " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
  if (n_ids > model.max_context())
    fail(ErrorCode::ContextFull, "prefetch: " + std::to_string(n_ids) + " tokens exceed maxContext " +
                                     std::to_string(model.max_context()));
  const int64_t L = last_run_start(ids, n_ids, img_context);
  if (L < 0) fail(ErrorCode::BadArgument, "prefetch: the prompt has no <IMG_CONTEXT> run to stop before");
  const int64_t slots = std::count(ids, ids + L, img_context);
  if (slots != n_tiles * per_tile)
    fail(ErrorCode::BadArgument, "prefetch: the ids before the last image hold " + std::to_string(slots) +
                                     " <IMG_CONTEXT> tokens but " + std::to_string(n_tiles) + " tiles were given (" +
                                     std::to_string(per_tile) + " per tile)");

  PrefetchResult out;
  const LlmConfig& l = model.config().llm;
  if (!caches || !caches->prefixes().enabled() || L == 0) return out;
  if (l.rope_dynamic && n_ids > l.max_position_embeddings) return out;  // the rule in cached_batch.h
  auto aborted = [&] { return should_abort && should_abort(); };
  if (aborted()) {
    out.cancelled = true;
    return out;
  }

  // ---- the image rows, from the frame cache or the ViT (each missing tile once, in one pass) ----
  auto t0 = Clock::now();
  const int64_t S = model.tile_size(), tile_bytes = 3 * S * S, D = model.hidden_size();
  const int64_t row_floats = per_tile * D;
  FrameCache* frames = caches->frames().enabled() ? &caches->frames() : nullptr;
  std::vector<ContentHash> hashes;
  std::vector<TileRows> found;
  std::vector<int64_t> missing;  // the first tile of each distinct missing hash
  for (int64_t t = 0; t < n_tiles; ++t) {
    hashes.push_back(content_hash(tiles + t * tile_bytes, static_cast<size_t>(tile_bytes)));
    found.push_back(frames ? frames->find(hashes.back()) : nullptr);
    const bool repeated = std::any_of(missing.begin(), missing.end(), [&](int64_t m) { return hashes[m] == hashes.back(); });
    if (found.back() || repeated) {
      ++out.counts.frame_hits;
    } else {
      missing.push_back(t);
      ++out.counts.frame_misses;
    }
  }
  if (!missing.empty()) {
    std::vector<uint8_t> pixels(missing.size() * static_cast<size_t>(tile_bytes));
    for (size_t m = 0; m < missing.size(); ++m)
      std::copy(tiles + missing[m] * tile_bytes, tiles + (missing[m] + 1) * tile_bytes, pixels.begin() + m * tile_bytes);
    const std::vector<float> rows = model.encode_tiles(pixels.data(), static_cast<int64_t>(missing.size()));
    for (size_t m = 0; m < missing.size(); ++m) {
      TileRows r = std::make_shared<const std::vector<float>>(rows.begin() + m * row_floats, rows.begin() + (m + 1) * row_floats);
      if (frames) frames->insert(hashes[missing[m]], r);
      for (int64_t t = 0; t < n_tiles; ++t)
        if (!found[t] && hashes[t] == hashes[missing[m]]) found[t] = r;
    }
  }
  std::vector<float> image_rows(static_cast<size_t>(n_tiles * row_floats));
  for (int64_t t = 0; t < n_tiles; ++t) std::copy(found[t]->begin(), found[t]->end(), image_rows.begin() + t * row_floats);
  out.encode_ms = ms_since(t0);

  // ---- the prefix: from the longest stored snapshot, through the shared prefix, to L ----
  t0 = Clock::now();
  const std::vector<PositionKey> keys = position_keys(model, ids, L, hashes);
  PrefixCache& prefixes = caches->prefixes();
  const PrefixCache::Hit hit = prefixes.find(keys.data(), L, L);
  if (hit.length > 0) ++out.counts.prefix_hits;
  if (hit.length == L) {
    out.stored = true;
    out.counts.prefix_tokens_reused = static_cast<uint64_t>(L);
    caches->add(out.counts);
    return out;
  }
  const int64_t B = last_run_start(ids, L, img_context);  // generate_batch's snapshot boundary
  const uint64_t position_bytes = model.kv_cache_bytes_per_sequence() / static_cast<uint64_t>(model.max_context());
  std::unique_ptr<Sequence> seq;
  int64_t from = hit.length;
  if (B > 0 && from < B) {
    if (std::shared_ptr<const Sequence> cover = prefixes.find_covering(keys.data(), B)) {
      seq = cover->fork_prefix(B);
      from = B;
      if (hit.length == 0) ++out.counts.prefix_hits;
    }
  }
  if (!seq) seq = hit.sequence ? hit.sequence->fork() : model.create_sequence();

  const LayerObserver observer = [&](int64_t, const float*, int64_t) {
    if (aborted()) throw Cancelled{};
  };
  auto prefill_to = [&](int64_t end) {
    const int64_t row0 = std::count(ids, ids + from, img_context);
    PrefillRequest p;
    p.sequence = seq.get();
    p.ids = ids + from;
    p.n_ids = end - from;
    p.n_image_rows = std::count(ids + from, ids + end, img_context);
    p.image_rows = p.n_image_rows ? image_rows.data() + row0 * D : nullptr;
    prefill_batch({p}, should_abort ? &observer : nullptr);
    out.counts.prefilled_tokens += static_cast<uint64_t>(end - from);
    from = end;
  };
  try {
    if (B > 0 && from < B) {
      prefill_to(B);
      std::shared_ptr<const Sequence> shared(std::move(seq));
      prefixes.insert(std::vector<PositionKey>(keys.begin(), keys.begin() + B), shared, position_bytes);
      seq = shared->fork();
    }
    prefill_to(L);
    prefixes.insert(keys, std::shared_ptr<const Sequence>(std::move(seq)), position_bytes);
    out.stored = prefixes.find(keys.data(), L, L).length == L;  // not when larger than the whole budget
  } catch (const Cancelled&) {
    out.cancelled = true;
  }
  out.prefill_ms = ms_since(t0);
  out.counts.prefix_tokens_reused = static_cast<uint64_t>(L) - std::min<uint64_t>(out.counts.prefilled_tokens, L);
  caches->add(out.counts);
  return out;
}

}  // namespace vlac
