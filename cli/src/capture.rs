//! Where `custodian scan` takes its scans from, and `custodian cameras`.
//!
//! A scan session has one or more sources: input lines (a file, or standard input, where a
//! keyboard-wedge scanner types), serial-port scanners (`--serial`, the `serial` feature, on by
//! default) and cameras (`--camera`, the `camera` feature, off by default so the usual build
//! needs no camera stack). Each source runs on its own thread and sends what it reads into one
//! channel, so scans are recorded one at a time in the order they arrive, whichever source they
//! come from. A source that fails (a camera missing, busy or unplugged, a scanner disconnected)
//! reports one line and stops; the others go on.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use anyhow::{Context, Result, bail};

/// One place scans come from.
#[derive(Debug)]
pub enum Source {
    /// Lines of raw scanner output: the open file, or standard input when `None`.
    Lines(Option<(PathBuf, std::fs::File)>),
    /// A serial-port scanner.
    Serial { path: String, baud: u32 },
    /// A camera, by index.
    Camera(u32),
}

impl Source {
    /// The input lines of FILE, or standard input for none or `-`.
    ///
    /// # Errors
    ///
    /// The file cannot be opened.
    pub fn lines(input: Option<&Path>) -> Result<Source> {
        match input {
            None => Ok(Source::Lines(None)),
            Some(p) if p == Path::new("-") => Ok(Source::Lines(None)),
            Some(p) => {
                let file =
                    std::fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
                Ok(Source::Lines(Some((p.to_owned(), file))))
            }
        }
    }

    /// A serial-port scanner at `path`.
    ///
    /// # Errors
    ///
    /// This binary was built without the `serial` feature.
    pub fn serial(path: String, baud: u32) -> Result<Source> {
        if cfg!(feature = "serial") {
            Ok(Source::Serial { path, baud })
        } else {
            bail!("{}", unsupported(&format!("--serial {path}"), "serial"))
        }
    }

    /// Camera `index`.
    ///
    /// # Errors
    ///
    /// This binary was built without the `camera` feature.
    pub fn camera(index: u32) -> Result<Source> {
        if cfg!(feature = "camera") {
            Ok(Source::Camera(index))
        } else {
            bail!("{}", unsupported(&format!("--camera {index}"), "camera"))
        }
    }
}

/// What a source sends.
#[derive(Debug)]
pub enum Event {
    /// Raw scanner output, as `Ledger::scan` takes it.
    Scan(String),
    /// Something that was not a scan; the source goes on.
    #[cfg_attr(
        not(feature = "serial"),
        allow(dead_code, reason = "only serial ports send warnings")
    )]
    Warning(String),
    /// The source ended: `Ok` at the end of its input, or the error that stopped it.
    Ended(Result<(), String>),
}

/// Starts every source on its own thread; their events arrive on the returned channel. Each
/// source sends exactly one [`Event::Ended`], last.
pub fn start(sources: Vec<Source>) -> mpsc::Receiver<Event> {
    let (events, receiver) = mpsc::channel();
    for source in sources {
        let events = events.clone();
        std::thread::spawn(move || {
            let end = run(source, &events).map_err(|e| format!("{e:#}"));
            let _ = events.send(Event::Ended(end));
        });
    }
    receiver
}

fn run(source: Source, events: &mpsc::Sender<Event>) -> Result<()> {
    match source {
        Source::Lines(None) => lines(std::io::stdin().lock(), events),
        Source::Lines(Some((path, file))) => lines(std::io::BufReader::new(file), events)
            .with_context(|| format!("{}", path.display())),
        Source::Serial { path, baud } => serial(&path, baud, events),
        Source::Camera(index) => camera(index, events),
    }
}

/// Each non-blank line is one scan, exactly as the scanner typed it.
fn lines(reader: impl BufRead, events: &mpsc::Sender<Event>) -> Result<()> {
    for line in reader.split(b'\n') {
        let line = line.context("reading scans")?;
        let raw = String::from_utf8_lossy(&line);
        if raw.trim().is_empty() {
            continue;
        }
        if events.send(Event::Scan(raw.into_owned())).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(feature = "serial")]
fn serial(path: &str, baud: u32, events: &mpsc::Sender<Event>) -> Result<()> {
    use custodian_scanner::serial::{LineConfig, SerialScanner};

    let scanner = SerialScanner::open(path, baud, LineConfig::default())?;
    for item in scanner {
        let event = match item {
            Ok(scan) => Event::Scan(scan),
            Err(e) if !e.is_fatal() => Event::Warning(e.to_string()),
            Err(e) => return Err(e.into()),
        };
        if events.send(event).is_err() {
            break;
        }
    }
    Ok(())
}

/// How long a code must be out of view before it counts as a new scan.
#[cfg(feature = "camera")]
const CAMERA_DEDUP_MS: u64 = 1500;

#[cfg(feature = "camera")]
fn camera(index: u32, events: &mpsc::Sender<Event>) -> Result<()> {
    use custodian_scanner::camera::{Camera, LiveScans};
    use custodian_scanner::{DecodeOptions, Dedup};

    let camera = Camera::open(index)?;
    let codes = LiveScans::spawn(
        camera,
        DecodeOptions::default(),
        Dedup::new(CAMERA_DEDUP_MS),
    );
    for code in codes {
        if events.send(Event::Scan(code?.scan_text())).is_err() {
            break;
        }
    }
    Ok(())
}

#[cfg(not(feature = "serial"))]
fn serial(path: &str, _baud: u32, _events: &mpsc::Sender<Event>) -> Result<()> {
    bail!("{}", unsupported(&format!("--serial {path}"), "serial"))
}

#[cfg(not(feature = "camera"))]
fn camera(index: u32, _events: &mpsc::Sender<Event>) -> Result<()> {
    bail!("{}", unsupported(&format!("--camera {index}"), "camera"))
}

/// What to say when this binary lacks a source's cargo feature.
fn unsupported(what: &str, feature: &str) -> String {
    match feature {
        "camera" => format!(
            "{what}: this custodian was built without camera support; rebuild it with `cargo build -p custodian --features camera` (needs libclang-dev)"
        ),
        _ => format!(
            "{what}: this custodian was built without {feature} support; rebuild it with `--features {feature}`"
        ),
    }
}

/// `custodian cameras`: the cameras this machine has, one per line (index, name, where).
///
/// # Errors
///
/// The cameras cannot be listed, or this binary has no camera support.
pub fn print_cameras(json: bool) -> Result<()> {
    #[cfg(not(feature = "camera"))]
    {
        let _ = json;
        bail!("{}", unsupported("custodian cameras", "camera"));
    }
    #[cfg(feature = "camera")]
    {
        let cameras = custodian_scanner::camera::list_cameras()?;
        if cameras.is_empty() && !json {
            println!("no cameras");
        }
        for c in cameras {
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "index": c.index, "name": c.name, "description": c.description })
                );
            } else {
                println!("{:<3} {}  ({})", c.index, c.name, c.description);
            }
        }
        Ok(())
    }
}
