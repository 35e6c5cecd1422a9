#!/usr/bin/env bash
# .ci/valgrind.sh - valgrind memcheck over the unit tests: builds memkv_tests (tests/main.cpp and
# every tests/*_test.cpp, as tests/CMakeLists.txt does) without sanitizers at -O1 -g, then runs
#   valgrind --error-exitcode=1 --leak-check=full memkv_tests "~[differential]~[crash]~[concurrency]"
# with the randomized parts scaled down (MEMKV_TEST_OPS=2000, MEMKV_TEST_SEEDS=1) and the tests
# compiled with -DMEMKV_TEST_SANITIZED=1, so that the tests sized by hand (FrozenLayer's bit-flip,
# file and long-key tests) take the sizes of the sanitizer builds: memcheck is as slow as they are
# or slower (the bit-flip test alone took 152 s of a 515 s run at its release size). Any invalid
# read or write, use of uninitialised memory, bad free or definite leak fails the script.
#
# Left out, and why: [differential] (millions of random operations: hours under valgrind; ASan
# runs them in the asan preset), [crash] (kills forked children by design; valgrind would report
# the killed children's unfreed memory) and [concurrency] (valgrind serialises threads; data races
# are .ci/tsan.sh's job). Everything else (unit, file, corruption, exception-safety tests) runs.
#
# Memcheck runs one thread at a time, so the run is split by test file (Catch2's -# tags,
# [#<file>_test]) into one valgrind process per file, MEMKV_VALGRIND_JOBS of them at once, the
# slowest files first. Measured 2026-12-05 (one process, -d yes): 473 s of tests, of which
# frozen_layer 146, hot_art 88, arena_art 82, core 66, fast_art 36, huge_pages 21,
# front_coded_index 21, hybrid_store 14, file_io 1. Two at a time they took 252 s (377 s with the
# build, against 614 for the single process), which leaves CI's 30 minutes room for its fuzz
# stage. Each process's output is printed when it ends; any failing one fails the script. With
# MEMKV_VALGRIND_FILTER set, one process runs that filter instead.
#
#   bash .ci/valgrind.sh                   # from the repository root
#   MEMKV_VALGRIND_FILTER='[hybrid]' bash .ci/valgrind.sh   # a subset, in one process
#
# Environment: MEMKV_VALGRIND_DIR (build-valgrind), MEMKV_VALGRIND_FILTER (as above),
# MEMKV_VALGRIND_JOBS (2: compile jobs, and valgrind processes at once), MEMKV_TEST_OPS (2000),
# MEMKV_TEST_SEEDS (1).
set -euo pipefail

out="${MEMKV_VALGRIND_DIR:-build-valgrind}"
exclude="~[differential]~[crash]~[concurrency]"
filter="${MEMKV_VALGRIND_FILTER:-}"
jobs="${MEMKV_VALGRIND_JOBS:-2}"
cxx="${CXX:-g++}"
if [[ ! -f tests/main.cpp || ! -d include/memkv ]]; then
  echo "valgrind.sh: run from the repository root" >&2
  exit 2
fi
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind not found (apt-get install valgrind)" >&2; exit 2; }
mkdir -p "$out/obj"
start=$(date +%s)
flags=(-std=c++20 -O1 -g -Wall -Wextra -DMEMKV_TEST_SANITIZED=1 -I include -I tests)
echo "valgrind.sh: compiling with $cxx ${flags[*]} ($jobs at a time)"
# main.cpp (the Catch2 main) is compiled once and kept: it never changes.
sources=(tests/*_test.cpp)
[[ -f "$out/obj/main.o" ]] || sources+=(tests/main.cpp)
printf '%s\n' "${sources[@]}" | xargs -P "$jobs" -I{} sh -c \
  'o="$0/obj/$(basename "{}" .cpp).o"; echo "  $1 ... -c {} -o $o"; shift; exec "$@" -c "{}" -o "$o"' \
  "$out" "$cxx" "$cxx" "${flags[@]}"
objs=("$out/obj/main.o")
for f in tests/*_test.cpp; do objs+=("$out/obj/$(basename "$f" .cpp).o"); done
"$cxx" "${objs[@]}" -o "$out/memkv_tests" -pthread
echo "valgrind.sh: built in $(($(date +%s) - start)) s"

export MEMKV_TEST_OPS="${MEMKV_TEST_OPS:-2000}" MEMKV_TEST_SEEDS="${MEMKV_TEST_SEEDS:-1}"
vg=(valgrind --tool=memcheck --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --track-origins=yes --quiet)
echo "valgrind.sh: MEMKV_TEST_OPS=$MEMKV_TEST_OPS MEMKV_TEST_SEEDS=$MEMKV_TEST_SEEDS ${vg[*]} $out/memkv_tests ..."

if [[ -n "$filter" ]]; then
  rc=0
  "${vg[@]}" "$out/memkv_tests" "$filter" || rc=$?
  if ((rc != 0)); then
    echo "valgrind.sh: FAILED (exit status $rc): memcheck errors or failing tests, see above"
    exit 1
  fi
  echo "valgrind.sh: OK, memcheck found 0 errors ($(($(date +%s) - start)) s)"
  exit 0
fi

# One shard per test file, slowest first (the measured order above; files not in it go first,
# since nothing is known of them).
known=(frozen_layer_test hot_art_test arena_art_test core_test fast_art_test huge_pages_test
       front_coded_index_test hybrid_store_test file_io_test)
mapfile -t present < <("$out/memkv_tests" -# "$exclude" --list-tags | grep -o '\[#[^]]*\]' | sed 's/^\[#//; s/\]$//' | sort -u)
if ((${#present[@]} == 0)); then
  echo "valgrind.sh: FAILED: the test binary listed no test files" >&2
  exit 1
fi
shards=()
for f in "${present[@]}"; do
  [[ " ${known[*]} " == *" $f "* ]] || shards+=("$f")
done
for f in "${known[@]}"; do
  [[ " ${present[*]} " == *" $f "* ]] && shards+=("$f")
done
mkdir -p "$out/logs"
results="$out/logs/results"
: >"$results"
echo "valgrind.sh: ${#shards[@]} shards (${shards[*]}), $jobs at a time"
shard() {
  local f="$1" t0 rc=0
  t0=$(date +%s)
  "${vg[@]}" "$out/memkv_tests" -# "[#$f]$exclude" >"$out/logs/$f.log" 2>&1 || rc=$?
  {
    echo "---- valgrind.sh: $f: exit status $rc, $(($(date +%s) - t0)) s ----"
    cat "$out/logs/$f.log"
  }
  echo "$f $rc" >>"$results"
}
for f in "${shards[@]}"; do
  while (($(jobs -rp | wc -l) >= jobs)); do wait -n || true; done
  shard "$f" &
done
wait
failed=$(awk '$2 != 0 { print $1 }' "$results" | tr '\n' ' ')
if (($(wc -l <"$results") != ${#shards[@]})); then
  echo "valgrind.sh: FAILED: $(wc -l <"$results") of ${#shards[@]} shards reported" >&2
  exit 1
fi
if [[ -n "$failed" ]]; then
  echo "valgrind.sh: FAILED: memcheck errors or failing tests in: $failed(see their output above)"
  exit 1
fi
echo "valgrind.sh: OK, memcheck found 0 errors in ${#shards[@]} shards ($(($(date +%s) - start)) s)"
