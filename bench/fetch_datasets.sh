#!/bin/sh
# Fetch the npm datasets of memkv-compare into bench/data/ (gitignored) and extract their keys.
#
#   bench/fetch_datasets.sh            # both datasets
#   bench/fetch_datasets.sh npm-urls   # just one (npm-urls | npm-names)
#
# npm-urls : the distinct string values of data/packages.json in all-the-package-repos@2.0.3148
#            (repository URL of every npm package; null entries skipped, duplicates dropped,
#            first-occurrence order kept)  -> bench/data/npm-urls.txt
# npm-names: the names list (names.json) of all-the-package-names@2.0.2578
#                                                                  -> bench/data/npm-names.txt
# One key per line. Keys holding '\n' or '\r' cannot be written one per line: they are dropped
# and counted. Needs npm and node (python3 is the fallback for the JSON extraction).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
data="${MEMKV_DATA_DIR:-$here/data}"
mkdir -p "$data"

REPOS_PKG=all-the-package-repos@2.0.3148
REPOS_TGZ=all-the-package-repos-2.0.3148.tgz
REPOS_SHA=fc769ee85fecc362e37807bb5fd045c0fada3c25ddcb2cf86356d39949281602
NAMES_PKG=all-the-package-names@2.0.2578
NAMES_TGZ=all-the-package-names-2.0.2578.tgz
NAMES_SHA=89cccbb8825c8b60fa65a69aa558facd9dcebff951024d321478ed720adf1b85

fetch() { # pkg tgz sha
  if [ ! -f "$data/$2" ]; then
    echo "fetching $1 ..." >&2
    (cd "$data" && npm pack --silent "$1" >/dev/null)
  fi
  got=$(sha256sum "$data/$2" | cut -d' ' -f1)
  if [ "$got" != "$3" ]; then
    echo "error: checksum mismatch for $2: expected $3, got $got" >&2
    rm -f "$data/$2"
    exit 1
  fi
  echo "checksum ok: $2" >&2
}

# extract JSONFILE MODE OUT : MODE "values" = string values of an object, "list" = array items
extract() {
  if command -v node >/dev/null 2>&1; then
    node -e '
      const fs = require("fs");
      const [file, mode, out] = process.argv.slice(1);
      const doc = JSON.parse(fs.readFileSync(file, "utf8"));
      const items = mode === "values" ? Object.values(doc) : doc;
      const seen = new Set(); const keys = []; let dropped = 0;
      for (const v of items) {
        if (typeof v !== "string") continue;
        if (v.includes("\n") || v.includes("\r")) { dropped++; continue; }
        if (seen.has(v)) continue;
        seen.add(v); keys.push(v);
      }
      fs.writeFileSync(out, keys.join("\n") + "\n");
      let bytes = 0; for (const k of keys) bytes += Buffer.byteLength(k);
      console.error(`${out}: ${keys.length} keys, ${bytes} bytes (avg ${(bytes / keys.length).toFixed(2)}), ${dropped} dropped (newline)`);
    ' "$1" "$2" "$3"
  else
    python3 - "$1" "$2" "$3" <<'PY'
import json, sys
file, mode, out = sys.argv[1:]
with open(file, encoding="utf-8") as f:
    doc = json.load(f)
items = doc.values() if mode == "values" else doc
seen, keys, dropped = set(), [], 0
for v in items:
    if not isinstance(v, str): continue
    if "\n" in v or "\r" in v: dropped += 1; continue
    if v in seen: continue
    seen.add(v); keys.append(v)
with open(out, "w", encoding="utf-8", newline="\n") as f:
    f.write("\n".join(keys) + "\n")
nbytes = sum(len(k.encode()) for k in keys)
print(f"{out}: {len(keys)} keys, {nbytes} bytes (avg {nbytes/len(keys):.2f}), {dropped} dropped (newline)", file=sys.stderr)
PY
  fi
}

do_urls() {
  fetch "$REPOS_PKG" "$REPOS_TGZ" "$REPOS_SHA"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$data/$REPOS_TGZ" -C "$tmp" package/data/packages.json
  extract "$tmp/package/data/packages.json" values "$data/npm-urls.txt.tmp"
  mv "$data/npm-urls.txt.tmp" "$data/npm-urls.txt"
  rm -rf "$tmp"; trap - EXIT
}
do_names() {
  fetch "$NAMES_PKG" "$NAMES_TGZ" "$NAMES_SHA"
  tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
  tar -xzf "$data/$NAMES_TGZ" -C "$tmp" package/names.json
  extract "$tmp/package/names.json" list "$data/npm-names.txt.tmp"
  mv "$data/npm-names.txt.tmp" "$data/npm-names.txt"
  rm -rf "$tmp"; trap - EXIT
}

case "${1:-all}" in
  all) do_urls; do_names ;;
  npm-urls) do_urls ;;
  npm-names) do_names ;;
  *) echo "usage: $0 [all|npm-urls|npm-names]" >&2; exit 2 ;;
esac
