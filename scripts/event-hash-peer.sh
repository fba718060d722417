#!/usr/bin/env bash
# GS1's reference implementation of the CBV 2.0 event hash id (epcis-event-hash-generator, from
# PyPI), run over EPCIS JSON-LD documents: one JSON line per event, in document order,
#   {"file": …, "index": i, "hash": "ni:///sha-256;…?ver=CBV2.0" or null, "prehash": … or null}
# or one line {"file": …, "error": …} for a document it cannot read at all. ledger/tests/epcis_hash.rs
# compares the ledger's ids (custodian_ledger::epcis::event_hash_id) with these.
#
# The Python is $CUSTODIAN_EVENT_HASH_PEER, else .custodian/venv-hash/bin/python, made by:
#   python3 -m venv .custodian/venv-hash
#   .custodian/venv-hash/bin/pip install epcis-event-hash-generator==1.9.3 \
#     python-dateutil==4.0.0 PyLD==3.3.0
#
# Each event is hashed on its own, so one the implementation fails on (it logs and skips it)
# gets null rather than shifting the others; each document starts with no prefixes (the
# implementation keeps those of earlier documents otherwise).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${CUSTODIAN_EVENT_HASH_PEER:-$root/.custodian/venv-hash/bin/python}"
if [ ! -x "$python" ]; then
  echo "event-hash-peer: no Python at $python (set CUSTODIAN_EVENT_HASH_PEER; see this script's header)" >&2
  exit 2
fi
exec "$python" - "$@" <<'PY'
import hashlib
import json
import logging
import sys

logging.disable(logging.CRITICAL)
from epcis_event_hash_generator import hash_generator, json_to_py  # noqa: E402


def events_of(doc):
    body = doc.get("epcisBody", {})
    if "eventList" in body:
        return body["eventList"]
    if "event" in body:
        return [body["event"]]
    return []


for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    json_to_py._namespaces.clear()
    try:
        count = len(events_of(json.loads(text)))
        events = json_to_py.event_list_from_epcis_document_str(text)[2]
    except Exception as e:  # the whole document unreadable to it
        print(json.dumps({"file": path, "error": "%s: %s" % (type(e).__name__, e)}))
        continue
    for i in range(count):
        pre = None
        if i < len(events):
            found = hash_generator.derive_prehashes_from_events(("EventList", "", [events[i]]), "")
            pre = found[0] if found else None
        digest = None
        if pre is not None:
            digest = "ni:///sha-256;%s?ver=CBV2.0" % hashlib.sha256(pre.encode("utf-8")).hexdigest()
        print(json.dumps({"file": path, "index": i, "hash": digest, "prehash": pre}))
PY
