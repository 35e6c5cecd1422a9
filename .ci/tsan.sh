#!/usr/bin/env bash
# .ci/tsan.sh - ThreadSanitizer run of tests/concurrency_test.cpp ([concurrency]): many threads
# reading every const structure at once. Builds just that test and tests/main.cpp (Catch2 v2)
# with -fsanitize=thread and runs it; any data race report fails the script.
#
#   bash .ci/tsan.sh                       # from the repository root
#   MEMKV_TSAN_CXX=clang++-14 bash .ci/tsan.sh
#
# Environment: MEMKV_TSAN_CXX (g++), MEMKV_TSAN_DIR (build-tsan), MEMKV_TEST_THREADS (4).
set -euo pipefail

cxx="${MEMKV_TSAN_CXX:-g++}"
out="${MEMKV_TSAN_DIR:-build-tsan}"
if [[ ! -f tests/concurrency_test.cpp || ! -d include/memkv ]]; then
  echo "tsan.sh: run from the repository root" >&2
  exit 2
fi
mkdir -p "$out"
start=$(date +%s)
cmd=("$cxx" -std=c++20 -O1 -g -fsanitize=thread -fno-omit-frame-pointer -I include -I tests
     tests/main.cpp tests/concurrency_test.cpp -o "$out/memkv_concurrency_tsan" -pthread)
echo "tsan.sh: ${cmd[*]}"
"${cmd[@]}"
echo "tsan.sh: built in $(($(date +%s) - start)) s"
# halt_on_error: the first race ends the run with a non-zero status; second_deadlock_stack for
# lock-order reports. setarch -R: TSan needs the old address-space layout on newer kernels.
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
run=("$out/memkv_concurrency_tsan" "[concurrency]")
if setarch "$(uname -m)" -R true 2>/dev/null; then run=(setarch "$(uname -m)" -R "${run[@]}"); fi
echo "tsan.sh: ${run[*]}"
rc=0
"${run[@]}" || rc=$?
if ((rc != 0)); then
  echo "tsan.sh: FAILED (exit status $rc): a data race or a wrong answer, see above"
  exit 1
fi
echo "tsan.sh: OK, [concurrency] passed under ThreadSanitizer, 0 races ($(($(date +%s) - start)) s)"
