#!/usr/bin/env bash
# Installs what the browser test (testnet/tests/console.rs) drives, idempotently: Debian's
# chromium (apt) and playwright-core (npm, version pinned in testnet/browser/package-lock.json).
# Prints the chromium path on its last line.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v chromium >/dev/null 2>&1; then
  echo "==> installing chromium (apt)" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >&2
fi
if [ ! -f "$ROOT/testnet/browser/node_modules/playwright-core/package.json" ]; then
  echo "==> installing playwright-core (npm)" >&2
  npm ci --prefix "$ROOT/testnet/browser" --no-audit --no-fund --loglevel=error >&2
fi
command -v chromium
