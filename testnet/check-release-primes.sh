#!/usr/bin/env bash
# Checks that the release mpc-node refuses the INSECURE published Paillier primes: the code that
# reads them exists only in debug builds and builds with the `insecure-test-primes` feature.
# Needs the release binary (testnet/run.sh builds it). Exit 0 when refused with the expected
# message, 1 otherwise.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/mpc-node
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
head -c 32 /dev/urandom | base64 > "$tmp/pass"
for cmd in init start; do
  if [ "$cmd" = init ]; then
    args=(init --data-dir "$tmp/node" --node-id 1 --p2p-addr /ip4/127.0.0.1/tcp/1
      --rpc-addr 127.0.0.1:1 --passphrase-file "$tmp/pass")
  else
    args=(start --data-dir "$tmp/node" --genesis "$tmp/none.json" --passphrase-file "$tmp/pass")
  fi
  if out=$("$BIN" "${args[@]}" --insecure-test-primes \
      "$ROOT/protocol/tests/fixtures/INSECURE-test-only-paillier-primes.json" 2>&1); then
    echo "FAIL: release mpc-node $cmd accepted the insecure test primes" >&2
    exit 1
  fi
  if ! grep -q "compiled out" <<<"$out"; then
    echo "FAIL: release mpc-node $cmd failed for another reason: $out" >&2
    exit 1
  fi
  echo "release mpc-node $cmd refuses the insecure test primes: ok"
done
[ ! -e "$tmp/node" ] || { echo "FAIL: init wrote a data directory before refusing" >&2; exit 1; }
