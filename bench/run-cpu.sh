#!/usr/bin/env bash
# The CPU benchmark of issue 13, all in one run on this machine: the engine's benchmark
# (vlac_cli bench, native/engine/bench; precision fp32 and bf16) and the project's PyTorch baseline
# (bench/pytorch_baseline.py, bf16 and fp32) on the same checkpoint, the same inputs and the same thread count, then one
# report (bench/report.mjs) with achieved rates, their ratio to the higher measured peak, the
# cosine of the last-position logits, and the speed-up over PyTorch.
#
#   bench/run-cpu.sh [MODEL_DIR] [OUT_DIR]
#
# MODEL_DIR defaults to .cache/random-vlac-2b (made with `vlac_cli random-checkpoint ... --preset
# vlac-2b --shards 4` when missing). Needs /usr/bin/python3 with torch (Debian's python3-torch).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
model=${1:-$root/.cache/random-vlac-2b}
out=${2:-$root/bench/out/cpu-$(date +%Y%m%d-%H%M%S)}
threads=${VLAC_BENCH_THREADS:-$(nproc)}
iterations=${VLAC_BENCH_ITERATIONS:-2}
# PyTorch fp32 takes ~6 minutes per pass over the four scenarios on 2 cores: one timed pass by default.
fp32_iterations=${VLAC_BENCH_FP32_ITERATIONS:-1}
mkdir -p "$out"

cmake -S "$root" -B "$root/build/bench" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$root/build/bench" --target vlac_cli >/dev/null
cli=$root/build/bench/vlac_cli
if [[ ! -f $model/config.json ]]; then
  echo "bench: generating the random VLAC-2B checkpoint into $model" >&2
  "$cli" random-checkpoint "$model" --preset vlac-2b --shards 4 --tokenizer-from "$root/../shared/fixtures/tiny-a"
fi

# The engine in both precisions (load option precision: fp32 activations, the goldens' numerics; bf16
# activations into the ViT/prefill GEMMs, PyTorch bf16's numerics). Both write their inputs and
# last-position logits; the synthetic inputs are the same, PyTorch reads the fp32 run's.
for precision in fp32 bf16; do
  echo "bench: engine, precision $precision ($threads threads)" >&2
  mkdir -p "$out/engine-$precision"
  "$cli" bench --model "$model" --threads "$threads" --precision "$precision" --scenario vit-tile,prefill:700,decode,pair \
    --iterations "$iterations" --warmup 1 --decode-tokens 8 --logits-dir "$out/engine-$precision" \
    --out "$out/engine-$precision.json" >/dev/null
done
in=$out/engine-fp32

for dtype in bf16 fp32; do
  n=$iterations warm=1
  [[ $dtype == fp32 ]] && n=$fp32_iterations warm=0
  echo "bench: pytorch $dtype ($threads threads, $n iterations)" >&2
  /usr/bin/python3 "$root/bench/pytorch_baseline.py" --model "$model" --threads "$threads" --dtype "$dtype" \
    --scenario vit-tile,prefill:700,decode,pair --iterations "$n" --warmup "$warm" \
    --ids "$in/engine-prefill-700.ids.i32" --pair-ids "$in/engine-pair.ids.i32" --tiles-u8 "$in/engine-pair.tiles.u8" \
    --compare-logits "prefill:700=$in/engine-prefill-700.f32" --compare-logits "pair=$in/engine-pair.f32" \
    --json "$out/pytorch-$dtype.json" --out-dir "$out" >"$out/pytorch-$dtype.log" 2>&1
done

node "$root/bench/report.mjs" "$out" | tee "$out/report.md"
