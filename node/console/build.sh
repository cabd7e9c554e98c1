#!/usr/bin/env bash
# Builds the web console's script into dist/app.js (embedded in the mpc-node binary by
# include_bytes!, beside index.html and app.css as written): type-checks the TypeScript with tsc
# and bundles it with esbuild into one file (no CDN, no runtime dependency). Versions are pinned
# in package-lock.json.
#   build.sh          build dist/
#   build.sh --check  build into a temporary directory and fail if dist/ differs (CI)
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v npm >/dev/null 2>&1; then
  echo "==> installing npm (apt)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm
fi
[ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund --loglevel=error
out=dist
if [ "${1:-}" = "--check" ]; then out=$(mktemp -d); fi
node_modules/.bin/tsc -p tsconfig.json
node_modules/.bin/esbuild src/main.ts --bundle --format=iife --target=es2022 \
  --legal-comments=none --charset=utf8 --outfile="$out/app.js" --log-level=warning
if [ "${1:-}" = "--check" ]; then
  for f in app.js; do
    if ! cmp -s "$out/$f" "dist/$f"; then
      echo "node/console/dist/$f is stale: run node/console/build.sh and commit dist/" >&2
      exit 1
    fi
  done
  rm -rf "$out"
  echo "console assets are up to date"
fi
