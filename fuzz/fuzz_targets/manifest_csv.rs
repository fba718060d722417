//! Any bytes as an ASN CSV file → `Ledger::import_csv_manifest`: stored whole or refused as
//! invalid, naming the line, with nothing stored.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

#[path = "../harness/ledger.rs"]
mod ledger_harness;

thread_local! {
    static FIXTURE: RefCell<ledger_harness::Device> = RefCell::new(ledger_harness::Device::new());
}

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| {
        let _ = f.borrow_mut().manifest_csv(data);
    });
});
