//! Any bytes as an order CSV file → `Ledger::import_orders_csv`: imported whole or refused as
//! invalid, with the orders held and the events unchanged.
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
        let _ = f.borrow_mut().order_csv(data);
    });
});
