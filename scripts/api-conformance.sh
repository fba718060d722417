#!/usr/bin/env bash
# A real client against a running hub: schemathesis (from PyPI, pinned, installed into a venv in
# the ignored state directory on first use) reads the OpenAPI description the hub generates from
# its code, and calls every operation of the manufacturer's API over HTTPS with an
# administrator's key — examples, boundaries, random data and stateful sequences — checking each
# answer against the description: no 5xx, every status, header and body documented, invalid
# input refused. Seeded and bounded (examples per operation, seconds per request, the whole run).
#
# The check of "positive data acceptance" is left out, and only it: a body the description's
# schema allows may still be refused (400) when it breaks a rule that the description cannot
# express and the repository checks against GS1's EPCIS 2.0 schema and the CBV. An example is a
# time before 2000, or an identifier with a wrong check digit.
#
# Usage: scripts/api-conformance.sh [--store postgres://…]   (the binaries built first)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
state=.custodian
venv=$state/venv-schemathesis
examples="${API_EXAMPLES:-40}"

if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q '4.32.5'; then
  echo "== installing schemathesis into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet 'schemathesis==4.32.5'
fi

work="$(mktemp -d)"
hub_pid=""
cleanup() {
  if [ -n "$hub_pid" ]; then kill "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

custodian="$target/debug/custodian"
mkdir -p "$work/hub"
"$custodian" hub serve --data "$work/hub" --listen 127.0.0.1:0 --demo "$@" >"$work/hub.out" 2>"$work/hub.log" &
hub_pid=$!
for _ in $(seq 1 300); do
  url="$(grep -o 'https://[0-9.:]*' "$work/hub.out" 2>/dev/null || true)"
  [ -n "$url" ] && break
  sleep 0.1
done
[ -n "$url" ] || { cat "$work/hub.log"; echo "the hub did not start"; exit 1; }
echo "== hub at $url"

key() { # name role org
  "$custodian" hub account create --data "$work/hub" "$1" --kind service --role "$2" --org "$3" --json |
    "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["key"]["token"])'
}
admin="$(key conformance administrator acme)"
partner_systems="$(key dist-a-wms integration dist-a)"
"$venv/bin/python" - "$work/hub/tls/ca.der" "$work/ca.pem" <<'EOF'
import ssl, sys
open(sys.argv[2], "w").write(ssl.DER_cert_to_PEM_cert(open(sys.argv[1], "rb").read()))
EOF

# Something for the queries and resources to find: a partner's capture of the demo's units.
"$venv/bin/python" - "$url" "$partner_systems" "$work/ca.pem" <<'EOF'
import json, ssl, sys, time, urllib.request
url, key, ca = sys.argv[1:]
units = [json.loads(l) for l in open("fixtures/demo/serials.jsonl")][:5]
events = [{
    "type": "ObjectEvent", "action": "OBSERVE", "bizStep": "inspecting",
    "eventTime": f"2026-01-0{i + 1}T10:00:00Z", "eventTimeZoneOffset": "+01:00",
    "epcList": [f"https://id.gs1.org/01/{u['gtin']}/21/{u['serial']}"],
    "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
} for i, u in enumerate(units)]
doc = {"@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
       "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": "2026-01-01T00:00:00Z",
       "epcisBody": {"eventList": events}}
context = ssl.create_default_context(cafile=ca)
request = urllib.request.Request(url + "/epcis/capture", data=json.dumps(doc).encode(),
    headers={"Authorization": "Bearer " + key, "Content-Type": "application/ld+json"})
with urllib.request.urlopen(request, context=context) as resp:
    job = resp.headers["Location"]
for _ in range(300):
    request = urllib.request.Request(url + job, headers={"Authorization": "Bearer " + key})
    with urllib.request.urlopen(request, context=context) as resp:
        state = json.load(resp)
    if not state["running"]:
        assert state["success"], state
        break
    time.sleep(0.05)
else:
    raise SystemExit("the seeding capture did not finish")
EOF

echo "== schemathesis: $examples examples per operation, deterministic"
status=0
# Run from the scratch directory: schemathesis keeps its state in the working directory.
venv="$(cd "$venv" && pwd)"
(cd "$work" && timeout 900 "$venv/bin/schemathesis" run "$url/api/v1/openapi.json" \
  --header "Authorization: Bearer $admin" \
  --tls-verify "$work/ca.pem" \
  --checks all --exclude-checks positive_data_acceptance \
  --max-examples "$examples" --generation-deterministic \
  --request-timeout 30 --workers 2 \
  --report junit --report-junit-path "$work/junit.xml") || status=$?
if grep -q 'hub: internal error' "$work/hub.log"; then
  echo "== the hub logged internal errors:"
  grep 'hub: internal error' "$work/hub.log" | sort | uniq -c | head -20
  status=1
fi
exit "$status"
