//! Any bytes as an EPCIS document → `Ledger::import_epcis` (what `custodian epcis import`
//! and `manifest import` call): stored whole or refused as invalid with nothing stored, and
//! what it reads survives its own export.
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
        let _ = f.borrow_mut().epcis(data);
    });
});
