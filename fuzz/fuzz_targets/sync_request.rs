//! Any bytes as a signed sync request body → the hub's `exchange::handle_at`: decompress within
//! the bound, parse, authorise, store, reconcile, answer. A refusal is a 4xx that stores
//! nothing; an answer reads as a `SyncResponse`.
#![no_main]

use std::cell::RefCell;

use libfuzzer_sys::fuzz_target;

#[path = "../harness/hub.rs"]
mod hub_harness;

thread_local! {
    static FIXTURE: RefCell<hub_harness::Hub> = RefCell::new(hub_harness::Hub::new());
}

fuzz_target!(|data: &[u8]| {
    FIXTURE.with(|f| {
        let _ = f.borrow_mut().sync_request(data);
    });
});
