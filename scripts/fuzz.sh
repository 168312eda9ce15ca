#!/usr/bin/env bash
# Runs the libFuzzer harnesses (native/fuzz/fuzz_*.cpp) under ASan + UBSan.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]
#
# SECONDS per harness (default 600); HARNESS names without the fuzz_ prefix (default: all of them,
# e.g. safetensors_header config tokenizer_model). Builds the fuzz tree first (clang-14,
# -DVLAC_FUZZ=ON) in $VLAC_FUZZ_BUILD (default build-fuzz/). Each harness starts from a scratch copy
# of its seed corpus native/fuzz/corpus/<name>/ (the committed corpus never grows). Crash, leak,
# timeout and out-of-memory inputs go to native/fuzz/artifacts/<name>/ (git-ignored) with the run's
# log beside them. One summary line per harness; the exit status is 1 when any harness found
# something, 2 on a usage or build error.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=600
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then
  seconds=$1
  shift
fi
if [[ $seconds -lt 1 ]]; then
  echo "fuzz.sh: SECONDS must be at least 1" >&2
  exit 2
fi

harnesses=("$@")
if [[ ${#harnesses[@]} -eq 0 ]]; then
  for src in "$root"/native/fuzz/fuzz_*.cpp; do
    name=$(basename "$src" .cpp)
    harnesses+=("${name#fuzz_}")
  done
fi
for h in "${harnesses[@]}"; do
  if [[ ! -f $root/native/fuzz/fuzz_$h.cpp ]]; then
    echo "fuzz.sh: no harness native/fuzz/fuzz_$h.cpp" >&2
    exit 2
  fi
done

build=${VLAC_FUZZ_BUILD:-$root/build-fuzz}
if [[ ! -f $build/build.ninja ]]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DVLAC_FUZZ=ON -DVLAC_FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -g -O1" >/dev/null ||
    { echo "fuzz.sh: cmake configure failed ($build)" >&2; exit 2; }
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("vlac_fuzz_$h"); done
ninja -C "$build" -j2 "${targets[@]}" >"$build/fuzz-build.log" 2>&1 ||
  { tail -40 "$build/fuzz-build.log" >&2; echo "fuzz.sh: build failed (log: $build/fuzz-build.log)" >&2; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
scratch=$(mktemp -d "${TMPDIR:-/tmp}/vlac-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

status=0
for h in "${harnesses[@]}"; do
  corpus=$scratch/$h
  artifacts=$root/native/fuzz/artifacts/$h
  mkdir -p "$corpus" "$artifacts"
  if [[ -d $root/native/fuzz/corpus/$h ]]; then cp -R "$root/native/fuzz/corpus/$h/." "$corpus/"; fi
  seeds=$(find "$corpus" -type f | wc -l)
  before=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  log=$artifacts/last-run.log
  # -timeout: one input taking 25 s is a finding (hang); -rss_limit_mb: so is 2 GiB of memory.
  "$build/vlac_fuzz_$h" "$corpus" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  after=$(find "$artifacts" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  [[ -z $execs ]] && execs=$(grep -o 'Done [0-9]* runs' "$log" | tail -1 | tr -dc 0-9)
  units=$(find "$corpus" -type f | wc -l)
  if [[ $rc -ne 0 || $after -gt $before ]]; then
    found=$(grep -m1 -E 'ERROR: |runtime error|fuzz_[a-z_]+: ' "$log" | cut -c1-160)
    echo "fuzz_$h: FINDING after ${execs:-?} execs (exit $rc): ${found:-see log}; inputs and log in native/fuzz/artifacts/$h/"
    status=1
  else
    echo "fuzz_$h: ok, ${execs:-?} execs in ${seconds} s, corpus $seeds -> $units inputs, no finding"
  fi
done
exit $status
