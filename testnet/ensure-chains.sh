#!/usr/bin/env bash
# Installs the real chain software the chain tests run against, into testnet/.tools (idempotent):
# - anvil (Foundry's local Ethereum node), from the npm package @foundry-rs/anvil-linux-amd64;
# - litesvm (the Solana runtime as a library, with its prebuilt native module), driven by
#   testnet/litesvm/rpc.cjs (LiteSVM behind the Solana JSON-RPC API).
# Prints nothing when everything is there. Needs Node.js's npm (on the machine; else apt nodejs).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS="$ROOT/testnet/.tools"
ANVIL_VERSION=1.7.1
LITESVM_VERSION=1.5.0
ANVIL="$TOOLS/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
LITESVM="$TOOLS/node_modules/litesvm/package.json"
if [ -x "$ANVIL" ] && "$ANVIL" --version 2>/dev/null | grep -q "Version: $ANVIL_VERSION" \
  && [ -f "$LITESVM" ] && grep -q "\"version\": \"$LITESVM_VERSION\"" "$LITESVM"; then
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "==> installing npm (apt)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq npm
fi
echo "==> installing anvil $ANVIL_VERSION and litesvm $LITESVM_VERSION (npm) into $TOOLS"
mkdir -p "$TOOLS"
npm install --prefix "$TOOLS" --no-audit --no-fund --no-save --silent \
  "@foundry-rs/anvil-linux-amd64@$ANVIL_VERSION" "litesvm@$LITESVM_VERSION"
"$ANVIL" --version | head -1
