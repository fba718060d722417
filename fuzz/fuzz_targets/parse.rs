//! Any bytes → `parse` never panics, and every error points inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/scanner.rs"]
mod scanner_harness;

fuzz_target!(|data: &[u8]| {
    let _ = scanner_harness::parse(data);
});
