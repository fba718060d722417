//! Any bytes → `parse` never panics, and every error points inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match custodian_scanner::parse(&text) {
        Ok(scan) => {
            // Accessors must not panic on anything the parser accepted.
            let _ = (scan.identity(), scan.expiry(), scan.signature(), scan.lot());
            for note in scan.notes() {
                assert!(note.position() <= text.len(), "note {note} beyond {} bytes", text.len());
                let _ = note.to_string();
            }
        }
        Err(e) => {
            assert!(e.position <= text.len(), "position {} beyond {} bytes", e.position, text.len());
            let _ = e.to_string();
            let _ = e.kind.code();
        }
    }
});
