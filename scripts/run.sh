#!/usr/bin/env bash
# Runs the product: installs what is missing, builds, starts a hub on loopback with the demo data,
# enrolls a handheld ledger for distributor A against it, and opens the desktop app, ready to scan.
# Idempotent: the hub's registry and the device ledger persist in .custodian/ between runs.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

LISTEN="${CUSTODIAN_LISTEN:-127.0.0.1:8443}"
STATE="$PWD/.custodian"
mkdir -p "$STATE"

(cd ui && npm run build)
cargo build --locked -p custodian -p custodian-app
BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug"

"$BIN/custodian" hub serve --data "$STATE/hub" --listen "$LISTEN" --demo > "$STATE/hub.log" 2>&1 &
HUB=$!
trap 'kill $HUB 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  grep -q "listening on" "$STATE/hub.log" 2>/dev/null && break
  kill -0 $HUB 2>/dev/null || { cat "$STATE/hub.log"; exit 1; }
  sleep 0.1
done
head -n 1 "$STATE/hub.log"

if [ ! -f "$STATE/device/ledger.sqlite" ] || ! "$BIN/custodian" status --data "$STATE/device" | grep -q "^device"; then
  TOKEN=$("$BIN/custodian" hub token --data "$STATE/hub" --org dist-a --site dc-hamburg)
  "$BIN/custodian" enroll --data "$STATE/device" --name "desktop" "$TOKEN"
  # An order to pick on the Ship screen.
  "$BIN/custodian" manifest import --data "$STATE/device" fixtures/demo/order-so-1001.csv
fi
"$BIN/custodian" manifest list --data "$STATE/device"
echo "Scan with a USB/Bluetooth scanner (keyboard wedge) in the app window; demo codes: fixtures/demo/asn-0001.summary.json"

export CUSTODIAN_DATA="$STATE/device"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  "$BIN/custodian-app"
else
  echo "No display: running the app under Xvfb; a screenshot goes to $STATE/app.png every 5 s (Ctrl+C to stop)."
  xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
    "$0" & APP=$!
    trap "kill $APP 2>/dev/null" EXIT
    while kill -0 $APP 2>/dev/null; do sleep 5; import -window root "$1/app.png" 2>/dev/null || true; done
  ' "$BIN/custodian-app" "$STATE"
fi
