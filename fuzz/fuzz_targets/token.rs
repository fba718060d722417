//! Any bytes as an enrollment token → what the device does with one before it contacts the
//! hub: decode, check the expiry, read the pinned certificate, build the client that trusts it.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/ledger.rs"]
mod ledger_harness;
#[path = "../harness/sync.rs"]
mod sync_harness;

fuzz_target!(|data: &[u8]| {
    let _ = sync_harness::token(data);
});
