// The background prefill of the streaming critic (issue 17, api.md §6). After push k of a stream
// returns, the next pair's prompt is known up to the start of its last image (the frame push k+1
// brings): the system prompt, the reference frames, frame 0, `Image-1: <img>` + frame k's rows +
// `</img>\nImage-2: <img>`. prefetch_prefix prefills exactly that into the prefix cache, so that
// push k+1 (generate_batch) forks it and runs only the new frame's ViT, the tail after it and the
// decode.
//
// Same replies, bit for bit: the snapshot is the KV a prefill of those positions makes, and a
// sequence prefilled in chunks has the cache of the one-shot prefill (Sequence::prefill) below the
// dynamic-NTK threshold; a prompt past it takes the uncached prefill in generate_batch, so nothing
// is prefetched for it (cached_batch.h). The chunks start where generate_batch's do (the start of
// the second-to-last image run) plus one at the start of the last one, each several hundred rows.
//
// What it stores: the prefix [0, L) (L = the start of the last <IMG_CONTEXT> run) and, when no
// stored snapshot holds it, the shared prefix [0, B) (B = the start of the run before, the snapshot
// generate_batch stores) it was built on. The shared prefix is found in any stored snapshot that
// starts with it (PrefixCache::find_covering, Sequence::fork_prefix), so a budget that holds one
// of a trajectory's prefixes at a time still serves every push.
//
// Threads: it runs where the model's calls run (the inference thread), one call at a time with
// them, so a push that arrives while it runs waits for it and finds the finished snapshot; a
// snapshot enters the cache only once complete. `should_abort` is polled before the work and after
// every LLM layer: when it fires, the call returns `cancelled` and stores no KV (tiles it encoded
// stay in the frame cache: their rows are complete).
#pragma once

#include <cstdint>
#include <functional>

#include "runtime/cached_batch.h"

namespace vlac {

class Model;

struct PrefetchResult {
  bool stored = false;     // the prefix [0, L) is in the prefix cache (prefilled now or already there)
  bool cancelled = false;  // should_abort fired before the prefix was stored
  double encode_ms = 0, prefill_ms = 0;
  CacheCounters counts;    // this call's (also added to the caches' totals)
};

// `ids`: the whole prompt of the request to come; `tiles`: uint8 HWC RGB [n_tiles, S, S, 3], the
// tiles of every image before its last <IMG_CONTEXT> run, in prompt order. Errors (before any work):
// BadArgument for an id outside the vocabulary, a prompt without an image, or a tile count that
// differs from the <IMG_CONTEXT> count before the last run; ContextFull past maxContext. With no
// prefix cache (null or disabled) or a prompt past the dynamic-NTK threshold it does nothing.
PrefetchResult prefetch_prefix(const Model& model, const int32_t* ids, int64_t n_ids, const uint8_t* tiles,
                               int64_t n_tiles, ModelCaches* caches, const std::function<bool()>& should_abort = {});

}  // namespace vlac
