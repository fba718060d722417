//! Verdicts at the moment of scanning, through `Ledger::scan`, one case per line.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::{DateTime, FixedOffset};
use custodian_ledger::event::{Action, BizStep, BizTransaction, Disposition, EventType};
use custodian_ledger::extract::{
    Alert, IssuerKey, Product, Recall, RegistryExtract, signed_payload,
};
use custodian_ledger::{Epc, Event, EventBody, Ledger, Recorder, Step, VerdictKind};
use custodian_scanner::{Gtin, Sscc, check_digit, element_string};
use ed25519_dalek::{Signer, SigningKey};

const GS: char = '\u{1d}';

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn gtin(item: &str) -> Gtin {
    let d = format!("040123450{item}");
    Gtin::parse(&format!("{d}{}", check_digit(&d))).unwrap()
}

fn sscc(n: u32) -> Sscc {
    let d = format!("14012345{n:09}");
    Sscc::parse(&format!("{d}{}", check_digit(&d))).unwrap()
}

fn unit(g: &Gtin, serial: &str) -> Epc {
    Epc::Unit {
        gtin: g.clone(),
        serial: serial.into(),
    }
}

fn maker() -> Recorder {
    Recorder {
        org: "acme".into(),
        site: "plant".into(),
        device: "hub".into(),
    }
}

fn event(step: BizStep, epcs: Vec<Epc>, parent: Option<Epc>, at: &str) -> Event {
    Event::new(EventBody {
        event_type: if parent.is_some() {
            EventType::AggregationEvent
        } else {
            EventType::ObjectEvent
        },
        action: if parent.is_some() {
            Action::Add
        } else {
            Action::Observe
        },
        biz_step: step,
        disposition: Some(Disposition::InProgress),
        event_time: t(at),
        epcs,
        parent,
        biz_transactions: if step == BizStep::Shipping {
            vec![BizTransaction {
                kind: "desadv".into(),
                id: "ASN-1".into(),
            }]
        } else {
            vec![]
        },
        source: (step == BizStep::Shipping).then(|| "acme".into()),
        destination: (step == BizStep::Shipping).then(|| "dist-a".into()),
        recorder: maker(),
        extension: Default::default(),
    })
}

struct World {
    _tmp: tempfile::TempDir,
    ledger: Ledger,
    key: SigningKey,
    drill: Gtin,
    level: Gtin,
    other: Gtin,
}

/// A device of dist-a holding ASN-1: a pallet (SSCC 1) of one case (SSCC 2) with drills D1..D3.
fn world() -> World {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(tmp.path()).unwrap();
    ledger
        .set_recorder(&Recorder {
            org: "dist-a".into(),
            site: "dc".into(),
            device: "dev-1".into(),
        })
        .unwrap();
    let key = SigningKey::from_bytes(&[5; 32]);
    let (drill, level, other) = (gtin("0001"), gtin("0002"), gtin("0009"));
    ledger
        .set_extract(&RegistryExtract {
            version: 1,
            orgs: vec![],
            products: vec![
                Product {
                    gtin: drill.to_string(),
                    name: "Drill".into(),
                    warranty_months: 24,
                    markets: vec!["DE".into()],
                    claim_threshold: 3,
                    proprietary: None,
                },
                Product {
                    gtin: level.to_string(),
                    name: "Level".into(),
                    warranty_months: 12,
                    markets: vec!["DE".into()],
                    claim_threshold: 3,
                    proprietary: None,
                },
            ],
            issuer_keys: vec![IssuerKey {
                id: "k".into(),
                public_key: STANDARD.encode(key.verifying_key().to_bytes()),
            }],
            recalls: vec![Recall {
                gtin: level.to_string(),
                lot: Some("BAD".into()),
                reason: "battery overheats".into(),
            }],
            alerts: vec![Alert {
                epc: unit(&drill, "FAKE").uri(),
                reason: "seized in customs".into(),
            }],
        })
        .unwrap();
    let units: Vec<Epc> = ["D1", "D2", "D3"].iter().map(|s| unit(&drill, s)).collect();
    let events = vec![
        event(
            BizStep::Commissioning,
            units.clone(),
            None,
            "2026-01-01T08:00:00+01:00",
        ),
        event(
            BizStep::Packing,
            units,
            Some(Epc::Logistic(sscc(2))),
            "2026-01-02T08:00:00+01:00",
        ),
        event(
            BizStep::Packing,
            vec![Epc::Logistic(sscc(2))],
            Some(Epc::Logistic(sscc(1))),
            "2026-01-02T09:00:00+01:00",
        ),
        event(
            BizStep::Shipping,
            vec![Epc::Logistic(sscc(1))],
            None,
            "2026-01-03T08:00:00+01:00",
        ),
    ];
    ledger.store_events(&events, false).unwrap();
    World {
        _tmp: tmp,
        ledger,
        key,
        drill,
        level,
        other,
    }
}

impl World {
    fn signed(&self, g: &Gtin, serial: &str) -> String {
        let sig = URL_SAFE_NO_PAD.encode(
            self.key
                .sign(&signed_payload(g.as_str(), serial))
                .to_bytes(),
        );
        element_string(&[("01", g.as_str()), ("21", serial), ("8030", &sig)])
    }

    fn scan(&mut self, raw: &str, step: Step, manifest: Option<&str>) -> (VerdictKind, String) {
        let v = self
            .ledger
            .scan(raw, step, manifest, t("2026-06-01T12:00:00+02:00"))
            .unwrap();
        (v.verdict, v.reason)
    }

    fn check(&mut self, raw: &str, manifest: Option<&str>, expect: VerdictKind, reason_has: &str) {
        let (kind, reason) = self.scan(raw, Step::Receiving, manifest);
        assert_eq!(kind, expect, "{raw:?}: {reason}");
        assert!(
            reason.contains(reason_has),
            "{raw:?}: {reason:?} lacks {reason_has:?}"
        );
    }
}

#[test]
fn verdicts_against_a_manifest() {
    let mut w = world();
    let (drill, level, other) = (w.drill.clone(), w.level.clone(), w.other.clone());
    let asn = Some("ASN-1");
    w.check(
        &format!("01{drill}21D1"),
        asn,
        VerdictKind::Ok,
        "is on ASN-1",
    );
    w.check(
        &format!("]d2{GS}01{drill}21D1\r\n"),
        asn,
        VerdictKind::Duplicate,
        "already scanned",
    );
    w.check(
        &format!("01{drill}21D9"),
        asn,
        VerdictKind::NotOnManifest,
        "not on ASN-1",
    );
    w.check(
        &format!("01{level}21L1"),
        asn,
        VerdictKind::WrongProduct,
        "is not on ASN-1",
    );
    w.check(
        &format!("01{other}21X"),
        asn,
        VerdictKind::WrongProduct,
        "is not on ASN-1",
    );
    w.check(
        &format!("00{}", sscc(2)),
        asn,
        VerdictKind::Ok,
        "3 units received",
    );
    w.check(
        &format!("00{}", sscc(1)),
        asn,
        VerdictKind::Duplicate,
        "already received",
    );
    w.check(
        &format!("00{}", sscc(7)),
        asn,
        VerdictKind::NotOnManifest,
        "not on ASN-1",
    );
    let m = w.ledger.manifest("ASN-1").unwrap();
    assert_eq!((m.progress.expected, m.progress.scanned), (3, 3));
    assert_eq!(
        m.progress.duplicates.len(),
        1,
        "D1 was received alone and again with its case"
    );
    assert_eq!(m.progress.unexpected.len(), 1);
    assert_eq!(m.progress.wrong_product.len(), 2);
}

/// The same aggregation by another recorder, or its reverse (an unpacking).
fn regroup(step: BizStep, epcs: Vec<Epc>, parent: Epc, at: &str) -> Event {
    let mut body = event(step, epcs, Some(parent), at).body;
    if step == BizStep::Unpacking {
        body.action = Action::Delete;
    }
    body.recorder = Recorder {
        org: "dist-a".into(),
        site: "dc".into(),
        device: "dev-1".into(),
    };
    Event::new(body)
}

#[test]
fn a_manifest_expects_what_was_packed_when_it_shipped() {
    let mut w = world();
    let drill = w.drill.clone();
    // Received whole, then the case is opened and a unit of another delivery goes onto the
    // pallet: neither changes what ASN-1 shipped or what its receipt received.
    w.check(
        &format!("00{}", sscc(1)),
        Some("ASN-1"),
        VerdictKind::Ok,
        "3 units received",
    );
    let units: Vec<Epc> = ["D1", "D2", "D3"].iter().map(|s| unit(&drill, s)).collect();
    w.ledger
        .store_events(
            &[
                regroup(
                    BizStep::Unpacking,
                    units,
                    Epc::Logistic(sscc(2)),
                    "2026-06-02T08:00:00+02:00",
                ),
                regroup(
                    BizStep::Packing,
                    vec![unit(&drill, "D4")],
                    Epc::Logistic(sscc(1)),
                    "2026-06-03T08:00:00+02:00",
                ),
            ],
            true,
        )
        .unwrap();
    let m = w.ledger.manifest("ASN-1").unwrap();
    assert_eq!(
        (m.progress.expected, m.progress.scanned),
        (3, 3),
        "{:?}",
        m.progress
    );
    assert!(m.progress.missing.is_empty(), "{:?}", m.progress.missing);
    assert!(
        m.progress.unexpected.is_empty(),
        "{:?}",
        m.progress.unexpected
    );
    // The case, received a second time now, holds nothing: no unit is counted twice for it.
    w.check(
        &format!("00{}", sscc(2)),
        Some("ASN-1"),
        VerdictKind::Duplicate,
        "already received",
    );
    let m = w.ledger.manifest("ASN-1").unwrap();
    assert!(
        m.progress.duplicates.is_empty(),
        "{:?}",
        m.progress.duplicates
    );
}

#[test]
fn verdicts_from_the_registry_extract_and_the_ledger() {
    let mut w = world();
    let (drill, level) = (w.drill.clone(), w.level.clone());
    let good = w.signed(&drill, "S1");
    w.check(&good, None, VerdictKind::Provisional, "signature verified");
    let forger = SigningKey::from_bytes(&[6; 32]);
    let forged_sig = URL_SAFE_NO_PAD.encode(
        forger
            .sign(&signed_payload(drill.as_str(), "S9"))
            .to_bytes(),
    );
    let forged = element_string(&[("01", drill.as_str()), ("21", "S9"), ("8030", &forged_sig)]);
    w.check(
        &forged,
        None,
        VerdictKind::SignatureInvalid,
        "does not verify",
    );
    w.check(
        &format!("01{drill}21FAKE"),
        None,
        VerdictKind::ReportedCounterfeit,
        "seized in customs",
    );
    w.check(
        &format!("01{level}10BAD{GS}21L7"),
        None,
        VerdictKind::Recalled,
        "battery overheats",
    );
    w.check(
        &format!("01{level}10OK{GS}21L7"),
        None,
        VerdictKind::Provisional,
        "Level",
    );
    w.check(
        &format!("01{drill}17260531{GS}21E1"),
        None,
        VerdictKind::Expired,
        "expired on 2026-05-31",
    );
    w.check(
        &format!("01{drill}21S2"),
        None,
        VerdictKind::Provisional,
        "nothing known against it",
    );
    w.check(
        "0104012345000013",
        None,
        VerdictKind::Unreadable,
        "check digit",
    );
    w.check(
        &format!("01{drill}"),
        None,
        VerdictKind::Unreadable,
        "no serial",
    );
    // A unit sold at retail and scanned again for sale is a clone.
    let (kind, _) = w.scan(&format!("01{drill}21S3"), Step::RetailSelling, None);
    assert_eq!(kind, VerdictKind::Provisional);
    let (kind, reason) = w.scan(&format!("01{drill}21S3"), Step::RetailSelling, None);
    assert_eq!(kind, VerdictKind::AlreadySold, "{reason}");
    let (kind, _) = w.scan(&format!("01{drill}21S3"), Step::Returning, None);
    assert_eq!(
        kind,
        VerdictKind::Provisional,
        "a return of a sold unit is expected"
    );
}

#[test]
fn every_scan_is_logged_and_only_facts_become_events() {
    let mut w = world();
    let drill = w.drill.clone();
    let before = w.ledger.event_count().unwrap();
    w.scan(&format!("01{drill}21D1"), Step::Receiving, Some("ASN-1"));
    w.scan(&format!("01{drill}21D1"), Step::Receiving, Some("ASN-1"));
    w.scan("garbage", Step::Receiving, Some("ASN-1"));
    assert_eq!(
        w.ledger.event_count().unwrap(),
        before + 1,
        "a duplicate and an unreadable code add no event"
    );
    let log = w.ledger.recent_scans(10).unwrap();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0].raw, "garbage");
    assert_eq!(log[0].verdict.verdict, VerdictKind::Unreadable);
}

#[test]
fn history_follows_a_unit_through_its_containers() {
    let mut w = world();
    let drill = w.drill.clone();
    w.scan(&format!("00{}", sscc(1)), Step::Receiving, Some("ASN-1"));
    let h = w
        .ledger
        .history(&format!("01{drill}21D2"), t("2026-06-01T12:00:00+02:00"))
        .unwrap();
    let steps: Vec<&str> = h.custody.chain.iter().map(|l| l.step.as_str()).collect();
    assert_eq!(steps, ["commissioning", "packing", "shipping", "receiving"]);
    assert_eq!(h.custody.custodian.as_deref(), Some("dist-a"));
    let w24 = h.warranty.unwrap();
    assert_eq!(
        (w24.months, w24.starts_at.as_str(), w24.in_period),
        (24, "manufacture", true)
    );
}

#[test]
fn a_quarantine_ranks_after_signature_alert_and_recall_and_before_expiry_sale_and_manifest() {
    let mut w = world();
    let (drill, level) = (w.drill.clone(), w.level.clone());
    let on = t("2026-05-01T09:00:00+02:00");
    let hold = |w: &mut World, code: &str| {
        w.ledger.quarantine(code, "crushed carton", on).unwrap();
    };
    // On the manifest, but held: the hold decides, and the receipt is still recorded.
    let d1 = format!("01{drill}21D1");
    hold(&mut w, &d1);
    let v = w
        .ledger
        .scan(
            &d1,
            Step::Receiving,
            Some("ASN-1"),
            t("2026-06-01T12:00:00+02:00"),
        )
        .unwrap();
    assert_eq!(v.verdict, VerdictKind::Quarantined, "{}", v.reason);
    assert_eq!(
        v.reason,
        format!(
            "GTIN {drill} serial D1 is in quarantine since 2026-05-01 (by dist-a): crushed carton — do not sell or ship"
        )
    );
    assert!(
        v.event.is_some(),
        "what happened is recorded despite the warning"
    );
    assert_eq!(w.ledger.manifest("ASN-1").unwrap().progress.scanned, 1);

    // Signature, alert and recall come first.
    let forger = SigningKey::from_bytes(&[6; 32]);
    let forged_sig = URL_SAFE_NO_PAD.encode(
        forger
            .sign(&signed_payload(drill.as_str(), "S9"))
            .to_bytes(),
    );
    let forged = element_string(&[("01", drill.as_str()), ("21", "S9"), ("8030", &forged_sig)]);
    hold(&mut w, &forged);
    w.check(
        &forged,
        None,
        VerdictKind::SignatureInvalid,
        "does not verify",
    );
    hold(&mut w, &format!("01{drill}21FAKE"));
    w.check(
        &format!("01{drill}21FAKE"),
        None,
        VerdictKind::ReportedCounterfeit,
        "seized in customs",
    );
    let bad_lot = format!("01{level}10BAD{GS}21L7");
    hold(&mut w, &bad_lot);
    w.check(&bad_lot, None, VerdictKind::Recalled, "battery overheats");
    // Expiry and a sale come after.
    let expired = format!("01{drill}17260531{GS}21E1");
    hold(&mut w, &expired);
    w.check(&expired, None, VerdictKind::Quarantined, "crushed carton");
    let sold = format!("01{drill}21S3");
    w.scan(&sold, Step::RetailSelling, None);
    hold(&mut w, &sold);
    let (kind, _) = w.scan(&sold, Step::RetailSelling, None);
    assert_eq!(kind, VerdictKind::Quarantined);

    // Selling, shipping and inspecting are warned; a repair or a return is not.
    let s2 = format!("01{drill}21S2");
    hold(&mut w, &s2);
    for step in [Step::RetailSelling, Step::Shipping, Step::Inspecting] {
        assert_eq!(
            w.scan(&s2, step, None).0,
            VerdictKind::Quarantined,
            "{step:?}"
        );
    }
    for step in [Step::Repairing, Step::Returning] {
        assert_eq!(
            w.scan(&s2, step, None).0,
            VerdictKind::Provisional,
            "{step:?}"
        );
    }

    // Released, it is provisional again.
    w.ledger
        .release(
            &s2,
            "carton only; unit tested fine",
            t("2026-05-02T09:00:00+02:00"),
        )
        .unwrap();
    assert_eq!(
        w.scan(&s2, Step::RetailSelling, None).0,
        VerdictKind::Provisional
    );

    // A unit whose life ended is a clone, held or not.
    let s4 = format!("01{drill}21S4");
    hold(&mut w, &s4);
    w.ledger
        .return_unit(
            &s4,
            custodian_ledger::ReturnOutcome::Scrapped,
            t("2026-05-03T09:00:00+02:00"),
        )
        .unwrap();
    w.check(&s4, None, VerdictKind::AlreadySold, "life has ended");
}

#[test]
fn quarantine_and_release_refuse_what_makes_no_sense_and_record_nothing() {
    let mut w = world();
    let drill = w.drill.clone();
    let d2 = format!("01{drill}21D2");
    let on = t("2026-05-01T09:00:00+02:00");
    let refused = |r: Result<custodian_ledger::Recorded, custodian_ledger::Error>| {
        r.map(|_| ()).unwrap_err().to_string()
    };
    let before = w.ledger.event_count().unwrap();
    assert!(refused(w.ledger.quarantine("0104012345000013", "x", on)).contains("check digit"));
    assert!(refused(w.ledger.quarantine(&d2, "  ", on)).contains("the reason is empty"));
    assert!(
        refused(w.ledger.quarantine(&format!("00{}", sscc(1)), "x", on))
            .contains("a logistic unit")
    );
    assert_eq!(
        refused(w.ledger.release(&d2, "fine", on)),
        format!("GTIN {drill} serial D2 is not in quarantine: there is nothing to release")
    );
    assert_eq!(w.ledger.event_count().unwrap(), before);

    let first = w.ledger.quarantine(&d2, "dented", on).unwrap();
    assert_eq!(first.events.len(), 1);
    let q = first.history.custody.quarantine.clone().unwrap();
    assert_eq!((q.org.as_str(), q.reason.as_str()), ("dist-a", "dented"));
    assert_eq!(
        first.history.custody.state.as_str(),
        "in_transit",
        "a hold does not move the unit"
    );
    assert_eq!(
        refused(
            w.ledger
                .quarantine(&d2, "again", t("2026-05-02T09:00:00+02:00"))
        ),
        format!(
            "GTIN {drill} serial D2 is already in quarantine since 2026-05-01 (by dist-a): dented; release it first"
        )
    );
    assert!(
        refused(w.ledger.release(&d2, "   ", t("2026-05-02T09:00:00+02:00")))
            .contains("the note is empty")
    );
    assert!(
        refused(
            w.ledger
                .release(&d2, "fine", t("2026-04-30T09:00:00+02:00"))
        )
        .contains("check the clock"),
        "a release dated before its quarantine would not be the latest hold"
    );
    assert_eq!(w.ledger.event_count().unwrap(), before + 1);

    // The same quarantine recorded again (a replay, an import) is the same event.
    let events = w.ledger.local_events_after(0, 100).unwrap();
    let held: Vec<custodian_ledger::Event> = events
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.id.0 == first.events[0])
        .collect();
    assert_eq!(w.ledger.store_events(&held, false).unwrap(), 0);
    assert_eq!(w.ledger.event_count().unwrap(), before + 1);

    let released = w
        .ledger
        .release(&d2, "dent is cosmetic", t("2026-05-02T09:00:00+02:00"))
        .unwrap();
    assert!(released.history.custody.quarantine.is_none());
    let holds = &released.history.quarantines;
    assert_eq!(holds.len(), 1);
    assert_eq!(
        holds[0].released.as_ref().unwrap().note.as_deref(),
        Some("dent is cosmetic")
    );
    let steps: Vec<(&str, Option<&str>)> = released
        .history
        .custody
        .chain
        .iter()
        .map(|l| (l.step.as_str(), l.detail.as_deref()))
        .filter(|(s, _)| *s == "holding")
        .collect();
    assert_eq!(
        steps,
        [
            ("holding", Some("quarantine")),
            ("holding", Some("release"))
        ]
    );

    // Its life ended: neither can be recorded any more.
    w.ledger
        .return_unit(
            &d2,
            custodian_ledger::ReturnOutcome::Scrapped,
            t("2026-05-03T09:00:00+02:00"),
        )
        .unwrap();
    let n = w.ledger.event_count().unwrap();
    assert!(
        refused(
            w.ledger
                .quarantine(&d2, "x", t("2026-05-04T09:00:00+02:00"))
        )
        .contains("life ended on 2026-05-03")
    );
    assert_eq!(w.ledger.event_count().unwrap(), n);
}
