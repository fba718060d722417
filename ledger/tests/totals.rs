//! The event count a status shows is kept as events arrive, not counted row by row: it must
//! always equal the rows, for a new ledger, after duplicates, from two connections, and for a
//! ledger written before the count was kept.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use chrono::{DateTime, FixedOffset};
use custodian_ledger::{Ledger, Recorder, Step};
use custodian_scanner::{check_digit, element_string};

fn t(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

fn code(serial: &str) -> String {
    let d = "0401234500001";
    let gtin = format!("{d}{}", check_digit(d));
    element_string(&[("01", &gtin), ("21", serial)])
}

fn rows(dir: &std::path::Path) -> i64 {
    rusqlite::Connection::open(dir.join("ledger.sqlite"))
        .unwrap()
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap()
}

fn enrolled(dir: &std::path::Path) -> Ledger {
    let ledger = Ledger::open(dir).unwrap();
    ledger
        .set_recorder(&Recorder {
            org: "dist-a".into(),
            site: "dc".into(),
            device: "dist-a-1".into(),
        })
        .unwrap();
    ledger
}

#[test]
fn the_count_follows_every_insert_and_ignores_what_is_held_already() {
    let tmp = tempfile::tempdir().unwrap();
    let mut ledger = enrolled(tmp.path());
    assert_eq!(ledger.event_count().unwrap(), 0);
    for i in 0..25 {
        ledger
            .scan(
                &code(&format!("S{i}")),
                Step::Inspecting,
                None,
                t("2026-11-02T10:00:00+01:00"),
            )
            .unwrap();
    }
    // The same scans at the same moment are the same events: held once, counted once.
    for i in 0..10 {
        ledger
            .scan(
                &code(&format!("S{i}")),
                Step::Inspecting,
                None,
                t("2026-11-02T10:00:00+01:00"),
            )
            .unwrap();
    }
    assert_eq!(ledger.event_count().unwrap(), 25);
    assert_eq!(rows(tmp.path()), 25);

    // A second connection (another process, or the app's reader) sees the same count, and its
    // inserts count too.
    let mut other = Ledger::open(tmp.path()).unwrap();
    other
        .scan(
            &code("X1"),
            Step::Inspecting,
            None,
            t("2026-11-02T11:00:00+01:00"),
        )
        .unwrap();
    assert_eq!(ledger.event_count().unwrap(), 26);
    assert_eq!(other.event_count().unwrap(), 26);
    assert_eq!(rows(tmp.path()), 26);
}

#[test]
fn a_ledger_written_before_the_count_was_kept_is_counted_once_on_opening() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut ledger = enrolled(tmp.path());
        for i in 0..7 {
            ledger
                .scan(
                    &code(&format!("S{i}")),
                    Step::Inspecting,
                    None,
                    t("2026-11-02T10:00:00+01:00"),
                )
                .unwrap();
        }
    }
    // As an older ledger: no count kept.
    let conn = rusqlite::Connection::open(tmp.path().join("ledger.sqlite")).unwrap();
    conn.execute_batch("DROP TABLE event_totals;").unwrap();
    drop(conn);
    let mut ledger = Ledger::open(tmp.path()).unwrap();
    assert_eq!(ledger.event_count().unwrap(), 7);
    ledger
        .scan(
            &code("S99"),
            Step::Inspecting,
            None,
            t("2026-11-02T12:00:00+01:00"),
        )
        .unwrap();
    assert_eq!(ledger.event_count().unwrap(), 8);
    assert_eq!(rows(tmp.path()), 8);
}

#[test]
fn a_ledger_whose_count_a_trigger_kept_loses_the_trigger_and_counts_each_insert_once() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let mut ledger = enrolled(tmp.path());
        for i in 0..4 {
            ledger
                .scan(
                    &code(&format!("S{i}")),
                    Step::Inspecting,
                    None,
                    t("2026-11-02T10:00:00+01:00"),
                )
                .unwrap();
        }
    }
    // As a ledger written while a trigger kept the count.
    let conn = rusqlite::Connection::open(tmp.path().join("ledger.sqlite")).unwrap();
    conn.execute_batch(
        "CREATE TRIGGER count_events AFTER INSERT ON events
         BEGIN UPDATE event_totals SET events = events + 1; END;",
    )
    .unwrap();
    drop(conn);
    let mut ledger = Ledger::open(tmp.path()).unwrap();
    assert_eq!(ledger.event_count().unwrap(), 4);
    ledger
        .scan(
            &code("S99"),
            Step::Inspecting,
            None,
            t("2026-11-02T12:00:00+01:00"),
        )
        .unwrap();
    // Counted once: by the insert, not by the trigger too.
    assert_eq!(ledger.event_count().unwrap(), 5);
    assert_eq!(rows(tmp.path()), 5);
    let triggers: i64 = rusqlite::Connection::open(tmp.path().join("ledger.sqlite"))
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(triggers, 0);
}
