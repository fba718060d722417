#!/usr/bin/env bash
# Runs every test: installs what is missing, builds once, then the Rust suites (unit, property,
# end-to-end against a real hub, the real app window through WebDriver) and the UI's unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== building the UI"
(cd ui && npm run build)

echo "== building the binaries (custodian, custodian-app)"
cargo build --workspace --bins --locked

echo "== UI unit tests"
(cd ui && npx vitest run)

echo "== Rust tests (unit, property, end-to-end, webview)"
cargo test --workspace --locked
