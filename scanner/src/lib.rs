//! Turns raw scanner text into validated GS1 identifiers.
//!
//! **Key design decision: parse, don't validate, and never touch the outside world.** The crate
//! is a pure function from text to values: no I/O, no clock, no global state. [`parse`] either
//! returns a [`Scan`] whose every element has passed its checks (length, character set, check
//! digit, date) and whose keys are typed ([`Gtin`], [`Sscc`]), or a [`ParseError`] with a
//! precise message and the byte position of the culprit. A [`Gtin`] is valid by construction,
//! so the rest of the system never re-checks one.
//!
//! Accepted input, after stripping a BOM and trailing CR/LF/Tab:
//!
//! - an optional AIM symbology identifier (`]d2`, `]Q3`, `]C1`, `]e0` GS1; `]E0` EAN/UPC;
//!   `]d1`, `]Q1`, `]C0`… non-GS1), recorded in [`Scan::symbology`];
//! - GS1 element strings with GS (ASCII 29) separators, a leading FNC1/GS tolerated;
//! - bracketed text, `(01)09506000134352(21)ABC`;
//! - GS1 Digital Link URIs on any domain, uncompressed;
//! - a bare GTIN of 8, 12, 13 or 14 digits (EAN-8, UPC-A, EAN-13, ITF-14).
//!
//! Without an AIM identifier, a run of exactly 8, 12, 13 or 14 digits is read as a GTIN, not as
//! an element string. YYMMDD dates read YY below 51 as 20YY and the rest as 19YY (GS1's sliding
//! window needs today's date, which this crate does not read).
//!
//! Every value is checked as GS1's Barcode Syntax Dictionary describes it (a test reads the
//! dictionary and compares the AI table row by row), including every content check it names:
//! check digits and the alphanumeric check pair, ISO 3166 and ISO 4217 codes, IBAN, dates and
//! times, percent-encoding, coupon structures and the rest. GS1's pairing rules apply within the
//! scan: an AI without the AIs it requires ("AI 21 needs AI 01, 03 or 8006 in the same scan"),
//! or two AIs that exclude each other ("AI 01 and AI 02 must not appear together"), is an
//! error. GS1 evaluates these over all the barcodes on an item, so the middle symbol of a
//! multi-symbol logistic label (AI 37 without its AI 00) is reported as incomplete.
//!
//! Scanner mistakes in element strings are repaired only where the repair is the one valid
//! reading, and every repair is reported in [`Scan::notes`]: GS stand-ins (`{GS}`, `^]`,
//! `\x1d`, `␝`, a private-use character…), repeated separators, and a missing separator. The
//! literal reading is GS1's meaning and wins when valid; a scan that also reads validly another
//! way says so ([`Scan::is_ambiguous`]), and several repaired readings are an error that lists
//! them. The parser never guesses silently.
//!
//! Products whose manufacturer uses its own serial format declare a [`SerialPattern`];
//! [`parse_with`] reads text that is not GS1 by those patterns and names a proprietary unit
//! (product code + serial).
//!
//! Around the parser, still without I/O: [`layout`] reads back what a US-layout scanner typed
//! into a host with another keyboard layout, [`serial`] assembles a serial scanner's lines,
//! [`decode`] finds barcodes in camera frames given as luma buffers (rxing), and [`live`] turns
//! a stream of frames into scans. The only functions that read a file, [`decode_image_file`] and
//! [`decode::decode_image_file_with`] (PNG, JPEG, WebP, GIF, BMP, TIFF; HEIC with the `heic` feature), sit behind the
//! `image-files` feature.
//!
//! Not supported: compressed Digital Link URIs, UPC-E expansion and add-on symbols.
//!
//! ```
//! use custodian_scanner::{parse, Form, Identity, GS};
//!
//! let scan = parse(&format!("]d2010950600013435217261200{GS}10LOT7{GS}21ABC\r\n"))?;
//! assert_eq!(scan.form, Form::ElementString);
//! assert_eq!(scan.gtin().map(|g| g.as_str()), Some("09506000134352"));
//! assert_eq!(scan.expiry().map(|d| d.to_string()).as_deref(), Some("2026-12-31"));
//! assert!(matches!(scan.identity(), Some(Identity::Unit { serial, .. }) if serial == "ABC"));
//!
//! let same = parse("https://example.com/01/09506000134352/21/ABC?17=261200&10=LOT7")?;
//! assert_eq!(same.identity(), scan.identity());
//!
//! let error = parse("(01)09506000134353").unwrap_err();
//! assert_eq!(error.to_string(), "GTIN check digit 3, expected 2 (position 17)");
//! # Ok::<(), custodian_scanner::ParseError>(())
//! ```

mod ai;
#[cfg(feature = "camera")]
pub mod camera;
mod codes;
pub mod decode;
mod digital_link;
mod digits;
mod error;
mod format;
pub mod host;
mod keys;
pub mod layout;
mod lint;
pub mod live;
mod parse;
mod pattern;
mod scan;
/// The property tests' one configuration: a fixed seed, nothing persisted.
#[cfg(test)]
#[path = "../tests/support/seeded.rs"]
mod seeded;
pub mod serial;

pub use ai::{ApplicationIdentifier, Charset, Component};
pub use digits::check_digit;
pub use error::{ErrorKind, ParseError};
pub use format::{bracketed, digital_link, element_string, percent_encode};
pub use keys::{Gln, Gtin, Sscc};
pub use parse::parse;
pub use pattern::{PatternError, PatternErrorKind, ProprietaryFormat, SerialPattern, parse_with};
pub use scan::{Carrier, Element, Form, Identity, Note, Scan, Symbology};

#[cfg(feature = "image-files")]
pub use decode::{DecodeError, decode_image_file};
pub use decode::{DecodeOptions, Decoded, decode_luma};
pub use host::{HostLayout, UnknownLayout, detect_layout};
pub use layout::Layout;
pub use live::{Dedup, FrameSource, LiveScans};

/// The GS separator (ASCII 29, "group separator"), which scanners send for FNC1.
pub const GS: char = '\u{1d}';
