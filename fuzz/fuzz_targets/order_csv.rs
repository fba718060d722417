//! Any bytes as an order CSV file → `Ledger::import_orders_csv`: imported whole or refused as
//! invalid, with the orders held and the events unchanged.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

#[path = "../harness/ledger.rs"]
mod ledger_harness;

/// Inputs a device takes before a fresh one replaces it: every refusal lists the orders held,
/// so a device holding every order ever imported would slow each run down.
const INPUTS_PER_DEVICE: u32 = 1_000;

thread_local! {
    static FIXTURE: RefCell<(ledger_harness::Device, u32)> =
        RefCell::new((ledger_harness::Device::new(), 0));
}

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| {
        let mut f = f.borrow_mut();
        if f.1 == INPUTS_PER_DEVICE {
            *f = (ledger_harness::Device::new(), 0);
        }
        f.1 += 1;
        let _ = f.0.order_csv(data);
    });
});
