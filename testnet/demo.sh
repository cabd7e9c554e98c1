#!/usr/bin/env bash
# The main job on a running testnet (start one with testnet/run.sh): an organisation with three
# approvers and an initiator, a vault made by DKG on every node, ETH / BTC (P2WPKH, P2TR) / SOL
# wallets, an address book and a 2-of-3 policy; then one transfer per chain is submitted,
# approved by two approvers, signed by the nodes and printed. One JSON file per chain (address,
# public key, unsigned payload, signed transaction, Bitcoin spent outputs) is written to
# testnet/.run/demo/.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN="$ROOT/testnet/.run"
PROFILE=${MPC_PROFILE:-release}
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/$PROFILE"
RPC_BASE=${MPC_RPC_BASE:-8100}
if [ ! -f "$RUN/pids" ]; then
  echo "no testnet running: start one with testnet/run.sh" >&2
  exit 1
fi
N=$(wc -l < "$RUN/pids")
URLS=()
for i in $(seq 1 "$N"); do URLS+=("https://127.0.0.1:$((RPC_BASE + i))"); done
"$BIN/mpc-demo" "$RUN" "${URLS[@]}"
echo
echo "try: $BIN/mpc --rpc ${URLS[0]} --genesis $RUN/genesis.json --key $RUN/admin.key --passphrase-file $RUN/secrets/admin.pass request list"
