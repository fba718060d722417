//! The scanner's door for text: what a scanner sends, as `parse` reads it. Shared, unchanged, by the fuzz targets and by the scanner's
//! replay of the seed corpus and of every input a fuzz run ever broke
//! (`scanner/tests/fuzz_inputs.rs`). Each panics only when an invariant breaks.

#![allow(dead_code, reason = "each fuzz target uses one entry point")]

/// Any bytes → `parse` never panics, and every error and note points inside the input.
pub fn parse(data: &[u8]) -> Result<(), String> {
    let text = String::from_utf8_lossy(data);
    match custodian_scanner::parse(&text) {
        Ok(scan) => {
            // Accessors must not panic on anything the parser accepted.
            let _ = (scan.identity(), scan.expiry(), scan.signature(), scan.lot());
            for note in scan.notes() {
                assert!(
                    note.position() <= text.len(),
                    "note {note} beyond {} bytes",
                    text.len()
                );
                let _ = note.to_string();
            }
            Ok(())
        }
        Err(e) => {
            assert!(
                e.position <= text.len(),
                "position {} beyond {} bytes",
                e.position,
                text.len()
            );
            let _ = e.kind.code();
            Err(e.to_string())
        }
    }
}
