#!/usr/bin/env bash
# Installs what building, running and testing Custodian needs on Debian/Ubuntu.
# Idempotent: each step is skipped when its result is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
# libclang-dev: the camera feature's V4L2 bindings are generated with bindgen at build time.
# libheif-dev: `custodian decode` reads HEIC photos through libheif (the CLI's `heic` feature).
# postgresql: the hub's PostgreSQL store is tested against a real server, a throwaway cluster
# each suite starts (tests/support/pg.rs).
# python3-venv: the Python peers and clients the tests run (GS1's event hash reference
# implementation, schemathesis) are installed from PyPI into venvs in .custodian/.
for pkg in libwebkit2gtk-4.1-dev xvfb xauth imagemagick webkit2gtk-driver pkg-config libclang-dev libheif-dev postgresql python3-venv; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need_apt+=("$pkg")
done
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need_apt[@]}"
fi

if ! command -v tauri-driver >/dev/null 2>&1; then
  echo "setup: installing tauri-driver"
  cargo install tauri-driver --version "^2" --locked
fi

# scripts/fuzz.sh runs the fuzz targets with cargo-fuzz.
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "setup: installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

if [ ! -d ui/node_modules ] || [ ui/package.json -nt ui/node_modules/.package-lock.json ]; then
  echo "setup: installing the UI's npm packages"
  # `npm install` rather than `npm ci`: npm 11 writes lockfiles without other platforms'
  # optional packages (rollup's native builds), which `npm ci` then refuses.
  (cd ui && npm install --no-audit --no-fund)
fi

# GS1's reference implementation of the CBV 2.0 event hash id, which ledger/tests/epcis_hash.rs
# compares the ledger's ids with (run by scripts/event-hash-peer.sh).
peer=.custodian/venv-hash
if ! "$peer/bin/python" -c 'import importlib.metadata as m; assert m.version("epcis-event-hash-generator") == "1.9.3"' 2>/dev/null; then
  echo "setup: installing GS1's event hash reference implementation into $peer"
  python3 -m venv "$peer"
  "$peer/bin/pip" install -q epcis-event-hash-generator==1.9.3 python-dateutil==4.0.0 PyLD==3.3.0
fi
