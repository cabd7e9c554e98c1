#!/usr/bin/env bash
# Runs every test of the workspace. The end-to-end tests start real mpc-node processes, so the
# binaries are built first; everything else is plain `cargo test`. Ends with one summary line
# ("tests: N passed, N failed") summed over every test binary.
set -euo pipefail
cd "$(dirname "$0")/.."
bash testnet/ensure-deps.sh
cargo build --locked --bins
# The deliberately faulty test node of testnet/tests/forged.rs (its own binary name, so the
# real target/debug/mpc-node is never a forging build).
cargo build --locked -p mpc-node --features forge-for-tests --bin mpc-node-forger
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --locked --workspace 2>&1 | tee "$log" || status=$?
passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s+=$1} END {print s+0}')
failed=$(grep -Eo '[0-9]+ failed' "$log" | awk '{s+=$1} END {print s+0}')
echo
echo "tests: $passed passed, $failed failed"
exit "$status"
