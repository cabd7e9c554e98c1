#!/usr/bin/env bash
# Runs every test of the workspace. The end-to-end tests start real mpc-node processes, so the
# binaries are built first; everything else is plain `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --locked --bins
cargo test --locked --workspace
