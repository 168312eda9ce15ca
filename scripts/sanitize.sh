#!/usr/bin/env bash
# The native tests under AddressSanitizer + UndefinedBehaviorSanitizer (issue 19): configures a
# sanitized build of the engine and its doctest executables, runs every ctest executable, prints
# `N passed, N failed` (doctest test cases) and exits non-zero on any failure or sanitizer report.
#
#   npm run test:sanitize            # build dir: build-asan (VLAC_SANITIZE_BUILD overrides)
#   scripts/sanitize.sh -R tokenizer # only the ctest executables whose name matches
#   npm run test:sanitize -- --js    # also: the addon built with the same flags (build-asan-addon),
#                                    # and the reliability vitest files run on it (libasan preloaded
#                                    # into node; leak checking off there, node leaks by design at exit)
#
# Sanitizer flags go through VLAC_FLAGS (cmake-js-proof, CMakeLists.txt). Debug keeps assert()s on;
# -O1 keeps the run time of the model tests bearable (ASan's own recommendation).
set -u -o pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${VLAC_SANITIZE_BUILD:-$root/build-asan}"
jobs="${JOBS:-2}"
filter=""
js=0
while [ $# -gt 0 ]; do
  case "$1" in
    -R) filter="${2:-}"; shift 2 ;;
    --js) js=1; shift ;;
    *) echo "sanitize: unknown option $1"; exit 2 ;;
  esac
done

flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
cc="${CC:-gcc}"
cxx="${CXX:-g++}"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=ON \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" -DVLAC_FLAGS="$flags" >/dev/null || exit 2
cmake --build "$build" -j "$jobs" || { echo "sanitize: build failed"; exit 2; }

# halt at the first report of either sanitizer; leaks are reported at exit (LeakSanitizer).
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"

passed=0
failed=0
reports=0
logdir="$build/sanitize-logs"
mkdir -p "$logdir"
names=$(ctest --test-dir "$build" -N | sed -n 's/^ *Test *#[0-9]*: *\([^ ]*\).*/\1/p')
for name in $names; do
  if [ -n "$filter" ] && ! [[ "$name" =~ $filter ]]; then continue; fi
  log="$logdir/$name.log"
  start=$(date +%s)
  (cd "$root" && "$build/vlac_$name" --reporters=console --no-intro=true) >"$log" 2>&1
  status=$?
  secs=$(( $(date +%s) - start ))
  summary=$(grep -E 'test cases:' "$log" | tail -1)
  p=$(sed -n 's/.*test cases: *[0-9]* *| *\([0-9]*\) passed.*/\1/p' <<<"$summary")
  f=$(sed -n 's/.*| *\([0-9]*\) failed.*/\1/p' <<<"$summary")
  p=${p:-0}
  f=${f:-0}
  n_reports=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer|LeakSanitizer)' "$log")
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$n_reports" -gt 0 ]; then reports=$((reports + 1)); fi
  if [ -z "$summary" ] || { [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; }; then failed=$((failed + 1)); fi
  echo "$name: ${p} passed, ${f} failed, exit ${status}, ${secs} s$([ "$n_reports" -gt 0 ] && echo ", SANITIZER REPORT (see $log)")"
  if [ "$status" -ne 0 ] || [ "$n_reports" -gt 0 ]; then
    grep -E -A30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" | head -60
    grep -E -B2 -A8 'ERROR:|FAILED' "$log" | head -40
  fi
done

if [ "$js" -eq 1 ]; then
  addon="$root/build-asan-addon"
  (cd "$root" && npx cmake-js compile --config Release --out "$addon" --CDBUILD_TESTING=OFF "--CDVLAC_FLAGS=$flags" -- -j "$jobs") \
    >"$logdir/addon-build.log" 2>&1 || { echo "sanitize: addon build failed (see $logdir/addon-build.log)"; exit 2; }
  report="$logdir/vitest.json"
  rm -f "$report"
  (cd "$root" && LD_PRELOAD="$($cxx -print-file-name=libasan.so) $($cxx -print-file-name=libubsan.so)" \
    ASAN_OPTIONS="detect_leaks=0:halt_on_error=1" VLAC_NATIVE_BINARY="$addon/Release/vlac.node" \
    npx vitest run test/errors.test.ts test/images-accepted.test.ts test/lifecycle.test.ts test/workers.test.ts \
      --reporter=default --reporter=json --outputFile.json="$report") >"$logdir/vitest.log" 2>&1
  vitest_status=$?
  n_reports=$(grep -cE 'ERROR: AddressSanitizer|runtime error:' "$logdir/vitest.log")
  read -r p f < <(node -e "const r=JSON.parse(require('fs').readFileSync(process.argv[1],'utf8'));console.log(r.numPassedTests,r.numFailedTests)" "$report" 2>/dev/null || echo "0 1")
  passed=$((passed + p))
  failed=$((failed + f))
  if [ "$vitest_status" -ne 0 ] && [ "$f" -eq 0 ]; then failed=$((failed + 1)); fi
  if [ "$n_reports" -gt 0 ]; then reports=$((reports + 1)); fi
  echo "vitest on the sanitized addon: ${p} passed, ${f} failed, exit ${vitest_status}$([ "$n_reports" -gt 0 ] && echo ", SANITIZER REPORT (see $logdir/vitest.log)")"
fi

echo "${passed} passed, ${failed} failed$([ "$reports" -gt 0 ] && echo ", ${reports} executable(s) with sanitizer reports")"
[ "$failed" -eq 0 ] && [ "$reports" -eq 0 ] && [ "$passed" -gt 0 ]
