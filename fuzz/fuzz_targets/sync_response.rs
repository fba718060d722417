//! Any bytes as a sync response body from the hub → decoded (zstd within the bound, JSON,
//! version) and applied to a device ledger as `Device::sync` applies it; refused events store
//! nothing, and the screens' reads of what arrived do not fail.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

#[path = "../harness/ledger.rs"]
mod ledger_harness;
#[path = "../harness/sync.rs"]
mod sync_harness;

thread_local! {
    static FIXTURE: RefCell<sync_harness::Device> = RefCell::new(sync_harness::Device::new());
}

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| {
        let _ = f.borrow_mut().sync_response(data);
    });
});
