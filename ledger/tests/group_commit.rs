//! Group commit: `Ledger::scan_batch` judges scans in order and commits them all or none, and
//! the views it caches between scans always agree with what the database holds.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use chrono::{DateTime, FixedOffset};
use custodian_ledger::event::{Action, BizStep, BizTransaction, Disposition, EventType};
use custodian_ledger::{Epc, Event, EventBody, Ledger, Recorder, ScanInput, Step, VerdictKind};
use custodian_scanner::{Gtin, Sscc, check_digit, element_string};
use rand::{Rng, SeedableRng};

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn drill() -> Gtin {
    let d = "0401234500001";
    Gtin::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

fn case() -> Sscc {
    let d = "14012345000000002";
    Sscc::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

fn unit(serial: &str) -> Epc {
    Epc::Unit {
        gtin: drill(),
        serial: serial.into(),
    }
}

fn code(serial: &str) -> String {
    element_string(&[("01", drill().as_str()), ("21", serial)])
}

fn body(step: BizStep, epcs: Vec<Epc>, parent: Option<Epc>, at: &str, org: &str) -> EventBody {
    EventBody {
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
        biz_transactions: if matches!(step, BizStep::Shipping | BizStep::Receiving) {
            vec![BizTransaction {
                kind: "desadv".into(),
                id: "ASN-1".into(),
            }]
        } else {
            vec![]
        },
        source: Some("acme".into()),
        destination: Some("dist-a".into()),
        recorder: Recorder {
            org: org.into(),
            site: "dc".into(),
            device: format!("{org}-1"),
        },
        extension: Default::default(),
    }
}

/// A device of dist-a holding ASN-1: one case (SSCC 2) of drills U0..U19.
fn ledger(dir: &std::path::Path) -> Ledger {
    let mut ledger = Ledger::open(dir).unwrap();
    ledger
        .set_recorder(&Recorder {
            org: "dist-a".into(),
            site: "dc".into(),
            device: "dev-1".into(),
        })
        .unwrap();
    let units: Vec<Epc> = (0..20).map(|i| unit(&format!("U{i}"))).collect();
    let events = [
        body(
            BizStep::Packing,
            units,
            Some(Epc::Logistic(case())),
            "2026-01-02T08:00:00+01:00",
            "acme",
        ),
        body(
            BizStep::Shipping,
            vec![Epc::Logistic(case())],
            None,
            "2026-01-03T08:00:00+01:00",
            "acme",
        ),
    ]
    .map(Event::new);
    ledger.store_events(&events, false).unwrap();
    ledger
}

fn receiving<'a>(raw: &'a str, manifest: Option<&'a str>, second: i64) -> ScanInput<'a> {
    ScanInput {
        raw,
        step: Step::Receiving,
        manifest,
        now: t("2026-06-01T12:00:00+02:00") + chrono::Duration::seconds(second),
    }
}

fn kinds(verdicts: &[custodian_ledger::Verdict]) -> Vec<VerdictKind> {
    verdicts.iter().map(|v| v.verdict).collect()
}

#[test]
fn a_unit_twice_in_one_batch_is_a_duplicate_and_counts_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = ledger(tmp.path());
    let (a, b) = (code("U1"), code("U2"));
    let batch = [
        receiving(&a, Some("ASN-1"), 0),
        receiving(&b, Some("ASN-1"), 1),
        receiving(&a, Some("ASN-1"), 2),
        receiving("0104012345000", Some("ASN-1"), 3),
    ];
    let verdicts = ledger.scan_batch(&batch).unwrap();
    assert_eq!(
        kinds(&verdicts),
        [
            VerdictKind::Ok,
            VerdictKind::Ok,
            VerdictKind::Duplicate,
            VerdictKind::Unreadable
        ]
    );
    let progress = ledger.manifest("ASN-1").unwrap().progress;
    assert_eq!((progress.expected, progress.scanned), (20, 2));
    assert_eq!(ledger.recent_scans(10).unwrap().len(), 4);
}

/// A batch judges exactly as the same scans one at a time would, whatever the batch sizes.
#[test]
fn batches_judge_as_single_scans_do() {
    let seed: u64 = std::env::var("CUSTODIAN_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    for round in 0..20 {
        let codes: Vec<String> = (0..40)
            .map(|_| match rng.gen_range(0..10) {
                0 => "]d20104012345".to_string(),
                1 => element_string(&[("00", case().as_str())]),
                2 => code(&format!("X{}", rng.gen_range(0..3))),
                _ => code(&format!("U{}", rng.gen_range(0..25))),
            })
            .collect();
        let inputs: Vec<ScanInput<'_>> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| receiving(c, Some("ASN-1"), i64::try_from(i).unwrap()))
            .collect();

        let one = tempfile::tempdir().unwrap();
        let mut single = ledger(one.path());
        let expected: Vec<VerdictKind> = inputs
            .iter()
            .map(|s| {
                single
                    .scan(s.raw, s.step, s.manifest, s.now)
                    .unwrap()
                    .verdict
            })
            .collect();

        let many = tempfile::tempdir().unwrap();
        let mut batched = ledger(many.path());
        let mut got = Vec::new();
        let mut rest = &inputs[..];
        while !rest.is_empty() {
            let n = rng.gen_range(1..=rest.len().min(9));
            got.extend(kinds(&batched.scan_batch(&rest[..n]).unwrap()));
            rest = &rest[n..];
        }
        assert_eq!(got, expected, "seed {seed}, round {round}");
        assert_eq!(
            batched.manifest("ASN-1").unwrap().progress,
            single.manifest("ASN-1").unwrap().progress,
            "seed {seed}, round {round}"
        );
    }
}

/// Receipts that arrive from elsewhere (a sync on this connection, another process on the same
/// file) are seen by the very next scan.
#[test]
fn the_next_scan_sees_events_written_outside_the_scan_path() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = ledger(tmp.path());
    let (u1, u2, u3) = (code("U1"), code("U2"), code("U3"));
    assert_eq!(
        kinds(
            &ledger
                .scan_batch(&[receiving(&u1, Some("ASN-1"), 0)])
                .unwrap()
        ),
        [VerdictKind::Ok]
    );

    // Another device's receipt of U2, stored through this connection (as a sync does).
    let other = Event::new(body(
        BizStep::Receiving,
        vec![unit("U2")],
        None,
        "2026-06-01T11:00:00+02:00",
        "dist-a",
    ));
    ledger.store_events(&[other], false).unwrap();
    assert_eq!(
        kinds(
            &ledger
                .scan_batch(&[receiving(&u2, Some("ASN-1"), 1)])
                .unwrap()
        ),
        [VerdictKind::Duplicate]
    );

    // A receipt of U3 written by another process holding the same file.
    {
        let mut second = Ledger::open(tmp.path()).unwrap();
        let third = Event::new(body(
            BizStep::Receiving,
            vec![unit("U3")],
            None,
            "2026-06-01T11:30:00+02:00",
            "dist-a",
        ));
        second.store_events(&[third], false).unwrap();
    }
    assert_eq!(
        kinds(
            &ledger
                .scan_batch(&[receiving(&u3, Some("ASN-1"), 2)])
                .unwrap()
        ),
        [VerdictKind::Duplicate]
    );
}

/// A batch that fails part-way stores nothing, and leaves no trace in what later scans see.
#[test]
fn a_failed_batch_stores_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = ledger(tmp.path());
    let u1 = code("U1");
    let batch = [
        receiving(&u1, Some("ASN-1"), 0),
        receiving(&u1, Some("ASN-404"), 1),
    ];
    let err = ledger.scan_batch(&batch).unwrap_err();
    assert!(err.to_string().contains("ASN-404"), "{err}");
    assert!(ledger.recent_scans(10).unwrap().is_empty());
    assert_eq!(ledger.manifest("ASN-1").unwrap().progress.scanned, 0);
    assert_eq!(
        kinds(
            &ledger
                .scan_batch(&[receiving(&u1, Some("ASN-1"), 2)])
                .unwrap()
        ),
        [VerdictKind::Ok]
    );
}
