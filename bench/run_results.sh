#!/bin/sh
# Regenerate bench/results/: the comparison tables (Markdown), raw rows (JSON) and plots (SVG) on
# synthetic-urls (1M keys) and npm-urls, medians of 3 runs. Run from anywhere after
#   cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release && cmake --build build-bench -j2 --target memkv-compare
#   bench/fetch_datasets.sh npm-urls
# Usage: bench/run_results.sh [build-dir] [dataset...]   (default: build-bench synthetic-urls npm-urls)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build="${1:-$root/build-bench}"
[ $# -gt 0 ] && shift
datasets="${*:-synthetic-urls npm-urls}"
tool="$build/bench/memkv-compare"
out="$root/bench/results"
mkdir -p "$out"
cd "$root"
for ds in $datasets; do
  echo "== $ds" >&2
  status=0
  "$tool" --dataset "$ds" --repeat 3 --json "bench/results/$ds.json" --plot "bench/results/$ds.svg" \
      > "bench/results/$ds.md.tmp" || status=$?
  mv "bench/results/$ds.md.tmp" "bench/results/$ds.md"
  [ "$status" -eq 0 ] || echo "memkv-compare exited with $status on $ds" >&2
done
