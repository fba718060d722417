//! The ledger's fuzz inputs replayed without cargo-fuzz: every seed of `fuzz/corpus/` and every
//! input a fuzz run ever broke (`fuzz/regressions/`) for `epcis`, `manifest_csv` and
//! `order_csv`, through the fuzz targets' own harness. A seed named `ok-…` must be accepted and
//! one named `bad-…` refused.
//!
//! `write_seed_corpus` (ignored) writes the EPCIS seed that is the ledger's own export of the
//! demo ASN: `cargo test -p custodian-ledger --test fuzz_inputs -- --ignored`.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

#[path = "../../fuzz/harness/ledger.rs"]
mod ledger_harness;

use std::path::{Path, PathBuf};

use ledger_harness::Device;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// The files of `fuzz/<kind>/<target>/`, by name.
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let Ok(entries) = std::fs::read_dir(fuzz_dir().join(kind).join(target)) else {
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

/// Replays the seeds (each named for its outcome, each on a fresh ledger) and the regressions
/// of `target`.
fn replay<T>(target: &str, run: impl Fn(&mut Device, &[u8]) -> Result<T, String>) {
    let seeds = inputs("corpus", target);
    assert!(!seeds.is_empty(), "fuzz/corpus/{target} holds no seed");
    for (name, data) in &seeds {
        let outcome = run(&mut Device::new(), data);
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
    let mut device = Device::new();
    for (_, data) in inputs("regressions", target) {
        let _ = run(&mut device, &data);
    }
}

#[test]
fn epcis_inputs() {
    replay("epcis", Device::epcis);
}

/// Found by the `epcis` target: an ObjectEvent carrying a `parentID` was stored with its parent,
/// which the export leaves out, so the ledger's own export of it no longer matched its id. An
/// ObjectEvent has neither `childEPCs` nor `parentID`: the standard check refuses the first.
#[test]
fn an_object_event_with_a_parent_is_refused_by_its_path() {
    let (_, data) = inputs("regressions", "epcis")
        .into_iter()
        .find(|(name, _)| name == "object-event-with-parent.json")
        .unwrap();
    let mut device = Device::new();
    let err = device.epcis(&data).unwrap_err();
    assert_eq!(
        err,
        "epcisBody.eventList[0].childEPCs: is neither a field of this element nor an extension (a URI or a prefixed name, e.g. cust:note)"
    );
    assert_eq!(device.ledger.event_count().unwrap(), 0);
}

#[test]
fn manifest_csv_inputs() {
    replay("manifest_csv", Device::manifest_csv);
}

#[test]
fn order_csv_inputs() {
    replay("order_csv", Device::order_csv);
}

#[test]
#[ignore = "writes the seed corpus; run by hand when the EPCIS export changes"]
fn write_seed_corpus() {
    let mut device = Device::new();
    let events = custodian_ledger::event::events_from_json(include_str!(
        "../../fixtures/demo/asn-0001.events.json"
    ))
    .unwrap();
    device.ledger.store_events(&events, false).unwrap();
    let doc = device.ledger.export_epcis(ledger_harness::now()).unwrap();
    let dir = fuzz_dir().join("corpus/epcis");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ok-demo-asn-export.json"),
        serde_json::to_string_pretty(&doc).unwrap(),
    )
    .unwrap();
}
