//! The ledger's doors for files from outside: EPCIS documents, ASN (manifest) CSV and order
//! CSV, each fed to the function `custodian manifest import` / `custodian epcis import` call
//! on the file's text, on a device ledger whose registry extract knows the demo organisations
//! and products.
//!
//! Shared, unchanged, by the fuzz targets (`fuzz/fuzz_targets/`) and by the ledger's replay of
//! the seed corpus and of every input a fuzz run ever broke (`ledger/tests/fuzz_inputs.rs`), so
//! the regular test run checks the same invariants without cargo-fuzz. Each entry point panics
//! only when an invariant breaks: bad input gets `Err` with the ledger's own message, and a
//! refused file stores nothing.

#![allow(dead_code, reason = "each fuzz target uses one entry point")]

use chrono::{DateTime, FixedOffset};
use custodian_ledger::extract::{Org, Product, RegistryExtract};
use custodian_ledger::{Error, Ledger, Recorder, epcis};

/// The device's clock in every entry point: inputs are judged against a fixed time, so a run
/// is reproducible whatever day it runs.
pub fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-12-01T12:00:00+00:00").expect("a valid time")
}

/// The demo organisations and products, as the hub's extract carries them.
pub fn demo_extract() -> RegistryExtract {
    let orgs: serde_json::Value = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/demo/organisations.json"
    )))
    .expect("the demo organisations are JSON");
    let orgs: Vec<Org> =
        serde_json::from_value(orgs[0].clone()).expect("the demo organisations' first list");
    let products: Vec<Product> = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../fixtures/demo/products.json"
    )))
    .expect("the demo products");
    RegistryExtract {
        version: 1,
        orgs,
        products,
        ..RegistryExtract::default()
    }
}

/// A temporary directory, in memory where the system has one: a commit's sync to disk would
/// otherwise cost more than the input it stores. Under `CUSTODIAN_FUZZ_SCRATCH` when set
/// (`scripts/fuzz.sh` sets it and removes it afterwards: a fuzz run's end drops no fixture).
pub fn scratch_dir() -> tempfile::TempDir {
    let scratch = std::env::var_os("CUSTODIAN_FUZZ_SCRATCH").map(std::path::PathBuf::from);
    let shm = scratch.unwrap_or_else(|| "/dev/shm".into());
    if shm.is_dir()
        && let Ok(dir) = tempfile::Builder::new()
            .prefix("custodian-fuzz")
            .tempdir_in(&shm)
    {
        return dir;
    }
    tempfile::tempdir().expect("a temporary directory")
}

/// A device ledger of `dist-a` on a temporary directory, holding the demo extract.
pub struct Device {
    _dir: tempfile::TempDir,
    pub ledger: Ledger,
}

impl Default for Device {
    fn default() -> Device {
        Device::new()
    }
}

impl Device {
    pub fn new() -> Device {
        let dir = scratch_dir();
        let ledger = Ledger::open(dir.path()).expect("a new ledger opens");
        ledger
            .set_recorder(&Recorder {
                org: "dist-a".into(),
                site: "dc-hamburg".into(),
                device: "dist-a-fuzz".into(),
            })
            .expect("the recorder is set");
        ledger
            .set_extract(&demo_extract())
            .expect("the extract is set");
        Device { _dir: dir, ledger }
    }

    fn events(&self) -> i64 {
        self.ledger
            .event_count()
            .expect("the ledger counts its events")
    }

    /// An EPCIS document's bytes, as `custodian epcis import` reads them: UTF-8 text, JSON or
    /// XML, then `Ledger::import_epcis`. Returns the number of new events. What the ledger reads
    /// must also survive its own export: exported and read again, it is the same events.
    pub fn epcis(&mut self, data: &[u8]) -> Result<usize, String> {
        let text = std::str::from_utf8(data).map_err(|e| format!("not UTF-8: {e}"))?;
        // XML (2.0 or 1.2) is read into the JSON-LD it stands for, as the import does.
        let doc: serde_json::Value = if text.trim_start().starts_with('<') {
            epcis::xml::read(text.trim_start()).map_err(|e| format!("XML: {e}"))?
        } else {
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?
        };
        let fallback = Recorder {
            org: "external".into(),
            site: "external".into(),
            device: "import".into(),
        };
        if let Ok(read) = epcis::read(&doc, &fallback, now()) {
            let again = epcis::read(&epcis::export(&read.events, now()), &fallback, now())
                .unwrap_or_else(|e| panic!("the ledger's own export of {text:?} is refused: {e}"));
            assert_eq!(
                again.events, read.events,
                "export and read again changed {text:?}"
            );
        }
        let before = self.events();
        match self.ledger.import_epcis(&doc, now()) {
            Ok(imported) => {
                assert!(imported.new <= imported.events);
                // New events the ledger judges are among the new standard events.
                assert!(self.events() <= before + imported.new as i64);
                let export = self
                    .ledger
                    .export_epcis(now())
                    .expect("the ledger exports what it took");
                if let Err(e) = epcis::check(&export) {
                    panic!("the ledger's export after {text:?} is not valid EPCIS 2.0: {e}");
                }
                // Written as XML (unless a field's name can be no XML element's, which the
                // writer refuses by path), the export reads back as valid EPCIS 2.0 too.
                if let Ok(xml) = epcis::xml::write(&export) {
                    match epcis::xml::read(&xml) {
                        Ok(back) => {
                            if let Err(e) = epcis::check(&back) {
                                panic!(
                                    "the XML export after {text:?} reads back invalid: {e}\n{xml}"
                                );
                            }
                        }
                        Err(e) => {
                            panic!("the XML export after {text:?} does not read back: {e}\n{xml}")
                        }
                    }
                }
                Ok(imported.new)
            }
            Err(e) => Err(self.refused(before, e)),
        }
    }

    /// An ASN as CSV, as `custodian manifest import` reads a file that is not JSON nor an
    /// order: `Ledger::import_csv_manifest`. Returns the number of new events.
    pub fn manifest_csv(&mut self, data: &[u8]) -> Result<usize, String> {
        let text = std::str::from_utf8(data).map_err(|e| format!("not UTF-8: {e}"))?;
        let before = self.events();
        match self.ledger.import_csv_manifest(text, now()) {
            Ok((events, new)) => {
                assert!(new <= events && events > 0, "{events} events, {new} new");
                assert_eq!(self.events(), before + new as i64);
                Ok(new)
            }
            Err(e) => Err(self.refused(before, e)),
        }
    }

    /// An order as CSV, as `custodian manifest import` reads it: `Ledger::import_orders_csv`.
    /// Returns the number of orders. A refused file leaves the orders held as they were.
    pub fn order_csv(&mut self, data: &[u8]) -> Result<usize, String> {
        let text = std::str::from_utf8(data).map_err(|e| format!("not UTF-8: {e}"))?;
        let orders_before = self.ledger.orders().expect("the ledger lists its orders");
        let before = self.events();
        match self.ledger.import_orders_csv(text) {
            Ok(orders) => {
                assert!(!orders.is_empty(), "an order file imported no order");
                for o in &orders {
                    assert_eq!(
                        self.ledger
                            .order(&o.id)
                            .expect("an imported order is held")
                            .id,
                        o.id
                    );
                }
                assert_eq!(self.events(), before, "importing an order records no event");
                Ok(orders.len())
            }
            Err(e) => {
                let message = self.refused(before, e);
                let after = self.ledger.orders().expect("the ledger lists its orders");
                assert_eq!(
                    after, orders_before,
                    "a refused order file changed the orders held"
                );
                Err(message)
            }
        }
    }

    /// A refusal must be the ledger saying the input is not acceptable, with nothing stored.
    fn refused(&self, before: i64, e: Error) -> String {
        assert!(
            matches!(e, Error::Invalid(_)),
            "bad input must be refused as invalid, not as {e:?}"
        );
        assert_eq!(self.events(), before, "a refused file stored events: {e}");
        e.to_string()
    }
}
