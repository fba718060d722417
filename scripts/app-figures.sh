#!/usr/bin/env bash
# The app's figures on release builds: time from a scan's last key to its verdict on screen
# (p50/p99 over CUSTODIAN_SCANS scans in the real webview) and the memory of the running app
# with a ledger of CUSTODIAN_LEDGER_EVENTS events (default 1,000,000). Prints one JSON line.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
(cd ui && npm run build >/dev/null)
cargo build --release --locked -p custodian -p custodian-app
export CUSTODIAN_PROFILE=release
export CUSTODIAN_LEDGER_EVENTS="${CUSTODIAN_LEDGER_EVENTS:-1000000}"
cargo test --locked -p custodian-e2e --test webview -- --ignored --nocapture \
  verdict_latency_and_memory_of_the_real_app 2>&1 | grep -E -A2 '^\{|ledger filled|panicked|test result'
