#!/usr/bin/env bash
# .ci/fuzz.sh - builds every libFuzzer target tests/fuzz/*_fuzz.cpp with clang++-14
# (-fsanitize=fuzzer,address,undefined, no recovery) and runs each for a bounded time on its seed
# corpus tests/fuzz/<name>/ (<name> = the file name without _fuzz.cpp). Any crash, sanitizer
# report, leak, timeout (> 10 s per input) or out-of-memory (> 2 GiB) fails the script; the
# offending input is left in build-fuzz/artifacts/<name>/ (add it to tests/fuzz/<name>/ once fixed).
#
#   bash .ci/fuzz.sh                              # CI: 45 s per target, two at a time
#   MEMKV_FUZZ_SECONDS=3600 bash .ci/fuzz.sh      # a longer campaign (corpora grow in
#                                                 # build-fuzz/corpus/<name>/ and are reused)
#   MEMKV_FUZZ_TARGETS="fast_art hybrid_store" bash .ci/fuzz.sh   # some targets only
#
# Environment: MEMKV_FUZZ_SECONDS (45), MEMKV_FUZZ_JOBS (2: targets built and run at once),
# MEMKV_FUZZ_CXX (clang++-14), MEMKV_FUZZ_DIR (build-fuzz), MEMKV_FUZZ_TARGETS (all),
# MEMKV_FUZZ_EXTRA_FLAGS (added to the compile line before -I include).
# Run from the repository root. Needs clang-14, libfuzzer-14-dev and libclang-rt-14-dev.
set -euo pipefail

seconds="${MEMKV_FUZZ_SECONDS:-45}"
jobs="${MEMKV_FUZZ_JOBS:-2}"
cxx="${MEMKV_FUZZ_CXX:-clang++-14}"
out="${MEMKV_FUZZ_DIR:-build-fuzz}"
extra="${MEMKV_FUZZ_EXTRA_FLAGS:-}"

if [[ ! -d tests/fuzz || ! -d include/memkv ]]; then
  echo "fuzz.sh: run from the repository root" >&2
  exit 2
fi
command -v "$cxx" >/dev/null || { echo "fuzz.sh: $cxx not found (apt-get install clang-14 libfuzzer-14-dev libclang-rt-14-dev)" >&2; exit 2; }

targets=()
if [[ -n "${MEMKV_FUZZ_TARGETS:-}" ]]; then
  read -r -a targets <<<"$MEMKV_FUZZ_TARGETS"
else
  for f in tests/fuzz/*_fuzz.cpp; do
    n="$(basename "$f" .cpp)"
    targets+=("${n%_fuzz}")
  done
fi
mkdir -p "$out/logs"
start=$(date +%s)
echo "fuzz.sh: ${#targets[@]} targets (${targets[*]}), ${seconds} s each, ${jobs} at a time, $cxx"

# Runs "$@" for every target with at most $jobs at once; prints "name rc" lines into $1.
run_all() {
  local results="$1" fn="$2" t
  : >"$results"
  for t in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
    ( rc=0; "$fn" "$t" || rc=$?; echo "$t $rc" >>"$results" ) &
  done
  wait
}

build_one() {
  local t="$1"
  local cmd=("$cxx" -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
             $extra -I include "tests/fuzz/${t}_fuzz.cpp" -o "$out/${t}_fuzz")
  echo "  build $t: ${cmd[*]}"
  "${cmd[@]}" >"$out/logs/$t.build.log" 2>&1
}

max_len_of() {
  case "$1" in
    frozen_layer|hybrid_store_load) echo 8192 ;;
    *) echo 4096 ;;
  esac
}

run_one() {
  local t="$1" len
  len="$(max_len_of "$t")"
  mkdir -p "$out/corpus/$t" "$out/artifacts/$t"
  local seeds=()
  [[ -d "tests/fuzz/$t" ]] && seeds=("tests/fuzz/$t")
  local cmd=("$out/${t}_fuzz" -max_total_time="$seconds" -max_len="$len" -timeout=10
             -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t/"
             "$out/corpus/$t" "${seeds[@]}")
  echo "  run $t: ${cmd[*]}"
  "${cmd[@]}" >"$out/logs/$t.run.log" 2>&1
}

echo "fuzz.sh: building"
run_all "$out/logs/build.results" build_one
failed_builds=0
while read -r t rc; do
  if [[ "$rc" != 0 ]]; then
    echo "fuzz.sh: BUILD FAILED: $t (rc $rc); last lines of $out/logs/$t.build.log:"
    grep -m 20 -E "error" "$out/logs/$t.build.log" || tail -n 20 "$out/logs/$t.build.log"
    failed_builds=$((failed_builds + 1))
  fi
done <"$out/logs/build.results"
if ((failed_builds > 0)); then
  echo "fuzz.sh: $failed_builds of ${#targets[@]} targets failed to build"
  exit 1
fi
echo "fuzz.sh: built in $(($(date +%s) - start)) s; running"

run_all "$out/logs/run.results" run_one
passed=0
failed=0
while read -r t rc; do
  execs="$(grep -m1 -E '^stat::number_of_executed_units' "$out/logs/$t.run.log" | awk '{print $2}' || true)"
  corpus="$(find "$out/corpus/$t" -type f | wc -l)"
  if [[ "$rc" == 0 ]]; then
    passed=$((passed + 1))
    echo "  ok   $t: ${execs:-?} inputs in ${seconds} s, corpus $corpus files"
  else
    failed=$((failed + 1))
    echo "  FAIL $t (rc $rc): findings in $out/artifacts/$t/:"
    ls -l "$out/artifacts/$t/" || true
    echo "  ---- last 40 lines of $out/logs/$t.run.log"
    tail -n 40 "$out/logs/$t.run.log"
    echo "  ---- reproduce: $out/${t}_fuzz $out/artifacts/$t/<file>"
  fi
done < <(sort "$out/logs/run.results")
echo "fuzz.sh: $passed passed, $failed failed ($(($(date +%s) - start)) s)"
((failed == 0))
