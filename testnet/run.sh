#!/usr/bin/env bash
# Starts a local N-node mpc-node network (default 3) on 127.0.0.1, in the background.
#
#   testnet/run.sh [N]        build (release), initialise, write genesis, start, wait for a leader
#   testnet/stop.sh           stop exactly the processes this script started
#
# Everything lives under testnet/.run/ (git-ignored). Passphrases are generated into
# testnet/.run/secrets/ for convenience: a local test network only, never production.
# Environment: MPC_PROFILE=release|debug (default release), MPC_P2P_BASE (default 9100),
# MPC_RPC_BASE (default 8100), MPC_CONSOLE_BASE (default 8180, the web console on loopback): node i
# listens on BASE+i. A local Ethereum chain (anvil, one block
# a second, chain id 11155111) is started on MPC_ANVIL_PORT (default 8545) and every node uses it
# as its Ethereum provider; MPC_ANVIL=0 starts none.
set -euo pipefail

N=${1:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN="$ROOT/testnet/.run"
PROFILE=${MPC_PROFILE:-release}
P2P_BASE=${MPC_P2P_BASE:-9100}
RPC_BASE=${MPC_RPC_BASE:-8100}
CONSOLE_BASE=${MPC_CONSOLE_BASE:-8180}
METRICS_BASE=${MPC_METRICS_BASE:-9200}
ANVIL_PORT=${MPC_ANVIL_PORT:-8545}
WITH_ANVIL=${MPC_ANVIL:-1}

if ! [[ "$N" =~ ^[0-9]+$ ]] || [ "$N" -lt 2 ] || [ "$N" -gt 16 ]; then
  echo "usage: testnet/run.sh [N]   (2 <= N <= 16)" >&2
  exit 2
fi

for f in "$RUN/pids" "$RUN/chain-pids"; do
  [ -f "$f" ] || continue
  while read -r pid; do
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      echo "A testnet is already running (PIDs in $f). Stop it first: testnet/stop.sh" >&2
      exit 1
    fi
  done < "$f"
done

cd "$ROOT"
bash testnet/ensure-deps.sh
if [ "$WITH_ANVIL" = 1 ]; then bash testnet/ensure-chains.sh; fi
echo "==> building mpc-node and mpc ($PROFILE)"
if [ "$PROFILE" = release ]; then
  cargo build --release -p mpc-node -p mpc-cli -p mpc-testnet --bins
else
  cargo build -p mpc-node -p mpc-cli -p mpc-testnet --bins
fi
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
BIN="$TARGET_DIR/$PROFILE"

rm -rf "$RUN"
mkdir -p "$RUN/secrets"
chmod 700 "$RUN/secrets"
umask 077

THRESHOLD=$(( N / 2 + 1 ))
[ "$THRESHOLD" -lt 2 ] && THRESHOLD=2

head -c 32 /dev/urandom | base64 > "$RUN/secrets/admin.pass"
MPC_KEY_PASSPHRASE_FILE="$RUN/secrets/admin.pass"
"$BIN/mpc" --passphrase-file "$MPC_KEY_PASSPHRASE_FILE" key create --out "$RUN/admin.key" --name admin >/dev/null

CARDS=()
echo "==> initialising $N nodes (each makes its Paillier primes: often 20 s to 2 min)"
INIT_PIDS=()
for i in $(seq 1 "$N"); do
  head -c 32 /dev/urandom | base64 > "$RUN/secrets/node$i.pass"
  "$BIN/mpc-node" init --data-dir "$RUN/node$i" --node-id "$i" \
    --p2p-addr "/ip4/127.0.0.1/tcp/$((P2P_BASE + i))" --rpc-addr "127.0.0.1:$((RPC_BASE + i))" \
    --passphrase-file "$RUN/secrets/node$i.pass" > "$RUN/init$i.log" 2>&1 &
  INIT_PIDS+=($!)
  CARDS+=(--card "$RUN/node$i/card.json")
done
INIT_START=$(date +%s)
for idx in "${!INIT_PIDS[@]}"; do
  if ! wait "${INIT_PIDS[$idx]}"; then
    echo "node $((idx + 1)) failed to initialise; see $RUN/init$((idx + 1)).log" >&2
    exit 1
  fi
  echo "    node $((idx + 1)) initialised ($(( $(date +%s) - INIT_START )) s)"
done
HASH=$("$BIN/mpc-node" genesis "${CARDS[@]}" --threshold "$THRESHOLD" \
  --admin-key-file "$RUN/admin.key" --network local-testnet --out "$RUN/genesis.json" 2>/dev/null)

: > "$RUN/chain-pids"
PROVIDERS=""
if [ "$WITH_ANVIL" = 1 ]; then
  ANVIL="$ROOT/testnet/.tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
  "$ANVIL" --host 127.0.0.1 --port "$ANVIL_PORT" --chain-id 11155111 --block-time 1 --silent \
    > "$RUN/anvil.log" 2>&1 &
  echo $! >> "$RUN/chain-pids"
  echo "http://127.0.0.1:$ANVIL_PORT" > "$RUN/anvil.url"
  PROVIDERS="\"ethereum:testnet=http://127.0.0.1:$ANVIL_PORT\""
  echo "==> local Ethereum chain: anvil (PID $!) at http://127.0.0.1:$ANVIL_PORT, chain id 11155111"
fi

: > "$RUN/pids"
for i in $(seq 1 "$N"); do
  # Each node's settings in its configuration file (docs/operations.md); flags would override.
  cat > "$RUN/node$i.toml" <<CONFIG
data_dir = "$RUN/node$i"
genesis = "$RUN/genesis.json"
passphrase_file = "$RUN/secrets/node$i.pass"
console_listen = "127.0.0.1:$((CONSOLE_BASE + i))"
metrics_listen = "127.0.0.1:$((METRICS_BASE + i))"
chain_providers = [${PROVIDERS:-}]
CONFIG
  "$BIN/mpc-node" start --config "$RUN/node$i.toml" > "$RUN/node$i.log" 2>&1 &
  echo $! >> "$RUN/pids"
done

echo "==> waiting for a leader"
LEADER=""
for _ in $(seq 1 150); do
  for i in $(seq 1 "$N"); do
    OUT=$("$BIN/mpc" --rpc "https://127.0.0.1:$((RPC_BASE + i))" --genesis "$RUN/genesis.json" --json status 2>/dev/null || true)
    L=$(printf '%s' "$OUT" | grep -o '"leader":[0-9]*' | cut -d: -f2 || true)
    if [ -n "$L" ]; then LEADER=$L; break 2; fi
  done
  sleep 0.2
done
if [ -z "$LEADER" ]; then
  echo "no leader after 30 s; see $RUN/node*.log" >&2
  "$ROOT/testnet/stop.sh" || true
  exit 1
fi

echo
echo "mpc-node testnet is up: $N nodes, threshold $THRESHOLD, leader node $LEADER"
echo "genesis hash : $HASH"
for i in $(seq 1 "$N"); do
  echo "node $i      : https://127.0.0.1:$((RPC_BASE + i))   console http://localhost:$((CONSOLE_BASE + i))/   metrics http://127.0.0.1:$((METRICS_BASE + i))/metrics   log $RUN/node$i.log"
done
if [ "$WITH_ANVIL" = 1 ]; then echo "ethereum     : anvil at http://127.0.0.1:$ANVIL_PORT (every node's provider)"; fi
echo "admin key    : $RUN/admin.key (passphrase in $RUN/secrets/admin.pass)"
echo "try          : $BIN/mpc --rpc https://127.0.0.1:$((RPC_BASE + 1)) --genesis $RUN/genesis.json cluster"
echo "stop with    : testnet/stop.sh"
