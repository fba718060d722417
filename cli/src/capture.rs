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
use custodian_ledger::MAX_SCAN_BYTES;

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
    /// Something that was not a scan (an overlong input line, a serial line error); the source
    /// goes on.
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

/// Each non-blank line is one scan, exactly as the scanner typed it. A line longer than any
/// barcode holds ([`custodian_ledger::MAX_SCAN_BYTES`]) is never held whole: it is read past,
/// one warning names it, and the next line is read as usual.
fn lines(mut reader: impl BufRead, events: &mpsc::Sender<Event>) -> Result<()> {
    let mut line = Vec::new();
    for number in 1.. {
        let event = match read_line(&mut reader, &mut line, MAX_SCAN_BYTES)
            .context("reading scans")?
        {
            Line::End => break,
            Line::Whole => {
                let raw = String::from_utf8_lossy(&line);
                if raw.trim().is_empty() {
                    continue;
                }
                Event::Scan(raw.into_owned())
            }
            Line::TooLong { bytes } => Event::Warning(format!(
                "input line {number}: {bytes} bytes without a line end, more than any barcode holds ({MAX_SCAN_BYTES} at most): skipped, nothing recorded for it (it began {:?}); the next lines are read as usual",
                String::from_utf8_lossy(&line)
            )),
        };
        if events.send(event).is_err() {
            break;
        }
    }
    Ok(())
}

/// How much of an overlong line is kept to name it in the warning.
const OVERLONG_START: usize = 32;

/// What [`read_line`] read.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// The input ended before another line began.
    End,
    /// A line of at most the bound, now in the buffer (without its LF).
    Whole,
    /// A line of `bytes` bytes (without its LF), over the bound; the buffer holds its start.
    TooLong { bytes: usize },
}

/// Reads the next LF-terminated line (the last may lack its LF) into `line`, holding at most
/// `max` bytes of it: the rest of a longer line is consumed from the reader's buffer and
/// dropped, so memory stays bounded whatever arrives.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<Line> {
    line.clear();
    let mut bytes = 0usize;
    let mut any = false;
    loop {
        let buf = match reader.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            break;
        }
        any = true;
        let end = buf.iter().position(|&b| b == b'\n');
        let take = end.unwrap_or(buf.len());
        if bytes <= max {
            line.extend_from_slice(&buf[..take.min(max + 1 - bytes)]);
        }
        bytes = bytes.saturating_add(take);
        reader.consume(take + usize::from(end.is_some()));
        if end.is_some() {
            break;
        }
    }
    Ok(if !any {
        Line::End
    } else if bytes > max {
        line.truncate(OVERLONG_START);
        Line::TooLong { bytes }
    } else {
        Line::Whole
    })
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
    use custodian_scanner::camera::Camera;
    use custodian_scanner::{DecodeOptions, Dedup, LiveScans};

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
            outln!("no cameras");
        }
        for c in cameras {
            if json {
                outln!(
                    "{}",
                    serde_json::json!({ "index": c.index, "name": c.name, "description": c.description })
                );
            } else {
                outln!("{:<3} {}  ({})", c.index, c.name, c.description);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "tests fail loudly on any unexpected error"
    )]

    use super::*;

    /// Every line of `input` read with the bound `max` through a reader of `capacity` bytes.
    fn read_all(input: &[u8], max: usize, capacity: usize) -> Vec<(Line, Vec<u8>)> {
        let mut reader = std::io::BufReader::with_capacity(capacity, input);
        let mut line = Vec::new();
        let mut out = Vec::new();
        loop {
            let read = read_line(&mut reader, &mut line, max).unwrap();
            if read == Line::End {
                return out;
            }
            assert!(line.len() <= max + 1, "the line held is bounded");
            out.push((read, line.clone()));
        }
    }

    #[test]
    fn an_overlong_line_is_named_and_its_neighbours_are_whole_whatever_the_buffer() {
        let long = vec![b'7'; 100];
        let mut input = b"first\n".to_vec();
        input.extend_from_slice(&long);
        input.extend_from_slice(b"\n\nexactly10\nlast");
        for capacity in [1, 3, 8, 64, 1024] {
            let lines = read_all(&input, 10, capacity);
            assert_eq!(
                lines,
                [
                    (Line::Whole, b"first".to_vec()),
                    (Line::TooLong { bytes: 100 }, vec![b'7'; 11]),
                    (Line::Whole, Vec::new()),
                    (Line::Whole, b"exactly10".to_vec()),
                    (Line::Whole, b"last".to_vec()),
                ],
                "read {capacity} bytes at a time"
            );
        }
        assert_eq!(
            read_all(b"12345678901", 10, 4),
            [(Line::TooLong { bytes: 11 }, b"12345678901".to_vec())]
        );
    }
}
