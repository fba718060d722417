//! Regenerates the label fixtures in `fixtures/labels/` from the demo serials:
//!
//! ```text
//! cargo run -p custodian-scanner --release --example make-labels
//! ```
//!
//! Clean labels (GS1 DataMatrix, GS1 QR, Digital Link QR, GS1-128, EAN-13), degraded variants
//! of one of each (rotation, blur, noise, low contrast, small modules, all at once), and two
//! 1280×720 frames with several codes each. `manifest.tsv` lists, per image, every code it
//! holds: `set`, `file`, `symbol`, `aim`, and the expected text with GS written `\x1d`.
//! `tests/decode.rs` decodes them all. Output is deterministic (seeded noise).

#![allow(
    clippy::unwrap_used,
    reason = "a generator: a panic is the error report"
)]

#[path = "../tests/support/labels.rs"]
mod labels;

use std::fmt::Write as _;
use std::path::Path;

use labels::{Demo, Gray, Rng, Symbol, demo_serials, label, without_signature};

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = root.join("fixtures/labels");
    for dir in ["clean", "degraded", "multi"] {
        let dir = out.join(dir);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
    }
    let jsonl = std::fs::read_to_string(root.join("fixtures/demo/serials.jsonl")).unwrap();
    let demo = demo_serials(&jsonl, 2);
    let mut manifest = String::from("set\tfile\tsymbol\taim\texpected\n");
    let mut add = |set: &str, file: &str, symbol: Symbol, text: &str| {
        let escaped = text.replace('\u{1d}', "\\x1d");
        writeln!(
            manifest,
            "{set}\t{file}\t{}\t{}\t{escaped}",
            symbol.name(),
            symbol.aim()
        )
        .unwrap();
    };
    let save = |file: &str, img: &Gray| {
        let buf = image::GrayImage::from_raw(img.width as u32, img.height as u32, img.px.clone())
            .unwrap();
        buf.save(out.join(file)).unwrap();
    };

    // What each symbol carries for one demo serial.
    let content = |symbol: Symbol, d: &Demo| -> String {
        match symbol {
            Symbol::Gs1DataMatrix | Symbol::Gs1Qr => d.element_string.clone(),
            Symbol::DigitalLinkQr => d.digital_link.clone(),
            Symbol::Gs1_128 => without_signature(&d.element_string),
            Symbol::Ean13 => d.gtin[1..].to_owned(),
        }
    };
    let module_px = |symbol: Symbol| match symbol {
        Symbol::Gs1_128 => 2,
        Symbol::Ean13 => 3,
        _ => 4,
    };

    // Clean: every 2D/128 symbol for each demo serial, one EAN-13 per GTIN.
    let symbols = [
        Symbol::Gs1DataMatrix,
        Symbol::Gs1Qr,
        Symbol::DigitalLinkQr,
        Symbol::Gs1_128,
    ];
    for (i, d) in demo.iter().enumerate() {
        for symbol in symbols
            .into_iter()
            .chain((i % 2 == 0).then_some(Symbol::Ean13))
        {
            let text = content(symbol, d);
            let file = format!("clean/{}-{i}.png", symbol.name());
            let img = label(symbol, &text, module_px(symbol));
            save(&file, &Gray::centred(&img, img.width + 40, img.height + 40));
            add("clean", &file, symbol, &text);
        }
    }

    // Degraded: one base label per symbol, each damage on its own and all together.
    let mut rng = Rng::new(0x5eed_1abe1);
    let bases = [
        (Symbol::Gs1DataMatrix, &demo[0]),
        (Symbol::Gs1Qr, &demo[1]),
        (Symbol::DigitalLinkQr, &demo[2]),
        (Symbol::Gs1_128, &demo[3]),
        (Symbol::Ean13, &demo[0]),
    ];
    for (symbol, d) in bases {
        let text = content(symbol, d);
        let base = label(symbol, &text, module_px(symbol));
        let variants: Vec<(&str, Gray)> = vec![
            ("rot10", base.rotated(10.0)),
            ("rot30", base.rotated(-30.0)),
            ("rot45", base.rotated(45.0)),
            ("blur1", base.blurred(1)),
            ("blur2", base.blurred(2)),
            ("noise40", base.noisy(40, &mut rng)),
            ("noise80", base.noisy(80, &mut rng)),
            ("contrast", base.contrast(90, 160)),
            ("small", base.scaled(0.45)),
            (
                "all",
                base.rotated(20.0)
                    .blurred(1)
                    .contrast(60, 190)
                    .noisy(30, &mut rng),
            ),
        ];
        for (name, img) in variants {
            let file = format!("degraded/{}-{name}.png", symbol.name());
            save(&file, &Gray::centred(&img, img.width + 30, img.height + 30));
            add("degraded", &file, symbol, &text);
        }
    }

    // Several codes in one 720p frame, as a camera over a shipping carton sees them.
    for (n, serials) in [[0usize, 1, 2, 3], [2, 3, 0, 1]].iter().enumerate() {
        let mut frame = Gray::blank(1280, 720, 235);
        let placed = [
            (Symbol::Gs1DataMatrix, 60, 60),
            (Symbol::Gs1Qr, 700, 80),
            (Symbol::Gs1_128, 40, 460),
            (Symbol::DigitalLinkQr, 980, 380),
        ];
        let file = format!("multi/frame-{n}.png");
        for ((symbol, x, y), &s) in placed.into_iter().zip(serials) {
            let text = content(symbol, &demo[s]);
            let px = if symbol == Symbol::Gs1_128 { 2 } else { 3 };
            frame.blit(&label(symbol, &text, px), x, y);
            add("multi", &file, symbol, &text);
        }
        save(&file, &frame);
    }

    std::fs::write(out.join("manifest.tsv"), manifest).unwrap();
    println!("wrote {}", out.display());
}
