//! A unit with a long history (inspected again and again) is judged as fast and as right as a
//! new one: the verdict's "sold? ended?" lookups walk each unit's events by business step and
//! time (the key of `event_epcs`), which the ledger keeps as events arrive and builds once for a
//! ledger written before.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use chrono::{DateTime, Duration, FixedOffset};
use custodian_ledger::event::{
    Action, BizStep, Disposition, ErrorDeclaration, EventType, Recorder,
};
use custodian_ledger::{Epc, Event, EventBody, Ledger, Step, VerdictKind};
use custodian_scanner::{Gtin, check_digit, element_string};

const EVENTS: i64 = 20_000;

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn gtin() -> Gtin {
    let d = "0401234500001";
    Gtin::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

fn code(serial: &str) -> String {
    element_string(&[("01", gtin().as_str()), ("21", serial)])
}

fn unit(serial: &str) -> Epc {
    Epc::Unit {
        gtin: gtin(),
        serial: serial.into(),
    }
}

fn me() -> Recorder {
    Recorder {
        org: "dist-a".into(),
        site: "dc".into(),
        device: "dist-a-1".into(),
    }
}

/// The first inspection's time; inspection `i` is `i` seconds later.
fn base() -> DateTime<FixedOffset> {
    t("2026-01-01T08:00:00+01:00")
}

fn event(epc: &Epc, step: BizStep, disposition: Disposition, at: DateTime<FixedOffset>) -> Event {
    Event::new(EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: step,
        disposition: Some(disposition),
        event_time: at,
        epcs: vec![epc.clone()],
        parent: None,
        biz_transactions: vec![],
        source: None,
        destination: None,
        recorder: me(),
        extension: Default::default(),
    })
}

fn declare(e: &Event) -> Event {
    Event::declaring_error(
        e,
        ErrorDeclaration {
            declaration_time: e.body.event_time + Duration::days(400),
            reason: None,
            corrective_event_ids: vec![],
            declared_by: me(),
        },
    )
}

/// A ledger in which unit `serial` was inspected `EVENTS` times, one second apart, stored in
/// one transaction.
fn inspected(dir: &std::path::Path, serial: &str) -> Ledger {
    let mut ledger = Ledger::open(dir).unwrap();
    ledger.set_recorder(&me()).unwrap();
    let u = unit(serial);
    let events: Vec<Event> = (0..EVENTS)
        .map(|i| {
            event(
                &u,
                BizStep::Inspecting,
                Disposition::Active,
                base() + Duration::seconds(i),
            )
        })
        .collect();
    assert_eq!(
        ledger.store_events(&events, false).unwrap(),
        usize::try_from(EVENTS).unwrap()
    );
    ledger
}

fn verdict(ledger: &mut Ledger, serial: &str, step: Step, at: &str) -> (VerdictKind, String) {
    let v = ledger.scan(&code(serial), step, None, t(at)).unwrap();
    (v.verdict, v.reason)
}

#[test]
fn a_unit_inspected_twenty_thousand_times_is_judged_by_its_latest_sale_return_and_end() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = inspected(tmp.path(), "LONG");
    let u = unit("LONG");
    let at = |second: i64| base() + Duration::seconds(second);

    // Inspections only: nothing against it.
    let inspect = |l: &mut Ledger, when: &str| verdict(l, "LONG", Step::Inspecting, when);
    assert_eq!(
        inspect(&mut ledger, "2026-06-01T09:00:00+02:00").0,
        VerdictKind::Provisional
    );

    // Sold between two inspections, deep inside the history: a clone now.
    let sale = event(
        &u,
        BizStep::RetailSelling,
        Disposition::RetailSold,
        at(EVENTS / 2) + Duration::milliseconds(500),
    );
    ledger
        .store_events(std::slice::from_ref(&sale), false)
        .unwrap();
    let (kind, reason) = inspect(&mut ledger, "2026-06-01T09:30:00+02:00");
    assert_eq!(kind, VerdictKind::AlreadySold, "{reason}");
    assert!(reason.contains("already sold to a consumer"), "{reason}");
    // Taken back (the scan records the return): no longer sold.
    let (kind, reason) = verdict(
        &mut ledger,
        "LONG",
        Step::Returning,
        "2026-06-01T10:00:00+02:00",
    );
    assert_eq!(kind, VerdictKind::Provisional, "{reason}");
    assert_eq!(
        inspect(&mut ledger, "2026-06-01T10:30:00+02:00").0,
        VerdictKind::Provisional
    );
    // Sold again (the scan records the sale), after the return: a clone again.
    assert_eq!(
        verdict(
            &mut ledger,
            "LONG",
            Step::RetailSelling,
            "2026-06-01T11:00:00+02:00"
        )
        .0,
        VerdictKind::Provisional
    );
    assert_eq!(
        inspect(&mut ledger, "2026-06-01T11:30:00+02:00").0,
        VerdictKind::AlreadySold
    );

    // A receipt earlier than the sale does not take it back.
    let tmp2 = tempfile::tempdir().unwrap();
    let mut other = inspected(tmp2.path(), "LONG");
    let early_receipt = event(&u, BizStep::Receiving, Disposition::InProgress, at(100));
    other
        .store_events(&[early_receipt, sale.clone()], false)
        .unwrap();
    assert_eq!(
        inspect(&mut other, "2026-06-01T09:00:00+02:00").0,
        VerdictKind::AlreadySold
    );
    // The sale declared erroneous: it never happened.
    other.store_events(&[declare(&sale)], false).unwrap();
    assert_eq!(
        inspect(&mut other, "2026-06-01T09:10:00+02:00").0,
        VerdictKind::Provisional
    );

    // Scrapped early in its history: every later sighting is a clone.
    let scrapped = event(&u, BizStep::Destroying, Disposition::Destroyed, at(7));
    other
        .store_events(std::slice::from_ref(&scrapped), false)
        .unwrap();
    let (kind, reason) = inspect(&mut other, "2026-06-01T09:20:00+02:00");
    assert_eq!(kind, VerdictKind::AlreadySold);
    assert!(
        reason.contains("scrapped or destroyed on 2026-01-01"),
        "{reason}"
    );
    other.store_events(&[declare(&scrapped)], false).unwrap();
    assert_eq!(
        inspect(&mut other, "2026-06-01T09:30:00+02:00").0,
        VerdictKind::Provisional
    );

    // The biography, folded from every live event, agrees: the declared sale and scrapping are
    // not in it, every inspection is.
    let h = other
        .history(&code("LONG"), t("2026-06-02T00:00:00Z"))
        .unwrap();
    let steps = |s: &str| h.custody.chain.iter().filter(|l| l.step == s).count();
    assert_eq!(steps("retail_selling") + steps("destroying"), 0);
    assert_eq!(steps("receiving"), 1);
    assert_eq!(steps("inspecting"), usize::try_from(EVENTS).unwrap() + 4);
}

#[test]
fn a_ledger_written_before_is_reshaped_when_opened() {
    let tmp = tempfile::tempdir().unwrap();
    let u = unit("OLD");
    let sale = event(
        &u,
        BizStep::RetailSelling,
        Disposition::RetailSold,
        base() + Duration::seconds(EVENTS + 10),
    );
    {
        let mut ledger = inspected(tmp.path(), "OLD");
        ledger.store_events(&[sale], false).unwrap();
    }
    // Take the ledger back to how an older version left it: units named by events without
    // their steps and times.
    let path = tmp.path().join("ledger.sqlite");
    {
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(
            "CREATE TABLE old_epcs (
                 epc  TEXT NOT NULL,
                 seq  INTEGER NOT NULL REFERENCES events(seq),
                 role TEXT NOT NULL CHECK (role IN ('epc', 'parent')),
                 PRIMARY KEY (epc, role, seq)
             ) WITHOUT ROWID;
             INSERT INTO old_epcs SELECT epc, seq, role FROM event_epcs;
             DROP TABLE event_epcs;
             ALTER TABLE old_epcs RENAME TO event_epcs;
             -- What development builds kept beside it.
             CREATE TABLE epc_steps (epc TEXT);",
        )
        .unwrap();
    }
    let mut ledger = Ledger::open(tmp.path()).unwrap();
    let (kind, reason) = verdict(
        &mut ledger,
        "OLD",
        Step::Receiving,
        "2026-06-01T10:00:00+02:00",
    );
    assert_eq!(kind, VerdictKind::AlreadySold, "{reason}");
    // Every unit an event names carries its event's step and time, including the event the
    // scan just recorded, and a second opening changes nothing.
    drop(ledger);
    let _again = Ledger::open(tmp.path()).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| -> i64 { raw.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT count(*) FROM event_epcs"), EVENTS + 2);
    assert_eq!(
        count(
            "SELECT count(*) FROM event_epcs x JOIN events e ON e.seq = x.seq
             WHERE x.step = e.step AND x.time = e.time"
        ),
        EVENTS + 2
    );
    assert_eq!(count("SELECT count(*) FROM events"), EVENTS + 2);
    assert_eq!(
        count("SELECT count(*) FROM sqlite_master WHERE name = 'epc_steps'"),
        0
    );
}
