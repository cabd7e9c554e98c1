#!/usr/bin/env bash
# The main job on a running testnet (start one with testnet/run.sh): an admin creates an
# organisation through one node, adds members through another, and every node shows the same
# organisation, members and an intact audit chain.
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
DEMO="$RUN/demo"
mkdir -p "$DEMO"
rpc() { echo "http://127.0.0.1:$((RPC_BASE + $1))"; }
mpc() { "$BIN/mpc" --passphrase-file "$RUN/secrets/admin.pass" "$@"; }
ORG="acme-$(date +%s)"

echo "==> creating organisation $ORG through node 2"
mpc --rpc "$(rpc 2)" org create --key "$RUN/admin.key" --org "$ORG" --name "Acme Custody" >/dev/null
echo "==> creating user keys for alice (approver) and bob (auditor)"
for u in alice bob; do
  [ -f "$DEMO/$u.key" ] || mpc key create --out "$DEMO/$u.key" --name "$u" >/dev/null
done
echo "==> adding members through node $N"
mpc --rpc "$(rpc "$N")" member add --key "$RUN/admin.key" --org "$ORG" --user alice \
  --user-key-file "$DEMO/alice.key" --role approver --role initiator >/dev/null
mpc --rpc "$(rpc "$N")" member add --key "$RUN/admin.key" --org "$ORG" --user bob \
  --user-key-file "$DEMO/bob.key" --role auditor >/dev/null

for i in $(seq 1 "$N"); do
  echo
  echo "--- node $i ($(rpc "$i"))"
  mpc --rpc "$(rpc "$i")" org get --org "$ORG" --linearizable | grep -E '"(org_id|name)"'
  mpc --rpc "$(rpc "$i")" member list --org "$ORG"
  mpc --rpc "$(rpc "$i")" audit verify
done
echo
echo "--- audit log (node 1)"
mpc --rpc "$(rpc 1)" audit list --limit 20
