//! The hub's sync endpoint, in process: authentication, authorisation and idempotence.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::DateTime;
use custodian_hub::{HubError, Registry, demo, exchange};
use custodian_ledger::event::{Action, BizStep, Disposition, EventType};
use custodian_ledger::{Epc, Event, EventBody, Recorder};
use custodian_sync::identity::sign_request;
use custodian_sync::protocol::{self, PROTOCOL_VERSION, SyncRequest, SyncResponse};
use ed25519_dalek::SigningKey;

struct Fixture {
    _tmp: tempfile::TempDir,
    registry: Registry,
    device: String,
    key: SigningKey,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap();
    demo::seed(&registry).unwrap();
    let token = registry
        .create_token("dist-b", "dc-oakland", "https://127.0.0.1:1", b"ca", 1)
        .unwrap();
    let token = custodian_sync::identity::EnrollmentToken::decode(&token).unwrap();
    let key = SigningKey::from_bytes(&[9; 32]);
    let device = registry
        .enroll(
            &token.secret,
            &STANDARD.encode(key.verifying_key().to_bytes()),
            "test",
        )
        .unwrap();
    Fixture {
        _tmp: tmp,
        registry,
        device: device.id,
        key,
    }
}

fn receiving(recorder: Recorder, serial_line: usize) -> Event {
    let serials = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/demo/serials.jsonl"
    ))
    .unwrap();
    let s: serde_json::Value =
        serde_json::from_str(serials.lines().nth(serial_line).unwrap()).unwrap();
    let epc = Epc::parse(&format!(
        "https://id.gs1.org/01/{}/21/{}",
        s["gtin"].as_str().unwrap(),
        s["serial"].as_str().unwrap()
    ))
    .unwrap();
    Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: BizStep::Receiving,
        disposition: Some(Disposition::InProgress),
        event_time: DateTime::parse_from_rfc3339("2026-11-10T10:00:00-08:00").unwrap(),
        epcs: vec![epc],
        parent: None,
        biz_transactions: vec![],
        source: None,
        destination: None,
        recorder,
    })
}

fn request(upload: Vec<Event>) -> Vec<u8> {
    protocol::encode(&SyncRequest {
        v: PROTOCOL_VERSION,
        upload,
        upload_through: 1,
        download_after: 0,
        extract_version: 0,
        known_docs: vec![],
        docs: vec![],
    })
}

impl Fixture {
    fn me(&self) -> Recorder {
        Recorder {
            org: "dist-b".into(),
            site: "dc-oakland".into(),
            device: self.device.clone(),
        }
    }

    fn send(&self, counter: u64, body: &[u8]) -> Result<SyncResponse, HubError> {
        let sig = sign_request(&self.key, "POST", "/v1/sync", counter, body);
        exchange::handle(&self.registry, &self.device, counter, &sig, body)
            .map(|b| protocol::decode(&b).unwrap())
    }
}

#[test]
fn a_diverted_unit_is_flagged_once_however_often_it_is_uploaded() {
    let f = fixture();
    let event = receiving(f.me(), 3); // unit 3 is on the pallet shipped to dist-a
    let first = f.send(1, &request(vec![event.clone()])).unwrap();
    assert_eq!(first.stored, 1);
    assert_eq!(first.flags_raised, 1);
    assert!(
        first.extract.is_some(),
        "a device with version 0 gets the extract"
    );
    assert!(
        first.docs.iter().any(|d| d.doc == "flags/dist-b"),
        "the flags document is introduced"
    );
    let replay = f.send(2, &request(vec![event])).unwrap();
    assert_eq!(replay.stored, 0);
    assert_eq!(replay.flags_raised, 0);
    assert_eq!(f.registry.flags().unwrap().len(), 1);
}

#[test]
fn a_unit_not_on_any_shipment_to_someone_else_raises_nothing() {
    let f = fixture();
    let event = receiving(f.me(), 150); // issued, never shipped
    let r = f.send(1, &request(vec![event])).unwrap();
    assert_eq!((r.stored, r.flags_raised), (1, 0));
}

#[test]
fn refusals_store_nothing() {
    let f = fixture();
    let as_other_org = receiving(
        Recorder {
            org: "dist-a".into(),
            ..f.me()
        },
        3,
    );
    let err = f.send(1, &request(vec![as_other_org])).unwrap_err();
    assert!(
        matches!(&err, HubError::Forbidden(m) if m.contains("recorded as dist-a")),
        "{err}"
    );

    let mut tampered = receiving(f.me(), 3);
    tampered.body.recorder.site = "elsewhere".into();
    let err = f.send(2, &request(vec![tampered])).unwrap_err();
    assert!(
        matches!(&err, HubError::BadRequest(m) if m.contains("does not match")),
        "{err}"
    );

    let body = request(vec![receiving(f.me(), 3)]);
    let sig = sign_request(&f.key, "POST", "/v1/sync", 3, &body);
    let mut altered = body.clone();
    altered.push(0);
    let err = exchange::handle(&f.registry, &f.device, 3, &sig, &altered).unwrap_err();
    assert!(
        matches!(&err, HubError::Unauthorized(m) if m.contains("does not verify")),
        "{err}"
    );

    let stranger = SigningKey::from_bytes(&[1; 32]);
    let sig = sign_request(&stranger, "POST", "/v1/sync", 4, &body);
    assert!(matches!(
        exchange::handle(&f.registry, &f.device, 4, &sig, &body),
        Err(HubError::Unauthorized(_))
    ));
    assert!(matches!(
        exchange::handle(&f.registry, "dev-nobody", 4, &sig, &body),
        Err(HubError::Unauthorized(_))
    ));

    let err = f.send(5, b"not zstd").unwrap_err();
    assert!(matches!(err, HubError::BadRequest(_)));
    assert!(
        f.registry.flags().unwrap().is_empty(),
        "nothing refused was stored or reconciled"
    );

    // A replayed request (same counter) is refused even though its signature is good.
    f.send(6, &body).unwrap();
    let err = f.send(6, &body).unwrap_err();
    assert!(
        matches!(&err, HubError::Unauthorized(m) if m.contains("replayed")),
        "{err}"
    );

    f.registry.revoke(&f.device).unwrap();
    let err = f.send(7, &request(vec![])).unwrap_err();
    assert!(
        matches!(&err, HubError::Unauthorized(m) if m.contains("revoked")),
        "{err}"
    );
}

#[test]
fn tokens_are_single_use() {
    let f = fixture();
    let token = f
        .registry
        .create_token("dist-a", "dc-hamburg", "https://127.0.0.1:1", b"ca", 1)
        .unwrap();
    let secret = custodian_sync::identity::EnrollmentToken::decode(&token)
        .unwrap()
        .secret;
    let key = STANDARD.encode([3u8; 32]);
    f.registry.enroll(&secret, &key, "one").unwrap();
    let err = f.registry.enroll(&secret, &key, "two").unwrap_err();
    assert!(err.to_string().contains("already used"));
    assert!(
        f.registry
            .create_token("dist-a", "nowhere", "u", b"ca", 1)
            .is_err()
    );
    assert!(
        f.registry
            .create_token("nobody", "x", "u", b"ca", 1)
            .is_err()
    );
}
