//! The scanner's fuzz inputs replayed without cargo-fuzz: every seed of `fuzz/corpus/` and
//! every input a fuzz run ever broke (`fuzz/regressions/`) for `parse` and (with the
//! `image-files` feature) `image`, through the fuzz targets' own harness. A seed named `ok-…`
//! must be accepted and one named `bad-…` refused.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

#[cfg(feature = "image-files")]
#[path = "../../fuzz/harness/image.rs"]
mod image_harness;
#[path = "../../fuzz/harness/scanner.rs"]
mod scanner_harness;

use std::path::Path;

/// The files of `fuzz/<kind>/<target>/`, by name.
fn inputs(kind: &str, target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz")
        .join(kind)
        .join(target);
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<(String, Vec<u8>)> = entries
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect();
    files.sort();
    files
}

/// Replays the seeds (each named for its outcome) and the regressions of `target`.
fn replay<T>(target: &str, run: impl Fn(&[u8]) -> Result<T, String>) {
    let seeds = inputs("corpus", target);
    assert!(!seeds.is_empty(), "fuzz/corpus/{target} holds no seed");
    for (name, data) in &seeds {
        let outcome = run(data);
        if name.starts_with("ok-") {
            assert!(
                outcome.is_ok(),
                "{target}/{name}: {}",
                outcome.err().unwrap()
            );
        } else if name.starts_with("bad-") {
            assert!(outcome.is_err(), "{target}/{name} was accepted");
        }
    }
    for (_, data) in inputs("regressions", target) {
        let _ = run(&data);
    }
}

#[test]
fn parse_inputs() {
    replay("parse", scanner_harness::parse);
}

#[cfg(feature = "image-files")]
#[test]
fn image_inputs() {
    replay("image", image_harness::image);
}
