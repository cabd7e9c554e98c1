#!/usr/bin/env bash
# Stops the processes started by testnet/run.sh, by the PIDs it recorded (never by name).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RUN="$ROOT/testnet/.run"
PIDS="$RUN/pids"
if [ ! -f "$PIDS" ] && [ ! -f "$RUN/chain-pids" ]; then
  echo "no testnet running (no $PIDS)"
  exit 0
fi
# Nodes first, then the local chains they use.
pids=()
for f in "$PIDS" "$RUN/chain-pids"; do
  if [ -f "$f" ]; then mapfile -t -O "${#pids[@]}" pids < "$f"; fi
done
for pid in "${pids[@]}"; do
  [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
done
for _ in $(seq 1 50); do
  alive=0
  for pid in "${pids[@]}"; do
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && alive=1
  done
  [ "$alive" = 0 ] && break
  sleep 0.2
done
for pid in "${pids[@]}"; do
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    echo "PID $pid did not stop on SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
done
rm -f "$PIDS" "$RUN/chain-pids" "$RUN/anvil.url"
echo "testnet stopped (${#pids[@]} processes)"
