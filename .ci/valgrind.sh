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
#   bash .ci/valgrind.sh                   # from the repository root
#   MEMKV_VALGRIND_FILTER='[hybrid]' bash .ci/valgrind.sh   # a subset
#
# Environment: MEMKV_VALGRIND_DIR (build-valgrind), MEMKV_VALGRIND_FILTER (as above),
# MEMKV_VALGRIND_JOBS (2 compile jobs), MEMKV_TEST_OPS (2000), MEMKV_TEST_SEEDS (1).
set -euo pipefail

out="${MEMKV_VALGRIND_DIR:-build-valgrind}"
filter="${MEMKV_VALGRIND_FILTER:-~[differential]~[crash]~[concurrency]}"
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
cmd=(valgrind --tool=memcheck --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite
     --show-leak-kinds=definite --track-origins=yes --quiet "$out/memkv_tests" "$filter")
echo "valgrind.sh: MEMKV_TEST_OPS=$MEMKV_TEST_OPS MEMKV_TEST_SEEDS=$MEMKV_TEST_SEEDS ${cmd[*]}"
rc=0
"${cmd[@]}" || rc=$?
if ((rc != 0)); then
  echo "valgrind.sh: FAILED (exit status $rc): memcheck errors or failing tests, see above"
  exit 1
fi
echo "valgrind.sh: OK, memcheck found 0 errors ($(($(date +%s) - start)) s)"
