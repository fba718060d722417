//! Regenerates the label fixtures in `fixtures/labels/` from the demo serials:
//!
//! ```text
//! cargo run -p custodian-scanner --release --example make-labels
//! ```
//!
//! Clean labels (GS1 DataMatrix, GS1 QR, Digital Link QR, GS1-128, EAN-13); degraded variants
//! of two of each (rotation, perspective, blur, noise, low contrast, glare, small modules, a
//! combination); two 1280×720 frames with several codes each; and 1280×720 camera frames of a
//! cluttered scene with one printed DataMatrix label and without any code. `manifest.tsv`
//! lists, per image, every code it holds: `set`, `file`, `symbol`, `aim`, the expected text
//! with GS written `\x1d`, and `variant` (the degradation); an image without a code has one
//! line with empty `symbol`, `aim` and text. The images are drawn by `tests/support/labels.rs`
//! (`corpus`), deterministically, and `tests/decode.rs` checks the committed ones against it.

#![allow(
    clippy::unwrap_used,
    reason = "a generator: a panic is the error report"
)]

#[path = "../tests/support/labels.rs"]
mod labels;

use std::path::Path;

use labels::{MANIFEST_HEADER, corpus};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("fixtures/labels");
    for dir in ["clean", "degraded", "multi", "frames"] {
        let dir = out.join(dir);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
    }
    let jsonl = std::fs::read_to_string(root.join("fixtures/demo/serials.jsonl")).unwrap();
    let mut manifest = String::from(MANIFEST_HEADER);
    for fixture in corpus(&jsonl) {
        let img = &fixture.image;
        let buf = image::GrayImage::from_raw(img.width as u32, img.height as u32, img.px.clone())
            .unwrap();
        buf.save(out.join(&fixture.file)).unwrap();
        manifest.push_str(&fixture.manifest_lines());
    }
    std::fs::write(out.join("manifest.tsv"), manifest).unwrap();
    println!("wrote {}", out.display());
}
