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
use custodian_sync::identity::RequestAuth;
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
        extension: Default::default(),
    })
}

fn request(upload: Vec<Event>) -> Vec<u8> {
    protocol::encode(&SyncRequest {
        v: PROTOCOL_VERSION,
        upload,
        upload_through: 1,
        download_after: 0,
        extract_version: 0,
        extract_deltas: false,
        known_docs: vec![],
        docs: vec![],
        download_limit: None,
        flag_units_after: None,
        upload_after: None,
        answered: None,
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
        self.send_signed_by(&self.key, counter, body)
    }

    /// As [`Fixture::send`], in this device's name but signed with `key`.
    fn send_signed_by(
        &self,
        key: &SigningKey,
        counter: u64,
        body: &[u8],
    ) -> Result<SyncResponse, HubError> {
        let auth = RequestAuth::sign(
            key,
            &self.device,
            counter,
            chrono::Utc::now().timestamp_millis(),
            "POST",
            "/v1/sync",
            body,
        );
        exchange::handle(&self.registry, &auth, body).map(|b| protocol::decode(&b).unwrap())
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
    let raised = &f.registry.flags().unwrap()[0];
    let month = custodian_ledger::docs::flags_month_doc_id("dist-b", &raised.raised_at);
    assert!(
        first.docs.iter().any(|d| d.doc == month),
        "the flags document of the month the flag was raised in is introduced"
    );
    let replay = f.send(2, &request(vec![event])).unwrap();
    assert_eq!(replay.stored, 0);
    assert_eq!(replay.flags_raised, 0);
    assert_eq!(f.registry.flags().unwrap().len(), 1);
}

/// The registry keeps a count of the events it holds; a round adds the events it stored to it
/// once, so it must come out as the rows: an upload of new events, then one that replays some
/// of them beside a new one.
#[test]
fn the_kept_count_of_events_is_the_rows_after_rounds_with_new_and_replayed_events() {
    let f = fixture();
    let counted = || -> (i64, i64) {
        let db = rusqlite::Connection::open(f._tmp.path().join("hub.sqlite")).unwrap();
        db.query_row(
            "SELECT (SELECT events FROM event_totals), (SELECT count(*) FROM events)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
    };
    let (_, seeded) = counted();
    let (a, b, c) = (
        receiving(f.me(), 3),
        receiving(f.me(), 150),
        receiving(f.me(), 151),
    );
    let first = f.send(1, &request(vec![a.clone(), b.clone()])).unwrap();
    assert_eq!(first.stored, 2);
    assert_eq!(counted(), (seeded + 2, seeded + 2));
    let second = f.send(2, &request(vec![b, c, a])).unwrap();
    assert_eq!(second.stored, 1);
    assert_eq!(counted(), (seeded + 3, seeded + 3));
}

/// A unit never shipped anywhere is not diverted, but its receipt is out of sequence: the
/// receiver and the manufacturer, which holds it on record, each get one flag.
#[test]
fn a_unit_on_no_shipment_is_out_of_sequence_not_diverted() {
    let f = fixture();
    let event = receiving(f.me(), 150); // issued, never shipped
    let r = f.send(1, &request(vec![event])).unwrap();
    assert_eq!((r.stored, r.flags_raised), (1, 1));
    let flags = f.registry.flags().unwrap();
    let mut kinds: Vec<(&str, &str)> = flags
        .iter()
        .map(|f| (f.kind.as_str(), f.org.as_str()))
        .collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        [("out_of_sequence", "acme"), ("out_of_sequence", "dist-b")]
    );
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
    let now = chrono::Utc::now().timestamp_millis();
    let auth = RequestAuth::sign(&f.key, &f.device, 3, now, "POST", "/v1/sync", &body);
    let mut altered = body.clone();
    altered.push(0);
    let err = exchange::handle(&f.registry, &auth, &altered).unwrap_err();
    assert!(
        matches!(&err, HubError::Unauthorized(m) if m == exchange::REFUSED),
        "an altered body is refused like any other failure of authentication: {err}"
    );
    let lied_about_time = RequestAuth {
        clock_ms: now + 1,
        ..auth.clone()
    };
    assert!(matches!(
        exchange::handle(&f.registry, &lied_about_time, &body),
        Err(HubError::Unauthorized(_))
    ));

    let stranger = SigningKey::from_bytes(&[1; 32]);
    let forged = RequestAuth::sign(&stranger, &f.device, 4, now, "POST", "/v1/sync", &body);
    assert!(matches!(
        exchange::handle(&f.registry, &forged, &body),
        Err(HubError::Unauthorized(_))
    ));
    let nobody = RequestAuth {
        device: "dev-nobody".into(),
        ..forged
    };
    assert!(matches!(
        exchange::handle(&f.registry, &nobody, &body),
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
        matches!(&err, HubError::Unauthorized(m) if m == exchange::REFUSED),
        "{err}"
    );

    f.registry.revoke(&f.device).unwrap();
    let err = f.send(7, &request(vec![])).unwrap_err();
    assert!(
        matches!(&err, HubError::Forbidden(m) if m == exchange::REVOKED),
        "a revoked device signing its request is told it was revoked: {err}"
    );
    // Someone without its key learns nothing: the same refusal as for any unknown device.
    let stranger = SigningKey::from_bytes(&[99; 32]);
    let err = f
        .send_signed_by(&stranger, 8, &request(vec![]))
        .unwrap_err();
    assert!(
        matches!(&err, HubError::Unauthorized(m) if m == exchange::REFUSED),
        "{err}"
    );
}

/// Enrolls another device of `org` at `site` with a key from `seed`.
fn enroll(f: &Fixture, org: &str, site: &str, seed: u8) -> (String, SigningKey) {
    let token = f
        .registry
        .create_token(org, site, "https://127.0.0.1:1", b"ca", 1)
        .unwrap();
    let secret = custodian_sync::identity::EnrollmentToken::decode(&token)
        .unwrap()
        .secret;
    let key = SigningKey::from_bytes(&[seed; 32]);
    let d = f
        .registry
        .enroll(
            &secret,
            &STANDARD.encode(key.verifying_key().to_bytes()),
            "x",
        )
        .unwrap();
    (d.id, key)
}

fn event_at(
    step: BizStep,
    epc: &Epc,
    at: chrono::DateTime<chrono::Utc>,
    recorder: Recorder,
    dest: Option<&str>,
) -> Event {
    Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: step,
        disposition: Some(if step == BizStep::Shipping {
            Disposition::InTransit
        } else {
            Disposition::InProgress
        }),
        event_time: at.fixed_offset(),
        epcs: vec![epc.clone()],
        parent: None,
        biz_transactions: vec![],
        source: dest.map(|_| recorder.org.clone()),
        destination: dest.map(str::to_string),
        recorder,
        extension: Default::default(),
    })
}

/// Distributor A ships a unit on to distributor B (an authorised transfer). B's device clock is
/// three hours slow, so by its own clock B received the unit before A shipped it. The hub,
/// correcting for B's measured offset, sees the true order and raises nothing; the same events
/// from a device that hides its skew would raise a false diversion flag.
#[test]
fn a_slow_device_clock_raises_no_false_flag() {
    let f = fixture();
    let (a, a_key) = enroll(&f, "dist-a", "dc-hamburg", 21);
    let unit = receiving(f.me(), 4).body.epcs[0].clone(); // on the pallet shipped to dist-a
    let real_now = chrono::Utc::now();
    let skew = chrono::Duration::hours(3);
    let send = |device: &str,
                key: &SigningKey,
                counter: u64,
                clock: chrono::DateTime<chrono::Utc>,
                events: Vec<Event>| {
        let body = request(events);
        let auth = RequestAuth::sign(
            key,
            device,
            counter,
            clock.timestamp_millis(),
            "POST",
            "/v1/sync",
            &body,
        );
        protocol::decode::<SyncResponse>(&exchange::handle(&f.registry, &auth, &body).unwrap())
            .unwrap()
    };
    let me_a = Recorder {
        org: "dist-a".into(),
        site: "dc-hamburg".into(),
        device: a.clone(),
    };
    let shipped = event_at(
        BizStep::Shipping,
        &unit,
        real_now - chrono::Duration::minutes(30),
        me_a,
        Some("dist-b"),
    );
    send(&a, &a_key, 1, real_now, vec![shipped]);

    // B (the fixture's device, dist-b) with a clock three hours slow, honestly reported.
    let received = event_at(BizStep::Receiving, &unit, real_now - skew, f.me(), None);
    let r = send(&f.device, &f.key, 1, real_now - skew, vec![received]);
    assert_eq!(
        (r.stored, r.flags_raised),
        (1, 0),
        "no false diversion flag"
    );

    // Control: another dist-b device with the same slow event times whose requests claim the
    // right time: without a correction the hub sees a receipt before the transfer.
    let (c, c_key) = enroll(&f, "dist-b", "dc-oakland", 22);
    let me_c = Recorder {
        org: "dist-b".into(),
        site: "dc-oakland".into(),
        device: c.clone(),
    };
    let unit2 = receiving(f.me(), 5).body.epcs[0].clone();
    let me_a = Recorder {
        org: "dist-a".into(),
        site: "dc-hamburg".into(),
        device: a.clone(),
    };
    send(
        &a,
        &a_key,
        2,
        real_now,
        vec![event_at(
            BizStep::Shipping,
            &unit2,
            real_now - chrono::Duration::minutes(30),
            me_a,
            Some("dist-b"),
        )],
    );
    let r = send(
        &c,
        &c_key,
        1,
        real_now,
        vec![event_at(
            BizStep::Receiving,
            &unit2,
            real_now - skew,
            me_c,
            None,
        )],
    );
    assert_eq!(
        r.flags_raised, 1,
        "the uncorrected order looks like a diversion"
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

/// Every answer to `f`'s device from cursor 0 until the hub has no more: the events of each.
fn download_all(f: &Fixture, counter: &mut u64) -> Vec<Vec<Event>> {
    let mut after = 0;
    let mut answers = Vec::new();
    loop {
        *counter += 1;
        let body = protocol::encode(&SyncRequest::<Event> {
            v: PROTOCOL_VERSION,
            upload: vec![],
            upload_through: 0,
            download_after: after,
            extract_version: 0,
            extract_deltas: false,
            known_docs: vec![],
            docs: vec![],
            download_limit: None,
            flag_units_after: None,
            upload_after: None,
            answered: None,
        });
        let answer = f.send(*counter, &body).unwrap();
        assert!(answer.download_cursor >= after);
        after = answer.download_cursor;
        answers.push(answer.events);
        if !answer.more {
            return answers;
        }
        assert!(answers.len() < 1_000, "the download does not end");
    }
}

/// An answer carries as many events as fit in the hub's byte budget (and one at least, however
/// large), and the device asks again for the rest: ten thousand wide events (shipments of a
/// thousand units) would be half a gigabyte in one answer, past what a device reads.
#[test]
fn an_answer_carries_what_fits_in_its_bytes_and_the_rest_follows() {
    let f = fixture();
    // Another device of the site receives a few units: the device downloads those events.
    let (other, key) = enroll(&f, "dist-b", "dc-oakland", 33);
    let me = Recorder {
        device: other.clone(),
        ..f.me()
    };
    let body = request((3..9).map(|line| receiving(me.clone(), line)).collect());
    let auth = RequestAuth::sign(
        &key,
        &other,
        1,
        chrono::Utc::now().timestamp_millis(),
        "POST",
        "/v1/sync",
        &body,
    );
    exchange::handle(&f.registry, &auth, &body).unwrap();
    let mut counter = 0;
    let whole = download_all(&f, &mut counter);
    assert_eq!(whole.len(), 1, "the demo's events fit one answer");
    let all = &whole[0];
    assert!(all.len() >= 3, "{} events", all.len());
    let size = |e: &Event| serde_json::to_string(e).unwrap().len();

    // A byte apiece: each answer carries its one event.
    f.registry.set_answer_bytes(1);
    let one_each = download_all(&f, &mut counter);
    assert_eq!(one_each.len(), all.len());
    assert!(one_each.iter().all(|a| a.len() == 1));
    assert_eq!(&one_each.concat(), all);

    // Room for the first two events: the first answer carries those two.
    let two = size(&all[0]) + size(&all[1]);
    f.registry.set_answer_bytes(two + 8);
    let paged = download_all(&f, &mut counter);
    assert_eq!(
        paged[0].len(),
        2,
        "{:?}",
        paged.iter().map(Vec::len).collect::<Vec<_>>()
    );
    for answer in &paged {
        let bytes: usize = answer.iter().map(size).sum();
        assert!(
            answer.len() == 1 || bytes <= two + 8 + 64,
            "an answer of {} events and {bytes} bytes",
            answer.len()
        );
    }
    assert_eq!(&paged.concat(), all);
}
