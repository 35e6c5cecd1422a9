#!/usr/bin/env bash
# bench/run_fst_peer.sh - the Rust fst crate (BurntSushi's fst::Map) next to memkv's own rows on
# one dataset: builds bench/fst_peer offline against Debian's librust-fst-dev, runs it, then runs
# memkv-compare's sorted-vector and frozen-layer rows on the same keys (issue #5).
#
#   bench/run_fst_peer.sh DATASET [REPEAT]
#
# DATASET: npm-urls | npm-names (bench/data/DATASET.txt, from bench/fetch_datasets.sh), or a path
# to a key file (one key per line; memkv-compare then gets --keys FILE). REPEAT: medians of that
# many runs (default 3). Environment: MEMKV_COMPARE (default build/release/bench/memkv-compare).
# Not part of CMake or CI.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

die() { echo "run_fst_peer.sh: $*" >&2; exit 1; }

[[ $# -ge 1 && $# -le 2 ]] || die "usage: bench/run_fst_peer.sh DATASET [REPEAT]   (DATASET: npm-urls | npm-names | a key file)"
dataset="$1"
repeat="${2:-3}"
[[ "$repeat" =~ ^[1-9][0-9]*$ ]] || die "REPEAT must be a positive integer, got '$repeat'"

case "$dataset" in
  npm-urls|npm-names)
    keys="$here/data/$dataset.txt"
    [[ -f "$keys" ]] || die "$keys is missing: run bench/fetch_datasets.sh first"
    compare_source=(--dataset "$dataset") ;;
  *)
    [[ -f "$dataset" ]] || die "'$dataset' is neither npm-urls, npm-names nor a readable key file"
    keys="$(cd "$(dirname "$dataset")" && pwd)/$(basename "$dataset")"
    compare_source=(--keys "$keys") ;;
esac

# Prerequisites: cargo, the Debian crate sources, memkv-compare.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || die "cargo not found (install Rust, e.g. rustup, or apt-get install cargo)"
registry=/usr/share/cargo/registry
compgen -G "$registry/fst-0.3.*" >/dev/null \
  || die "the fst crate sources are missing from $registry: apt-get install -y librust-fst-dev librust-libc-dev"
compgen -G "$registry/libc-0.2.*" >/dev/null \
  || die "the libc crate sources are missing from $registry: apt-get install -y librust-libc-dev"

compare="${MEMKV_COMPARE:-$root/build/release/bench/memkv-compare}"
[[ -x "$compare" ]] || die "$compare not found; build it with:
  cmake --preset release && cmake --build build/release --target memkv-compare"

echo "+ (cd bench/fst_peer && cargo build --release --offline)" >&2
(cd "$here/fst_peer" && cargo build --release --offline) || die "cargo build --release --offline failed in bench/fst_peer"

set -x
"$here/fst_peer/target/release/fst-peer" --keys "$keys" --repeat "$repeat"
"$compare" "${compare_source[@]}" \
  --structures sorted-vector:rank,sorted-vector:hash,frozen-layer:rank,frozen-layer:hash --repeat "$repeat"
