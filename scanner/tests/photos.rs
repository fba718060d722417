//! Detection on real photographs (`fixtures/photos`: phone photos of QR codes, Data Matrix,
//! EAN-13, UPC-A and Code 128 in the wild, and photos without a code), family by family, at the
//! live-camera and the thorough settings. Each family's count is a floor: the test fails when
//! detection regresses, and a photo without a code must give nothing at all.
//!
//! `cargo test -p custodian-scanner --test photos -- --nocapture` prints the counts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use custodian_scanner::decode::{DecodeOptions, Decoded, decode_luma};

struct Photo {
    family: String,
    file: String,
    /// (AIM prefix, text); empty for a photo without a code.
    codes: Vec<(String, String)>,
}

fn corpus() -> (PathBuf, Vec<Photo>) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/photos");
    let manifest = std::fs::read_to_string(dir.join("manifest.tsv")).unwrap();
    let mut photos: Vec<Photo> = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let code = (!cols[3].is_empty()).then(|| (cols[3].to_owned(), unescape(cols[4])));
        if let Some(last) = photos.last_mut().filter(|p| p.file == cols[1]) {
            last.codes.extend(code);
            continue;
        }
        photos.push(Photo {
            family: cols[0].to_owned(),
            file: cols[1].to_owned(),
            codes: code.into_iter().collect(),
        });
    }
    (dir, photos)
}

/// `\xHH` is the byte HH.
fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("\\x") {
        out.push_str(&rest[..at]);
        let byte = u8::from_str_radix(&rest[at + 2..at + 4], 16).unwrap();
        out.push(char::from(byte));
        rest = &rest[at + 4..];
    }
    out + rest
}

/// Whether `decoded` holds the code: its AIM identifier begins with the manifest's, and its
/// text is the expected one (EAN/UPC compared as GTINs: UPC-A's 12 digits are the EAN-13
/// with a leading 0).
fn found(decoded: &[Decoded], (aim, text): &(String, String)) -> bool {
    decoded.iter().any(|d| {
        d.aim.starts_with(aim.as_str())
            && if aim.starts_with("]E") {
                format!("{:0>13}", d.text) == format!("{text:0>13}")
            } else {
                &d.text == text
            }
    })
}

/// Codes found per family, and the symbols read in photos without a code.
fn detect(options: &DecodeOptions) -> (BTreeMap<String, (usize, usize)>, Vec<String>) {
    let (dir, photos) = corpus();
    let mut families: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut false_positives = Vec::new();
    for photo in &photos {
        let luma = image::open(dir.join(&photo.file)).unwrap().into_luma8();
        let (width, height) = luma.dimensions();
        let decoded = decode_luma(width, height, luma.as_raw(), options);
        if photo.codes.is_empty() {
            false_positives.extend(
                decoded
                    .iter()
                    .map(|d| format!("{}: {:?} {:?}", photo.file, d.format, d.text)),
            );
            continue;
        }
        let entry = families.entry(photo.family.clone()).or_default();
        entry.0 += photo.codes.iter().filter(|c| found(&decoded, c)).count();
        entry.1 += photo.codes.len();
    }
    (families, false_positives)
}

fn check(options: &DecodeOptions, floors: &[(&str, usize)]) {
    let (families, false_positives) = detect(options);
    for (family, (hits, total)) in &families {
        println!("{family:<12} {hits:>4}/{total}");
    }
    assert!(
        false_positives.is_empty(),
        "read in photos without a code: {false_positives:#?}"
    );
    for &(family, floor) in floors {
        let (hits, total) = families[family];
        assert!(
            hits >= floor,
            "{family}: {hits}/{total} read, at least {floor} expected"
        );
    }
}

#[test]
fn photos_read_at_live_settings() {
    check(
        &DecodeOptions::default(),
        &[
            ("qr", 121),
            ("datamatrix", 18),
            ("ean13", 106),
            ("upca", 74),
            ("code128", 41),
        ],
    );
}

#[test]
fn photos_read_thorough() {
    check(
        &DecodeOptions::thorough(),
        &[
            ("qr", 121),
            ("datamatrix", 18),
            ("ean13", 108),
            ("upca", 77),
            ("code128", 41),
        ],
    );
}
