// The machinery under the op table: the thread pool, CPU feature detection and the choice of
// instruction set.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "common/cpu_features.h"
#include "common/error.h"
#include "common/thread_pool.h"
#include "ops/op_table.h"
#include "ops/ops.h"

using namespace vlac;

TEST_CASE("parallel_for runs every index exactly once, in at most 4 ranges per thread") {
  for (int threads : {1, 2, 3, 5}) {
    set_num_threads(threads);
    CHECK(num_threads() == threads);
    for (int64_t n : {0, 1, 2, 7, 1000, 100003}) {
      for (int64_t grain : {1, 10, 5000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::atomic<int> ranges{0};
        parallel_for(n, grain, [&](int64_t b, int64_t e) {
          ranges.fetch_add(1);
          for (int64_t i = b; i < e; ++i) hits[i].fetch_add(1);
        });
        int64_t wrong = 0;
        for (auto& h : hits) wrong += h.load() != 1;
        CHECK(wrong == 0);
        CHECK(ranges.load() <= 4 * threads);
        if (n > 0 && n < 2 * grain) CHECK(ranges.load() == 1);
      }
    }
  }
  set_num_threads(physical_core_count());
}

TEST_CASE("a parallel_for inside another runs serially instead of deadlocking") {
  set_num_threads(2);
  std::atomic<int64_t> total{0};
  parallel_for(8, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i)
      parallel_for(100, 1, [&](int64_t b2, int64_t e2) { total.fetch_add(e2 - b2); });
  });
  CHECK(total.load() == 800);
  set_num_threads(physical_core_count());
}

TEST_CASE("an exception thrown in any range reaches the caller, and the pool keeps working") {
  set_num_threads(2);
  CHECK_THROWS_AS(parallel_for(100, 1,
                               [](int64_t b, int64_t) {
                                 if (b > 0) throw std::runtime_error("range failed");
                               }),
                  std::runtime_error);
  std::atomic<int> n{0};
  parallel_for(100, 1, [&](int64_t b, int64_t e) { n.fetch_add(static_cast<int>(e - b)); });
  CHECK(n.load() == 100);
  CHECK_THROWS_AS(set_num_threads(0), Error);
  set_num_threads(physical_core_count());
}

TEST_CASE("the default thread count is the number of physical cores") {
  CHECK(physical_core_count() >= 1);
  CHECK(num_threads() == physical_core_count());
}

TEST_CASE("cpu feature names list exactly the detected flags, with the AVX-512 ones implying AVX2") {
  const CpuFeatures& f = cpu_features();
  const auto names = cpu_feature_names();
  auto has = [&](const char* n) { return std::find(names.begin(), names.end(), std::string(n)) != names.end(); };
  CHECK(has("avx2") == f.avx2);
  CHECK(has("fma") == f.fma);
  CHECK(has("avx512f") == f.avx512f);
  CHECK(has("avx512bf16") == f.avx512bf16);
  if (f.avx512f) CHECK(f.avx2);
}

TEST_CASE("the instruction set can be forced by name, and asking for one the CPU lacks is a BadArgument") {
  using namespace vlac::ops;
  CHECK(isa_from_name("reference") == Isa::Reference);
  for (Isa isa : {Isa::Avx2, Isa::Avx512}) {
    if (isa_supported(isa)) {
      CHECK(isa_from_name(isa_name(isa)) == isa);
    } else {
      try {
        isa_from_name(isa_name(isa));
        FAIL("unsupported set accepted");
      } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::BadArgument);
      }
    }
  }
  try {
    isa_from_name("sse9");
    FAIL("unknown set accepted");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::BadArgument);
    CHECK(std::string(e.what()).find("sse9") != std::string::npos);
  }
  const Isa before = active_isa();
  set_active_isa(Isa::Reference);
  CHECK(active_isa() == Isa::Reference);
  float h[3] = {1, 2, 3};
  const float x[3] = {1, 1, 1};
  add(h, x, 3);  // through ops.h, on the reference table
  CHECK(h[2] == 4.0f);
  set_active_isa(before);
  CHECK(active_isa() == before);
}
