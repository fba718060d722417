//! Any declared serial pattern and any scanned text → `SerialPattern::parse` and `parse_with`
//! never panic, errors point inside their input, and a proprietary scan's serial is text that
//! the pattern itself reads from the scan.
#![no_main]

use custodian_scanner::{Form, Identity, ProprietaryFormat, SerialPattern, parse_with};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, &str, &str)| {
    let (first, second, text) = input;
    let mut formats = Vec::new();
    for (product, source) in [("P1", first), ("P2", second)] {
        match SerialPattern::parse(source) {
            Ok(pattern) => {
                assert_eq!(pattern.as_str(), source);
                formats.push(ProprietaryFormat { product: product.into(), pattern });
            }
            Err(e) => assert!(e.position <= source.len(), "{source:?}: {e}"),
        }
    }
    match parse_with(text, &formats) {
        Ok(scan) => {
            if scan.form == Form::Proprietary {
                let Some(Identity::Proprietary { product, serial }) = scan.identity() else {
                    panic!("a proprietary scan without a proprietary identity");
                };
                let format = formats.iter().find(|f| f.product == product).expect("declared");
                assert!(!serial.is_empty());
                // The text the patterns were matched against: without the BOM, the line ending
                // and the (non-GS1) AIM identifier.
                let body = text.strip_prefix('\u{feff}').unwrap_or(text);
                let body = body.trim_end_matches(['\r', '\n', '\t']);
                let body = if scan.symbology.is_some() { &body[3..] } else { body };
                assert_eq!(format.pattern.serial_of(body), Some(serial.as_str()), "{text:?}");
            }
            for note in scan.notes() {
                assert!(note.position() <= text.len());
            }
        }
        Err(e) => {
            assert!(e.position <= text.len(), "position {} beyond {} bytes", e.position, text.len());
            let _ = e.to_string();
        }
    }
});
