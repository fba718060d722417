//! Any bytes as a `POST /verify/batch` body → `verify::read_batch`, then the verifier on the
//! demo registry: a 400/413, or every code answered in order.
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
        let _ = f.borrow_mut().verify_batch(data);
    });
});
