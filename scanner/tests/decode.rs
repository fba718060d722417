//! Decoding pixels: the label fixtures in `fixtures/labels/` (regenerate with
//! `cargo run -p custodian-scanner --release --example make-labels`), in-memory labels and
//! camera scenes, the frame deduplicator.
//!
//! Clean labels must decode to exactly the element string that was encoded, with the right
//! symbology identifier, and parse. Degraded labels report a detection rate, asserted against a
//! floor measured when the fixtures were made (see the constants). The locating pre-pass must
//! lose nothing against decoding whole frames, on the corpus and with the corpus's labels
//! pasted into cluttered 720p scenes.

#![allow(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

#[path = "support/labels.rs"]
mod labels;

use std::path::{Path, PathBuf};

use custodian_scanner::decode::{DecodeOptions, Decoded, Format, decode_luma};
use custodian_scanner::live::{Dedup, Recording, next_scans};
use custodian_scanner::{GS, Identity, parse};
use labels::{FRAMES, Gray, MANIFEST_HEADER, Symbol, corpus, label};

/// Detection floors over the degraded set (130 labels: 13 degradations of two labels of each
/// of five symbols), measured with these fixtures: fast is the live-camera default, thorough
/// adds TryHarder. A drop below them is a regression in the decoder set-up.
const DEGRADED_FLOOR_FAST: usize = 101;
const DEGRADED_FLOOR_THOROUGH: usize = 105;

const DEMO: &str = include_str!("../../fixtures/demo/serials.jsonl");

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/labels")
}

struct Row {
    set: String,
    file: String,
    aim: String,
    expected: String,
    variant: String,
}

fn manifest() -> Vec<Row> {
    let text = std::fs::read_to_string(fixtures().join("manifest.tsv")).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            Row {
                set: cols[0].to_owned(),
                file: cols[1].to_owned(),
                aim: cols[3].to_owned(),
                expected: cols[4].replace("\\x1d", &GS.to_string()),
                variant: cols[5].to_owned(),
            }
        })
        .collect()
}

fn decode_file(file: &str, options: &DecodeOptions) -> Vec<Decoded> {
    let img = image::open(fixtures().join(file)).unwrap().to_luma8();
    let (w, h) = img.dimensions();
    decode_luma(w, h, img.as_raw(), options)
}

fn found(decoded: &[Decoded], row: &Row) -> bool {
    decoded
        .iter()
        .any(|d| d.text == row.expected && d.aim == row.aim)
}

#[test]
fn clean_labels_decode_exactly() {
    let rows: Vec<Row> = manifest()
        .into_iter()
        .filter(|r| r.set == "clean")
        .collect();
    assert!(
        rows.len() >= 15,
        "manifest lists {} clean labels",
        rows.len()
    );
    for row in &rows {
        let decoded = decode_file(&row.file, &DecodeOptions::default());
        assert_eq!(decoded.len(), 1, "{}: {decoded:?}", row.file);
        let d = &decoded[0];
        assert_eq!(
            (d.aim.as_str(), d.text.as_str()),
            (row.aim.as_str(), row.expected.as_str()),
            "{}",
            row.file
        );
        let scan = parse(&d.scan_text()).unwrap_or_else(|e| panic!("{}: {e}", row.file));
        assert!(scan.gtin().is_some(), "{}", row.file);
    }
}

#[test]
fn several_codes_in_one_frame() {
    let rows: Vec<Row> = manifest()
        .into_iter()
        .filter(|r| r.set == "multi")
        .collect();
    let mut files: Vec<&str> = rows.iter().map(|r| r.file.as_str()).collect();
    files.dedup();
    let (mut hits, mut total) = (0, 0);
    for file in files {
        let decoded = decode_file(file, &DecodeOptions::default());
        for row in rows.iter().filter(|r| r.file == file) {
            total += 1;
            hits += usize::from(found(&decoded, row));
        }
    }
    eprintln!("multi-code frames: {hits}/{total} codes found (fast settings)");
    assert!(hits * 4 >= total * 3, "{hits}/{total}");
}

fn whole_frame() -> DecodeOptions {
    DecodeOptions {
        locate: false,
        ..DecodeOptions::default()
    }
}

#[test]
fn committed_fixtures_are_what_the_generator_draws() {
    let generated = corpus(DEMO);
    let mut manifest = String::from(MANIFEST_HEADER);
    for fixture in &generated {
        manifest.push_str(&fixture.manifest_lines());
        let committed = image::open(fixtures().join(&fixture.file))
            .unwrap_or_else(|e| panic!("{}: {e}", fixture.file))
            .to_luma8();
        assert_eq!(
            committed.dimensions(),
            (fixture.image.width as u32, fixture.image.height as u32),
            "{}",
            fixture.file
        );
        assert!(
            committed.as_raw() == &fixture.image.px,
            "{} differs from the generator: rerun make-labels",
            fixture.file
        );
    }
    let committed = std::fs::read_to_string(fixtures().join("manifest.tsv")).unwrap();
    assert_eq!(committed, manifest);
}

#[test]
fn camera_frames_decode_their_one_code_and_empty_scenes_nothing() {
    let rows: Vec<Row> = manifest()
        .into_iter()
        .filter(|r| r.set == "frame" || r.set == "empty")
        .collect();
    assert_eq!(rows.len(), 2 * FRAMES.len());
    for row in &rows {
        let decoded = decode_file(&row.file, &DecodeOptions::default());
        if row.set == "empty" {
            assert!(decoded.is_empty(), "{}: {decoded:?}", row.file);
            assert!(
                decode_file(&row.file, &whole_frame()).is_empty(),
                "{}",
                row.file
            );
        } else {
            assert_eq!(decoded.len(), 1, "{}: {decoded:?}", row.file);
            assert!(found(&decoded, row), "{}", row.file);
        }
    }
}

#[test]
fn locating_finds_codes_of_every_module_size_in_a_cluttered_scene() {
    for module_px in [2, 3, 4, 5, 6, 8, 10] {
        for (n, spec) in FRAMES.iter().enumerate() {
            let frame =
                spec.with_datamatrix(ELEMENT_STRING, module_px, spec.x.min(700), spec.y.min(300));
            let decoded = decode_luma(1280, 720, &frame.px, &DecodeOptions::default());
            let whole = decode_luma(1280, 720, &frame.px, &whole_frame());
            let located = decoded.iter().any(|d| d.text == ELEMENT_STRING);
            let whole = whole.iter().any(|d| d.text == ELEMENT_STRING);
            // Below 4 px a printed, blurred module is beyond rxing whether located or not.
            assert!(
                located || (module_px < 4 && !whole),
                "module {module_px} px, scene {n}: {decoded:?}"
            );
        }
    }
}

#[test]
fn locating_loses_nothing_on_the_corpus_pasted_into_scenes() {
    let scenes: Vec<Gray> = FRAMES.iter().map(|spec| spec.empty()).collect();
    let (mut located, mut whole, mut lost) = (0, 0, Vec::new());
    let rows: Vec<Row> = manifest()
        .into_iter()
        .filter(|r| r.set == "degraded")
        .collect();
    for (i, row) in rows.iter().enumerate() {
        let img = image::open(fixtures().join(&row.file)).unwrap().to_luma8();
        let (w, h) = (img.width() as usize, img.height() as usize);
        let label = Gray {
            width: w,
            height: h,
            px: img.into_raw(),
        };
        let mut frame = scenes[i % scenes.len()].clone();
        let (x, y) = labels::paste_position(i, w, h);
        frame.blit(&label, x, y);
        let l = found(
            &decode_luma(1280, 720, &frame.px, &DecodeOptions::default()),
            row,
        );
        let f = found(&decode_luma(1280, 720, &frame.px, &whole_frame()), row);
        located += usize::from(l);
        whole += usize::from(f);
        if f && !l {
            lost.push(row.file.clone());
        }
    }
    eprintln!(
        "degraded labels in 720p scenes: {located}/{} located, {whole}/{} whole frame",
        rows.len(),
        rows.len()
    );
    assert!(lost.is_empty(), "found in the whole frame only: {lost:?}");
}

#[test]
fn degraded_detection_rate() {
    let rows: Vec<Row> = manifest()
        .into_iter()
        .filter(|r| r.set == "degraded")
        .collect();
    let mut fast = 0;
    let mut thorough = 0;
    let mut whole = 0;
    let mut lost = Vec::new();
    for row in &rows {
        let f = found(&decode_file(&row.file, &DecodeOptions::default()), row);
        let t = f || found(&decode_file(&row.file, &DecodeOptions::thorough()), row);
        let w = found(&decode_file(&row.file, &whole_frame()), row);
        fast += usize::from(f);
        thorough += usize::from(t);
        whole += usize::from(w);
        if w && !f {
            lost.push(row.file.clone());
        }
        eprintln!(
            "{:44} {:10} fast {:5} thorough {:5} whole frame {:5}",
            row.file, row.variant, f, t, w
        );
    }
    eprintln!("whole frame: {whole}/{}", rows.len());
    assert!(lost.is_empty(), "found in the whole frame only: {lost:?}");
    let n = rows.len() as f64;
    let (fast_rate, thorough_rate) = (fast as f64 / n, thorough as f64 / n);
    eprintln!(
        "degraded labels: {fast}/{} fast ({:.0}%), {thorough}/{} thorough ({:.0}%)",
        rows.len(),
        fast_rate * 100.0,
        rows.len(),
        thorough_rate * 100.0
    );
    assert!(fast >= DEGRADED_FLOOR_FAST, "fast detection {fast_rate:.2}");
    assert!(
        thorough >= DEGRADED_FLOOR_THOROUGH,
        "thorough detection {thorough_rate:.2}"
    );
}

const ELEMENT_STRING: &str = "010401234500001610L2611A\u{1d}215FNRJRW2M5";

fn frame_with(symbol: Symbol, data: &str) -> Gray {
    let module_px = if symbol == Symbol::Gs1_128 { 2 } else { 4 };
    Gray::centred(&label(symbol, data, module_px), 1280, 720)
}

#[test]
fn in_memory_labels_round_trip() {
    for symbol in [Symbol::Gs1DataMatrix, Symbol::Gs1Qr, Symbol::Gs1_128] {
        let frame = frame_with(symbol, ELEMENT_STRING);
        for multiple in [true, false] {
            let options = DecodeOptions {
                multiple,
                ..DecodeOptions::default()
            };
            let decoded = decode_luma(1280, 720, &frame.px, &options);
            assert_eq!(decoded.len(), 1, "{symbol:?}");
            assert_eq!(decoded[0].text, ELEMENT_STRING, "{symbol:?}");
            assert_eq!(decoded[0].aim, symbol.aim(), "{symbol:?}");
            let centre = decoded[0].center();
            assert!(
                (centre.x - 640.0).abs() < 100.0 && (centre.y - 360.0).abs() < 100.0,
                "{centre:?}"
            );
            let scan = parse(&decoded[0].scan_text()).unwrap();
            assert!(
                matches!(scan.identity(), Some(Identity::Unit { serial, .. }) if serial == "5FNRJRW2M5")
            );
        }
    }
    let ean = frame_with(Symbol::Ean13, "4012345000016");
    let decoded = decode_luma(1280, 720, &ean.px, &DecodeOptions::default());
    assert_eq!(decoded[0].format, Format::Ean13);
    assert_eq!(
        parse(&decoded[0].scan_text())
            .unwrap()
            .gtin()
            .unwrap()
            .as_str(),
        "04012345000016"
    );
}

/// A GS1 DataMatrix and a GS1 QR code on one label, their quiet zones overlapping: the
/// pre-pass takes them for one region, and after the first code the rest of it is decoded again, so
/// both are found.
#[test]
fn two_codes_side_by_side_are_both_found() {
    let dm = label(Symbol::Gs1DataMatrix, ELEMENT_STRING, 4);
    let qr = label(Symbol::Gs1Qr, "010401234500001610L2611B", 4);
    let mut frame = Gray::blank(1280, 720, 190);
    frame.blit(&dm, 200, 150);
    frame.blit(&qr, 200, 150 + dm.height - 8);
    let decoded = decode_luma(1280, 720, &frame.px, &DecodeOptions::default());
    let texts: Vec<&str> = decoded.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(decoded.len(), 2, "{texts:?}");
    assert!(texts.contains(&ELEMENT_STRING), "{texts:?}");
    assert!(texts.contains(&"010401234500001610L2611B"), "{texts:?}");
    let first = DecodeOptions {
        multiple: false,
        ..DecodeOptions::default()
    };
    assert_eq!(decode_luma(1280, 720, &frame.px, &first).len(), 1);
}

#[test]
fn restricted_formats_ignore_others() {
    let frame = frame_with(Symbol::Gs1DataMatrix, ELEMENT_STRING);
    let qr_only = DecodeOptions {
        formats: vec![Format::Qr],
        ..DecodeOptions::default()
    };
    assert!(decode_luma(1280, 720, &frame.px, &qr_only).is_empty());
}

#[test]
fn bad_buffers_decode_to_nothing() {
    let options = DecodeOptions::default();
    assert!(decode_luma(0, 0, &[], &options).is_empty());
    assert!(decode_luma(10, 10, &[0; 99], &options).is_empty());
    assert!(decode_luma(u32::MAX, u32::MAX, &[0; 4], &options).is_empty());
    assert!(decode_luma(640, 480, &vec![255; 640 * 480], &options).is_empty());
}

#[test]
fn dedup_reports_a_code_once_while_in_view() {
    let frame = frame_with(Symbol::Gs1DataMatrix, ELEMENT_STRING);
    let blank = vec![255u8; 1280 * 720];
    let mut recording = Recording::new();
    // In view for 10 frames at 30 fps, out of view for 2 s, back in view.
    for i in 0..10 {
        recording.push(1280, 720, frame.px.clone(), i * 33);
    }
    recording.push(1280, 720, blank.clone(), 400);
    recording.push(1280, 720, frame.px.clone(), 2_500);
    let mut dedup = Dedup::new(1_000);
    let mut scans = Vec::new();
    while let Some(new) = next_scans(&mut recording, &DecodeOptions::default(), &mut dedup).unwrap()
    {
        scans.extend(new);
    }
    assert_eq!(scans.len(), 2, "{scans:?}");
    assert!(scans.iter().all(|d| d.text == ELEMENT_STRING));
}

#[test]
fn dedup_window_is_extended_by_each_sighting() {
    let code = |text: &str| Decoded {
        format: Format::Qr,
        text: text.to_owned(),
        aim: "]Q1".to_owned(),
        position: Vec::new(),
    };
    let mut dedup = Dedup::new(100);
    assert_eq!(dedup.frame(0, vec![code("a"), code("b")]).len(), 2);
    assert_eq!(dedup.frame(90, vec![code("a")]).len(), 0);
    // "a" was seen at 90, so it is still in view at 180; "b" was last seen at 0.
    assert_eq!(
        dedup.frame(180, vec![code("a"), code("b")]),
        vec![code("b")]
    );
    assert_eq!(dedup.frame(500, vec![code("a")]), vec![code("a")]);
}

#[cfg(feature = "image-files")]
#[test]
fn decode_image_file_reads_png_and_explains_failures() {
    use custodian_scanner::{DecodeError, decode_image_file};
    let decoded = decode_image_file(fixtures().join("clean/gs1-datamatrix-0.png")).unwrap();
    assert_eq!(decoded.len(), 1);
    assert_eq!(decoded[0].aim, "]d2");
    let missing = decode_image_file(fixtures().join("no-such.png")).unwrap_err();
    assert!(matches!(missing, DecodeError::Io { .. }), "{missing}");
    let not_image = decode_image_file(fixtures().join("manifest.tsv")).unwrap_err();
    assert!(
        matches!(not_image, DecodeError::NotAnImage { .. }),
        "{not_image}"
    );
}

/// A Code 128 check character of value 102 is FNC1's value; read as one, it left a GS after
/// the data (a photographed `10068408` came out as `10068408` + GS). "10A175" as GS1-128 has
/// that check character.
#[test]
fn a_code_128_check_character_of_fnc1_adds_nothing_to_the_text() {
    let frame = Gray::centred(&label(Symbol::Gs1_128, "10A175", 2), 640, 240);
    for options in [DecodeOptions::default(), DecodeOptions::thorough()] {
        let decoded = decode_luma(640, 240, &frame.px, &options);
        assert_eq!(decoded.len(), 1);
        assert_eq!(
            (decoded[0].aim.as_str(), decoded[0].text.as_str()),
            ("]C1", "10A175")
        );
    }
}

/// An EAN-13 in light that falls off along its rows (a shadow over its left half): a row
/// thresholded by its own histogram loses the bars in the shadow, the hybrid matrix's local
/// thresholds keep them.
#[test]
fn an_ean_13_half_in_shadow_is_read() {
    let code = label(Symbol::Ean13, "4012345000016", 3);
    let mut frame = Gray::centred(&code, 640, 240);
    let left = 320 - code.width / 2;
    for y in 0..frame.height {
        for x in 0..frame.width {
            // Full light right of the middle, falling to a fifth at the code's left edge.
            let t = (x.clamp(left, 320) - left) as f32 / (320 - left) as f32;
            let p = &mut frame.px[y * frame.width + x];
            *p = (f32::from(*p) * (0.2 + 0.8 * t)).round() as u8;
        }
    }
    let decoded = decode_luma(640, 240, &frame.px, &DecodeOptions::default());
    let texts: Vec<&str> = decoded.iter().map(|d| d.text.as_str()).collect();
    assert_eq!(texts, ["4012345000016"]);
}

/// Bars either side of an EAN-13 on the same rows (borders, printed text) that begin, seen
/// from outside, with bar, space, bar of the code's module and a gap: rxing tried UPC/EAN from
/// the first guard-like pattern of a row only (either way along it), and read nothing.
#[test]
fn an_ean_13_behind_a_false_start_guard_is_read() {
    let module = 3;
    let code = label(Symbol::Ean13, "4012345000016", module);
    let mut frame = Gray::blank(640, 240, 255);
    let (x0, y0) = (200, (240 - code.height) / 2);
    frame.blit(&code, x0, y0);
    // In modules from 25 modules outside the code's bars, up to its quiet zones (10
    // modules): bar, space, bar, then bars of 2, 1 and 3 modules, 2 apart.
    let decoy = [(0, 1), (2, 1), (5, 2), (9, 1), (12, 3)];
    let (left, right) = (x0 - 15 * module, x0 + code.width + 15 * module);
    for (at, width) in decoy {
        frame.fill(left + at * module, y0, width * module, code.height, 0);
        frame.fill(
            right - (at + width) * module,
            y0,
            width * module,
            code.height,
            0,
        );
    }
    // Over the whole frame, where every row scanned begins with the bars (a located crop
    // may begin inside them).
    for options in [whole_frame(), DecodeOptions::default()] {
        let decoded = decode_luma(640, 240, &frame.px, &options);
        let texts: Vec<&str> = decoded.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts, ["4012345000016"], "locate: {}", options.locate);
    }
}

/// One row of an EAN-13 that another EAN-13 of the same size runs through (a row that reads
/// as a valid code on its own, as texture or damage sometimes does): an EAN/UPC code counts
/// only once a second row reads the same, so the one row is never reported, wherever it
/// falls among the rows scanned.
#[test]
fn an_ean_13_read_on_one_row_only_is_not_reported() {
    let code = label(Symbol::Ean13, "4012345000016", 3);
    let stray = label(Symbol::Ean13, "5901234123457", 3);
    let (x0, y0) = ((640 - code.width) / 2, (480 - code.height) / 2);
    for row in 40..code.height - 40 {
        let mut frame = Gray::blank(640, 480, 255);
        frame.blit(&code, x0, y0);
        let line = &stray.px[row * stray.width..(row + 1) * stray.width];
        let at = (y0 + row) * frame.width + x0;
        frame.px[at..at + stray.width].copy_from_slice(line);
        for options in [DecodeOptions::default(), DecodeOptions::thorough()] {
            let decoded = decode_luma(640, 480, &frame.px, &options);
            let texts: Vec<&str> = decoded.iter().map(|d| d.text.as_str()).collect();
            assert_eq!(texts, ["4012345000016"], "stray row {row}");
        }
    }
}

/// A GS1-128 under lines of printed text on one label, upright or a little askew: one
/// region, whose middle rows (all a live decode reads of a region) cross the text and whose
/// gradients as a whole point every way. The band of the region that holds the bars is read
/// on its own.
#[test]
fn a_code_under_lines_of_text_is_read() {
    for degrees in [0.0, 9.0] {
        let code = label(Symbol::Gs1_128, "0104012345000016", 2).rotated(degrees);
        let mut frame = Gray::blank(640, 480, 235);
        let mut rng = labels::Rng::new(7);
        labels::text(&mut frame, (60, 40), (14, 40), 14, 30, &mut rng);
        frame.blit(&code, 60, 40 + 14 * 21);
        let decoded = decode_luma(640, 480, &frame.px, &DecodeOptions::default());
        let texts: Vec<&str> = decoded.iter().map(|d| d.text.as_str()).collect();
        assert_eq!(texts, ["0104012345000016"], "{degrees}°");
    }
}
