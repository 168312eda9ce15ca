// Copy-on-write KV caches (runtime/kv_cache.h, issue 17): a fork maps its parent's pages instead of
// copying them, so many forks of one prefix hold it once, and every fork still reads and continues
// exactly as a copy would.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "common/page_buffer.h"
#include "runtime/cached_batch.h"
#include "runtime/kv_cache.h"
#include "runtime/model.h"
#include "runtime/sequence.h"
#include "support/runtime_fixture.h"

using namespace vlac;
using namespace vlac::test;

namespace {

// The process's proportional set size: a page mapped by several of its mappings counts once.
// -1 where the kernel does not say.
double pss_mib() {
  std::ifstream in("/proc/self/smaps_rollup");
  std::string key;
  double kb;
  while (in >> key) {
    if (key == "Pss:" && in >> kb) return kb / 1024;
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

float pattern(int64_t layer, int64_t position, int64_t i) {
  return static_cast<float>(layer * 1000003 + position * 1031 + i) * 0.5f;
}

}  // namespace

TEST_CASE("eight forks of a 64 MiB KV prefix are resident once, and each reads it and writes its own positions") {
  const int64_t layers = 4, capacity = 4096, width = 1024, n = 2000;  // 4 KiB a position, 62.5 MiB in use
  KvCache parent(layers, capacity, width);
  auto fill = [&](KvCache& kv, int64_t from, int64_t to, float offset) {
    LlmSegment s = kv.segment(0, 0);
    for (int64_t l = 0; l < layers; ++l)
      for (int64_t p = from; p < to; ++p)
        for (int64_t i = 0; i < width; ++i) {
          s.k_cache[l][p * width + i] = pattern(l, p, i) + offset;
          s.v_cache[l][p * width + i] = -pattern(l, p, i) - offset;
        }
  };
  auto reads = [&](KvCache& kv, int64_t from, int64_t to, float offset) {
    LlmSegment s = kv.segment(0, 0);
    for (int64_t l = 0; l < layers; ++l)
      for (int64_t p = from; p < to; ++p)
        for (int64_t i = 0; i < width; i += 97)
          if (s.k_cache[l][p * width + i] != pattern(l, p, i) + offset ||
              s.v_cache[l][p * width + i] != -pattern(l, p, i) - offset)
            return false;
    return true;
  };
  fill(parent, 0, n, 0);
  const double before = pss_mib();
  std::vector<std::unique_ptr<KvCache>> forks;
  for (int k = 0; k < 8; ++k) {
    forks.push_back(std::make_unique<KvCache>(layers, capacity, width));
    forks.back()->fork_from(parent, n, n);
  }
  CHECK(parent.shared() == PageBuffer::sharing_supported());
  for (int k = 0; k < 8; ++k) {
    CAPTURE(k);
    CHECK(reads(*forks[k], 0, n, 0));
    fill(*forks[k], n, n + 10, static_cast<float>(k + 1));  // each fork's own next 10 positions
  }
  fill(parent, n, n + 20, 100.0f);  // the parent goes on after them
  for (int k = 0; k < 8; ++k) {
    CAPTURE(k);
    CHECK(reads(*forks[k], n, n + 10, static_cast<float>(k + 1)));
    CHECK(reads(*forks[k], 0, n, 0));
  }
  CHECK(reads(parent, 0, n, 0));
  CHECK(reads(parent, n, n + 20, 100.0f));
  const double after = pss_mib();
  if (PageBuffer::sharing_supported() && before >= 0) {
    MESSAGE("PSS " << before << " MiB before the forks, " << after << " MiB after (a copy each: +500 MiB)");
    CHECK(after - before < 16);  // their own positions (8 x 10 x 4 KiB x 8 layer halves) and page tables
  }
}

TEST_CASE("forks of a prefilled sequence share its pages and reply bit for bit as a sequence prefilled alone") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = case_ids("two-image");
  const std::vector<uint8_t> tiles = case_tiles("two-image");
  const std::vector<float> rows = model->encode_tiles(tiles.data(), 2);
  const int64_t n = static_cast<int64_t>(ids.size()), image_rows = static_cast<int64_t>(rows.size()) / model->hidden_size();
  auto parent = model->create_sequence();
  parent->prefill(ids.data(), n, rows.data(), image_rows);
  CHECK_FALSE(parent->kv_shared());
  auto alone = model->create_sequence();
  alone->prefill(ids.data(), n, rows.data(), image_rows);
  const GenerateResult expected = alone->generate(greedy(6));

  std::vector<std::unique_ptr<Sequence>> forks;
  for (int k = 0; k < 3; ++k) forks.push_back(parent->fork());
  CHECK(parent->kv_shared() == PageBuffer::sharing_supported());
  for (auto& f : forks) check_identical(f->generate(greedy(6)), expected);
  check_identical(parent->generate(greedy(6)), expected);  // the parent after its forks wrote theirs
  // A fork of a fork (a copy: a view's pages are not shared again), and a prefix fork
  auto grandchild = forks[0]->fork();
  CHECK(forks[0]->kv_view() == PageBuffer::sharing_supported());
  CHECK_FALSE(forks[0]->kv_shared());
  CHECK_FALSE(grandchild->kv_view());
  // (the tail more than LinearWeight::kDecodeRows rows, so that it runs the whole prompt's GEMM)
  auto replay = parent->fork_prefix(n - 60);
  replay->prefill(ids.data() + n - 60, 60);  // text only: after the last image
  check_identical(replay->generate(greedy(6)), expected);
  CHECK(grandchild->tokens() == forks[0]->tokens());
  auto twin = forks[1]->fork();
  check_identical(grandchild->generate(greedy(3)), twin->generate(greedy(3)));
}

TEST_CASE("a snapshot the prefix cache stores owns its pages, so its forks copy nothing") {
  auto model = tiny_model();
  const std::vector<int32_t> ids = case_ids("two-image");
  const std::vector<uint8_t> tiles = case_tiles("two-image");
  ModelCaches caches;
  std::vector<BatchRequest> req{{ids.data(), static_cast<int64_t>(ids.size()), tiles.data(), 2}};
  const auto uncached = generate_batch(*model, req, greedy(4), nullptr);
  const auto first = generate_batch(*model, req, greedy(4), &caches);
  const auto second = generate_batch(*model, req, greedy(4), &caches);
  check_identical(first[0], uncached[0]);
  check_identical(second[0], uncached[0]);
  REQUIRE(caches.prefixes().entries() == 1);
  const PrefixCache::Hit hit = caches.prefixes().find(
      position_keys(*model, ids.data(), static_cast<int64_t>(ids.size()),
                    {content_hash(tiles.data(), tiles.size() / 2), content_hash(tiles.data() + tiles.size() / 2, tiles.size() / 2)})
          .data(),
      static_cast<int64_t>(ids.size()), static_cast<int64_t>(ids.size()) - 1);
  REQUIRE(hit.sequence);
  CHECK(hit.sequence->kv_shared() == PageBuffer::sharing_supported());
}
