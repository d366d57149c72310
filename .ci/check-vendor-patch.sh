#!/usr/bin/env bash
# Proves vendor/tiny_http.patch, applied to the published tiny_http 0.12.0
# crate (fetched from crates.io by cargo and checked against the sha256 that
# Cargo.lock and vendor/README.md record), reproduces vendor/tiny_http/
# exactly. Run by .ci/run; needs cargo, patch and network access to crates.io
# (or the crate already in cargo's registry cache).
#
# With --regenerate, it writes vendor/tiny_http.patch from vendor/tiny_http/
# first (after editing the fork), then checks as always.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD

version=0.12.0
sha256=389915df6413a2e74fb181895f933386023c71110878cd0825588928e64cdc82
# Left out of vendor/tiny_http/ (vendor/README.md says why).
left_out=(.cargo_vcs_info.json Cargo.toml.orig Cargo.lock .gitattributes .github)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A throwaway project whose only dependency is the published crate, so that
# cargo downloads (or finds) the .crate file through its ordinary client.
mkdir -p "$work/fetch/src"
cat > "$work/fetch/Cargo.toml" <<TOML
[package]
name = "fetch-tiny-http"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
tiny_http = "=$version"
TOML
: > "$work/fetch/src/lib.rs"
cargo fetch --quiet --manifest-path "$work/fetch/Cargo.toml"

crate_file=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/cache" -name "tiny_http-$version.crate" | head -n 1)
if [ -z "$crate_file" ]; then
  echo "check-vendor-patch: tiny_http-$version.crate not found in cargo's registry cache" >&2
  exit 1
fi
echo "$sha256  $crate_file" | sha256sum --check --quiet

mkdir "$work/published"
tar -xzf "$crate_file" -C "$work/published"
cd "$work/published/tiny_http-$version"
rm -rf "${left_out[@]}"
if [ "${1:-}" = "--regenerate" ]; then
  mkdir "$work/fork"
  cp -r "$repo/vendor/tiny_http" "$work/fork/tiny_http"
  rm -rf "$work/fork/tiny_http/target" "$work/fork/tiny_http/Cargo.lock"
  cp -r "$work/published/tiny_http-$version" "$work/fork/tiny_http-$version"
  # diff exits 1 when the trees differ, which they do; file times are left
  # out of the headers so the patch only changes when the code does.
  (cd "$work/fork" && diff -ruN "tiny_http-$version" tiny_http || [ $? -eq 1 ]) \
    | sed -E 's/^((---|\+\+\+) [^\t]+)\t.*$/\1/' > "$repo/vendor/tiny_http.patch"
  echo "check-vendor-patch: wrote vendor/tiny_http.patch"
fi
patch --quiet -p1 < "$repo/vendor/tiny_http.patch"
cd "$repo"

# Build output and the lock file a local `cargo test` of the fork writes are
# ignored by the fork's .gitignore and not part of it.
if ! diff -r --exclude=target --exclude=Cargo.lock "$work/published/tiny_http-$version" vendor/tiny_http; then
  echo "check-vendor-patch: vendor/tiny_http.patch on tiny_http $version does not give vendor/tiny_http/" >&2
  echo "  regenerate it as vendor/README.md describes" >&2
  exit 1
fi
echo "check-vendor-patch: vendor/tiny_http is tiny_http $version with vendor/tiny_http.patch"
