#!/usr/bin/env bash
# Compiles TestToken.sol with solc 0.8.28 (solcjs, from npm, into testnet/.tools/solc) and writes
# TestToken.bin (creation bytecode, hex). With --check, fails if the committed TestToken.bin
# differs from what the compiler produces: the bytecode the tests deploy is the source's.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
TOOLS="$HERE/../.tools/solc"
SOLC_VERSION=0.8.28
if [ ! -f "$TOOLS/node_modules/solc/package.json" ] \
  || ! grep -q "\"version\": \"$SOLC_VERSION\"" "$TOOLS/node_modules/solc/package.json"; then
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --silent "solc@$SOLC_VERSION"
fi
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
(cd "$HERE" && node "$TOOLS/node_modules/solc/solc.js" --bin --optimize --optimize-runs 200 \
  -o "$OUT" TestToken.sol >/dev/null)
BIN="$OUT/TestToken_sol_TestToken.bin"
if [ "${1:-}" = --check ]; then
  if ! cmp -s "$BIN" "$HERE/TestToken.bin"; then
    echo "testnet/contracts/TestToken.bin is not what solc $SOLC_VERSION makes of TestToken.sol" >&2
    exit 1
  fi
  echo "TestToken.bin matches TestToken.sol (solc $SOLC_VERSION)"
else
  cp "$BIN" "$HERE/TestToken.bin"
  echo "wrote TestToken.bin (solc $SOLC_VERSION, optimizer 200 runs)"
fi
