//! A screen's reads go through the device's reader connection: they see every committed scan
//! and answer while a scan (or a sync) holds the ledger.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::sync::Arc;
use std::time::Duration;

use custodian_ledger::{Recorder, Step};
use custodian_scanner::{check_digit, element_string};
use custodian_sync::Device;

fn code(serial: &str) -> String {
    let d = "0401234500001";
    let gtin = format!("{d}{}", check_digit(d));
    element_string(&[("01", &gtin), ("21", serial)])
}

#[test]
fn status_answers_while_the_ledger_is_held_and_sees_committed_scans() {
    let tmp = tempfile::tempdir().unwrap();
    let device = Arc::new(Device::open(tmp.path()).unwrap());
    device
        .ledger()
        .set_recorder(&Recorder {
            org: "dist-a".into(),
            site: "dc".into(),
            device: "dist-a-1".into(),
        })
        .unwrap();
    let now = chrono::DateTime::parse_from_rfc3339("2026-11-02T10:00:00+01:00").unwrap();
    for i in 0..3 {
        device
            .ledger()
            .scan(&code(&format!("S{i}")), Step::Inspecting, None, now)
            .unwrap();
    }

    // Something holds the ledger (a long scan batch, a sync applying a download).
    let held = device.ledger();
    let (tx, rx) = std::sync::mpsc::channel();
    let d = device.clone();
    std::thread::spawn(move || tx.send(d.status().map(|s| (s.events, s.waiting))));
    let answer = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("status waited for the ledger instead of reading on its own connection");
    drop(held);
    assert_eq!(answer.unwrap(), (3, 3));

    // And the reader sees a scan committed after it last read.
    device
        .ledger()
        .scan(&code("S9"), Step::Inspecting, None, now)
        .unwrap();
    assert_eq!(device.status().unwrap().events, 4);
    assert_eq!(device.reader().recent_scans(10).unwrap().len(), 4);
}
