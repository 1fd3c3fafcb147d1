#!/usr/bin/env bash
# Packs @heroa/sdk in napi's per-platform layout into DEST (default: ./dist):
#   heroa-sdk-<version>.tgz                  the JavaScript layer and the types (no addon)
#   heroa-sdk-<platform>-<version>.tgz       one per addon built here (heroa.<platform>.node)
# The per-platform package.json files come from `napi create-npm-dirs` (package.json's
# `napi.targets`), under npm/ (not checked in). To publish, build each target's addon
# (`npm run build -- --target <triple>` on its machine or a cross toolchain), run this,
# then `napi pre-publish` (adds the platform packages as optionalDependencies of the
# main package) and `npm publish` each tarball — the platform ones first.
# Usage: bash scripts/pack.sh [DEST]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
dest="$(mkdir -p "${1:-$here/dist}" && cd "${1:-$here/dist}" && pwd)"
cd "$here"
rm -rf npm
npx napi create-npm-dirs >/dev/null 2>&1
shopt -s nullglob
addons=(heroa.*.node)
if [ ${#addons[@]} -eq 0 ]; then
  echo "no addon built: run npm run build first" >&2
  exit 1
fi
for addon in "${addons[@]}"; do
  platform="${addon#heroa.}"
  platform="${platform%.node}"
  if [ ! -d "npm/$platform" ]; then
    echo "$addon: $platform is not among package.json's napi.targets" >&2
    exit 1
  fi
  cp "$addon" "npm/$platform/"
  (cd "npm/$platform" && npm pack --silent --pack-destination "$dest" >/dev/null)
done
npm pack --silent --pack-destination "$dest" >/dev/null
ls "$dest"
