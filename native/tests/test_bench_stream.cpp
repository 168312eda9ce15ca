// The stream scenarios of the benchmark core (native/engine/bench, runtime/prefetch.h) on tiny-a:
// the report's shape for paced, back-to-back and uncached pushes, and the uncached-only run.
// Timings are never asserted (benchmarks are not timed tests); only structure and arithmetic.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "bench/benchmark.h"
#include "runtime/model.h"
#include "support/fixtures.h"

using namespace vlac;

namespace {

const Model& tiny_model() {
  static std::shared_ptr<Model> m = Model::load(test::fixture_path("tiny-a"), ModelOptions{});
  return *m;
}

BenchOptions stream_options(const std::string& scenario) {
  BenchOptions o;
  o.scenarios = {scenario};
  o.warmup = 1;
  o.iterations = 3;
  o.torch_peak = false;
  return o;
}

void check_path(const json& p, size_t pushes, const std::string& what) {
  CAPTURE(what);
  REQUIRE(p.is_object());
  CHECK(p["pushes"] == pushes);
  CHECK(p["samples_ms"].size() == pushes);
  const double p50 = p["p50_ms"], p99 = p["p99_ms"], max = p["max_ms"], floor = p["floor_ms"];
  CHECK(p50 <= p99);
  CHECK(p99 <= max);
  CHECK(floor > 0);
  CHECK(p["ratio_to_floor"].get<double>() == doctest::Approx(p50 / floor));
}

}  // namespace

TEST_CASE("a stream run reports paced, back-to-back and uncached pushes with their floors and the speedups") {
  for (const char* scenario : {"stream", "stream-ref:2"}) {
    for (double tick : {0.0, 5.0}) {
      CAPTURE(scenario);
      CAPTURE(tick);
      BenchOptions o = stream_options(scenario);
      o.tick_ms = tick;
      const json r = run_benchmark(tiny_model(), o);
      const json& s = r["scenarios"][scenario];
      CHECK(s["iterations"] == 3);
      const json& st = s["stream"];
      CHECK(st["tick_ms"] == tick);
      for (const char* path : {"paced", "back_to_back", "uncached", "background_prefill"}) check_path(st[path], 3, path);
      // The headline figures are the paced pushes' (the warmup's push left out of both).
      CHECK(s["samples_ms"] == st["paced"]["samples_ms"]);
      CHECK(s["floor_ms"] == st["paced"]["floor_ms"]);
      // Back to back a push also waits for the previous push's background prefill: more work.
      CHECK(st["back_to_back"]["floor_ms"].get<double>() >= st["paced"]["floor_ms"].get<double>());
      for (const char* path : {"paced", "back_to_back"}) {
        CAPTURE(path);
        const json& sp = st["speedup"][path];
        CHECK(sp["measured"].get<double>() ==
              doctest::Approx(st["uncached"]["p50_ms"].get<double>() / st[path]["p50_ms"].get<double>()));
        CHECK(sp["at_floor"].get<double>() ==
              doctest::Approx(st["uncached"]["floor_ms"].get<double>() / st[path]["floor_ms"].get<double>()));
      }
    }
  }
}

TEST_CASE("a stream run without the caches times only the uncached pairs") {
  BenchOptions o = stream_options("stream");
  o.no_cache = true;
  const json r = run_benchmark(tiny_model(), o);
  const json& s = r["scenarios"]["stream"];
  check_path(s["stream"]["uncached"], 3, "uncached");
  CHECK(s["samples_ms"] == s["stream"]["uncached"]["samples_ms"]);
  CHECK_FALSE(s["stream"].contains("paced"));
  CHECK_FALSE(s["stream"].contains("speedup"));
}
