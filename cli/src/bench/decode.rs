//! `custodian bench decode`: parsing and decoding speed on one core, and detection over the
//! label corpus.
//!
//! Parsing replays the demo serials as a GS1 DataMatrix scanner sends them (`]d2`, element
//! string with AI 8030, CR LF), fully validated. Decoding reads the committed fixtures in
//! `fixtures/labels/` (or `--labels DIR`, any directory with a `manifest.tsv` in that format):
//! the 1280×720 camera frames with one GS1 DataMatrix label (`frame`) and without a code
//! (`empty`) are decoded repeatedly at the live-camera settings; every other image is decoded
//! once per setting and counts towards the detection rates, overall and per degradation.
//! Each figure is also given with the locating pre-pass off (`_whole_frame`: rxing over the
//! whole image), which is what it replaced. The process is single-threaded; pin it to one core
//! (`taskset -c 0`) for one-core figures.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use custodian_scanner::decode::{DecodeOptions, Decoded, decode_luma};
use serde_json::{Value, json};

use super::{percentile, round};

/// Timed decodes of each benchmark frame.
const FRAME_RUNS: usize = 25;

/// Where the fixtures are when no `--labels` is given: the workspace this binary was built in.
pub fn default_labels() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/labels")
}

/// One image of the corpus and the codes it holds.
struct Image {
    set: String,
    variant: String,
    file: String,
    width: u32,
    height: u32,
    luma: Vec<u8>,
    /// (AIM identifier, text).
    codes: Vec<(String, String)>,
}

impl Image {
    /// How many of its codes `decoded` holds.
    ///
    /// A code matches a decoded symbol with its text whose AIM identifier begins with the
    /// manifest's: `]d2` must be exactly that, `]Q` is any QR code (the real-photo corpus names
    /// the family, not the modifier). EAN/UPC texts are compared as GTINs: a UPC-A's 12 digits
    /// are the EAN-13 with a leading 0.
    fn hits(&self, decoded: &[Decoded]) -> usize {
        let same = |aim: &str, a: &str, b: &str| {
            if aim.starts_with("]E") {
                format!("{a:0>13}") == format!("{b:0>13}")
            } else {
                a == b
            }
        };
        self.codes
            .iter()
            .filter(|(aim, text)| {
                decoded
                    .iter()
                    .any(|d| d.aim.starts_with(aim.as_str()) && same(aim, &d.text, text))
            })
            .count()
    }

    fn decode(&self, options: &DecodeOptions) -> (Vec<Decoded>, f64) {
        let started = Instant::now();
        let decoded = decode_luma(self.width, self.height, &self.luma, options);
        (decoded, started.elapsed().as_secs_f64() * 1e3)
    }
}

/// Reads `manifest.tsv` and the images it lists.
fn corpus(dir: &Path) -> Result<Vec<Image>> {
    let manifest = dir.join("manifest.tsv");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "reading {} (pass --labels DIR with a label corpus)",
            manifest.display()
        )
    })?;
    let mut images: Vec<Image> = Vec::new();
    for (n, line) in text.lines().enumerate().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let [set, file, _symbol, aim, expected, rest @ ..] = cols.as_slice() else {
            bail!(
                "{}:{}: expected at least 5 columns",
                manifest.display(),
                n + 1
            );
        };
        let variant = rest.first().copied().unwrap_or(set);
        let code = (!aim.is_empty()).then(|| (aim.to_string(), unescape(expected)));
        if let Some(last) = images.last_mut().filter(|i| i.file == *file) {
            last.codes.extend(code);
            continue;
        }
        let path = dir.join(file);
        let luma = image::open(&path)
            .with_context(|| format!("reading {}", path.display()))?
            .to_luma8();
        let (width, height) = luma.dimensions();
        images.push(Image {
            set: set.to_string(),
            variant: variant.to_string(),
            file: file.to_string(),
            width,
            height,
            luma: luma.into_raw(),
            codes: code.into_iter().collect(),
        });
    }
    Ok(images)
}

/// A manifest's expected text: `\xHH` stands for the byte HH (GS, tabs, line breaks and
/// backslashes are written so).
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\x") {
        out.push_str(&rest[..at]);
        let code = rest
            .get(at + 2..at + 4)
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match code {
            Some(byte) => {
                out.push(char::from(byte));
                rest = &rest[at + 4..];
            }
            None => {
                out.push('\\');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Runs the benchmark on the corpus in `labels`.
pub fn run(labels: &Path) -> Result<Value> {
    let mut figures = serde_json::Map::new();
    let (per_s, per_cpu_s) = parse_per_s()?;
    figures.insert("parse_per_s".into(), json!(round(per_s, 0)));
    figures.insert(
        "parse_per_s_cpu".into(),
        json!(per_cpu_s.map(|r| round(r, 0))),
    );

    let images = corpus(labels)?;
    let live = DecodeOptions::default();
    let whole = DecodeOptions {
        locate: false,
        ..DecodeOptions::default()
    };
    let thorough = DecodeOptions::thorough();

    for (set, key) in [("frame", "frame_with_code_ms"), ("empty", "empty_frame_ms")] {
        let frames: Vec<&Image> = images.iter().filter(|i| i.set == set).collect();
        for (options, suffix) in [(&live, ""), (&whole, "_whole_frame")] {
            let mut times = Vec::new();
            // Frames whose decode is exactly right: their one code, or nothing in an empty one.
            let mut right = 0;
            for frame in &frames {
                let (decoded, _) = frame.decode(options);
                right += usize::from(
                    frame.hits(&decoded) == frame.codes.len() && decoded.len() == frame.codes.len(),
                );
                times.extend((0..FRAME_RUNS).map(|_| frame.decode(options).1));
            }
            let cpu_start = thread_cpu_ms();
            for frame in &frames {
                for _ in 0..FRAME_RUNS {
                    frame.decode(options);
                }
            }
            let runs = frames.len() * FRAME_RUNS;
            let cpu = thread_cpu_ms()
                .zip(cpu_start)
                .filter(|_| runs > 0)
                .map(|(end, start)| round((end - start) / runs as f64, 3));
            let median = (!times.is_empty()).then(|| round(percentile(&mut times, 0.5), 3));
            figures.insert(format!("{key}{suffix}"), json!(median));
            figures.insert(format!("{key}_cpu{suffix}"), json!(cpu));
            figures.insert(
                format!("{set}_frames_right{suffix}"),
                json!(format!("{right}/{}", frames.len())),
            );
        }
    }

    // Detection over everything else, per set and per degradation.
    let scored: Vec<&Image> = images
        .iter()
        .filter(|i| i.set != "frame" && i.set != "empty")
        .collect();
    for (options, suffix) in [
        (&live, ""),
        (&whole, "_whole_frame"),
        (&thorough, "_thorough"),
    ] {
        let mut by_set: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let mut by_variant: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        let mut set_ms: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
        let mut times = Vec::new();
        // Symbols read in images that hold no code at all.
        let mut false_positives = 0;
        let cpu_start = thread_cpu_ms();
        for image in &scored {
            let (decoded, ms) = image.decode(options);
            times.push(ms);
            let hits = image.hits(&decoded);
            if image.codes.is_empty() {
                false_positives += decoded.len();
            }
            for (key, map) in [
                (image.set.as_str(), &mut by_set),
                (image.variant.as_str(), &mut by_variant),
            ] {
                let entry = map.entry(key).or_default();
                entry.0 += hits;
                entry.1 += image.codes.len();
            }
            let entry = set_ms.entry(image.set.as_str()).or_default();
            (entry.0, entry.1) = (entry.0 + ms, entry.1 + 1);
        }
        let (all_hits, all_codes) = by_set
            .values()
            .fold((0, 0), |(h, t), &(hits, codes)| (h + hits, t + codes));
        figures.insert(
            format!("detected_all{suffix}"),
            json!(format!("{all_hits}/{all_codes}")),
        );
        figures.insert(format!("false_positives{suffix}"), json!(false_positives));
        figures.insert(
            format!("ms_per_image_by_set{suffix}"),
            set_ms
                .iter()
                .map(|(k, &(ms, n))| ((*k).to_owned(), json!(round(ms / n as f64, 3))))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        );
        let rate = |(hits, total): (usize, usize)| round(hits as f64 / total.max(1) as f64, 3);
        let degraded = by_set.get("degraded").copied().unwrap_or_default();
        figures.insert(format!("detection_rate{suffix}"), json!(rate(degraded)));
        figures.insert(
            format!("detected{suffix}"),
            json!(format!("{}/{}", degraded.0, degraded.1)),
        );
        let per = |map: &BTreeMap<&str, (usize, usize)>| -> Value {
            map.iter()
                .map(|(k, &(h, t))| ((*k).to_owned(), json!(format!("{h}/{t}"))))
                .collect::<serde_json::Map<_, _>>()
                .into()
        };
        figures.insert(format!("detected_by_set{suffix}"), per(&by_set));
        figures.insert(format!("detected_by_variant{suffix}"), per(&by_variant));
        let cpu = thread_cpu_ms()
            .zip(cpu_start)
            .map(|(end, start)| round((end - start) / scored.len().max(1) as f64, 3));
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        figures.insert(
            format!("corpus_ms_per_image{suffix}"),
            json!(round(mean, 3)),
        );
        figures.insert(format!("corpus_ms_per_image_cpu{suffix}"), json!(cpu));
    }
    figures.insert("corpus_images".into(), json!(scored.len()));
    Ok(Value::Object(figures))
}

/// Messages parsed and validated per second: the demo serials as a GS1 DataMatrix scanner
/// sends them, in rounds of the whole set; the median round, and all rounds over their CPU
/// time.
fn parse_per_s() -> Result<(f64, Option<f64>)> {
    let messages: Vec<String> = super::demo_serials()?
        .into_iter()
        .map(|element_string| format!("]d2{element_string}\r\n"))
        .collect();
    for m in &messages {
        custodian_scanner::parse(m).with_context(|| format!("parsing {m:?}"))?;
    }
    let mut rates = Vec::new();
    let cpu_start = thread_cpu_ms();
    let started = Instant::now();
    while rates.len() < 15 || (started.elapsed().as_secs_f64() < 1.0 && rates.len() < 1_000) {
        let round_start = Instant::now();
        for _ in 0..20 {
            for m in &messages {
                std::hint::black_box(custodian_scanner::parse(std::hint::black_box(m)))
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            }
        }
        rates.push((20 * messages.len()) as f64 / round_start.elapsed().as_secs_f64());
    }
    let parsed = (rates.len() * 20 * messages.len()) as f64;
    let per_cpu_s = thread_cpu_ms()
        .zip(cpu_start)
        .map(|(end, start)| parsed / ((end - start) / 1e3));
    Ok((percentile(&mut rates, 0.5), per_cpu_s))
}

/// CPU time this thread has run, in ms (Linux: `/proc/thread-self/schedstat`, nanoseconds on
/// the CPU; `None` elsewhere). On a shared machine the wall-clock medians include time spent
/// waiting for the core; this does not, so each timing figure also comes as `_cpu`: CPU time
/// per operation, averaged over all its runs.
fn thread_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e6)
}
