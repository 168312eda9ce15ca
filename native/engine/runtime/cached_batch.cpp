#include "runtime/cached_batch.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>

#include "common/error.h"
#include "common/workspace.h"
#include "runtime/decode_group.h"
#include "runtime/model.h"

namespace vlac {

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

// Everything prefill_batch would reject, checked before a cache is touched: a bad tail must not
// leave a snapshot of its prefix behind.
void check_request(const Model& model, const BatchRequest& r, size_t index) {
  const std::string where = "request " + std::to_string(index) + ": ";
  const int64_t vocab = model.config().llm.vocab_size;
  if (r.n_ids < 0 || (r.n_ids > 0 && r.ids == nullptr)) fail(ErrorCode::BadArgument, where + "no ids");
  if (r.n_tiles < 0 || (r.n_tiles > 0 && r.tiles == nullptr)) fail(ErrorCode::BadArgument, where + "no tiles");
  int64_t slots = 0;
  for (int64_t i = 0; i < r.n_ids; ++i) {
    if (r.ids[i] < 0 || r.ids[i] >= vocab)
      fail(ErrorCode::BadArgument, where + "token id " + std::to_string(r.ids[i]) + " at index " + std::to_string(i) +
                                       " is outside the vocabulary [0, " + std::to_string(vocab) + ")");
    slots += r.ids[i] == model.image_context_id();
  }
  if (slots != r.n_tiles * model.image_tokens_per_tile())
    fail(ErrorCode::BadArgument, where + "the ids hold " + std::to_string(slots) + " <IMG_CONTEXT> tokens but " +
                                     std::to_string(r.n_tiles) + " tiles were given (" +
                                     std::to_string(model.image_tokens_per_tile()) + " per tile)");
  if (r.n_ids > model.max_context())
    fail(ErrorCode::ContextFull, where + std::to_string(r.n_ids) + " tokens exceed maxContext " +
                                     std::to_string(model.max_context()));
}

// Start of the second-to-last run of <IMG_CONTEXT> ids, or -1 with fewer than two runs.
int64_t snapshot_boundary(const int32_t* ids, int64_t n, int32_t img_context) {
  int64_t last = -1, before_last = -1;
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] == img_context && (i == 0 || ids[i - 1] != img_context)) {
      before_last = last;
      last = i;
    }
  return before_last;
}

int64_t image_rows_before(const int32_t* ids, int64_t n, int32_t img_context) {
  return std::count(ids, ids + n, img_context);
}

uint64_t kv_bytes_per_position(const Model& model) {
  const LlmConfig& l = model.config().llm;
  return static_cast<uint64_t>(2 * l.num_layers) * static_cast<uint64_t>(l.num_kv_heads * l.head_dim()) * sizeof(float);
}

}  // namespace

CacheCounters ModelCaches::counters() const {
  return {frame_hits_.load(), frame_misses_.load(), prefix_hits_.load(), prefix_tokens_reused_.load(),
          prefilled_tokens_.load()};
}

void ModelCaches::add(const CacheCounters& d) {
  frame_hits_ += d.frame_hits;
  frame_misses_ += d.frame_misses;
  prefix_hits_ += d.prefix_hits;
  prefix_tokens_reused_ += d.prefix_tokens_reused;
  prefilled_tokens_ += d.prefilled_tokens;
}

std::vector<PositionKey> position_keys(const Model& model, const int32_t* ids, int64_t n_ids,
                                       const std::vector<ContentHash>& tiles) {
  const int32_t img_context = model.image_context_id();
  const int64_t per_tile = model.image_tokens_per_tile();
  std::vector<PositionKey> keys(static_cast<size_t>(n_ids));
  int64_t image_row = 0;
  for (int64_t i = 0; i < n_ids; ++i) {
    if (ids[i] == img_context) {
      const size_t tile = static_cast<size_t>(image_row++ / per_tile);
      VLAC_CHECK(tile < tiles.size(), "position keys: more <IMG_CONTEXT> ids than tiles");
      keys[i] = tiles[tile];
    } else {
      keys[i] = {static_cast<uint64_t>(static_cast<uint32_t>(ids[i])), 0};
    }
  }
  return keys;
}

std::vector<PreparedCall> prepare_calls(const Model& model, const std::vector<BatchCall>& calls,
                                       ModelCaches* caches) {
  std::vector<PreparedCall> out(calls.size());
  const bool frame_cache = caches && caches->frames().enabled();
  const bool prefix_cache = caches && caches->prefixes().enabled();
  // A call with a bad request is dropped whole, before any work; the others go on.
  std::vector<BatchRequest> requests;
  std::vector<size_t> call_of;  // the call each request belongs to
  for (size_t c = 0; c < calls.size(); ++c) {
    try {
      for (size_t r = 0; r < calls[c].requests.size(); ++r) check_request(model, calls[c].requests[r], r);
    } catch (...) {
      out[c].error = std::current_exception();
      continue;
    }
    for (const BatchRequest& r : calls[c].requests) {
      requests.push_back(r);
      call_of.push_back(c);
    }
  }
  std::vector<CacheCounters> counts(calls.size());

  const int64_t S = model.tile_size(), tile_bytes = 3 * S * S;
  const int64_t per_tile = model.image_tokens_per_tile(), D = model.hidden_size();
  const int64_t row_floats = per_tile * D;
  const int32_t img_context = model.image_context_id();

  // ---- image rows, per request contiguous, requests one after the other (in the workspace) ----
  auto t0 = Clock::now();
  WorkspaceScope ws;
  int64_t total = 0;
  for (const auto& r : requests) total += r.n_tiles;
  float* const all_rows = ws.take<float>(static_cast<size_t>(total * row_floats));
  std::vector<float*> request_rows(requests.size());
  for (size_t q = 0, at = 0; q < requests.size(); at += static_cast<size_t>(requests[q++].n_tiles * row_floats))
    request_rows[q] = all_rows + at;
  std::vector<std::vector<ContentHash>> tile_hashes(requests.size());
  if (!frame_cache) {
    uint8_t* all = ws.take<uint8_t>(static_cast<size_t>(total * tile_bytes));
    for (size_t q = 0, at = 0; q < requests.size(); at += static_cast<size_t>(requests[q++].n_tiles * tile_bytes))
      std::copy(requests[q].tiles, requests[q].tiles + requests[q].n_tiles * tile_bytes, all + at);
    model.encode_tiles(all, total, all_rows);
    for (size_t q = 0; q < requests.size(); ++q) counts[call_of[q]].frame_misses += static_cast<uint64_t>(requests[q].n_tiles);
    if (prefix_cache)
      for (size_t q = 0; q < requests.size(); ++q)
        for (int64_t t = 0; t < requests[q].n_tiles; ++t)
          tile_hashes[q].push_back(content_hash(requests[q].tiles + t * tile_bytes, static_cast<size_t>(tile_bytes)));
  } else {
    // Each distinct missing tile once through the ViT, all of them in one pass.
    std::vector<std::vector<TileRows>> found(requests.size());
    std::vector<ContentHash> missing;
    std::vector<const uint8_t*> missing_pixels;
    for (size_t q = 0; q < requests.size(); ++q)
      for (int64_t t = 0; t < requests[q].n_tiles; ++t) {
        const uint8_t* px = requests[q].tiles + t * tile_bytes;
        const ContentHash h = content_hash(px, static_cast<size_t>(tile_bytes));
        tile_hashes[q].push_back(h);
        TileRows rows = caches->frames().find(h);
        found[q].push_back(rows);
        if (rows || std::find(missing.begin(), missing.end(), h) != missing.end()) {
          ++counts[call_of[q]].frame_hits;
        } else {
          missing.push_back(h);
          missing_pixels.push_back(px);
          ++counts[call_of[q]].frame_misses;
        }
      }
    std::vector<TileRows> encoded;
    if (!missing.empty()) {
      WorkspaceScope encode_ws;
      uint8_t* pixels = encode_ws.take<uint8_t>(missing.size() * static_cast<size_t>(tile_bytes));
      for (size_t m = 0; m < missing.size(); ++m)
        std::copy(missing_pixels[m], missing_pixels[m] + tile_bytes, pixels + m * tile_bytes);
      float* rows = encode_ws.take<float>(missing.size() * static_cast<size_t>(row_floats));
      model.encode_tiles(pixels, static_cast<int64_t>(missing.size()), rows);
      for (size_t m = 0; m < missing.size(); ++m) {
        encoded.push_back(std::make_shared<const std::vector<float>>(rows + m * row_floats, rows + (m + 1) * row_floats));
        caches->frames().insert(missing[m], encoded.back());
      }
    }
    for (size_t q = 0; q < requests.size(); ++q)
      for (int64_t t = 0; t < requests[q].n_tiles; ++t) {
        TileRows rows = found[q][t];
        if (!rows) rows = encoded[std::find(missing.begin(), missing.end(), tile_hashes[q][t]) - missing.begin()];
        std::copy(rows->begin(), rows->end(), request_rows[q] + t * row_floats);
      }
  }
  const double encode_ms = ms_since(t0);
  // Each call's abort check; a call that stops here is dropped, the others are prefilled.
  {
    std::vector<BatchRequest> kept;
    std::vector<float*> kept_rows;
    std::vector<std::vector<ContentHash>> kept_hashes;
    std::vector<size_t> kept_call;
    for (size_t c = 0; c < calls.size(); ++c) {
      if (out[c].error || !calls[c].after_encode) continue;
      try {
        calls[c].after_encode();
      } catch (...) {
        out[c].error = std::current_exception();
      }
    }
    for (size_t q = 0; q < requests.size(); ++q) {
      if (out[call_of[q]].error) continue;
      kept.push_back(requests[q]);
      kept_rows.push_back(request_rows[q]);
      kept_hashes.push_back(std::move(tile_hashes[q]));
      kept_call.push_back(call_of[q]);
    }
    requests.swap(kept);
    request_rows.swap(kept_rows);
    tile_hashes.swap(kept_hashes);
    call_of.swap(kept_call);
  }

  // ---- prefill ----
  t0 = Clock::now();
  std::vector<std::unique_ptr<Sequence>> seqs(requests.size());
  std::vector<int64_t> start(requests.size(), 0);  // positions each sequence starts with
  if (prefix_cache) {
    const LlmConfig& l = model.config().llm;
    const uint64_t position_bytes = kv_bytes_per_position(model);
    std::vector<std::vector<PositionKey>> keys(requests.size());
    std::vector<std::shared_ptr<const Sequence>> base(requests.size());
    // Snapshots this call prefills: one per distinct boundary prefix, possibly from a stored hit.
    struct Snapshot {
      size_t owner;  // the request whose ids and rows it is prefilled from
      int64_t length;
      std::shared_ptr<const Sequence> from;
      int64_t from_length = 0;
      std::unique_ptr<Sequence> sequence;
    };
    std::vector<Snapshot> snapshots;
    std::vector<int> snapshot_of(requests.size(), -1);
    for (size_t q = 0; q < requests.size(); ++q) {
      const BatchRequest& r = requests[q];
      if (l.rope_dynamic && r.n_ids > l.max_position_embeddings) continue;  // the rule in cached_batch.h
      keys[q] = position_keys(model, r.ids, r.n_ids, tile_hashes[q]);
      PrefixCache::Hit hit = caches->prefixes().find(keys[q].data(), r.n_ids, r.n_ids - 1);
      const int64_t boundary = snapshot_boundary(r.ids, r.n_ids, img_context);
      if (hit.length > 0) ++counts[call_of[q]].prefix_hits;
      if (boundary <= hit.length) {
        base[q] = hit.sequence;
        start[q] = hit.length;
        continue;
      }
      for (size_t s = 0; s < snapshots.size() && snapshot_of[q] < 0; ++s)
        if (snapshots[s].length == boundary &&
            std::equal(keys[q].begin(), keys[q].begin() + boundary, keys[snapshots[s].owner].begin()))
          snapshot_of[q] = static_cast<int>(s);
      if (snapshot_of[q] < 0) {
        snapshot_of[q] = static_cast<int>(snapshots.size());
        snapshots.push_back(Snapshot{q, boundary, hit.sequence, hit.length, nullptr});
      }
      start[q] = boundary;
    }
    if (!snapshots.empty()) {
      std::vector<PrefillRequest> prefill;
      for (auto& s : snapshots) {
        s.sequence = s.from ? s.from->fork() : model.create_sequence();
        const BatchRequest& r = requests[s.owner];
        const int64_t row0 = image_rows_before(r.ids, s.from_length, img_context);
        PrefillRequest p;
        p.sequence = s.sequence.get();
        p.ids = r.ids + s.from_length;
        p.n_ids = s.length - s.from_length;
        p.n_image_rows = image_rows_before(r.ids, s.length, img_context) - row0;
        p.image_rows = p.n_image_rows ? request_rows[s.owner] + row0 * D : nullptr;
        prefill.push_back(p);
        counts[call_of[s.owner]].prefilled_tokens += static_cast<uint64_t>(p.n_ids);
      }
      prefill_batch(prefill);
      for (auto& s : snapshots) {
        std::shared_ptr<const Sequence> shared(std::move(s.sequence));
        caches->prefixes().insert(std::vector<PositionKey>(keys[s.owner].begin(), keys[s.owner].begin() + s.length),
                                  shared, position_bytes);
        s.from = shared;  // now the snapshot itself
      }
    }
    for (size_t q = 0; q < requests.size(); ++q) {
      if (snapshot_of[q] >= 0) base[q] = snapshots[snapshot_of[q]].from;
      seqs[q] = base[q] ? base[q]->fork() : model.create_sequence();
    }
  } else {
    for (auto& s : seqs) s = model.create_sequence();
  }
  std::vector<PrefillRequest> prefill;
  for (size_t q = 0; q < requests.size(); ++q) {
    const BatchRequest& r = requests[q];
    const int64_t row0 = image_rows_before(r.ids, start[q], img_context);
    PrefillRequest p;
    p.sequence = seqs[q].get();
    p.ids = r.ids + start[q];
    p.n_ids = r.n_ids - start[q];
    p.n_image_rows = r.n_tiles * per_tile - row0;
    p.image_rows = p.n_image_rows ? request_rows[q] + row0 * D : nullptr;
    prefill.push_back(p);
    counts[call_of[q]].prefilled_tokens += static_cast<uint64_t>(p.n_ids);
  }
  prefill_batch(prefill);
  const double prefill_ms = ms_since(t0);
  // Every prompt position is either computed once in this call or copied from a snapshot.
  for (size_t q = 0; q < requests.size(); ++q) counts[call_of[q]].prefix_tokens_reused += static_cast<uint64_t>(requests[q].n_ids);
  for (size_t q = 0; q < requests.size(); ++q) out[call_of[q]].sequences.push_back(std::move(seqs[q]));
  for (size_t c = 0; c < calls.size(); ++c) {
    if (out[c].error) continue;
    counts[c].prefix_tokens_reused -= counts[c].prefilled_tokens;
    out[c].stats.encode_ms = encode_ms;
    out[c].stats.prefill_ms = prefill_ms;
    out[c].stats.counts = counts[c];
    if (caches) caches->add(counts[c]);
  }
  return out;
}

std::vector<GenerateResult> generate_batch(const Model& model, const std::vector<BatchRequest>& requests,
                                           const GenerateOptions& options, ModelCaches* caches, BatchStats* stats,
                                           const std::function<void()>& after_encode) {
  std::vector<PreparedCall> prepared = prepare_calls(model, {BatchCall{requests, after_encode}}, caches);
  if (prepared[0].error) std::rethrow_exception(prepared[0].error);
  const auto t0 = Clock::now();
  std::vector<GenerateResult> results(requests.size());
  DecodeGroup group;
  for (size_t q = 0; q < requests.size(); ++q)
    group.add(*prepared[0].sequences[q], options, [&results, q](GenerateResult&& r) { results[q] = std::move(r); });
  while (!group.empty()) group.step();
  prepared[0].stats.decode_ms = ms_since(t0);
  if (stats) *stats = prepared[0].stats;
  return results;
}

}  // namespace vlac
