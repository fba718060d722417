#!/usr/bin/env bash
# The hub's end-to-end suites again, each hub on a PostgreSQL database of its own: starts a
# throwaway cluster (its own directory, a loopback port the OS chose), runs the suites named
# (or the hub's usual ones), and stops the cluster when they end, however they end.
# Expects the binaries built (scripts/test.sh builds them first).
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
suites=("$@")
if [ ${#suites[@]} -eq 0 ]; then
  suites=(flags faults diversion long_sync quarantine registry isolation hub_trust hub_api)
fi
coproc CLUSTER { "$target/debug/pg-cluster"; }
# The cluster stops when its input closes: when this script ends, or here.
trap 'exec {CLUSTER[1]}>&- 2>/dev/null || true; wait "$CLUSTER_PID" 2>/dev/null || true' EXIT
read -r -u "${CLUSTER[0]}" url
echo "== PostgreSQL for the hub's suites at $url"
args=()
for s in "${suites[@]}"; do args+=(--test "$s"); done
# `--workspace` resolves features as the workspace build did, so the test binaries already built
# are reused rather than rebuilt (`-p custodian-e2e` alone would resolve them apart and rebuild).
CUSTODIAN_E2E_PG="$url" cargo test --workspace --locked "${args[@]}"

# The manufacturer's API against a hub on PostgreSQL, by a real client (schemathesis), when the
# hub's usual suites ran.
if [ $# -eq 0 ]; then
  psql -q "$url" -c 'CREATE DATABASE api_conformance'
  scripts/api-conformance.sh --store "${url%/*}/api_conformance"
fi
