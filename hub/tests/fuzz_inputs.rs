//! The hub's fuzz inputs replayed without cargo-fuzz: every seed of `fuzz/corpus/` and every
//! input a fuzz run ever broke (`fuzz/regressions/`) for `sync_request` and `verify_batch`,
//! through the fuzz targets' own harness. A seed named `ok-…` must be accepted and one named
//! `bad-…` refused.
//!
//! `write_seed_corpus` (ignored) writes the seeds of the hub's and the device's sync targets,
//! the token target and the batch target from the demo data set:
//! `cargo test -p custodian-hub --test fuzz_inputs -- --ignored`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

#[path = "../../fuzz/harness/hub.rs"]
mod hub_harness;

use std::path::{Path, PathBuf};

use automerge::AutoCommit;
use automerge::sync::{State, SyncDoc};
use custodian_hub::HubError;
use custodian_ledger::Event;
use custodian_sync::identity::EnrollmentToken;
use custodian_sync::protocol::{self, DocMessage, SyncResponse};
use hub_harness::Hub;
use serde_json::json;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, by name.
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Replays the seeds (each named for its outcome) and the regressions of `target`.
fn replay<T, E: std::fmt::Display>(target: &str, mut run: impl FnMut(&[u8]) -> Result<T, E>) {
    let seeds = inputs("corpus", target);
    assert!(!seeds.is_empty(), "fuzz/corpus/{target} holds no seed");
    for (name, data) in &seeds {
        let outcome = run(data);
        if name.starts_with("ok-") {
            assert!(
                outcome.is_ok(),
                "{target}/{name}: {}",
                outcome.err().unwrap()
            );
        } else if name.starts_with("bad-") {
            assert!(outcome.is_err(), "{target}/{name} was accepted");
        }
    }
    for (_, data) in inputs("regressions", target) {
        let _ = run(&data);
    }
}

#[test]
fn sync_request_inputs() {
    let mut hub = Hub::new();
    replay("sync_request", |data| hub.sync_request(data));
}

#[test]
fn sync_requests_are_refused_with_their_reason() {
    let mut hub = Hub::new();
    let err = hub.sync_request(b"{\"v\": 1}").unwrap_err();
    assert!(
        matches!(&err, HubError::BadRequest(m) if m.contains("not a zstd body")),
        "{err:?}"
    );
    let err = hub
        .sync_request(&protocol::encode(&json!({ "v": 1, "upload": [] })))
        .unwrap_err();
    assert!(
        matches!(&err, HubError::BadRequest(m) if m.contains("missing field")),
        "{err:?}"
    );
    // An ObjectEvent with a parent could be stored but not given back as EPCIS: the whole
    // round is refused, and nothing of it is kept.
    let first = hub.sync_request(&request(&[], 0, &[])).unwrap();
    let version = first.extract.as_ref().unwrap().version;
    let mut body = receipt(0).body;
    body.parent = Some(body.epcs[0].clone());
    let odd = Event::new(body);
    let err = hub
        .sync_request(&request(&[receipt(1), odd], version, &[]))
        .unwrap_err();
    assert!(
        matches!(&err, HubError::BadRequest(m) if m.contains("upload[1]") && m.contains("an ObjectEvent has no parent")),
        "{err:?}"
    );
    let fine = hub
        .sync_request(&request(&[receipt(1)], version, &[]))
        .unwrap();
    assert_eq!(fine.stored, 1, "the refused round stored nothing");
}

#[test]
fn verify_batch_inputs() {
    let mut hub = Hub::new();
    replay("verify_batch", |data| hub.verify_batch(data));
}

#[test]
fn verify_batches_are_refused_with_their_reason() {
    let mut hub = Hub::new();
    let err = hub.verify_batch(br#"{"codes": []}"#).unwrap_err();
    assert!(
        matches!(&err, HubError::BadRequest(m) if m == "the batch has no codes"),
        "{err:?}"
    );
    let many = json!({ "codes": vec!["x"; 1_001] }).to_string();
    let err = hub.verify_batch(many.as_bytes()).unwrap_err();
    assert!(matches!(&err, HubError::TooLarge(_)), "{err:?}");
    let report = hub
        .verify_batch(br#"{"codes": ["not a code", {"gtin": "1", "serial": "2"}]}"#)
        .unwrap();
    assert_eq!(report.summary.get("unreadable"), Some(&2));
}

fn serials() -> Vec<serde_json::Value> {
    include_str!("../../fixtures/demo/serials.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn asn_events() -> Vec<Event> {
    custodian_ledger::event::events_from_json(include_str!(
        "../../fixtures/demo/asn-0001.events.json"
    ))
    .unwrap()
}

/// A sync request of version 1 as a device sends it.
fn request(upload: &[Event], extract_version: u64, docs: &[DocMessage]) -> Vec<u8> {
    protocol::encode(&json!({
        "v": protocol::PROTOCOL_VERSION,
        "upload": upload,
        "upload_through": upload.len(),
        "download_after": 0,
        "extract_version": extract_version,
        "extract_deltas": true,
        "known_docs": docs.iter().map(|d| d.doc.clone()).collect::<Vec<_>>(),
        "docs": docs,
    }))
}

/// A receipt at the device's site of the `n`th unit of the demo ASN, recorded by the device.
fn receipt(n: usize) -> Event {
    let shipping = asn_events()
        .into_iter()
        .find(|e| e.body.biz_step == custodian_ledger::event::BizStep::Shipping)
        .unwrap();
    let mut body = shipping.body.clone();
    body.event_type = custodian_ledger::event::EventType::ObjectEvent;
    body.action = custodian_ledger::event::Action::Observe;
    body.biz_step = custodian_ledger::event::BizStep::Receiving;
    body.disposition = Some(custodian_ledger::event::Disposition::InProgress);
    body.event_time = chrono::DateTime::parse_from_rfc3339("2026-11-20T09:00:00+01:00").unwrap();
    body.epcs = vec![shipping.body.epcs[n % shipping.body.epcs.len()].clone()];
    body.parent = None;
    body.source = None;
    body.destination = None;
    body.recorder = custodian_ledger::Recorder {
        org: hub_harness::DEVICE_ORG.into(),
        site: hub_harness::DEVICE_SITE.into(),
        device: hub_harness::DEVICE.into(),
    };
    Event::new(body)
}

fn write(target: &str, name: &str, data: &[u8]) {
    let dir = fuzz_dir().join("corpus").join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
}

#[test]
#[ignore = "writes the seed corpus; run by hand when the wire format changes"]
fn write_seed_corpus() {
    let mut hub = Hub::new();

    // The hub's side of a sync: requests as devices send them, and some it must refuse.
    let empty = request(&[], 0, &[]);
    let first = hub.sync_request(&empty).unwrap();
    write("sync_request", "ok-first-round", &empty);
    let receipts = request(
        &[receipt(0), receipt(1)],
        first.extract.as_ref().unwrap().version,
        &[],
    );
    write("sync_request", "ok-receipts", &receipts);
    let mut doc = AutoCommit::new();
    // A document the hub introduced in the first round (the manifest of the shipment to the
    // device's organisation), as a device that lacks it answers.
    let offered = &first
        .docs
        .first()
        .expect("the first round offers a document")
        .doc;
    let message = doc.sync().generate_sync_message(&mut State::new()).unwrap();
    let with_doc = request(&[], 1, &[DocMessage::new(offered, message)]);
    write("sync_request", "ok-document-message", &with_doc);
    let mut foreign = receipt(2);
    foreign.body.recorder.device = "dev-someone-else".into();
    let foreign = Event::new(foreign.body);
    write(
        "sync_request",
        "bad-another-devices-event",
        &request(&[foreign], 1, &[]),
    );
    write(
        "sync_request",
        "bad-version-2",
        &protocol::encode(
            &json!({ "v": 2, "upload": [], "upload_through": 0, "download_after": 0,
            "extract_version": 0, "known_docs": [], "docs": [] }),
        ),
    );
    write("sync_request", "bad-plain-json", br#"{"v": 1}"#);

    // The device's side: what this hub answers.
    let mut fresh = Hub::new();
    let whole = fresh.sync_request(&empty).unwrap();
    write("sync_response", "ok-first-round", &protocol::encode(&whole));
    let after_receipts = fresh.sync_request(&receipts).unwrap();
    write(
        "sync_response",
        "ok-after-receipts",
        &protocol::encode(&after_receipts),
    );
    let mut tampered: SyncResponse = whole.clone();
    tampered.events[0].body.event_time =
        chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z").unwrap();
    write(
        "sync_response",
        "bad-tampered-event",
        &protocol::encode(&tampered),
    );
    write("sync_response", "bad-not-zstd", b"{\"v\": 1}");

    // Enrollment tokens as the hub issues them, with its real CA certificate.
    let tmp = tempfile::tempdir().unwrap();
    let tls =
        custodian_hub::tls::load_or_create(tmp.path(), &["127.0.0.1".parse().unwrap()]).unwrap();
    let token = hub
        .registry
        .create_token_at(
            "dist-b",
            "dc-oakland",
            "https://127.0.0.1:4443",
            &tls.ca_der,
            chrono::Duration::days(30),
            chrono::DateTime::parse_from_rfc3339("2026-11-30T12:00:00Z")
                .unwrap()
                .to_utc(),
        )
        .unwrap();
    write("token", "ok-issued", token.as_bytes());
    let mut old = EnrollmentToken::decode(&token).unwrap();
    old.expires = None;
    write("token", "ok-without-expiry", old.encode().as_bytes());
    let mut expired = old.clone();
    expired.expires = Some("2026-11-30T00:00:00Z".into());
    write("token", "bad-expired", expired.encode().as_bytes());
    let mut not_a_cert = old.clone();
    not_a_cert.ca = "AAAA".into();
    write(
        "token",
        "bad-not-a-certificate",
        not_a_cert.encode().as_bytes(),
    );
    write(
        "token",
        "bad-truncated",
        &token.as_bytes()[..token.len() - 7],
    );

    // Verification batches: the demo serials in every form a scanner reads, and keys.
    let s = serials();
    let str_of = |v: &serde_json::Value, k: &str| v[k].as_str().unwrap().to_string();
    write(
        "verify_batch",
        "ok-every-form",
        json!({ "codes": [
            str_of(&s[0], "element_string"),
            str_of(&s[1], "bracketed"),
            str_of(&s[2], "digital_link"),
            { "gtin": str_of(&s[3], "gtin"), "serial": str_of(&s[3], "serial") },
            "(01)04012345000016(21)NEVERISSUED",
            "(01)04012345000016",
        ] })
        .to_string()
        .as_bytes(),
    );
    write("verify_batch", "bad-no-codes", br#"{"codes": []}"#);
    write(
        "verify_batch",
        "bad-not-a-list",
        br#"{"codes": "0104012345000016"}"#,
    );
}
