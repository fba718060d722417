#!/usr/bin/env bash
# Runs every test: installs what is missing, builds once, then the Rust suites (unit, property,
# end-to-end against a real hub, the real app window through WebDriver) and the UI's unit tests.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# GS1's reference data (the EPCIS 2.0 schema, the barcode syntax dictionary) is read at test
# time, never copied into the project: from $CUSTODIAN_REFERENCE, else `shared/` beside this
# checkout, else beside the checkout this one was cloned from. The tests that need it fail,
# naming the file, when none holds it.
if [ -z "${CUSTODIAN_REFERENCE:-}" ]; then
  origin="$(git config --get remote.origin.url 2>/dev/null || true)"
  for candidate in ../shared ${origin:+"$origin/../shared"}; do
    if [ -d "$candidate/epcis-schema" ] && [ -d "$candidate/gs1" ]; then
      CUSTODIAN_REFERENCE="$(cd "$candidate" && pwd)"
      export CUSTODIAN_REFERENCE
      break
    fi
  done
fi
echo "== reference data: ${CUSTODIAN_REFERENCE:-not found beside this checkout or its origin}"

echo "== building the UI"
(cd ui && npm run build)

echo "== building the binaries (custodian, custodian-app)"
cargo build --workspace --bins --locked

echo "== UI unit tests"
(cd ui && npx vitest run)

# The CBV 2.0 event hash ids are compared with GS1's reference implementation (setup.sh
# installs it).
export CUSTODIAN_EVENT_HASH_PEER="$PWD/.custodian/venv-hash/bin/python"

echo "== Rust tests (unit, property, end-to-end, the real app window through WebDriver)"
cargo test --workspace --locked

# A real client against a running hub: schemathesis calls every operation of the manufacturer's
# API as its OpenAPI description (generated from the code) says it may be called.
echo "== the manufacturer's API against its OpenAPI description (schemathesis)"
scripts/api-conformance.sh

# The hub's end-to-end suites again with each hub on PostgreSQL: a throwaway cluster is started
# for them and stopped after.
echo "== the hub's end-to-end suites on PostgreSQL"
scripts/e2e-postgres.sh

# The camera module is behind a feature the default build leaves out (it needs libclang-dev and a
# camera stack); build and test it on the scanner crate alone, which rebuilds only that crate.
echo "== scanner with the camera and serial features"
cargo test -p custodian-scanner --features serial,camera --locked --lib camera::
cargo test -p custodian-scanner --features serial,camera --locked --doc camera

echo "== fuzzing every door for a bounded time"
scripts/fuzz.sh
