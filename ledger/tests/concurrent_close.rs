//! Closing one receipt on two devices offline, and scanning into a receipt another device closed
//! meanwhile. Both closes (who, when, with which discrepancies) survive the merge and show on
//! every device; a scan no close counted is kept and shown for review. Orders picked on two
//! devices share their picks (events) and keep their closes on the device that made them.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use automerge::sync::{self, SyncDoc};
use automerge::{AutoCommit, ROOT, transaction::Transactable};
use chrono::{DateTime, FixedOffset};
use custodian_ledger::event::{Action, BizStep, BizTransaction, Disposition, EventType};
use custodian_ledger::extract::{Org, RegistryExtract};
use custodian_ledger::{
    Epc, Event, EventBody, Ledger, ManifestStatus, OrderStatus, Recorder, Step, VerdictKind, docs,
};
use custodian_scanner::{Gtin, check_digit};

const ASN: &str = "ASN-7";

fn drill() -> Gtin {
    let d = "0401234500001";
    Gtin::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

fn unit(serial: &str) -> Epc {
    Epc::Unit {
        gtin: drill(),
        serial: serial.into(),
    }
}

fn code(serial: &str) -> String {
    format!("01{}21{serial}", drill())
}

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

/// acme's shipment of U0..U7 to dist-a under ASN-7.
fn shipment() -> Event {
    Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: BizStep::Shipping,
        disposition: Some(Disposition::InTransit),
        event_time: t("2026-01-01T08:00:00Z"),
        epcs: (0..8).map(|i| unit(&format!("U{i}"))).collect(),
        parent: None,
        biz_transactions: vec![BizTransaction {
            kind: "desadv".into(),
            id: ASN.into(),
        }],
        source: Some("acme".into()),
        destination: Some("dist-a".into()),
        recorder: Recorder {
            org: "acme".into(),
            site: "plant".into(),
            device: "hub".into(),
        },
        extension: Default::default(),
    })
}

fn org(id: &str) -> Org {
    Org {
        id: id.into(),
        name: id.into(),
        role: "retailer".into(),
        market: "DE".into(),
        gln: "4012345000009".into(),
    }
}

fn device(dir: &std::path::Path, name: &str) -> Ledger {
    let mut l = Ledger::open(&dir.join(name)).unwrap();
    l.set_recorder(&Recorder {
        org: "dist-a".into(),
        site: "dc".into(),
        device: name.into(),
    })
    .unwrap();
    l.set_extract(&RegistryExtract {
        version: 1,
        orgs: vec![org("acme"), org("dist-a"), org("retail-c")],
        ..RegistryExtract::default()
    })
    .unwrap();
    l.store_events(&[shipment()], false).unwrap();
    l
}

fn doc_id() -> String {
    docs::manifest_doc_id("acme", ASN)
}

/// One sync session of a device's copy of the manifest's document with the hub's, by
/// Automerge's sync protocol, as the hub exchange runs it.
fn sync_doc(ledger: &Ledger, hub: &mut AutoCommit) {
    let mut doc = ledger.doc(&doc_id()).unwrap().unwrap_or_default();
    let (mut sd, mut sh) = (sync::State::new(), sync::State::new());
    for _ in 0..10 {
        let from_device = doc.sync().generate_sync_message(&mut sd);
        if let Some(m) = from_device.clone() {
            hub.sync().receive_sync_message(&mut sh, m).unwrap();
        }
        let from_hub = hub.sync().generate_sync_message(&mut sh);
        if let Some(m) = from_hub.clone() {
            doc.sync().receive_sync_message(&mut sd, m).unwrap();
        }
        if from_device.is_none() && from_hub.is_none() {
            break;
        }
    }
    ledger.save_doc(&doc_id(), &mut doc).unwrap();
}

/// Everything `from` recorded itself, stored in `to` (what the hub relays).
fn send_events(from: &Ledger, to: &mut Ledger) {
    let events: Vec<Event> = from
        .local_events_after(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .collect();
    to.store_events(&events, false).unwrap();
}

/// Two devices of dist-a that synced the hub's document of ASN-7 once, and the hub's copy.
fn two_devices(dir: &std::path::Path) -> (Ledger, Ledger, AutoCommit) {
    let mut hub = docs::new_manifest_doc(ASN, b"hub").unwrap();
    let a = device(dir, "dev-a");
    let b = device(dir, "dev-b");
    sync_doc(&a, &mut hub);
    sync_doc(&b, &mut hub);
    (a, b, hub)
}

/// Both devices exchange their events and their documents through the hub.
fn merge(a: &mut Ledger, b: &mut Ledger, hub: &mut AutoCommit) {
    send_events(a, b);
    send_events(b, a);
    sync_doc(a, hub);
    sync_doc(b, hub);
    sync_doc(a, hub);
}

fn receive(l: &mut Ledger, serials: &[&str], at: &str) {
    for s in serials {
        let v = l.scan(&code(s), Step::Receiving, Some(ASN), t(at)).unwrap();
        assert!(v.event.is_some(), "{s}: {v:?}");
    }
}

fn uris(serials: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = serials.iter().map(|s| unit(s).uri()).collect();
    v.sort();
    v
}

#[test]
fn two_devices_closing_one_receipt_offline_both_closes_survive_the_merge() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, mut b, mut hub) = two_devices(tmp.path());
    receive(
        &mut a,
        &["U0", "U1", "U2", "U3"],
        "2026-01-02T09:00:00+01:00",
    );
    receive(&mut b, &["U4", "U5"], "2026-01-02T09:10:00+01:00");
    a.close_manifest(ASN, t("2026-01-02T10:00:00+01:00"))
        .unwrap();
    b.close_manifest(ASN, t("2026-01-02T10:05:00+01:00"))
        .unwrap();

    merge(&mut a, &mut b, &mut hub);

    let on_a = a.manifest(ASN).unwrap();
    let on_b = b.manifest(ASN).unwrap();
    assert_eq!(on_a, on_b, "both devices show the same receipt");
    assert_eq!(on_a.status, ManifestStatus::Closed);
    assert_eq!(on_a.progress.scanned, 6);
    let closes: Vec<(&str, Option<&str>, &str, Option<&str>)> = on_a
        .closes
        .iter()
        .map(|c| {
            (
                c.by.as_str(),
                c.org.as_deref(),
                c.at.as_str(),
                c.note.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        closes,
        [
            (
                "dev-a",
                Some("dist-a"),
                "2026-01-02T10:00:00+01:00",
                Some("4 missing")
            ),
            (
                "dev-b",
                Some("dist-a"),
                "2026-01-02T10:05:00+01:00",
                Some("6 missing")
            ),
        ],
        "both closes, who and when"
    );
    let missing = |i: usize| {
        let mut m = on_a.closes[i].discrepancies.clone().unwrap().missing;
        m.sort();
        m
    };
    assert_eq!(missing(0), uris(&["U4", "U5", "U6", "U7"]));
    assert_eq!(missing(1), uris(&["U0", "U1", "U2", "U3", "U6", "U7"]));
    // The fields that name one close name the first.
    assert_eq!(on_a.closed_by.as_deref(), Some("dev-a"));
    // Each close saw only its own device's scans: no close stands for the receipt as it is
    // now, so it waits for review; nothing was scanned after a close.
    assert!(on_a.after_close.is_empty(), "{:?}", on_a.after_close);
    assert_eq!(on_a.review.len(), 1, "{:?}", on_a.review);
    assert!(on_a.review[0].contains("dev-a"), "{:?}", on_a.review);
    assert!(on_a.review[0].contains("dev-b"), "{:?}", on_a.review);

    // Closing again, having seen both, settles it; both earlier closes stay on record.
    a.close_manifest(ASN, t("2026-01-02T11:00:00+01:00"))
        .unwrap();
    sync_doc(&a, &mut hub);
    sync_doc(&b, &mut hub);
    let settled = b.manifest(ASN).unwrap();
    assert_eq!(settled, a.manifest(ASN).unwrap());
    assert!(settled.review.is_empty(), "{:?}", settled.review);
    let by: Vec<(&str, &str)> = settled
        .closes
        .iter()
        .map(|c| (c.by.as_str(), c.at.as_str()))
        .collect();
    assert_eq!(
        by,
        [
            ("dev-b", "2026-01-02T10:05:00+01:00"),
            ("dev-a", "2026-01-02T11:00:00+01:00")
        ]
    );
    assert_eq!(settled.closes[1].note.as_deref(), Some("2 missing"));
}

#[test]
fn a_scan_into_a_receipt_closed_elsewhere_is_kept_and_shown_for_review() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, mut b, mut hub) = two_devices(tmp.path());
    receive(
        &mut a,
        &["U0", "U1", "U2", "U3", "U4", "U5"],
        "2026-01-02T09:00:00+01:00",
    );
    a.close_manifest(ASN, t("2026-01-02T10:00:00+01:00"))
        .unwrap();
    // dev-b has seen neither dev-a's scans nor its close; its clock runs early.
    receive(&mut b, &["U6"], "2026-01-02T09:30:00+01:00");
    receive(&mut b, &["U3"], "2026-01-02T09:31:00+01:00");

    merge(&mut a, &mut b, &mut hub);

    for l in [&a, &b] {
        let m = l.manifest(ASN).unwrap();
        assert_eq!(m.status, ManifestStatus::Closed);
        assert_eq!(m.closes.len(), 1);
        assert_eq!(m.closes[0].by, "dev-a");
        assert_eq!(m.closes[0].note.as_deref(), Some("2 missing"));
        // The scans are recorded: U6 is received, U3 twice.
        assert_eq!(m.progress.scanned, 7);
        assert_eq!(m.progress.missing, uris(&["U7"]));
        assert_eq!(m.progress.duplicates, uris(&["U3"]));
        // And shown as what no close counted, by whom and when.
        let late: Vec<(String, Vec<(&str, &str)>)> = m
            .after_close
            .iter()
            .map(|x| {
                (
                    x.epc.clone(),
                    x.receipts
                        .iter()
                        .map(|r| (r.by.as_str(), r.at.as_str()))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            late,
            [
                (
                    unit("U3").uri(),
                    vec![
                        ("dev-a", "2026-01-02T09:00:00+01:00"),
                        ("dev-b", "2026-01-02T09:31:00+01:00")
                    ]
                ),
                (
                    unit("U6").uri(),
                    vec![("dev-b", "2026-01-02T09:30:00+01:00")]
                ),
            ]
        );
        assert_eq!(m.review.len(), 2, "{:?}", m.review);
        assert!(m.review[0].contains("again"), "{:?}", m.review);
        assert!(m.review[1].contains("dev-b"), "{:?}", m.review);
    }
    // dev-b's events reached dev-a's ledger: nothing was lost.
    let mine: Vec<String> = b
        .local_events_after(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.id.0)
        .collect();
    let held: Vec<String> = a
        .local_events_after(0, usize::MAX)
        .unwrap()
        .into_iter()
        .map(|(_, e)| e.id.0)
        .collect();
    assert_eq!(mine.len(), 2);
    let all = a
        .export_epcis(t("2026-01-03T00:00:00Z"))
        .unwrap()
        .to_string();
    for id in &mine {
        assert!(!held.contains(id), "dev-a recorded none of dev-b's scans");
        let hex = id.rsplit(';').next().unwrap();
        assert!(all.contains(hex), "dev-b's event {id} is in dev-a's ledger");
    }

    // dev-b, having seen the close and the scans, closes too: the review is settled.
    b.close_manifest(ASN, t("2026-01-02T10:30:00+01:00"))
        .unwrap();
    sync_doc(&b, &mut hub);
    sync_doc(&a, &mut hub);
    let m = a.manifest(ASN).unwrap();
    assert_eq!(m.closes.len(), 2);
    assert!(m.after_close.is_empty(), "{:?}", m.after_close);
    assert!(m.review.is_empty(), "{:?}", m.review);
}

/// What a device wrote when it closed a receipt before closes were kept per device.
fn close_the_old_way(doc: &mut AutoCommit, device: &str, at: &str, note: &str, missing: &[&str]) {
    let progress = serde_json::json!({
        "expected": 8, "scanned": 8 - missing.len(), "missing": uris(missing),
        "unexpected": [], "wrong_product": [], "duplicates": [],
    });
    doc.put(ROOT, "status", "closed").unwrap();
    doc.put(ROOT, "closed_by", device).unwrap();
    doc.put(ROOT, "closed_at", at).unwrap();
    doc.put(ROOT, "closing_note", note).unwrap();
    doc.put(ROOT, "discrepancies", progress.to_string())
        .unwrap();
    doc.commit();
}

#[test]
fn receipts_closed_before_closes_were_kept_per_device_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut a, mut b, mut hub) = two_devices(tmp.path());
    receive(
        &mut a,
        &["U0", "U1", "U2", "U3", "U4", "U5", "U6"],
        "2026-01-02T09:00:00+01:00",
    );
    send_events(&a, &mut b);
    // Two older devices closed offline, each writing the single fields; the document kept
    // both writes as a conflict.
    let mut old_1 = hub.fork();
    let mut old_2 = hub.fork();
    close_the_old_way(
        &mut old_1,
        "old-1",
        "2026-01-02T10:00:00+01:00",
        "1 missing",
        &["U7"],
    );
    close_the_old_way(
        &mut old_2,
        "old-2",
        "2026-01-02T10:01:00+01:00",
        "1 missing",
        &["U7"],
    );
    hub.merge(&mut old_1).unwrap();
    hub.merge(&mut old_2).unwrap();
    sync_doc(&a, &mut hub);
    let m = a.manifest(ASN).unwrap();
    assert_eq!(m.status, ManifestStatus::Closed);
    let by: Vec<&str> = m.closes.iter().map(|c| c.by.as_str()).collect();
    assert_eq!(by, ["old-1", "old-2"]);
    assert_eq!(m.closes[0].at, "2026-01-02T10:00:00+01:00");
    assert_eq!(m.closes[0].note.as_deref(), Some("1 missing"));
    assert_eq!(
        m.closes[1].discrepancies.as_ref().unwrap().missing,
        uris(&["U7"])
    );
    assert_eq!(m.closed_by.as_deref(), Some("old-1"));
    assert!(m.review.is_empty(), "{:?}", m.review);

    // A newer device closing keeps the older closes.
    sync_doc(&b, &mut hub);
    b.close_manifest(ASN, t("2026-01-02T11:00:00+01:00"))
        .unwrap();
    sync_doc(&b, &mut hub);
    sync_doc(&a, &mut hub);
    let m = a.manifest(ASN).unwrap();
    let by: Vec<&str> = m.closes.iter().map(|c| c.by.as_str()).collect();
    assert_eq!(by, ["old-1", "old-2", "dev-b"]);
    assert_eq!(m, b.manifest(ASN).unwrap());

    // A document closed once the old way reads as one close; an open one as open.
    let mut once = docs::new_manifest_doc(ASN, b"hub").unwrap();
    close_the_old_way(
        &mut once,
        "old-1",
        "2026-01-02T10:00:00+01:00",
        "no discrepancy",
        &[],
    );
    let state = docs::read_manifest_state(&once);
    assert_eq!(state.status, ManifestStatus::Closed);
    assert_eq!(state.closes.len(), 1);
    assert_eq!(state.closes[0].by, "old-1");
    let open = docs::read_manifest_state(&docs::new_manifest_doc(ASN, b"hub").unwrap());
    assert_eq!((open.status.as_str(), open.closes.len()), ("open", 0));
}

#[test]
fn an_order_picked_on_two_devices_shows_every_pick_and_each_device_keeps_its_close() {
    let tmp = tempfile::tempdir().unwrap();
    let mut a = device(tmp.path(), "dev-a");
    let mut b = device(tmp.path(), "dev-b");
    // The ERP handed the same order to both devices' site.
    let order = format!("order,to,gtin,quantity\nSO-1,retail-c,{},3\n", drill());
    a.import_orders_csv(&order).unwrap();
    b.import_orders_csv(&order).unwrap();
    let at = t("2026-01-02T09:00:00+01:00");
    for (l, serials) in [(&mut a, ["P0", "P1"]), (&mut b, ["P2", "P3"])] {
        for s in serials {
            let v = l.scan(&code(s), Step::Shipping, Some("SO-1"), at).unwrap();
            assert_eq!(v.verdict, VerdictKind::Ok, "{}", v.reason);
        }
    }
    let (_, shipped) = a
        .close_order("SO-1", t("2026-01-02T10:00:00+01:00"))
        .unwrap();
    assert_eq!(
        shipped["epcisBody"]["eventList"].as_array().unwrap().len(),
        2
    );
    send_events(&a, &mut b);
    send_events(&b, &mut a);

    // Every pick shows on both devices, the one over the order's quantity too.
    for l in [&a, &b] {
        let p = l.order("SO-1").unwrap();
        let mut units = p.units.clone();
        units.sort();
        assert_eq!(units, uris(&["P0", "P1", "P2", "P3"]));
        assert_eq!((p.lines[0].quantity, p.lines[0].picked, p.left), (3, 4, 0));
        // The shipment the customer receives against holds every unit picked.
        assert_eq!(l.manifest("SO-1").unwrap().progress.expected, 4);
    }
    // The order itself is the device's own: dev-a's close is dev-a's, and dev-b, seeing the
    // order picked in full, picks nothing more.
    assert_eq!(a.order("SO-1").unwrap().status, OrderStatus::Shipped);
    assert_eq!(b.order("SO-1").unwrap().status, OrderStatus::Open);
    let v = b
        .scan(&code("P4"), Step::Shipping, Some("SO-1"), at)
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::NotOnManifest, "{}", v.reason);
    assert!(v.event.is_none());
}
