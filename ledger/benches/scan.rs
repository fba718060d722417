//! Criterion benchmark: a durable scan (judged, recorded, fsynced) of a unit with 1 event (its
//! sale) and of a unit with 40,000 events (sold, then inspected again and again), in a ledger
//! that also holds 40,000 later receipts of other units. Both are sold, so the verdict runs every
//! lookup (ended, sold, taken back since, in quarantine); each is an index probe, so the two
//! should cost the same, and neither may depend on the other units' receipts.
//!
//! `cargo bench -p custodian-ledger --bench scan`; criterion prints the time per scan.

#![allow(
    clippy::unwrap_used,
    reason = "a benchmark: a panic is the error report"
)]

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset};
use criterion::{Criterion, criterion_group, criterion_main};
use custodian_ledger::event::{Action, BizStep, Disposition, EventType, Recorder};
use custodian_ledger::{Epc, Event, EventBody, Ledger, Step, VerdictKind};
use custodian_scanner::{Gtin, check_digit, element_string};

const HISTORY: usize = 40_000;

fn gtin() -> Gtin {
    let d = "0401234500001";
    Gtin::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

fn me() -> Recorder {
    Recorder {
        org: "dist-a".into(),
        site: "dc".into(),
        device: "bench".into(),
    }
}

fn event(serial: &str, step: BizStep, at: DateTime<FixedOffset>) -> Event {
    Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: step,
        disposition: Some(match step {
            BizStep::Receiving => Disposition::InProgress,
            BizStep::RetailSelling => Disposition::RetailSold,
            _ => Disposition::Active,
        }),
        event_time: at,
        epcs: vec![Epc::Unit {
            gtin: gtin(),
            serial: serial.into(),
        }],
        parent: None,
        biz_transactions: vec![],
        source: None,
        destination: None,
        recorder: me(),
        extension: Default::default(),
    })
}

fn scans(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(tmp.path()).unwrap();
    ledger.set_recorder(&me()).unwrap();
    let base = DateTime::parse_from_rfc3339("2026-01-01T08:00:00+01:00").unwrap();
    let second = |i: usize| base + chrono::Duration::seconds(i64::try_from(i).unwrap());
    let mut history = vec![event("LONG", BizStep::RetailSelling, base)];
    history.extend((1..HISTORY).map(|i| event("LONG", BizStep::Inspecting, second(i))));
    history
        .extend((0..HISTORY).map(|i| event(&format!("R{i}"), BizStep::Receiving, second(i + 1))));
    ledger.store_events(&history, false).unwrap();
    drop(history);

    let later = DateTime::parse_from_rfc3339("2026-06-01T08:00:00+02:00").unwrap();
    let mut n = 0usize;
    let mut scan = |ledger: &mut Ledger, serial: &str| {
        n += 1;
        let code = element_string(&[("01", gtin().as_str()), ("21", serial)]);
        let at = later + chrono::Duration::milliseconds(i64::try_from(n).unwrap());
        let v = ledger.scan(&code, Step::Inspecting, None, at).unwrap();
        assert_eq!(v.verdict, VerdictKind::AlreadySold, "{}", v.reason);
    };

    let mut group = c.benchmark_group("durable scan");
    group.sample_size(20);
    group.bench_function("unit with 1 event", |b| {
        let mut fresh = 0usize;
        b.iter_custom(|iters| {
            // Each scan is of a unit whose one event, its sale, was stored beforehand, untimed.
            let units: Vec<String> = (0..iters)
                .map(|_| {
                    fresh += 1;
                    format!("F{fresh}")
                })
                .collect();
            let events: Vec<Event> = units
                .iter()
                .map(|u| event(u, BizStep::RetailSelling, base))
                .collect();
            ledger.store_events(&events, false).unwrap();
            let started = Instant::now();
            for u in &units {
                scan(&mut ledger, u);
            }
            started.elapsed()
        });
    });
    group.bench_function(format!("unit with {HISTORY} events"), |b| {
        b.iter_custom(|iters| {
            let started = Instant::now();
            for _ in 0..iters {
                scan(&mut ledger, "LONG");
            }
            started.elapsed()
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = scans
}
criterion_main!(benches);
