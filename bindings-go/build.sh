#!/usr/bin/env bash
# Builds the C-ABI static library the Go package links (libheroa_ffi.a, from the
# heroa-ffi crate) into bindings-go/lib/. `go generate ./...` runs this.
# Usage: bash bindings-go/build.sh [--release]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
profile=debug
args=(--locked -p heroa-ffi)
if [ "${1:-}" = "--release" ]; then
  profile=release
  args+=(--release)
fi
(cd "$root" && cargo build "${args[@]}")
mkdir -p "$here/lib"
cp "$root/target/$profile/libheroa_ffi.a" "$here/lib/libheroa_ffi.a"
