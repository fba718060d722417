//! The device's fuzz inputs replayed without cargo-fuzz: every seed of `fuzz/corpus/` and every
//! input a fuzz run ever broke (`fuzz/regressions/`) for `token` and `sync_response`, through the
//! fuzz targets' own harness. A seed named `ok-…` must be accepted and one named `bad-…`
//! refused. The hub's tests write these seeds (`hub/tests/fuzz_inputs.rs`).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

#[path = "../../fuzz/harness/ledger.rs"]
mod ledger_harness;
#[path = "../../fuzz/harness/sync.rs"]
mod sync_harness;

use std::path::Path;

/// The files of `fuzz/<kind>/<target>/`, by name.
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(dir) else {
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
fn replay<T>(target: &str, mut run: impl FnMut(&[u8]) -> Result<T, String>) {
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
fn token_inputs() {
    replay("token", sync_harness::token);
}

#[test]
fn tokens_are_refused_with_their_reason() {
    let err = sync_harness::token(b"CUSTODIAN1.e30").unwrap_err();
    assert!(err.contains("enrollment token is damaged"), "{err}");
    let err = sync_harness::token(b"CUSTODIAN2.e30").unwrap_err();
    assert!(err.contains("must start with CUSTODIAN1."), "{err}");
}

#[test]
fn sync_response_inputs() {
    let mut device = sync_harness::Device::new();
    replay("sync_response", |data| device.sync_response(data));
}

#[test]
fn a_response_received_twice_stores_its_events_once() {
    let (_, first) = inputs("corpus", "sync_response")
        .into_iter()
        .find(|(name, _)| name == "ok-first-round")
        .unwrap();
    let mut device = sync_harness::Device::new();
    device.sync_response(&first).unwrap();
    let held = device.device.ledger.event_count().unwrap();
    assert!(held > 0);
    device.sync_response(&first).unwrap();
    assert_eq!(device.device.ledger.event_count().unwrap(), held);
    assert!(device.device.ledger.extract().unwrap().is_some());
}
