#!/usr/bin/env bash
# The one script for a GPU machine (issue 16; docs/cuda-int8.md): builds the engine with the CUDA
# kernels, runs the ctest executables (the GPU test included), compute-sanitizer on the GPU test when
# it is installed, and the kernels' microbenchmark at VLAC-2B shapes next to a PyTorch bf16 matmul
# measured in the same run. Needs CMake, ninja, nvcc (and a C++ compiler); PyTorch is optional; no
# Node. Everything it prints is also under $OUT (default ./out-gpu): one log per step, bench.json,
# summary.txt. Without a device it builds, runs the host tests, says "no device" and exits 0.
# Exit status: non-zero when a step that could run failed. Budget: well under 8 minutes.
#
#   scripts/gpu-check.sh                       # build dir build-gpu (GPU_CHECK_BUILD overrides)
#   GPU_CHECK_TESTS=. scripts/gpu-check.sh     # every ctest executable (default: the cuda and ops ones;
#                                              # the model tests also need ../shared/fixtures)
set -u -o pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GPU_CHECK_BUILD:-$root/build-gpu}"
out="${OUT:-$root/out-gpu}"
tests="${GPU_CHECK_TESTS:-^test_(cuda|ops)}"
jobs="${JOBS:-$(nproc)}"
mkdir -p "$out"
summary="$out/summary.txt"
: >"$summary"
failed=0

say() { echo "$*" | tee -a "$summary"; }
# step NAME SECONDS CMD...: runs CMD with a time limit, its output to $out/NAME.log; returns its status.
step() {
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "[$name: exit $rc, $((SECONDS - t0)) s, log $out/$name.log]"
  return $rc
}

say "gpu-check: $(date -u +%FT%TZ) $(uname -n), commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$out/nvidia-smi.log" 2>&1 &&
  say "nvidia-smi: $(head -1 "$out/nvidia-smi.log")"
command -v nvcc >/dev/null || { say "FAIL: no nvcc on PATH: the CUDA kernels cannot be built"; exit 1; }
say "nvcc: $(nvcc --version | tail -1)"

# ---- build ----------------------------------------------------------------------------------------
if ! step configure 120 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON; then
  say "FAIL: configure (see $out/configure.log)"
  exit 1
fi
if ! grep -q "^vlac_cuda:" <(ninja -C "$build" -t targets all 2>/dev/null); then
  say "FAIL: CMake found no CUDA compiler (configure.log): vlac_cuda is not a target"
  exit 1
fi
# the library, the bench and the ctest executables that will run (the whole tree is ~2x the work)
targets="vlac_cuda vlac_cuda_bench $(ninja -C "$build" -t targets all | sed -n 's/^vlac_\(test_[a-z0-9_]*\): .*/\1/p' |
  grep -E "$tests" | sed 's/^/vlac_/' | tr '\n' ' ')"
if ! step build 300 ninja -C "$build" -j "$jobs" $targets; then
  say "FAIL: build (see $out/build.log)"
  tail -20 "$out/build.log"
  exit 1
fi
say "build: ok ($build)"

# ---- tests ----------------------------------------------------------------------------------------
step ctest 240 ctest --test-dir "$build" -R "$tests" -j "$jobs" --output-on-failure --timeout 180
ctest_rc=$?
say "ctest (-R '$tests'): $(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -1)"
[ $ctest_rc -eq 0 ] || { failed=1; grep -E 'Failed|\*\*\*' "$out/ctest.log" | tee -a "$summary"; }

step gpu-test 120 "$build/vlac_test_cuda_int8_gpu"
gpu_rc=$?
if [ $gpu_rc -eq 0 ] && grep -q "^SKIPPED: no usable CUDA device" "$out/gpu-test.log"; then
  say "no device: $(grep SKIPPED "$out/gpu-test.log")"
  say "RESULT: built, host tests run (emulated kernels included); nothing ran on a GPU: exit 0"
  exit $failed
fi
say "gpu test: exit $gpu_rc: $(head -1 "$out/gpu-test.log"); $(grep 'test cases' "$out/gpu-test.log")"
[ $gpu_rc -eq 0 ] || failed=1

if command -v compute-sanitizer >/dev/null; then
  step sanitizer 180 compute-sanitizer --tool memcheck --error-exitcode 9 "$build/vlac_test_cuda_int8_gpu"
  san_rc=$?
  say "compute-sanitizer memcheck: exit $san_rc: $(grep -E 'ERROR SUMMARY' "$out/sanitizer.log" | tail -1)"
  [ $san_rc -eq 0 ] || failed=1
else
  say "compute-sanitizer: not installed, skipped"
fi

# ---- microbenchmark -------------------------------------------------------------------------------
if step bench 180 "$build/vlac_cuda_bench" --json "$out/bench.json"; then
  cat "$out/bench.log" | tee -a "$summary"
else
  say "FAIL: vlac_cuda_bench (see $out/bench.log)"
  failed=1
fi

# PyTorch bf16 at the same shapes, in the same run, and the ratios the issue asks for.
if [ -s "$out/bench.json" ] && python3 -c "import torch; assert torch.cuda.is_available()" >/dev/null 2>&1; then
  step torch 120 python3 - "$out/bench.json" <<'PY'
import json, sys, torch
bench = json.load(open(sys.argv[1]))
def bf16_us(M, N, K):
    x = torch.randn(M, K, device="cuda", dtype=torch.bfloat16)
    # > 256 MiB of weight copies for M = 1, as the engine's bench, so decode streams from memory
    copies = max(1, min(64, (256 << 20) // (N * K * 2) + 1)) if M == 1 else 1
    ws = [torch.randn(N, K, device="cuda", dtype=torch.bfloat16) for _ in range(copies)]
    for i in range(5): x @ ws[i % copies].T
    torch.cuda.synchronize()
    iters = 10
    while True:
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for i in range(iters): x @ ws[i % copies].T
        b.record(); torch.cuda.synchronize()
        ms = a.elapsed_time(b)
        if ms >= 50 or iters >= 100000: return ms * 1e3 / iters
        iters *= 4
print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
print("decode, M = 1 (per launch)  engine int8 us  engine bf16 us  torch bf16 us  int8/engine-bf16  int8/torch-bf16"
      "  | streaming, one launch: int8/engine-bf16")
for r in bench["decode"]:
    t = bf16_us(r["M"], r["N"], r["K"])
    print(f'{r["name"]:<10} {r["N"]:>5}x{r["K"]:<5} {r["w8a16_us"]:19.2f} {r["bf16_us"]:15.2f} {t:14.2f} '
          f'{r["w8a16_us"] / r["bf16_us"]:17.3f} {r["w8a16_us"] / t:16.3f}  | {r["w8a16_stream_us"] / r["bf16_stream_us"]:10.3f}')
print("prefill                W8A8 TOP/s  (+quantize)  torch bf16 TFLOP/s  W8A8/torch")
for r in bench["prefill"]:
    t = bf16_us(r["M"], r["N"], r["K"])
    ops = 2.0 * r["M"] * r["N"] * r["K"]
    g, q = ops / r["w8a8_us"] / 1e6, ops / (r["w8a8_us"] + r["quantize_us"]) / 1e6
    print(f'{r["name"]:<10} {r["M"]:>4}x{r["N"]}x{r["K"]:<5} {g:9.1f} {q:12.1f} {ops / t / 1e6:19.1f} {g / (ops / t / 1e6):11.3f}')
PY
  if [ $? -eq 0 ]; then cat "$out/torch.log" | tee -a "$summary"; else say "torch comparison failed (see $out/torch.log)"; fi
else
  say "torch: not importable with CUDA here: no PyTorch comparison"
fi

if [ $failed -eq 0 ]; then say "RESULT: all steps passed on the GPU"; else say "RESULT: FAILED (see the logs above)"; fi
exit $failed
