// The frame-embedding and prefix KV caches (runtime/frame_cache.h, prefix_cache.h, cached_batch.h)
// on the tiny-a checkpoint: hits, misses and LRU eviction by bytes, and replies through the caches
// bitwise equal to the uncached path.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/safetensors.h"
#include "runtime/cached_batch.h"
#include "runtime/model.h"
#include "runtime/sequence.h"
#include "support/fixtures.h"
#include "support/runtime_fixture.h"

using namespace vlac;
using namespace vlac::test;

namespace {

TileRows rows_of(size_t floats, float v) { return std::make_shared<const std::vector<float>>(floats, v); }

}  // namespace

TEST_CASE("the content hash tells tiles apart by their bytes, and is stable") {
  std::vector<uint8_t> a(448 * 448 * 3, 7), b = a;
  b[123456] ^= 1;
  CHECK(content_hash(a.data(), a.size()) == content_hash(a.data(), a.size()));
  CHECK(content_hash(a.data(), a.size()) != content_hash(b.data(), b.size()));
  const ContentHash h = content_hash(a.data(), a.size());
  CHECK(h.lo != h.hi);  // two independent halves
  // Short inputs and lengths that are not a multiple of 8 go through the tail rounds.
  for (size_t n = 0; n < 40; ++n) CHECK(content_hash(a.data(), n) != content_hash(a.data(), n + 1));
}

TEST_CASE("the frame cache finds what it stored and evicts the least recently used past its byte budget") {
  const size_t floats = 1024;  // 4 KiB per entry
  FrameCache cache(3 * floats * sizeof(float));
  const ContentHash k1{1, 1}, k2{2, 2}, k3{3, 3}, k4{4, 4};
  CHECK(cache.find(k1) == nullptr);
  cache.insert(k1, rows_of(floats, 1));
  cache.insert(k2, rows_of(floats, 2));
  cache.insert(k3, rows_of(floats, 3));
  CHECK(cache.bytes() == 3 * floats * sizeof(float));
  TileRows held = cache.find(k2);
  REQUIRE(cache.find(k1) != nullptr);  // k1, then k3, become the most recently used; k2 is the oldest
  REQUIRE(cache.find(k3) != nullptr);
  cache.insert(k4, rows_of(floats, 4));
  CHECK(cache.entries() == 3);
  CHECK(cache.bytes() == 3 * floats * sizeof(float));
  CHECK(cache.find(k2) == nullptr);
  CHECK((*held)[0] == 2);  // rows a caller holds survive their eviction
  CHECK((*cache.find(k1))[0] == 1);
  CHECK((*cache.find(k4))[0] == 4);
  CHECK((*cache.find(k3))[0] == 3);
  // Larger than the whole budget: not stored, nothing evicted.
  cache.insert(ContentHash{5, 5}, rows_of(4 * floats, 5));
  CHECK(cache.entries() == 3);
  FrameCache off(0);
  CHECK_FALSE(off.enabled());
  off.insert(k1, rows_of(floats, 1));
  CHECK(off.find(k1) == nullptr);
}

TEST_CASE("the prefix cache returns the longest stored prefix of a prompt and evicts by bytes") {
  auto model = tiny_model();
  PrefixCache cache(100);  // 10 bytes per position below: room for 10 positions
  std::vector<PositionKey> keys;
  for (uint64_t i = 0; i < 12; ++i) keys.push_back({i, 0});
  std::shared_ptr<const Sequence> s3(model->create_sequence()), s6(model->create_sequence());
  cache.insert({keys.begin(), keys.begin() + 3}, s3, 10);
  cache.insert({keys.begin(), keys.begin() + 6}, s6, 10);
  CHECK(cache.bytes() == 90);
  CHECK(cache.find(keys.data(), 12, 11).sequence == s6);
  CHECK(cache.find(keys.data(), 12, 11).length == 6);
  CHECK(cache.find(keys.data(), 12, 5).length == 3);   // at most max_length positions
  CHECK(cache.find(keys.data(), 4, 4).length == 3);    // a shorter prompt
  std::vector<PositionKey> other = keys;
  other[4] = {99, 0};
  CHECK(cache.find(other.data(), 12, 11).length == 3);  // differs inside the longer one
  other[0] = {99, 0};
  CHECK(cache.find(other.data(), 12, 11).length == 0);
  // The 3-position snapshot was used last; a 2-position one evicts the 6-position one.
  cache.insert({keys.begin() + 5, keys.begin() + 7}, s3, 10);
  CHECK(cache.entries() == 2);
  CHECK(cache.bytes() == 50);
  CHECK(cache.find(keys.data(), 12, 11).length == 3);
}

TEST_CASE("a pair prompt prefilled from a cached prefix gives bitwise the logits and greedy steps of a one-shot prefill") {
  auto model = tiny_model();
  const json& c = golden_case("two-image");  // the VLAC pair prompt without reference, 655 tokens
  const std::vector<int32_t> ids = c["input_ids"].get<std::vector<int32_t>>();
  const std::vector<uint8_t> tiles = case_tiles("two-image");
  const std::vector<float> rows = model->encode_tiles(tiles.data(), 2);
  const int64_t D = model->hidden_size(), n = static_cast<int64_t>(ids.size());

  auto whole = model->create_sequence();
  whole->prefill(ids.data(), n, rows.data(), static_cast<int64_t>(rows.size()) / D);

  // Through the caches: the first call stores the prefix up to `Image-1: <img>`, the second forks it.
  ModelCaches caches;
  std::vector<BatchRequest> req{{ids.data(), n, tiles.data(), 2}};
  BatchStats first, second;
  const auto a = generate_batch(*model, req, greedy(6), &caches, &first);
  const auto b = generate_batch(*model, req, greedy(6), &caches, &second);
  const int64_t boundary = std::find(ids.begin(), ids.end(), model->image_context_id()) - ids.begin();
  CHECK(first.counts.frame_misses == 2);
  CHECK(first.counts.prefix_hits == 0);
  CHECK(first.counts.prefilled_tokens == static_cast<uint64_t>(n));
  CHECK(second.counts.frame_hits == 2);
  CHECK(second.counts.frame_misses == 0);
  CHECK(second.counts.prefix_hits == 1);
  CHECK(second.counts.prefix_tokens_reused == static_cast<uint64_t>(boundary));
  CHECK(second.counts.prefilled_tokens == static_cast<uint64_t>(n - boundary));

  // The same logits as the one-shot prefill, bit for bit.
  PrefixCache::Hit hit = caches.prefixes().find(position_keys(*model, ids.data(), n, {content_hash(tiles.data(), tiles.size() / 2),
                                                                                     content_hash(tiles.data() + tiles.size() / 2, tiles.size() / 2)}).data(),
                                                n, n - 1);
  REQUIRE(hit.length == boundary);
  auto forked = hit.sequence->fork();
  forked->prefill(ids.data() + boundary, n - boundary, rows.data(), static_cast<int64_t>(rows.size()) / D);
  REQUIRE(forked->last_logits().size() == whole->last_logits().size());
  CHECK(std::memcmp(forked->last_logits().data(), whole->last_logits().data(), whole->last_logits().size() * sizeof(float)) == 0);

  const GenerateResult fresh = whole->generate(greedy(6));
  check_identical(a[0], fresh);
  check_identical(b[0], fresh);
  const auto uncached = generate_batch(*model, req, greedy(6), nullptr);
  check_identical(uncached[0], fresh);
}

TEST_CASE("a batch of pairs sharing their prefix prefills it once, and its replies equal the uncached batch") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = golden_case("two-image")["input_ids"].get<std::vector<int32_t>>();
  const int64_t n = static_cast<int64_t>(ids.size()), S = model->tile_size(), tile = 3 * S * S;
  const std::vector<uint8_t> two = case_tiles("two-image");
  // Pairs (A, B), (A, C), (B, C) of three distinct frames, as a trajectory without reference.
  std::vector<uint8_t> frame_c(two.begin(), two.begin() + tile);
  for (size_t i = 0; i < frame_c.size(); i += 97) frame_c[i] = static_cast<uint8_t>(255 - frame_c[i]);
  const uint8_t* A = two.data();
  const uint8_t* B = two.data() + tile;
  std::vector<std::vector<uint8_t>> pairs = {{A, A + tile}, {A, A + tile}, {B, B + tile}};
  pairs[0].insert(pairs[0].end(), B, B + tile);
  pairs[1].insert(pairs[1].end(), frame_c.begin(), frame_c.end());
  pairs[2].insert(pairs[2].end(), frame_c.begin(), frame_c.end());
  std::vector<BatchRequest> req;
  for (auto& p : pairs) req.push_back({ids.data(), n, p.data(), 2});

  const auto uncached = generate_batch(*model, req, greedy(4), nullptr);
  ModelCaches caches;
  BatchStats st;
  const auto cached = generate_batch(*model, req, greedy(4), &caches, &st);
  for (size_t i = 0; i < req.size(); ++i) check_identical(cached[i], uncached[i]);
  CHECK(st.counts.frame_misses == 3);  // A, B, C once each
  CHECK(st.counts.frame_hits == 3);
  const int64_t boundary = std::find(ids.begin(), ids.end(), model->image_context_id()) - ids.begin();
  // The text before Image-1's rows is shared by all three: computed once, copied twice.
  CHECK(st.counts.prefix_tokens_reused == static_cast<uint64_t>(2 * boundary));
  CHECK(caches.prefixes().entries() == 1);
  CHECK(caches.bytes() > 0);
}

TEST_CASE("a prompt past the dynamic-NTK threshold takes the uncached prefill and still uses the frame cache") {
  auto model = tiny_model();
  const json& c = golden_case("ntk-prompt");  // 1,479 tokens > max_position_embeddings 1,024
  const std::vector<int32_t> ids = c["input_ids"].get<std::vector<int32_t>>();
  const std::vector<uint8_t> tiles = case_tiles("ntk-prompt");
  const int64_t n = static_cast<int64_t>(ids.size()), n_tiles = static_cast<int64_t>(c["images"].size());
  std::vector<BatchRequest> req{{ids.data(), n, tiles.data(), n_tiles}};
  const auto uncached = generate_batch(*model, req, greedy(4), nullptr);
  ModelCaches caches;
  BatchStats first, second;
  generate_batch(*model, req, greedy(4), &caches, &first);
  const auto cached = generate_batch(*model, req, greedy(4), &caches, &second);
  check_identical(cached[0], uncached[0]);
  CHECK(second.counts.frame_misses == 0);
  CHECK(second.counts.prefix_hits == 0);
  CHECK(second.counts.prefilled_tokens == static_cast<uint64_t>(n));
  CHECK(caches.prefixes().entries() == 0);
}

TEST_CASE("a bad request is refused before any cache changes") {
  auto model = tiny_model();
  std::vector<int32_t> ids = golden_case("two-image")["input_ids"].get<std::vector<int32_t>>();
  const std::vector<uint8_t> tiles = case_tiles("two-image");
  ids.back() = 1 << 30;  // outside the vocabulary, in the tail after both images
  ModelCaches caches;
  std::vector<BatchRequest> req{{ids.data(), static_cast<int64_t>(ids.size()), tiles.data(), 2}};
  CHECK_THROWS_AS(generate_batch(*model, req, greedy(2), &caches), vlac::Error);
  req[0].n_tiles = 1;
  ids.back() = 2;
  CHECK_THROWS_AS(generate_batch(*model, req, greedy(2), &caches), vlac::Error);
  CHECK(caches.bytes() == 0);
}
