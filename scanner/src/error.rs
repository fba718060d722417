//! The one error type of the crate: what is wrong with a scan, and where.
//!
//! Every message names the offending AI or identifier and the value at fault, so that a partner
//! at a loading dock can read it aloud to support. [`ParseError::position`] is a byte offset into
//! the text that was given to the parser (raw scanner text, including any AIM prefix or BOM), so
//! a UI can underline the culprit.

use std::fmt;

/// Why and where a scan could not be read.
///
/// Display is the precise human message followed by the position, e.g.
/// `AI 21: character '~' is not allowed (position 20)`. Branch on [`ParseError::kind`] (or
/// [`ErrorKind::code`]), never on the message text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} (position {position})")]
#[non_exhaustive]
pub struct ParseError {
    /// What is wrong.
    pub kind: ErrorKind,
    /// Byte offset into the parsed text where the problem was found.
    pub position: usize,
}

impl ParseError {
    pub(crate) fn new(kind: ErrorKind, position: usize) -> Self {
        ParseError { kind, position }
    }

    /// Moves the position by `offset` bytes: validators report positions within the value they
    /// were given, callers know where that value sits in the raw text.
    pub(crate) fn offset(self, offset: usize) -> Self {
        self.map_position(|p| p + offset)
    }

    pub(crate) fn map_position(mut self, f: impl FnOnce(usize) -> usize) -> Self {
        self.position = f(self.position);
        self
    }
}

/// The kinds of [`ParseError`]. Each message says what is wrong; most name the AI (`AI 17: …`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// Nothing left after stripping the BOM, the AIM symbology identifier and line endings.
    #[error("empty scan")]
    Empty,
    /// The text starts with `]` but not with a well-formed AIM symbology identifier.
    #[error("\"{text}\" is not an AIM symbology identifier")]
    Symbology { text: String },
    /// A symbology that never carries GS1 element strings sent something that is not a Digital
    /// Link URI, bracketed AIs or a GTIN.
    #[error("{aim} is not a GS1 symbology and the data is not a Digital Link URI or a GTIN")]
    NotGs1 { aim: String },
    /// An application identifier was expected here (start of data, after a GS or a fixed-length
    /// value, or inside brackets).
    #[error("expected an AI, found {}", describe(*found))]
    ExpectedAi { found: Option<char> },
    /// The digits at this position are not an application identifier this crate knows.
    #[error("unknown AI {ai}")]
    UnknownAi { ai: String },
    /// A value has the wrong length.
    #[error("{subject} needs {} {}, got {got}", range(*min, *max), unit(*numeric))]
    Length {
        subject: String,
        min: usize,
        max: usize,
        got: usize,
        numeric: bool,
    },
    /// A GTIN (plain barcode or [`crate::Gtin::parse`]) that is not 8, 12, 13 or 14 digits long.
    #[error("GTIN needs 8, 12, 13 or 14 digits, got {got}")]
    GtinLength { got: usize },
    /// A variable-length value ran past its maximum length: the GS separator is missing.
    #[error("{subject} must be followed by a GS separator or end")]
    MissingSeparator { subject: String },
    /// A character outside the AI's character set (digits, GS1 sets 82, 39 or 64).
    #[error("{subject}: character {ch:?} is not {}", if *digit { "a digit" } else { "allowed" })]
    Character {
        subject: String,
        ch: char,
        digit: bool,
    },
    /// A GS1 mod-10 check digit does not match.
    #[error("{what} check digit {found}, expected {expected}")]
    CheckDigit {
        what: &'static str,
        found: u8,
        expected: u8,
    },
    /// The MM of a YYMMDD date is not 01–12.
    #[error("{subject}: month {month:02} is not a month")]
    Month { subject: String, month: u32 },
    /// The DD of a YYMMDD date does not exist in that month (00 is allowed only where GS1
    /// allows it, meaning the last day of the month).
    #[error("{subject}: day {day:02} is not a day of {year}-{month:02}")]
    Day {
        subject: String,
        day: u32,
        year: i32,
        month: u32,
    },
    /// An hour, minute or second out of range.
    #[error("{subject}: {unit} {value:02} is out of range")]
    Time {
        subject: String,
        unit: &'static str,
        value: u32,
    },
    /// A value breaks a rule specific to its AI (e.g. a zero dimension in AI 8001).
    #[error("{subject}: {reason}")]
    Invalid { subject: String, reason: String },
    /// An AI 8030 value is in the base64url alphabet but is not valid base64url.
    #[error("{subject}: not valid base64url ({reason})")]
    Base64 {
        subject: String,
        reason: &'static str,
    },
    /// The same AI occurs twice with different values.
    #[error("AI {ai} appears twice with different values")]
    Duplicate { ai: String },
    /// An AI that only makes sense together with others is without them. `needs` is GS1's
    /// notation (`"01,03,8006"`, `"01+21"`); the message spells it out.
    #[error("AI {ai} needs AI {} in the same scan", alternatives(needs))]
    Requires { ai: String, needs: &'static str },
    /// Two AIs that contradict each other appear in the same scan.
    #[error("AI {ai} and AI {other} must not appear together")]
    Excludes { ai: String, other: String },
    /// The alphanumeric check character pair (AI 8013, 8014) does not match.
    #[error("{subject}: check characters {found}, expected {expected}")]
    CheckCharacters {
        subject: String,
        found: String,
        expected: String,
    },
    /// A GS separator is missing and more than one place for it gives a valid scan. Each
    /// reading is written in brackets.
    #[error("a GS separator is missing and the scan reads {} ways: {}", readings.len(), readings.join(" or "))]
    AmbiguousReading { readings: Vec<String> },
    /// Text that is not GS1 matches the serial patterns of several products.
    #[error("the scan matches the serial patterns of {}", and_list(products))]
    AmbiguousProduct { products: Vec<String> },
    /// Bracketed form: a `(` or `)` is missing.
    #[error("expected {expected:?}")]
    Bracket { expected: char },
    /// A URI that is not usable as a Digital Link (no domain, bad structure).
    #[error("Digital Link URI {reason}")]
    Uri { reason: &'static str },
    /// `%` not followed by two hex digits.
    #[error("invalid percent-encoding")]
    PercentEncoding,
    /// Percent-decoded bytes that are not UTF-8.
    #[error("percent-decoded text is not UTF-8")]
    Utf8,
    /// No primary key (01, 00, 414, 8003…) followed by its value in the URI path.
    #[error(
        "Digital Link URI has no primary key AI in its path (compressed URIs are not supported)"
    )]
    NoPrimaryKey,
    /// A path segment after the primary key that is not one of its key qualifiers.
    #[error("AI {ai} is not a key qualifier of AI {key}")]
    NotQualifier { ai: String, key: String },
    /// Key qualifiers in the wrong order (01 takes 22, 10, 21 in that order, or 235).
    #[error("AI {ai} cannot follow AI {after} in a Digital Link path")]
    QualifierOrder { ai: String, after: String },
    /// An AI in the query string that Digital Link does not allow as a data attribute.
    #[error("AI {ai} cannot be a Digital Link query attribute")]
    NotAttribute { ai: String },
    /// The text is not a valid scan, but reads as `reading` (bracketed) once mapped back from
    /// the `layout` keyboard: a scanner set up for a US keyboard is typing into a host with
    /// that layout. `setting` is what fixes it.
    #[error(
        "this looks like a US-layout scanner typing into a {layout} keyboard (it would read \
         {reading}): {setting}"
    )]
    KeyboardLayout {
        layout: &'static str,
        setting: &'static str,
        reading: String,
    },
}

impl ErrorKind {
    /// A stable machine-readable name (`"check_digit"`, `"unknown_ai"`…) for UIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            ErrorKind::Empty => "empty",
            ErrorKind::Symbology { .. } => "symbology",
            ErrorKind::NotGs1 { .. } => "not_gs1",
            ErrorKind::ExpectedAi { .. } => "expected_ai",
            ErrorKind::UnknownAi { .. } => "unknown_ai",
            ErrorKind::Length { .. } | ErrorKind::GtinLength { .. } => "length",
            ErrorKind::MissingSeparator { .. } => "missing_separator",
            ErrorKind::Character { .. } => "character",
            ErrorKind::CheckDigit { .. } => "check_digit",
            ErrorKind::Month { .. } | ErrorKind::Day { .. } => "date",
            ErrorKind::Time { .. } => "time",
            ErrorKind::Invalid { .. } => "invalid",
            ErrorKind::Base64 { .. } => "base64",
            ErrorKind::Duplicate { .. } => "duplicate",
            ErrorKind::Requires { .. } => "requires",
            ErrorKind::Excludes { .. } => "excludes",
            ErrorKind::CheckCharacters { .. } => "check_digit",
            ErrorKind::AmbiguousReading { .. } => "ambiguous_reading",
            ErrorKind::AmbiguousProduct { .. } => "ambiguous_product",
            ErrorKind::Bracket { .. } => "bracket",
            ErrorKind::Uri { .. } | ErrorKind::NoPrimaryKey => "uri",
            ErrorKind::PercentEncoding | ErrorKind::Utf8 => "percent_encoding",
            ErrorKind::NotQualifier { .. } | ErrorKind::QualifierOrder { .. } => "qualifier",
            ErrorKind::NotAttribute { .. } => "attribute",
            ErrorKind::KeyboardLayout { .. } => "keyboard_layout",
        }
    }
}

fn describe(found: Option<char>) -> String {
    match found {
        Some(ch) => format!("{ch:?}"),
        None => "end of data".to_owned(),
    }
}

/// `"01,03,8006"` → `01, 03 or 8006`; `"01+21,03+21"` → `01 with 21 or 03 with 21`.
fn alternatives(needs: &str) -> String {
    let groups: Vec<String> = needs
        .split(',')
        .map(|group| group.split('+').collect::<Vec<_>>().join(" with "))
        .collect();
    or_list(&groups)
}

fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn range(min: usize, max: usize) -> Range {
    Range(min, max)
}

struct Range(usize, usize);

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == self.1 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{} to {}", self.0, self.1)
        }
    }
}

fn unit(numeric: bool) -> &'static str {
    if numeric { "digits" } else { "characters" }
}
