//! CBV 2.0 event hash ids (`epcis::event_hash_id`) held to GS1's reference implementation
//! (`epcis-event-hash-generator` 1.9.3, run by `scripts/event-hash-peer.sh`): partners compute
//! the ids of the events they send and receive with it, so ours must be the same.
//!
//! - [`ids_recorded_from_the_reference_implementation`]: ids it gave, written out.
//! - [`ids_equal_the_reference_implementations`]: seeded random events of every type, with every
//!   kind of identifier, vocabulary form, number, time and extension, hashed by both. It needs
//!   the reference's Python in `CUSTODIAN_EVENT_HASH_PEER` and fails, saying how to install it,
//!   without.
//! - [`gs1_examples_hash_as_the_reference_does`]: GS1's example documents, given their directory
//!   (run with `--ignored`).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::{DateTime, FixedOffset, Timelike};
use custodian_ledger::epcis;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

#[path = "../../scanner/tests/support/seeded.rs"]
mod seeded;

const CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";
const PEER: &str = "CUSTODIAN_EVENT_HASH_PEER";

/// The reference implementation's Python, from `CUSTODIAN_EVENT_HASH_PEER`; a test that needs it
/// fails without it, saying how to install it (a comparison that is skipped would pass without
/// comparing anything).
fn peer_python() -> PathBuf {
    let python = std::env::var_os(PEER).map(PathBuf::from);
    match python {
        Some(p) if p.exists() => p,
        other => panic!(
            "{PEER} must name the Python of GS1's reference implementation of the event hash id \
             ({}). Install it with:\n  python3 -m venv .custodian/venv-hash\n  \
             .custodian/venv-hash/bin/pip install epcis-event-hash-generator==1.9.3 \
             python-dateutil==4.0.0 PyLD==3.3.0\nthen run with \
             {PEER}=$PWD/.custodian/venv-hash/bin/python",
            other.map_or_else(
                || "unset".to_string(),
                |p| format!("{} does not exist", p.display())
            )
        ),
    }
}

/// What the reference implementation gives for each event of `files`: per file, per index, its
/// id and pre-hash string (`None`: it failed on that event); a document it cannot read at all
/// maps to its error.
type PeerIds = BTreeMap<PathBuf, Result<BTreeMap<usize, Option<(String, String)>>, String>>;

fn run_peer(files: &[PathBuf]) -> PeerIds {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/event-hash-peer.sh");
    let out = Command::new("bash")
        .arg(&script)
        .args(files)
        .env(PEER, peer_python())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let mut ids = PeerIds::new();
    for line in String::from_utf8(out.stdout).unwrap().lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let file = PathBuf::from(v["file"].as_str().unwrap());
        if let Some(e) = v.get("error") {
            ids.insert(file, Err(e.as_str().unwrap().to_string()));
            continue;
        }
        let index = usize::try_from(v["index"].as_u64().unwrap()).unwrap();
        let found = match (v["hash"].as_str(), v["prehash"].as_str()) {
            (Some(h), Some(p)) => Some((h.to_string(), p.to_string())),
            _ => None,
        };
        if let Ok(map) = ids.entry(file).or_insert_with(|| Ok(BTreeMap::new())) {
            map.insert(index, found);
        }
    }
    ids
}

/// The events of a document (an EPCISDocument, a query document or one event).
fn events_of(doc: &Value) -> Vec<Value> {
    doc["epcisBody"]
        .get("eventList")
        .or_else(|| doc["epcisBody"]["queryResults"]["resultsBody"].get("eventList"))
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_else(|| vec![doc.clone()])
}

/// JSON text with each object's `type` member first: the reference implementation writes a
/// business transaction's, source's or destination's members in the text's order, and every
/// EPCIS document GS1 publishes puts `type` first.
fn write_json(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            out.push('{');
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by_key(|k| (k.as_str() != "type", k.as_str()));
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                write_json(&m[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, x) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_json(x, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// Events whose ids the reference implementation gave (its `-p` output confirms each pre-hash
/// string), with those ids.
#[test]
fn ids_recorded_from_the_reference_implementation() {
    let context = json!([CONTEXT, { "example": "https://ns.example.com/epcis/" }]);
    let cases = [
        (
            json!({
                "type": "ObjectEvent", "eventTime": "2005-04-03T20:33:31.116-06:00",
                "eventTimeZoneOffset": "-06:00", "action": "OBSERVE", "bizStep": "shipping",
                "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"]
            }),
            "eventType=ObjectEvent\
             eventTime=2005-04-04T02:33:31.116Z\
             eventTimeZoneOffset=-06:00\
             epcListepc=https://id.gs1.org/01/10614141073464/21/2017\
             action=OBSERVE\
             bizStep=https://ref.gs1.org/cbv/BizStep-shipping",
            RECORDED[0],
        ),
        (
            json!({
                "type": "TransactionEvent", "eventTime": "2024-02-29T23:59:59.9994+01:00",
                "eventTimeZoneOffset": "+01:00", "action": "ADD", "eventID": "urn:uuid:1",
                "parentID": "https://example.com/sscc/106141412345678908?x=1",
                "epcList": ["https://id.gs1.org/01/09506000134352/10/L1/21/S%2F1", "urn:epc:id:sgtin:0614141.107346.A!1"],
                "bizTransactionList": [
                    { "type": "po", "bizTransaction": "urn:epc:id:gdti:0614141.00001.1618034" },
                    { "type": "https://example.com/bt/own", "bizTransaction": "https://example.com/po/7" }
                ],
                "sourceList": [{ "type": "location", "source": "urn:epc:id:sgln:0614141.00777.0" }],
                "readPoint": { "id": "urn:epc:id:sgln:0614141.00777.12", "example:dock": 4.50 },
                "quantityList": [{ "epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 200.0, "uom": "KGM" }],
                "example:flag": true, "example:none": null, "example:code": " 0012 ",
                "example:nested": { "example:time": "2024-01-01T00:00:00+01:00", "plain": [1, 2.5e-7] }
            }),
            "eventType=TransactionEvent\
             eventTime=2024-02-29T22:59:59.999Z\
             eventTimeZoneOffset=+01:00\
             parentID=https://id.gs1.org/00/106141412345678908\
             epcListepc=https://id.gs1.org/01/09506000134352/10/L1/21/S%2F1\
             epc=https://id.gs1.org/01/10614141073464/21/A%211\
             quantityListquantityElementepcClass=https://id.gs1.org/01/04012345123456/10/998877\
             quantity=200\
             uom=KGM\
             action=ADD\
             readPointid=https://id.gs1.org/414/0614141007776/254/12\
             {https://ns.example.com/epcis/}dock=4.5\
             bizTransactionListtype=https://example.com/bt/own\
             bizTransaction=https://example.com/po/7\
             type=https://ref.gs1.org/cbv/BTT-po\
             bizTransaction=https://id.gs1.org/253/06141410000121618034\
             sourceListtype=https://ref.gs1.org/cbv/SDT-location\
             source=https://id.gs1.org/414/0614141007776\
             {https://ns.example.com/epcis/}code=12\
             {https://ns.example.com/epcis/}flag=True\
             {https://ns.example.com/epcis/}nested\
             plain=1\
             plain=2.5e-07\
             {https://ns.example.com/epcis/}time=2024-01-01T00:00:00+01:00\
             {https://ns.example.com/epcis/}none=None",
            RECORDED[1],
        ),
    ];
    for (event, pre, id) in cases {
        assert_eq!(epcis::pre_hash(&event, Some(&context)).unwrap(), pre);
        assert_eq!(epcis::event_hash_id(&event, Some(&context)).unwrap(), id);
    }
}

/// The reference implementation's ids for the events of
/// [`ids_recorded_from_the_reference_implementation`].
const RECORDED: [&str; 2] = [
    "ni:///sha-256;08535ec95a4a4bd6d7f9c6508b5756a09ffc888144ef789084420e976c9f6aa7?ver=CBV2.0",
    "ni:///sha-256;29f7cc59778a27778b8d847f7384f8a4af17ff1bddac5eb4003f68ded811d2c2?ver=CBV2.0",
];

/// The JSON documents of a directory, sorted.
fn documents_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "jsonld"))
        .collect();
    files.sort();
    files
}

/// GS1's example documents (GS1's EPCIS repository, `JSON/`), given their directory in
/// `CUSTODIAN_EPCIS_EXAMPLES`: every event of every document the reference implementation reads
/// has its id here, and the `eventID`s that are hash ids are compared with both. Run with
/// `--ignored`; it prints the tally.
#[test]
#[ignore = "needs GS1's example documents (CUSTODIAN_EPCIS_EXAMPLES=DIR) and the reference implementation (CUSTODIAN_EVENT_HASH_PEER)"]
fn gs1_examples_hash_as_the_reference_does() {
    let dir = std::env::var_os("CUSTODIAN_EPCIS_EXAMPLES")
        .expect("CUSTODIAN_EPCIS_EXAMPLES names the directory of GS1's example documents");
    let files = documents_in(Path::new(&dir));
    let peer = run_peer(&files);
    let (mut events, mut compared, mut equal, mut peer_failed) = (0, 0, 0, 0);
    let (mut claimed, mut claimed_ours, mut claimed_peers) = (0, 0, 0);
    let mut unread = Vec::new();
    let mut differ = Vec::new();
    for f in &files {
        let doc: Value = serde_json::from_str(&std::fs::read_to_string(f).unwrap()).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let peers = match &peer[f] {
            Ok(map) => Some(map),
            Err(e) => {
                unread.push(format!("{name}: {e}"));
                None
            }
        };
        for (i, event) in events_of(&doc).iter().enumerate() {
            events += 1;
            let ours = epcis::event_hash_id(event, doc.get("@context")).unwrap();
            let theirs = peers.and_then(|m| m.get(&i).cloned().flatten());
            if let Some(id) = event.get("eventID").and_then(Value::as_str)
                && id.ends_with("?ver=CBV2.0")
            {
                claimed += 1;
                claimed_ours += usize::from(id == ours);
                claimed_peers += usize::from(theirs.as_ref().is_some_and(|(h, _)| h == id));
            }
            match theirs {
                None if peers.is_some() => peer_failed += 1,
                None => {}
                Some((hash, pre)) => {
                    compared += 1;
                    if hash == ours {
                        equal += 1;
                    } else {
                        differ.push(format!(
                            "{name}[{i}]:\n  ours      {}\n  reference {pre}",
                            epcis::pre_hash(event, doc.get("@context")).unwrap()
                        ));
                    }
                }
            }
        }
    }
    println!(
        "{} documents, {events} events: {compared} compared with the reference implementation, \
         {equal} equal; it failed on {peer_failed} events and could not read {} documents ({unread:?}); \
         {claimed} eventIDs are hash ids: {claimed_ours} equal ours, {claimed_peers} equal the reference's",
        files.len(),
        unread.len()
    );
    assert!(differ.is_empty(), "{}", differ.join("\n"));
}

// ---- Seeded random events, for the comparison with the reference implementation ----

fn pick<'a>(r: &mut ChaCha8Rng, xs: &[&'a str]) -> &'a str {
    xs[r.gen_range(0..xs.len())]
}

fn digits(r: &mut ChaCha8Rng, n: usize) -> String {
    (0..n)
        .map(|_| char::from(b'0' + r.gen_range(0..10u8)))
        .collect()
}

/// A company prefix (6 to 12 digits) and a reference of `total` digits less its length.
fn company_and_reference(r: &mut ChaCha8Rng, total: usize) -> (String, String) {
    let n = r.gen_range(6..=12.min(total));
    (digits(r, n), digits(r, total - n))
}

/// A serial of an EPC URI: letters, digits, the punctuation EPC URIs carry literally, and
/// `%`-escapes (now and then one the Tag Data Standard does not allow, or one too many).
fn serial(r: &mut ChaCha8Rng, max: usize) -> String {
    const UNITS: &[&str] = &[
        "A", "b", "7", "0", "-", "_", ".", "!", "'", "(", ")", "*", "+", ",", ":", ";", "=", "%2F",
        "%22", "%25", "%3F", "%41", "%7A", "%40",
    ];
    let len = if r.gen_bool(0.05) {
        max + 1
    } else {
        r.gen_range(1..=max.min(8))
    };
    (0..len)
        .map(|i| {
            if i == 0 && r.gen_bool(0.7) {
                "S"
            } else {
                pick(r, UNITS)
            }
        })
        .collect()
}

/// Digits, capitals, `-` and the escapes a component/part reference may carry.
fn part_reference(r: &mut ChaCha8Rng, max: usize) -> String {
    const UNITS: &[&str] = &["A", "Z", "9", "0", "-", "%23", "%2F", "%2d"];
    (0..r.gen_range(1..=max.min(6)))
        .map(|_| pick(r, UNITS))
        .collect()
}

/// An EPC URI, EPC class or pattern URI of any scheme, some of them malformed.
fn epc_urn(r: &mut ChaCha8Rng) -> String {
    let (c, rf) = company_and_reference(r, 13);
    let (c12, r12) = company_and_reference(r, 12);
    let dots12 = if c12.len() == 12 && r.gen_bool(0.5) {
        "."
    } else {
        ""
    };
    match r.gen_range(0..26) {
        0..=3 => format!("urn:epc:id:sgtin:{c}.{rf}.{}", serial(r, 20)),
        4 => {
            let (c, rf) = company_and_reference(r, 17);
            format!("urn:epc:id:sscc:{c}.{rf}")
        }
        5 | 6 => {
            let ext = if r.gen_bool(0.4) {
                "0".to_string()
            } else {
                serial(r, 20)
            };
            format!("urn:epc:id:sgln:{c12}.{r12}.{ext}")
        }
        7 => format!("urn:epc:id:grai:{c12}.{r12}{dots12}.{}", serial(r, 16)),
        8 => {
            let n = c12.len();
            format!("urn:epc:id:giai:{c12}.{}", serial(r, 30 - n))
        }
        9 => {
            let (c, rf) = company_and_reference(r, 17);
            format!("urn:epc:id:{}:{c}.{rf}", pick(r, &["gsrn", "gsrnp"]))
        }
        10 => {
            let tail = match r.gen_range(0..3) {
                0 => ".".to_string(),
                1 => format!(".{}", digits(r, 4)),
                _ => digits(r, 3),
            };
            format!("urn:epc:id:gdti:{c12}.{r12}{dots12}{tail}")
        }
        11 => {
            let part = part_reference(r, 30 - c12.len());
            let n = r.gen_range(1..=12);
            format!("urn:epc:id:cpi:{c12}.{part}.{}", digits(r, n))
        }
        12 => {
            let n = r.gen_range(1..=12);
            format!("urn:epc:id:sgcn:{c12}.{r12}.{}", digits(r, n))
        }
        13 => format!("urn:epc:id:ginc:{c12}.{}", serial(r, 30 - c12.len())),
        14 => {
            let (c, rf) = company_and_reference(r, 16);
            format!("urn:epc:id:gsin:{c}.{rf}")
        }
        15 => format!(
            "urn:epc:id:itip:{c}.{rf}.{}.{}.{}",
            digits(r, 2),
            digits(r, 2),
            serial(r, 20)
        ),
        16 => format!("urn:epc:id:upui:{c}.{rf}.{}", serial(r, 28)),
        17 => format!("urn:epc:id:pgln:{c12}.{r12}"),
        18 => format!("urn:epc:class:lgtin:{c}.{rf}.{}", serial(r, 20)),
        19 => format!("urn:epc:idpat:{}:{c}.{rf}.*", pick(r, &["sgtin", "upui"])),
        20 => format!(
            "urn:epc:idpat:{}:{c12}.{r12}{dots12}.*",
            pick(r, &["grai", "gdti", "sgcn"])
        ),
        21 => format!(
            "urn:epc:idpat:cpi:{c12}.{}.*",
            part_reference(r, 30 - c12.len())
        ),
        22 => format!(
            "urn:epc:idpat:itip:{c}.{rf}.{}.{}.*",
            digits(r, 2),
            digits(r, 2)
        ),
        // Malformed: a wrong length, a missing part.
        23 => format!("urn:epc:id:sgtin:{c}.{rf}{}.{}", digits(r, 1), serial(r, 5)),
        24 => format!("urn:epc:id:sscc:{c}.{rf}"),
        _ => format!("urn:epc:id:sgln:{c}.{rf}"),
    }
}

/// A GS1 Digital Link URI: on `id.gs1.org` or another domain, with AIs or short names, key
/// qualifiers (a CPV, a lot and serial), a query or a fragment; some not canonicalisable.
fn digital_link(r: &mut ChaCha8Rng) -> String {
    let domain = pick(
        r,
        &[
            "https://id.gs1.org",
            "https://id.gs1.org",
            "https://example.com",
            "http://example.com/shop",
            "https://brand.example:8443/dl",
            "http://id.gs1.org",
        ],
    );
    let short = r.gen_bool(0.2);
    let name = |ai: &'static str, short_name: &'static str| if short { short_name } else { ai };
    let value = |r: &mut ChaCha8Rng| -> String {
        const CHARS: &[&str] = &["A", "z", "9", "-", ".", "_", "%2F", "'", "="];
        (0..r.gen_range(1..6)).map(|_| pick(r, CHARS)).collect()
    };
    let path = match r.gen_range(0..16) {
        0..=5 => {
            let gtin_len = *[14, 14, 14, 13, 12, 8].get(r.gen_range(0..6)).unwrap();
            let mut p = format!("/{}/{}", name("01", "gtin"), digits(r, gtin_len));
            if r.gen_bool(0.15) {
                let cpv = value(r);
                let _ = write!(p, "/{}/{cpv}", name("22", "cpv"));
            }
            match r.gen_range(0..5) {
                0 => {}
                1 => {
                    let lot = value(r);
                    let _ = write!(p, "/{}/{lot}", name("10", "lot"));
                }
                2 => {
                    let (lot, ser) = (value(r), value(r));
                    let _ = write!(
                        p,
                        "/{}/{lot}/{}/{ser}",
                        name("10", "lot"),
                        name("21", "ser")
                    );
                }
                3 => {
                    let ser = value(r);
                    let _ = write!(p, "/235/{ser}");
                }
                _ => {
                    let ser = value(r);
                    let _ = write!(p, "/{}/{ser}", name("21", "ser"));
                }
            }
            p
        }
        6 => format!("/{}/{}", name("00", "sscc"), digits(r, 18)),
        7 => {
            let mut p = format!("/{}/{}", name("414", "gln"), digits(r, 13));
            if r.gen_bool(0.5) {
                let ext = value(r);
                let _ = write!(p, "/254/{ext}");
            }
            p
        }
        8 => format!("/{}/{}", name("417", "party"), digits(r, 13)),
        9 => {
            let tail = value(r);
            format!("/{}/{}{tail}", name("8003", "grai"), digits(r, 14))
        }
        10 => {
            let tail = value(r);
            format!("/{}/{}{tail}", name("8004", "giai"), digits(r, 6))
        }
        11 => {
            let ser = value(r);
            format!("/{}/{}/21/{ser}", name("8006", "itip"), digits(r, 18))
        }
        12 => format!("/{}/{}", name("8018", "gsrn"), digits(r, 18)),
        13 => format!("/{}/{}{}", name("253", "gdti"), digits(r, 13), digits(r, 3)),
        14 => format!(
            "/{}/{}ABC-1/8011/{}",
            name("8010", "cpid"),
            digits(r, 7),
            digits(r, 3)
        ),
        _ => format!("/{}/{}", name("402", "gsin"), digits(r, 17)),
    };
    let end = match r.gen_range(0..8) {
        0 => "?linkType=gs1:pip",
        1 => "?17=270101",
        2 => "#top",
        _ => "",
    };
    format!("{domain}{path}{end}")
}

/// An identifier: an EPC URI, a Digital Link URI or another URI.
fn identifier(r: &mut ChaCha8Rng) -> String {
    match r.gen_range(0..10) {
        0..=4 => epc_urn(r),
        5..=8 => digital_link(r),
        _ => {
            let n = r.gen_range(0..1000);
            pick(
                r,
                &[
                    "https://example.com/assets/",
                    "urn:uuid:7c1b0c3a-0000-4000-8000-00000000",
                    "https://example.com/abcdefghij?n=",
                    "urn:custodian:org:dist-",
                    "https://giai/abcdefghij#",
                ],
            )
            .to_string()
                + &n.to_string()
        }
    }
}

fn identifiers(r: &mut ChaCha8Rng, min: usize) -> Value {
    let mut list: Vec<String> = Vec::new();
    for _ in 0..r.gen_range(min..5) {
        let id = identifier(r);
        if !list.contains(&id) {
            list.push(id);
        }
    }
    json!(list)
}

/// An RFC 3339 time: any offset, zero to nine fraction digits (never rounding up into the next
/// second, on which the reference implementation fails), now and then a leap second.
fn time(r: &mut ChaCha8Rng) -> String {
    let fraction = match r.gen_range(0..4) {
        0 => String::new(),
        _ => {
            let n = r.gen_range(1..=9);
            let mut f = digits(r, n);
            if f.starts_with("999") {
                f.replace_range(..1, "5");
            }
            format!(".{f}")
        }
    };
    let second = if r.gen_bool(0.01) {
        60
    } else {
        r.gen_range(0..60)
    };
    format!(
        "{:04}-{:02}-{:02}{}{:02}:{:02}:{second:02}{fraction}{}",
        if r.gen_bool(0.02) {
            999
        } else {
            r.gen_range(2000..2030)
        },
        r.gen_range(1..13),
        r.gen_range(1..29),
        if r.gen_bool(0.05) { 't' } else { 'T' },
        r.gen_range(0..24),
        r.gen_range(0..60),
        pick(
            r,
            &[
                "Z", "Z", "z", "+00:00", "-00:00", "+01:00", "-05:00", "+05:30", "+14:00", "-13:59"
            ]
        )
    )
}

/// A number, as JSON carries it.
fn number(r: &mut ChaCha8Rng) -> Value {
    match r.gen_range(0..14) {
        0 => json!(r.gen_range(0..1000)),
        1 => json!(-r.gen_range(1..1000)),
        2 => json!(f64::from(r.gen_range(0..4000)) / 8.0),
        3 => json!(f64::from(r.gen_range(1..100))),
        4 => json!(0.1 + 0.2),
        5 => json!(1e-5),
        6 => json!(-2.5e-7),
        7 => json!(1e20),
        8 => json!(u64::MAX),
        9 => json!(i64::MIN),
        10 => json!(-0.0),
        11 => json!(123_456_789.125),
        12 => json!(1e16),
        _ => json!(0.0001),
    }
}

/// A string an extension carries: text, whitespace, numbers written as text, times, prefixed
/// names, identifiers (none a word of the CBV: the reference implementation would expand it
/// when another event of the document uses the word).
fn text(r: &mut ChaCha8Rng) -> Value {
    let s = match r.gen_range(0..24) {
        0 => "QA".to_string(),
        1 => "batch 7".to_string(),
        2 => "  padded\t".to_string(),
        3 => "Ünïcödé ✓".to_string(),
        4 => "0012".to_string(),
        5 => "1e3".to_string(),
        6 => "1_000".to_string(),
        7 => "-0".to_string(),
        8 => " 12.50 ".to_string(),
        9 => pick(r, &["nan", "NaN", "1E10", ".5", "5.", "+7"]).to_string(),
        10 => "2025-01-01".to_string(),
        11 => time(r),
        12 => "example:term-1".to_string(),
        13 => "ext1:v".to_string(),
        14 => identifier(r),
        15 => "line\nbreak".to_string(),
        16 => "\u{1c}separated\u{1f}".to_string(),
        17 => "\u{a0}nbsp\u{a0}".to_string(),
        18 => String::new(),
        19 => " ".to_string(),
        20 => "true".to_string(),
        21 => "urn:epcglobal:cbv:bt:0614141000005:77".to_string(),
        22 => "1__0".to_string(),
        _ => "None".to_string(),
    };
    json!(s)
}

/// Extension member names: prefixed (a namespace ending in `/`, one not), full IRIs, names
/// the document does not define, names ending in `List` or mentioning `time` or `action`.
fn extension_key(r: &mut ChaCha8Rng) -> &'static str {
    pick(
        r,
        &[
            "example:note",
            "example:grade",
            "example:readingList",
            "example:expiryTime",
            "example:transaction",
            "ext1:flag",
            "ext1:count",
            "https://example.org/ns/full",
            "undeclared:thing",
            "rdfs:comment",
            "cust:lot",
        ],
    )
}

/// An extension's value: a scalar, an object of further members, or a list.
fn extension_value(r: &mut ChaCha8Rng, depth: u32) -> Value {
    match r.gen_range(0..if depth > 1 { 6 } else { 9 }) {
        0..=2 => text(r),
        3 => number(r),
        4 => json!(r.gen_bool(0.5)),
        5 => Value::Null,
        6 => {
            let mut m = Map::new();
            for _ in 0..r.gen_range(1..4) {
                let key = if r.gen_bool(0.3) {
                    pick(r, &["plain", "inner", "quantity"])
                } else {
                    extension_key(r)
                };
                m.insert(key.into(), extension_value(r, depth + 1));
            }
            Value::Object(m)
        }
        7 => json!(
            (0..r.gen_range(1..4))
                .map(|_| extension_value(r, depth + 1))
                .collect::<Vec<_>>()
        ),
        _ => json!([[number(r), text(r)], [number(r)]]),
    }
}

fn extensions(r: &mut ChaCha8Rng, m: &mut Map<String, Value>, at_most: usize) {
    for _ in 0..r.gen_range(0..=at_most) {
        let key = extension_key(r);
        m.insert(key.into(), extension_value(r, 0));
    }
}

/// A vocabulary field's value: mostly a bare CBV word, else its Web URI or a URI of one's own.
fn vocabulary(r: &mut ChaCha8Rng, words: &[&str], web: &str) -> Value {
    let word = pick(r, words);
    match r.gen_range(0..10) {
        0 => json!(format!("{web}{word}")),
        1 => json!(format!("https://example.com/voc/{}", r.gen_range(0..9))),
        2 => json!(format!("example:voc-{}", r.gen_range(0..9))),
        _ => json!(word),
    }
}

fn quantities(r: &mut ChaCha8Rng, min: usize) -> Value {
    let list: Vec<Value> = (0..r.gen_range(min..4))
        .map(|_| {
            let class = if r.gen_bool(0.6) {
                epc_urn(r)
            } else {
                digital_link(r)
            };
            let mut q = json!({ "epcClass": class });
            if r.gen_bool(0.8) {
                q["quantity"] = number(r);
                if r.gen_bool(0.6) {
                    q["uom"] = json!(pick(r, &["KGM", "LTR", "EA", "MTR", "10", "C62"]));
                }
            }
            q
        })
        .collect();
    json!(list)
}

fn transactions(r: &mut ChaCha8Rng, min: usize) -> Value {
    let list: Vec<Value> = (0..r.gen_range(min..4))
        .map(|i| {
            json!({
                "type": vocabulary(r, epcis::BIZ_TRANSACTION_TYPES, "https://ref.gs1.org/cbv/BTT-"),
                "bizTransaction": if i % 2 == 0 { identifier(r) } else { format!("urn:epcglobal:cbv:bt:0614141000005:{i}") },
            })
        })
        .collect();
    json!(list)
}

fn parties(r: &mut ChaCha8Rng, key: &str) -> Value {
    let list: Vec<Value> = (0..r.gen_range(1..4))
        .map(|_| {
            json!({
                "type": vocabulary(r, epcis::SOURCE_DEST_TYPES, "https://ref.gs1.org/cbv/SDT-"),
                key: identifier(r),
            })
        })
        .collect();
    json!(list)
}

/// A read point or business location: its id, now and then with extensions (whose namespace
/// decides where the reference implementation writes them).
fn place(r: &mut ChaCha8Rng) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(identifier(r)));
    if r.gen_bool(0.4) {
        extensions(r, &mut m, 2);
    }
    if r.gen_bool(0.1) {
        m.insert("plain".into(), text(r));
    }
    Value::Object(m)
}

fn sensor_elements(r: &mut ChaCha8Rng) -> Value {
    const METADATA: [&str; 5] = [
        "deviceID",
        "deviceMetadata",
        "rawData",
        "dataProcessingMethod",
        "bizRules",
    ];
    let list: Vec<Value> = (0..r.gen_range(1..3))
        .map(|_| {
            let mut element = Map::new();
            if r.gen_bool(0.6) {
                let mut meta = Map::new();
                for key in ["time", "startTime", "endTime"] {
                    if r.gen_bool(0.5) {
                        meta.insert(key.into(), json!(time(r)));
                    }
                }
                for key in METADATA {
                    if r.gen_bool(0.4) {
                        meta.insert(key.into(), json!(identifier(r)));
                    }
                }
                if r.gen_bool(0.3) {
                    extensions(r, &mut meta, 2);
                }
                element.insert("sensorMetadata".into(), Value::Object(meta));
            }
            let reports: Vec<Value> = (0..r.gen_range(1..4))
                .map(|_| {
                    let mut report = Map::new();
                    report.insert(
                        "type".into(),
                        match r.gen_range(0..8) {
                            0 => json!("gs1:Temperature"),
                            1 => json!("https://example.com/measure/Brix"),
                            _ => json!(pick(r, epcis::MEASUREMENT_TYPES)),
                        },
                    );
                    for key in [
                        "value",
                        "minValue",
                        "maxValue",
                        "meanValue",
                        "sDev",
                        "percRank",
                        "percValue",
                    ] {
                        if r.gen_bool(0.25) {
                            report.insert(key.into(), number(r));
                        }
                    }
                    for key in [
                        "deviceID",
                        "deviceMetadata",
                        "rawData",
                        "dataProcessingMethod",
                        "bizRules",
                        "microorganism",
                        "chemicalSubstance",
                        "uriValue",
                        "coordinateReferenceSystem",
                    ] {
                        if r.gen_bool(0.12) {
                            report.insert(key.into(), json!(identifier(r)));
                        }
                    }
                    if r.gen_bool(0.3) {
                        report.insert("uom".into(), json!(pick(r, &["CEL", "KGM", "P1", "10"])));
                    }
                    if r.gen_bool(0.2) {
                        report.insert("time".into(), json!(time(r)));
                    }
                    if r.gen_bool(0.2) {
                        report.insert(
                            "exception".into(),
                            json!(pick(r, &["ALARM_CONDITION", "ERROR_CONDITION"])),
                        );
                    }
                    if r.gen_bool(0.2) {
                        report.insert(
                            "component".into(),
                            vocabulary(
                                r,
                                &["x", "latitude", "altitude", "easting"],
                                "https://ref.gs1.org/cbv/Comp-",
                            ),
                        );
                    }
                    if r.gen_bool(0.2) {
                        report.insert("stringValue".into(), text(r));
                    }
                    if r.gen_bool(0.2) {
                        report.insert("booleanValue".into(), json!(r.gen_bool(0.5)));
                    }
                    if r.gen_bool(0.2) {
                        report.insert(
                            "hexBinaryValue".into(),
                            json!(pick(r, &["F0A1", "0010", "1E10", "ab"])),
                        );
                    }
                    if r.gen_bool(0.2) {
                        extensions(r, &mut report, 2);
                    }
                    Value::Object(report)
                })
                .collect();
            element.insert("sensorReport".into(), json!(reports));
            if r.gen_bool(0.2) {
                extensions(r, &mut element, 2);
            }
            Value::Object(element)
        })
        .collect();
    json!(list)
}

/// A valid event of `kind` (a standard type, or an extension event's URI) with a random choice
/// of its optional fields.
fn event(r: &mut ChaCha8Rng, kind: &str) -> Value {
    let mut e = Map::new();
    e.insert("type".into(), json!(kind));
    e.insert("eventTime".into(), json!(time(r)));
    e.insert(
        "eventTimeZoneOffset".into(),
        json!(pick(r, &["+00:00", "-05:00", "+14:00", "+05:30", "-13:59"])),
    );
    if r.gen_bool(0.3) {
        e.insert(
            "eventID".into(),
            json!(format!(
                "urn:uuid:6c1f6b5e-0000-4000-8000-{:012}",
                r.gen_range(0..1_000_000u32)
            )),
        );
    }
    if r.gen_bool(0.3) {
        e.insert("recordTime".into(), json!(time(r)));
    }
    if r.gen_bool(0.2) {
        e.insert(
            "certificationInfo".into(),
            if r.gen_bool(0.5) {
                json!(identifier(r))
            } else {
                identifiers(r, 1)
            },
        );
    }
    if r.gen_bool(0.1) {
        e.insert(
            "errorDeclaration".into(),
            json!({ "declarationTime": time(r), "reason": "incorrect_data", "example:by": "QA" }),
        );
    }
    extensions(r, &mut e, 3);
    if !epcis::EVENT_TYPES.contains(&kind) {
        e.insert("example:anything".into(), extension_value(r, 0));
        return Value::Object(e);
    }
    let action = pick(r, &["ADD", "OBSERVE", "DELETE"]);
    let common = |r: &mut ChaCha8Rng, e: &mut Map<String, Value>| {
        if r.gen_bool(0.8) {
            e.insert(
                "bizStep".into(),
                vocabulary(r, epcis::BIZ_STEPS, "https://ref.gs1.org/cbv/BizStep-"),
            );
        }
        if r.gen_bool(0.6) {
            e.insert(
                "disposition".into(),
                vocabulary(r, epcis::DISPOSITIONS, "https://ref.gs1.org/cbv/Disp-"),
            );
        }
        if r.gen_bool(0.4) {
            e.insert("readPoint".into(), place(r));
        }
        if r.gen_bool(0.4) {
            e.insert("bizLocation".into(), place(r));
        }
        if r.gen_bool(0.3) {
            e.insert("sourceList".into(), parties(r, "source"));
        }
        if r.gen_bool(0.3) {
            e.insert("destinationList".into(), parties(r, "destination"));
        }
        if r.gen_bool(0.3) {
            e.insert("sensorElementList".into(), sensor_elements(r));
        }
    };
    let persistent = |r: &mut ChaCha8Rng, e: &mut Map<String, Value>| {
        if r.gen_bool(0.2) {
            let mut set: Vec<&str> = Vec::new();
            let mut unset: Vec<&str> = Vec::new();
            for _ in 0..r.gen_range(1..3) {
                let d = pick(r, epcis::DISPOSITIONS);
                if !set.contains(&d) && !unset.contains(&d) {
                    if r.gen_bool(0.5) {
                        set.push(d)
                    } else {
                        unset.push(d)
                    }
                }
            }
            let mut p = Map::new();
            if !set.is_empty() {
                p.insert("set".into(), json!(set));
            }
            if !unset.is_empty() || set.is_empty() {
                p.insert(
                    "unset".into(),
                    json!(if unset.is_empty() {
                        vec!["available"]
                    } else {
                        unset
                    }),
                );
            }
            e.insert("persistentDisposition".into(), Value::Object(p));
        }
    };
    let ilmd = |r: &mut ChaCha8Rng, e: &mut Map<String, Value>| {
        if r.gen_bool(0.3) {
            let mut m = Map::new();
            m.insert("cbvmda:lotNumber".into(), text(r));
            extensions(r, &mut m, 3);
            m.remove("rdfs:comment");
            e.insert("ilmd".into(), Value::Object(m));
        }
    };
    match kind {
        "ObjectEvent" => {
            e.insert("action".into(), json!(action));
            match r.gen_range(0..3) {
                0 => {
                    e.insert("epcList".into(), identifiers(r, 0));
                }
                1 => {
                    e.insert("quantityList".into(), quantities(r, 1));
                }
                _ => {
                    e.insert("epcList".into(), identifiers(r, 1));
                    e.insert("quantityList".into(), quantities(r, 0));
                }
            }
            common(r, &mut e);
            if r.gen_bool(0.3) {
                e.insert("bizTransactionList".into(), transactions(r, 0));
            }
            persistent(r, &mut e);
            if action == "ADD" {
                ilmd(r, &mut e);
            }
        }
        "AggregationEvent" | "AssociationEvent" => {
            e.insert("action".into(), json!(action));
            if kind == "AssociationEvent" || r.gen_bool(0.7) {
                e.insert("parentID".into(), json!(identifier(r)));
            }
            if r.gen_bool(0.7) {
                e.insert("childEPCs".into(), identifiers(r, 1));
            } else {
                e.insert("childQuantityList".into(), quantities(r, 1));
            }
            common(r, &mut e);
            if r.gen_bool(0.3) {
                e.insert("bizTransactionList".into(), transactions(r, 0));
            }
        }
        "TransactionEvent" => {
            e.insert("action".into(), json!(action));
            e.insert("bizTransactionList".into(), transactions(r, 1));
            if r.gen_bool(0.3) {
                e.insert("parentID".into(), json!(identifier(r)));
            }
            if r.gen_bool(0.6) {
                e.insert("epcList".into(), identifiers(r, 1));
            } else {
                e.insert("quantityList".into(), quantities(r, 1));
            }
            common(r, &mut e);
        }
        _ => {
            e.insert("inputEPCList".into(), identifiers(r, 1));
            if r.gen_bool(0.5) {
                e.insert("inputQuantityList".into(), quantities(r, 1));
            }
            if r.gen_bool(0.6) {
                e.insert("outputEPCList".into(), identifiers(r, 1));
            }
            e.insert("outputQuantityList".into(), quantities(r, 1));
            if r.gen_bool(0.5) {
                e.insert("transformationID".into(), json!(identifier(r)));
            }
            common(r, &mut e);
            if r.gen_bool(0.3) {
                e.insert("bizTransactionList".into(), transactions(r, 0));
            }
            persistent(r, &mut e);
            ilmd(r, &mut e);
        }
    }
    Value::Object(e)
}

const KINDS: [&str; 6] = [
    "ObjectEvent",
    "AggregationEvent",
    "AssociationEvent",
    "TransactionEvent",
    "TransformationEvent",
    "https://example.com/events/CalibrationEvent",
];

/// The document contexts the events are hashed under: prefixes with and without a closing `/`,
/// the other URL of GS1's context, and none beyond the standard one.
fn contexts() -> Vec<Value> {
    let own = json!({
        "example": "https://example.com/epcis/",
        "ext1": "http://example.com/ext1",
        "cust": "https://custodian.dev/epcis/",
    });
    vec![
        json!([CONTEXT, own]),
        json!(["https://gs1.github.io/EPCIS/epcis-context.jsonld", { "example": "https://example.com/epcis/", "cbvmda": "urn:epcglobal:cbv:mda:" }]),
        json!(CONTEXT),
    ]
}

/// The seeded random events compared with the reference implementation: so many documents of
/// so many events each, under each context in turn.
const DOCUMENTS: usize = 20;
const EVENTS_PER_DOCUMENT: usize = 100;
const SEED: u64 = 0x00c0_ffee_2026;

/// Our ids equal the reference implementation's on seeded random events of every type. Needs
/// the reference's Python in `CUSTODIAN_EVENT_HASH_PEER`; fails without it.
#[test]
fn ids_equal_the_reference_implementations() {
    peer_python();
    let mut r = ChaCha8Rng::seed_from_u64(SEED);
    let dir = tempfile::tempdir().unwrap();
    let contexts = contexts();
    let mut documents = Vec::new();
    for d in 0..DOCUMENTS {
        let context = contexts[d % contexts.len()].clone();
        let events: Vec<Value> = (0..EVENTS_PER_DOCUMENT)
            .map(|_| {
                let kind = pick(&mut r, &KINDS);
                event(&mut r, kind)
            })
            .collect();
        let doc = json!({
            "@context": context, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-01-01T00:00:00Z", "epcisBody": { "eventList": events }
        });
        if let Err(e) = epcis::check(&doc) {
            panic!("generated document {d} is not valid EPCIS: {e}");
        }
        let path = dir.path().join(format!("doc{d:02}.jsonld"));
        let mut text = String::new();
        write_json(&doc, &mut text);
        std::fs::write(&path, text).unwrap();
        documents.push((path, doc));
    }
    let files: Vec<PathBuf> = documents.iter().map(|(p, _)| p.clone()).collect();
    let peer = run_peer(&files);
    let (mut compared, mut equal) = (0, 0);
    let mut problems = Vec::new();
    for (path, doc) in &documents {
        let name = path.file_name().unwrap().to_string_lossy();
        let theirs = match &peer[path] {
            Ok(map) => map,
            Err(e) => {
                problems.push(format!(
                    "{name}: the reference implementation cannot read it: {e}"
                ));
                continue;
            }
        };
        for (i, event) in events_of(doc).iter().enumerate() {
            compared += 1;
            let context = doc.get("@context");
            let ours = epcis::event_hash_id(event, context).unwrap();
            match theirs.get(&i).cloned().flatten() {
                None => problems.push(format!(
                    "{name}[{i}]: the reference implementation gave no id: {event}"
                )),
                Some((hash, _)) if hash == ours => equal += 1,
                Some((_, pre)) => problems.push(format!(
                    "{name}[{i}]: {event}\n  ours      {}\n  reference {pre}",
                    epcis::pre_hash(event, context).unwrap()
                )),
            }
        }
    }
    println!("{compared} events compared with the reference implementation, {equal} equal");
    assert!(
        problems.is_empty(),
        "{} of {compared} events differ:\n{}",
        problems.len(),
        problems
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---- Properties that need no reference ----

/// `event` with each vocabulary field's bare word written as its Web URI.
fn as_web_uris(event: &Value) -> Value {
    const CBV: &str = "https://ref.gs1.org/cbv/";
    let web = |v: &mut Value, words: &[&str], base: &str| {
        if let Some(w) = v.as_str().filter(|w| words.contains(w)) {
            *v = json!(format!("{base}{w}"));
        }
    };
    let mut e = event.clone();
    if let Some(v) = e.get_mut("bizStep") {
        web(v, epcis::BIZ_STEPS, &format!("{CBV}BizStep-"));
    }
    if let Some(v) = e.get_mut("disposition") {
        web(v, epcis::DISPOSITIONS, &format!("{CBV}Disp-"));
    }
    if let Some(p) = e
        .get_mut("persistentDisposition")
        .and_then(Value::as_object_mut)
    {
        for list in p.values_mut().filter_map(Value::as_array_mut) {
            for v in list {
                web(v, epcis::DISPOSITIONS, &format!("{CBV}Disp-"));
            }
        }
    }
    for (key, words, base) in [
        ("bizTransactionList", epcis::BIZ_TRANSACTION_TYPES, "BTT-"),
        ("sourceList", epcis::SOURCE_DEST_TYPES, "SDT-"),
        ("destinationList", epcis::SOURCE_DEST_TYPES, "SDT-"),
    ] {
        for entry in e
            .get_mut(key)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(v) = entry.get_mut("type") {
                web(v, words, &format!("{CBV}{base}"));
            }
        }
    }
    for element in e
        .get_mut("sensorElementList")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        for report in element
            .get_mut("sensorReport")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            if let Some(v) = report.get_mut("type") {
                web(v, epcis::MEASUREMENT_TYPES, "https://gs1.org/voc/");
            }
            if let Some(v) = report.get_mut("exception") {
                web(
                    v,
                    &["ALARM_CONDITION", "ERROR_CONDITION"],
                    "https://gs1.org/voc/",
                );
            }
            if let Some(v) = report.get_mut("component") {
                web(
                    v,
                    &["x", "latitude", "altitude", "easting"],
                    &format!("{CBV}Comp-"),
                );
            }
        }
    }
    e
}

/// Tricky strings for [`any_json`]: identifiers near and off their schemes' shapes, characters
/// of more than one byte where ASCII is expected, numbers and times written oddly.
const TRICKY: &[&str] = &[
    "urn:epc:id:sgtin:0614141.107346.2017",
    "urn:epc:id:sgtin:0614141.107346.",
    "urn:epc:id:sgtin:0614141.1073é6.1",
    "urn:epc:id:sgtin:é.1",
    "urn:epc:id:itip:4012345.012345.é1.02.9",
    "urn:epc:id:itip:4012345.012345.01.02.",
    "urn:epc:id:grai:123456789012...",
    "urn:epc:id:gdti:123456789012..",
    "urn:epc:id:cpi:0614141..1",
    "urn:epc:idpat:itip:4012345.012345.01.0é*",
    "urn:epc:id:sscc:0614141.123456789%",
    "urn:epc:id:sgtin:0614141.107346.%2",
    "urn:epc:",
    "urn:epc:id:",
    "https://idégs1üorg/01/09506000134352",
    "https://id.gs1.org/01/0950600013435é",
    "https://id.gs1.org/01/1234/22/é/10/x",
    "https://id.gs1.org/01/09506000134352/10/é/21/x",
    "https://x.y/8010/é/8011/1",
    "https://x.y/01/1234é?x#y",
    "https://x.y//22/.",
    "http:/.01/1234x",
    "https:",
    "1e400",
    "-inf",
    "1_0_0",
    "٣.5",
    "2024-01-01T00:00:00.9999999+14:00",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59.9999-13:59",
    "\u{1c}\u{85} ",
    "example:x",
    "{weird}:x",
];

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("JSON numbers are finite", |f| f.is_finite())
            .prop_map(Value::from),
        prop::sample::select(TRICKY).prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::from),
    ];
    let key = prop::sample::select(
        &[
            "type",
            "eventTime",
            "eventTimeZoneOffset",
            "epcList",
            "childEPCs",
            "inputEPCList",
            "quantityList",
            "quantity",
            "epcClass",
            "bizStep",
            "persistentDisposition",
            "set",
            "readPoint",
            "id",
            "bizTransactionList",
            "bizTransaction",
            "sourceList",
            "source",
            "sensorElementList",
            "sensorMetadata",
            "sensorReport",
            "time",
            "ilmd",
            "#text",
            "@context",
            "rdfs:comment",
            "example:x",
            "example:action",
            "{x/}y",
            "fooList",
            "",
        ][..],
    );
    leaf.prop_recursive(6, 96, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..7).prop_map(|members| Value::Object(
                members
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(seeded::seeded(500))]

    /// Any JSON at all, under any context: an id or an error, never a panic; an id exactly for
    /// an object with a type.
    #[test]
    fn any_json_has_an_id_or_an_error(
        kind in prop::sample::select(&KINDS[..]),
        members in any_json(),
        context in any_json(),
    ) {
        let typed = members.get("type").is_some_and(Value::is_string);
        prop_assert_eq!(epcis::event_hash_id(&members, Some(&context)).is_ok(), typed);
        let mut event = match members {
            Value::Object(m) => Value::Object(m),
            other => json!({ "example:x": other }),
        };
        event["type"] = json!(kind);
        let id = epcis::event_hash_id(&event, Some(&context)).unwrap();
        prop_assert!(id.starts_with("ni:///sha-256;") && id.ends_with("?ver=CBV2.0"));
    }

    /// The same event written otherwise has the same id: its vocabulary as Web URIs, its time
    /// at another offset, with another id, record time, error declaration and comment.
    #[test]
    fn the_same_event_written_otherwise(seed in any::<u64>()) {
        let mut r = ChaCha8Rng::seed_from_u64(seed);
        let kind = pick(&mut r, &KINDS);
        let event = event(&mut r, kind);
        let context = contexts()[r.gen_range(0..3)].clone();
        let id = epcis::event_hash_id(&event, Some(&context)).unwrap();
        let mut same = as_web_uris(&event);
        // A leap second is kept as written (the reference implementation cannot read it).
        if let Ok(t) = DateTime::parse_from_rfc3339(event["eventTime"].as_str().unwrap())
            && t.nanosecond() < 1_000_000_000
        {
            let offset = FixedOffset::east_opt(r.gen_range(-13 * 60..14 * 60) * 60).unwrap();
            same["eventTime"] = json!(t.with_timezone(&offset).to_rfc3339());
        }
        same["eventID"] = json!(id);
        same["recordTime"] = json!("2026-01-01T00:00:00Z");
        same["errorDeclaration"] = json!({ "declarationTime": "2026-01-01T00:00:00Z" });
        same["rdfs:comment"] = json!("written otherwise");
        prop_assert_eq!(
            epcis::pre_hash(&same, Some(&context)).unwrap(),
            epcis::pre_hash(&event, Some(&context)).unwrap()
        );
    }
}
