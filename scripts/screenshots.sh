#!/usr/bin/env bash
# Regenerates the screenshots in docs/screenshots/ from the real app (through the webview tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
(cd ui && npm run build)
cargo build --locked -p custodian -p custodian-app
cargo test --locked -p custodian-e2e --test webview
rm -f docs/screenshots/*.png
mkdir -p docs/screenshots
cp target/screenshots/*.png docs/screenshots/
ls -l docs/screenshots
