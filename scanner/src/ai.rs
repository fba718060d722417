//! The table of GS1 application identifiers and the validation of one AI's value.
//!
//! Each table row mirrors one line of the GS1 Barcode Syntax Dictionary: a code or a range of
//! codes, whether the value has a predefined length (no GS needed after it), whether Digital Link
//! allows it as a query attribute, the value's components (character set, length, content
//! checks, which the dictionary calls linters), the Digital Link key qualifiers of a primary key,
//! and the pairing rules: the AIs it requires (`req`) and those it excludes (`ex`) in the same
//! scan. Adding an AI is adding a row; nothing else in the crate lists AIs. A test reads the
//! dictionary itself and checks every row against it.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;

use crate::codes;
use crate::digits::{char_at, date, verify_check_digit};
use crate::error::{ErrorKind, ParseError};
use crate::lint;

mod base64url;
mod table;

pub(crate) use base64url::{
    Signature, check_base64url, decode_base64url, decode_signature, is_base64url,
};
use table::{DL_ATTRIBUTE, Definition, PREDEFINED, TABLE};

/// One GS1 application identifier, e.g. `01` (GTIN) or `3103` (net weight in kg, 3 decimals).
///
/// A value of this type is an AI listed in the crate's table; [`ApplicationIdentifier::validate`]
/// checks a value against it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplicationIdentifier {
    /// The digits, borrowed from [`CODES`].
    code: &'static str,
    /// Where the code sits in the index: see [`Index::slot`]. Equal slots are equal codes.
    slot: u16,
    row: u16,
    def: &'static Definition,
}

impl ApplicationIdentifier {
    /// The AI with this code, if the table knows it.
    pub fn lookup(code: &str) -> Option<ApplicationIdentifier> {
        let (row, def) = index().definition(code)?;
        // A code the table knows is two to four digits.
        let value = code
            .bytes()
            .fold(0, |n, b| n * 10 + usize::from(b.wrapping_sub(b'0')));
        Some(ApplicationIdentifier {
            code: static_code(code.len(), value)?,
            slot: u16::try_from(Index::slot(code)?).ok()?,
            row,
            def,
        })
    }

    /// The AI whose digits start `bytes`: as many digits as AIs with the first two have (two if
    /// none does), if there are that many. Reads what [`Self::lookup`] of those digits would,
    /// without going through text; the parser calls it at every place an AI could start.
    pub(crate) fn at_start_of(bytes: &[u8]) -> Option<ApplicationIdentifier> {
        let digit = |i: usize| {
            bytes
                .get(i)
                .map(|b| usize::from(b.wrapping_sub(b'0')))
                .filter(|&d| d < 10)
        };
        let prefix = digit(0)? * 10 + digit(1)?;
        let index = index();
        let wanted = index.length_by_prefix[prefix].map_or(2, usize::from);
        let (mut len, mut value) = (2, prefix);
        while len < wanted {
            let Some(d) = digit(len) else { break };
            value = value * 10 + d;
            len += 1;
        }
        let slot = match len {
            2 => value,
            3 => 100 + value,
            _ => 1100 + value,
        };
        let row = index.row_by_code[slot]?;
        Some(ApplicationIdentifier {
            code: static_code(len, value)?,
            slot: u16::try_from(slot).ok()?,
            row,
            def: TABLE.get(usize::from(row))?,
        })
    }

    /// How many digits the AI has.
    pub(crate) fn len(&self) -> usize {
        self.code.len()
    }

    /// The code's place in the index ([`Index::slot`]): a number that names the code, so that
    /// comparing two codes, or matching one against a pairing rule, compares numbers.
    pub(crate) fn slot(&self) -> u16 {
        self.slot
    }

    /// The AI's digits, e.g. `"01"`: borrowed from a table of every code, so that an
    /// [`crate::Element`] names its AI without allocating.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// GS1's short title, e.g. `"GTIN"`, `"BATCH/LOT"`.
    pub fn title(&self) -> &'static str {
        self.def.title
    }

    /// True if the value has a length fixed by GS1's predefined-length table, so that no GS
    /// separator follows it in an element string.
    pub fn is_predefined_length(&self) -> bool {
        self.def.flags & PREDEFINED != 0
    }

    /// True if GS1 Digital Link allows this AI as a query-string data attribute.
    pub fn is_digital_link_attribute(&self) -> bool {
        self.def.flags & DL_ATTRIBUTE != 0
    }

    /// True if this AI is a Digital Link primary key (01, 00, 414, 8003…).
    pub fn is_primary_key(&self) -> bool {
        self.def.key.is_some()
    }

    /// The shortest and longest value this AI accepts.
    pub fn length(&self) -> (usize, usize) {
        (usize::from(self.def.min), usize::from(self.def.max))
    }

    /// True if every character of the value must be a digit.
    pub fn is_numeric(&self) -> bool {
        self.def
            .components
            .iter()
            .all(|c| c.charset == Charset::Numeric)
    }

    /// The key qualifiers a Digital Link path may carry after this primary key: alternative
    /// sequences, each ordered (`01` → `[["22", "10", "21"], ["235"]]`).
    pub fn qualifiers(&self) -> &'static [&'static [&'static str]] {
        self.def.key.unwrap_or(&[])
    }

    /// The components of the value, in order (`N3,iso4217 N..15` is two).
    pub fn components(&self) -> &'static [Component] {
        self.def.components
    }

    /// The AIs this one needs in the same scan, in GS1's notation: alternatives separated by
    /// `,`, AIs needed together joined by `+`, `n` standing for any digit (`"01+21,03+21"`).
    pub fn requires(&self) -> Option<&'static str> {
        self.def.req
    }

    /// The AIs that must not appear in the same scan as this one, separated by `,`, `n`
    /// standing for any digit (`"310n"`). An AI never excludes itself.
    pub fn excludes(&self) -> Option<&'static str> {
        self.def.ex
    }

    /// [`Self::excludes`] and [`Self::requires`] as patterns.
    pub(crate) fn pairing(&self) -> &'static Pairing {
        &index().pairings[usize::from(self.row)]
    }

    /// [`Self::excludes`] as patterns.
    #[cfg(test)]
    fn excluded(&self) -> &'static [Pattern] {
        &self.pairing().excluded
    }

    /// [`Self::requires`] as patterns.
    #[cfg(test)]
    fn required(&self) -> &'static [(u64, Vec<Pattern>)] {
        &self.pairing().required
    }

    /// Every AI in the table, in ascending order of code.
    pub fn all() -> impl Iterator<Item = ApplicationIdentifier> {
        TABLE.iter().flat_map(|def| {
            let (first, last) = (
                digits_value(def.first).unwrap_or(1),
                digits_value(def.last).unwrap_or(0),
            );
            let width = def.first.len();
            (first..=last)
                .filter_map(move |n| ApplicationIdentifier::lookup(&format!("{n:0width$}")))
        })
    }

    /// Checks a value: length, character set, and every content check of its components (check
    /// digits and characters, dates and times, code lists, structured values, base64url).
    ///
    /// # Errors
    ///
    /// The first problem found, its position a byte offset into `value`.
    pub fn validate(&self, value: &str) -> Result<(), ParseError> {
        let subject = || format!("AI {}", self.code());
        // Most AIs have one component: a value of its length in its character set needs no
        // layout, only the component's checks. Anything else is laid out (which also finds
        // the first problem) below.
        if let [component] = self.def.components
            && component.fits_whole(value.as_bytes())
        {
            for check in component.checks {
                check.run(value, &subject)?;
            }
            return Ok(());
        }
        self.validate_laid_out(value)
    }

    /// [`ApplicationIdentifier::validate`] through the layout of the components alone: the path
    /// every value took before one-component AIs were read whole (the two agree on every value;
    /// a property test holds them to it).
    fn validate_laid_out(&self, value: &str) -> Result<(), ParseError> {
        let subject = || format!("AI {}", self.code());
        // Character sets first: a letter in a GTIN is a clearer message than a length.
        let spans = self
            .layout(value.as_bytes())
            .map_err(|misfit| match misfit {
                Misfit::Character { at, digit } => ParseError::new(
                    ErrorKind::Character {
                        subject: subject(),
                        ch: char_at(value, at),
                        digit,
                    },
                    at,
                ),
                Misfit::Length => {
                    let (min, max) = self.length();
                    ParseError::new(
                        ErrorKind::Length {
                            subject: subject(),
                            min,
                            max,
                            got: value.chars().count(),
                            numeric: self.is_numeric(),
                        },
                        0,
                    )
                }
            })?;
        for (component, &(start, take)) in self.def.components.iter().zip(&spans) {
            if take > 0 {
                let part = &value[start..start + take];
                for check in component.checks {
                    check.run(part, &subject).map_err(|e| e.offset(start))?;
                }
            }
        }
        Ok(())
    }

    /// True if the value has the length and the character sets of this AI's components; the
    /// content checks are left out. A cheap necessary condition for [`Self::validate`], which
    /// allocates nothing.
    pub(crate) fn fits(&self, value: &[u8]) -> bool {
        match self.def.components {
            [component] => component.fits_whole(value),
            _ => self.layout(value).is_ok(),
        }
    }

    /// Splits a value into its components (start and length of each, in order), checking each
    /// component's character set and length. Components after the last present one are empty.
    fn layout(&self, bytes: &[u8]) -> Result<[(usize, usize); MAX_COMPONENTS], Misfit> {
        let mut spans = [(0, 0); MAX_COMPONENTS];
        let mut start = 0;
        for (component, span) in self.def.components.iter().zip(&mut spans) {
            let rest = bytes.len() - start;
            let take = rest.min(usize::from(component.max));
            if let Some(i) = component.charset.first_outside(&bytes[start..start + take]) {
                let digit = component.charset == Charset::Numeric;
                return Err(Misfit::Character {
                    at: start + i,
                    digit,
                });
            }
            let complete = if component.is_fixed() {
                take == usize::from(component.max) || (component.optional && take == 0)
            } else {
                take >= usize::from(component.min) || (component.optional && take == 0)
            };
            if !complete {
                return Err(Misfit::Length);
            }
            *span = (start, take);
            start += take;
        }
        if start != bytes.len() {
            return Err(Misfit::Length);
        }
        Ok(spans)
    }
}

/// The [`ApplicationIdentifier::slot`] of a code of two to four digits, at compile time: the
/// parser names the AIs it looks for (01, 00, 8030) by their slots.
pub(crate) const fn slot_of(code: &str) -> u16 {
    let bytes = code.as_bytes();
    assert!(bytes.len() >= 2 && bytes.len() <= 4);
    let mut value = 0;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit());
        value = value * 10 + (bytes[i] - b'0') as u16;
        i += 1;
    }
    match bytes.len() {
        2 => value,
        3 => 100 + value,
        _ => 1100 + value,
    }
}

/// The code of `len` digits whose value is `value`, from [`CODES`].
fn static_code(len: usize, value: usize) -> Option<&'static str> {
    let at = match len {
        2 => value * 2,
        3 => CODES_3_AT + value * 3,
        4 => CODES_4_AT + value * 4,
        _ => return None,
    };
    CODES.get(at..at + len)
}

/// Every two-, three- and four-digit code, in that order, each in numeric order: `00`…`99`,
/// `000`…`999`, `0000`…`9999`. [`ApplicationIdentifier::code`] borrows from it.
static CODES: &str = match std::str::from_utf8(&CODE_DIGITS) {
    Ok(codes) => codes,
    Err(_) => panic!("codes are ASCII digits"),
};
const CODES_3_AT: usize = 100 * 2;
const CODES_4_AT: usize = CODES_3_AT + 1000 * 3;
static CODE_DIGITS: [u8; CODES_4_AT + 10_000 * 4] = {
    let mut digits = [b'0'; CODES_4_AT + 10_000 * 4];
    let mut len = 2;
    let mut at = 0;
    while len <= 4 {
        let mut value = 0;
        let count = if len == 2 {
            100
        } else if len == 3 {
            1000
        } else {
            10_000
        };
        while value < count {
            let mut n = value;
            let mut i = len;
            while i > 0 {
                i -= 1;
                digits[at + i] = b'0' + (n % 10) as u8;
                n /= 10;
            }
            at += len;
            value += 1;
        }
        len += 1;
    }
    digits
};

/// The most components any AI's value has (AI 8001 has five); `layout` keeps their spans in an
/// array of this size, so validating allocates nothing. Checked against the table at compile
/// time below.
const MAX_COMPONENTS: usize = 5;

const _: () = {
    let mut row = 0;
    while row < TABLE.len() {
        assert!(TABLE[row].components.len() <= MAX_COMPONENTS);
        row += 1;
    }
};

/// Why a value does not fit its AI's components, before any content check.
enum Misfit {
    /// A character outside its component's set, at this byte.
    Character { at: usize, digit: bool },
    /// Too short or too long.
    Length,
}

impl fmt::Debug for ApplicationIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AI({} {})", self.code(), self.title())
    }
}

impl fmt::Display for ApplicationIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for ApplicationIdentifier {
    type Err = ParseError;
    fn from_str(code: &str) -> Result<Self, ParseError> {
        if code.is_empty() {
            return Err(ParseError::new(ErrorKind::ExpectedAi { found: None }, 0));
        }
        ApplicationIdentifier::lookup(code).ok_or_else(|| {
            ParseError::new(
                ErrorKind::UnknownAi {
                    ai: code.to_owned(),
                },
                0,
            )
        })
    }
}

/// How many digits an AI starting with these two digits has, if the table has such AIs.
/// GS1 allocates AIs so that the first two digits determine the length.
pub(crate) fn ai_length(prefix: &str) -> Option<usize> {
    let p = digits_value(prefix).filter(|_| prefix.len() == 2)?;
    index()
        .length_by_prefix
        .get(p)
        .copied()
        .flatten()
        .map(usize::from)
}

/// Bit `p` is set for every two-digit prefix `p` (`00`…`99`) with which AIs of the table start.
const AI_PREFIXES: u128 = {
    let mut mask = 0u128;
    let mut row = 0;
    while row < TABLE.len() {
        let (first, last) = (TABLE[row].first.as_bytes(), TABLE[row].last.as_bytes());
        let mut p = (first[0] - b'0') as u32 * 10 + (first[1] - b'0') as u32;
        let end = (last[0] - b'0') as u32 * 10 + (last[1] - b'0') as u32;
        while p <= end {
            mask |= 1 << p;
            p += 1;
        }
        row += 1;
    }
    mask
};

/// True if AIs start with the digits `first`, `second` (ASCII digits): what
/// [`ai_length_at`] says of them, from a word rather than the index.
pub(crate) fn starts_ai(first: u8, second: u8) -> bool {
    let prefix = u32::from(first.wrapping_sub(b'0')) * 10 + u32::from(second.wrapping_sub(b'0'));
    prefix < 100 && AI_PREFIXES >> prefix & 1 != 0
}

/// How many digits the AI starting at the front of `bytes` has, if two digits start it and the
/// table has AIs starting with them.
pub(crate) fn ai_length_at(bytes: &[u8]) -> Option<usize> {
    let digit = |i: usize| {
        bytes
            .get(i)
            .filter(|b| b.is_ascii_digit())
            .map(|b| b - b'0')
    };
    let prefix = usize::from(digit(0)?) * 10 + usize::from(digit(1)?);
    index().length_by_prefix[prefix].map(usize::from)
}

/// Direct lookups into [`TABLE`], built once: parsing is on the hot path of every scan, and a
/// linear search of the table per AI cost most of its time.
struct Index {
    /// AI length by its first two digits.
    length_by_prefix: [Option<u8>; 100],
    /// Row of [`TABLE`] by code: 2-digit codes at 0..100, 3-digit at 100..1100, 4-digit at
    /// 1100..11100.
    row_by_code: Vec<Option<u16>>,
    /// Each row's pairing rules, read from GS1's notation once rather than at every scan.
    pairings: Vec<Pairing>,
}

/// The pairing rules of one row of [`TABLE`].
pub(crate) struct Pairing {
    /// The AIs it excludes.
    pub(crate) excluded: Vec<Pattern>,
    /// The [`Pattern::sketch`] of all of them.
    pub(crate) excluded_sketch: u64,
    /// The AIs it requires: alternatives, each a list of patterns all of which must be present,
    /// with the sketch of the patterns of one code in the list (which a scan that has them all
    /// has in its sketch). Empty if it needs nothing.
    pub(crate) required: Vec<(u64, Vec<Pattern>)>,
}

/// A sketch of a set of AI codes: one bit per code, bit `slot % 64` ([`Index::slot`]). Codes
/// whose sketches share no bit are different; sharing one says nothing. The pairing rules of a
/// scan compare its AIs' sketch with their patterns' first, and look closer only where they
/// meet.
pub(crate) fn sketch(slot: u16) -> u64 {
    1 << (slot % 64)
}

/// An AI pattern of GS1's pairing rules: digits, `n` standing for any digit (`31nn`, `390n`).
/// GS1 writes `n` only after the digits, so the codes a pattern matches are a run of slots
/// ([`Index::slot`]): `31nn` is 3100 to 3199 of the four-digit codes. (A test checks that every
/// pattern in the table is digits and then `n`s.)
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pattern {
    /// The first and the last slot matched; empty (`first > last`) for a pattern that is not
    /// two to four characters.
    first: u16,
    last: u16,
}

impl Pattern {
    fn new(text: &str) -> Pattern {
        let digits = |n: u8| -> String {
            text.bytes()
                .map(|b| char::from(if b == b'n' { n } else { b }))
                .collect()
        };
        let slot = |code: String| Index::slot(&code).and_then(|s| u16::try_from(s).ok());
        match (slot(digits(b'0')), slot(digits(b'9'))) {
            (Some(first), Some(last)) => Pattern { first, last },
            _ => Pattern { first: 1, last: 0 },
        }
    }

    /// The [`sketch`] of the codes it matches.
    fn sketch(&self) -> u64 {
        if self.last.saturating_sub(self.first) >= 63 {
            return u64::MAX;
        }
        (self.first..=self.last).fold(0, |bits, slot| bits | sketch(slot))
    }

    /// True if the code with this slot matches.
    pub(crate) fn matches_slot(&self, slot: u16) -> bool {
        self.first <= slot && slot <= self.last
    }

    /// True if `code` matches.
    #[cfg(test)]
    pub(crate) fn matches(&self, code: &str) -> bool {
        Index::slot(code)
            .and_then(|s| u16::try_from(s).ok())
            .is_some_and(|s| self.matches_slot(s))
    }
}

impl Index {
    /// Where a code of two to four digits sits in [`Index::row_by_code`]: two-digit codes at
    /// 0..100, three-digit at 100..1100, four-digit at 1100..11100.
    pub(crate) fn slot(code: &str) -> Option<usize> {
        let v = digits_value(code)?;
        match code.len() {
            2 => Some(v),
            3 => Some(100 + v),
            4 => Some(1100 + v),
            _ => None,
        }
    }

    fn definition(&self, code: &str) -> Option<(u16, &'static Definition)> {
        let row = (*self.row_by_code.get(Self::slot(code)?)?)?;
        Some((row, TABLE.get(usize::from(row))?))
    }
}

/// The numeric value of an all-digit string of at most four digits.
fn digits_value(s: &str) -> Option<usize> {
    (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.bytes().fold(0, |n, b| n * 10 + usize::from(b - b'0')))
}

fn index() -> &'static Index {
    static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
    INDEX.get_or_init(|| {
        let mut index = Index {
            length_by_prefix: [None; 100],
            row_by_code: vec![None; 11_100],
            pairings: TABLE
                .iter()
                .map(|d| {
                    let excluded: Vec<Pattern> =
                        d.ex.into_iter()
                            .flat_map(|ex| ex.split(','))
                            .map(Pattern::new)
                            .collect();
                    Pairing {
                        excluded_sketch: excluded.iter().fold(0, |bits, p| bits | p.sketch()),
                        excluded,
                        required: d
                            .req
                            .into_iter()
                            .flat_map(|req| req.split(','))
                            .map(|group| {
                                let group: Vec<Pattern> =
                                    group.split('+').map(Pattern::new).collect();
                                // Only a pattern of one code has a bit every scan with it has.
                                let sure = group
                                    .iter()
                                    .filter(|p| p.first == p.last)
                                    .fold(0, |bits, p| bits | p.sketch());
                                (sure, group)
                            })
                            .collect(),
                    }
                })
                .collect(),
        };
        // The first row that covers a code wins, as a linear search would.
        for (row, d) in TABLE.iter().enumerate() {
            let (Some(first), Some(last)) = (digits_value(d.first), digits_value(d.last)) else {
                continue;
            };
            let len = d.first.len();
            let base = match len {
                2 => 0,
                3 => 100,
                4 => 1100,
                _ => continue,
            };
            for code in first..=last {
                let slot = &mut index.row_by_code[base + code];
                if slot.is_none() {
                    *slot = u16::try_from(row).ok();
                }
            }
            let (p_first, p_last) = (
                d.first.get(..2).and_then(digits_value),
                d.last.get(..2).and_then(digits_value),
            );
            if let (Some(pf), Some(pl)) = (p_first, p_last) {
                for p in pf..=pl {
                    let slot = &mut index.length_by_prefix[p];
                    if slot.is_none() {
                        *slot = u8::try_from(len).ok();
                    }
                }
            }
        }
        index
    })
}

// ---------------------------------------------------------------------------------------------
// The table.

/// The character set of a component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Charset {
    /// `N`: digits.
    Numeric,
    /// `X`: GS1 AI encodable character set 82.
    Cset82,
    /// `Y`: GS1 character set 39 (`#`, `-`, `/`, digits, upper case).
    Cset39,
    /// `Z`: GS1 character set 64, base64url with `=` padding.
    Cset64,
}

impl Charset {
    pub(crate) fn allows(self, b: u8) -> bool {
        // A table lookup: this runs for every character of every value.
        CHARSET_MEMBERS[usize::from(b)] & self.bit() != 0
    }

    /// Where the first byte outside the set is, if any.
    fn first_outside(self, bytes: &[u8]) -> Option<usize> {
        // Values are mostly valid: test them whole first, without a branch per byte.
        let all = bytes
            .iter()
            .fold(self.bit(), |all, &b| all & CHARSET_MEMBERS[usize::from(b)]);
        if all != 0 {
            return None;
        }
        bytes.iter().position(|&b| !self.allows(b))
    }

    const fn bit(self) -> u8 {
        match self {
            Charset::Numeric => 1,
            Charset::Cset82 => 2,
            Charset::Cset39 => 4,
            Charset::Cset64 => 8,
        }
    }

    /// The definition of each set, from which [`CHARSET_MEMBERS`] is built.
    const fn defines(self, b: u8) -> bool {
        match self {
            Charset::Numeric => b.is_ascii_digit(),
            Charset::Cset82 => b.is_ascii_alphanumeric() || one_of(b, b"!\"%&'()*+,-./:;<=>?_"),
            Charset::Cset39 => b.is_ascii_digit() || b.is_ascii_uppercase() || one_of(b, b"#-/"),
            Charset::Cset64 => b.is_ascii_alphanumeric() || one_of(b, b"-_="),
        }
    }

    /// The letter GS1 writes for it: `N`, `X`, `Y` or `Z`.
    pub fn letter(self) -> char {
        match self {
            Charset::Numeric => 'N',
            Charset::Cset82 => 'X',
            Charset::Cset39 => 'Y',
            Charset::Cset64 => 'Z',
        }
    }
}

/// For every byte, one bit per character set that contains it (see [`Charset::bit`]).
static CHARSET_MEMBERS: [u8; 256] = {
    let sets = [
        Charset::Numeric,
        Charset::Cset82,
        Charset::Cset39,
        Charset::Cset64,
    ];
    let mut table = [0; 256];
    let mut b = 0;
    while b < 256 {
        let mut i = 0;
        while i < sets.len() {
            // `b` is below 256, so the cast is exact.
            if sets[i].defines(b as u8) {
                table[b] |= sets[i].bit();
            }
            i += 1;
        }
        b += 1;
    }
    table
};

const fn one_of(b: u8, set: &[u8]) -> bool {
    let mut i = 0;
    while i < set.len() {
        if set[i] == b {
            return true;
        }
        i += 1;
    }
    false
}

/// Content checks ("linters" in the Syntax Dictionary) applied to one component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Check {
    /// `csum`: GS1 mod-10 check digit over the component; the name is used in messages.
    Csum(&'static str),
    /// `csumalpha`: the alphanumeric check character pair of GMN and MUDI.
    CsumAlpha,
    /// `gcppos1`: starts with a GS1 Company Prefix (at least four digits).
    GcpPos1,
    /// `gcppos2`: a GS1 Company Prefix from the second character on.
    GcpPos2,
    /// `hasnondigit`: at least one character that is not a digit.
    HasNonDigit,
    /// `yymmd0` (DD = 00 allowed, meaning the month's last day) and `yymmdd`.
    Date { zero_day: bool },
    /// `yyyymmdd`.
    FullDate,
    /// `hhmi`.
    HourMinute,
    /// `hh`.
    Hour,
    /// `mi`.
    Minute,
    /// `ss`.
    Second,
    /// `hyphen`: only `-`.
    Hyphen,
    /// `iban`: ISO 13616, country code and mod-97 check digits.
    Iban,
    /// `importeridx`: one of `-`, `_`, digits and letters.
    ImporterIndex,
    /// `iso3166`: ISO 3166-1 numeric country code.
    Country,
    /// `iso3166999`: a country code, or 999 for "unknown".
    CountryOr999,
    /// `iso3166alpha2`: ISO 3166-1 alpha-2 country code.
    CountryAlpha2,
    /// `iso4217`: ISO 4217 numeric currency code.
    Currency,
    /// `iso5218`: sex, 0 (not known), 1 (male), 2 (female) or 9 (not applicable).
    Sex,
    /// `latitude`: 0 to 180 degrees with 7 decimals, offset by 90.
    Latitude,
    /// `longitude`: 0 to 360 degrees with 7 decimals, offset by 180.
    Longitude,
    /// `mediatype`: an AIDC media type.
    MediaType,
    /// `nonzero`: not all zeros.
    NonZero,
    /// `zero`: a single `0`.
    Zero,
    /// `nozeroprefix`: does not start with `0`.
    NoZeroPrefix,
    /// `packagetype`: a UN/ECE Recommendation 21 package type code.
    PackageType,
    /// `pcenc`: every `%` starts a two-hex-digit escape.
    PercentEncoded,
    /// `pieceoftotal`: NNMM, piece NN of MM, 1 ≤ NN ≤ MM.
    PieceOfTotal,
    /// `posinseqslash`: `pos/end`, 1 ≤ pos ≤ end, no leading zeros.
    PositionInSequence,
    /// `winding`: roll winding direction 0, 1 or 9.
    Winding,
    /// `yesno`: 0 or 1.
    YesNo,
    /// `couponcode`: North American coupon code (AI 8110).
    CouponCode,
    /// `couponposoffer`: positive offer file coupon code (AI 8112).
    CouponPositiveOffer,
    /// Base64url that decodes. Not a dictionary linter: GS1 implies it by the `Z` set.
    Base64,
}

impl Check {
    /// The dictionary's name for this check; `None` for checks it implies by the character set.
    fn name(self) -> Option<&'static str> {
        Some(match self {
            Check::Csum(_) => "csum",
            Check::CsumAlpha => "csumalpha",
            Check::GcpPos1 => "gcppos1",
            Check::GcpPos2 => "gcppos2",
            Check::HasNonDigit => "hasnondigit",
            Check::Date { zero_day: true } => "yymmd0",
            Check::Date { zero_day: false } => "yymmdd",
            Check::FullDate => "yyyymmdd",
            Check::HourMinute => "hhmi",
            Check::Hour => "hh",
            Check::Minute => "mi",
            Check::Second => "ss",
            Check::Hyphen => "hyphen",
            Check::Iban => "iban",
            Check::ImporterIndex => "importeridx",
            Check::Country => "iso3166",
            Check::CountryOr999 => "iso3166999",
            Check::CountryAlpha2 => "iso3166alpha2",
            Check::Currency => "iso4217",
            Check::Sex => "iso5218",
            Check::Latitude => "latitude",
            Check::Longitude => "longitude",
            Check::MediaType => "mediatype",
            Check::NonZero => "nonzero",
            Check::Zero => "zero",
            Check::NoZeroPrefix => "nozeroprefix",
            Check::PackageType => "packagetype",
            Check::PercentEncoded => "pcenc",
            Check::PieceOfTotal => "pieceoftotal",
            Check::PositionInSequence => "posinseqslash",
            Check::Winding => "winding",
            Check::YesNo => "yesno",
            Check::CouponCode => "couponcode",
            Check::CouponPositiveOffer => "couponposoffer",
            Check::Base64 => return None,
        })
    }

    /// Runs the check on one component's text; positions are byte offsets into `part`.
    fn run(self, part: &str, subject: &dyn Fn() -> String) -> Result<(), ParseError> {
        let number = |range: std::ops::Range<usize>| {
            part.get(range)
                .and_then(|s| s.parse::<u32>().ok())
                .unwrap_or(0)
        };
        let time = |unit: &'static str, value: u32, max: u32, at: usize| {
            if value > max {
                Err(ParseError::new(
                    ErrorKind::Time {
                        subject: subject(),
                        unit,
                        value,
                    },
                    at,
                ))
            } else {
                Ok(())
            }
        };
        let invalid = |reason: String, at: usize| {
            Err(ParseError::new(
                ErrorKind::Invalid {
                    subject: subject(),
                    reason,
                },
                at,
            ))
        };
        match self {
            Check::Csum(what) => verify_check_digit(part, what),
            Check::CsumAlpha => lint::check_pair(part, subject),
            Check::GcpPos1 => lint::company_prefix(part, 0, subject),
            Check::GcpPos2 => lint::company_prefix(part, 1, subject),
            Check::HasNonDigit if part.bytes().all(|b| b.is_ascii_digit()) => invalid(
                format!("{part} must contain a character that is not a digit"),
                0,
            ),
            Check::Date { zero_day } => date(part, subject, zero_day).map(drop),
            Check::FullDate => lint::full_date(part, subject),
            Check::HourMinute => {
                time("hour", number(0..2), 23, 0)?;
                time("minute", number(2..4), 59, 2)
            }
            Check::Hour => time("hour", number(0..2), 23, 0),
            Check::Minute => time("minute", number(0..2), 59, 0),
            Check::Second => time("second", number(0..2), 59, 0),
            Check::Hyphen => match part.bytes().position(|b| b != b'-') {
                Some(at) => invalid(format!("{:?} must be '-'", char_at(part, at)), at),
                None => Ok(()),
            },
            Check::Iban => lint::iban(part, subject),
            Check::ImporterIndex
                if !part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                invalid(
                    format!("importer index {part} must be a letter, a digit, '-' or '_'"),
                    0,
                )
            }
            Check::Country if !codes::is_country_numeric(part) => {
                invalid(format!("{part} is not an ISO 3166 country code"), 0)
            }
            Check::CountryOr999 if part != "999" && !codes::is_country_numeric(part) => {
                invalid(format!("{part} is not an ISO 3166 country code or 999"), 0)
            }
            Check::CountryAlpha2 if !codes::is_country_alpha2(part) => {
                invalid(format!("{part} is not an ISO 3166 alpha-2 country code"), 0)
            }
            Check::Currency if !codes::is_currency_numeric(part) => {
                invalid(format!("{part} is not an ISO 4217 currency code"), 0)
            }
            Check::Sex if !matches!(part, "0" | "1" | "2" | "9") => {
                invalid(format!("sex {part} must be 0, 1, 2 or 9 (ISO/IEC 5218)"), 0)
            }
            Check::Latitude if part.parse::<u64>().map_or(true, |v| v > 1_800_000_000) => {
                invalid(format!("latitude {part} is above 1800000000"), 0)
            }
            Check::Longitude if part.parse::<u64>().map_or(true, |v| v > 3_600_000_000) => {
                invalid(format!("longitude {part} is above 3600000000"), 0)
            }
            Check::MediaType if !codes::is_media_type(part) => invalid(
                format!("{part} is not an AIDC media type (01–10, 80–99)"),
                0,
            ),
            Check::Zero if part != "0" => invalid(format!("digit {part} must be 0"), 0),
            Check::NonZero if part.bytes().all(|b| b == b'0') => {
                invalid(format!("{part} must not be zero"), 0)
            }
            Check::NoZeroPrefix if part.starts_with('0') => {
                invalid(format!("{part} must not start with 0"), 0)
            }
            Check::PackageType if !codes::is_package_type(part) => {
                invalid(format!("{part} is not a package type code"), 0)
            }
            Check::PercentEncoded => lint::percent_encoded(part, subject),
            Check::Winding if !matches!(part, "0" | "1" | "9") => {
                invalid(format!("winding direction {part} must be 0, 1 or 9"), 0)
            }
            Check::YesNo if !matches!(part, "0" | "1") => {
                invalid(format!("{part} must be 0 (no) or 1 (yes)"), 0)
            }
            Check::PieceOfTotal => {
                let (piece, total) = (number(0..2), number(2..4));
                if piece == 0 || total == 0 || piece > total {
                    invalid(
                        format!("piece {piece:02} of {total:02} is not a piece of the total"),
                        0,
                    )
                } else {
                    Ok(())
                }
            }
            Check::PositionInSequence => lint::position_in_sequence(part, subject),
            Check::CouponCode => lint::coupon_code(part, subject),
            Check::CouponPositiveOffer => lint::coupon_positive_offer(part, subject),
            Check::Base64 => check_base64url(part, subject),
            Check::HasNonDigit
            | Check::ImporterIndex
            | Check::Country
            | Check::CountryOr999
            | Check::CountryAlpha2
            | Check::Currency
            | Check::Sex
            | Check::Latitude
            | Check::Longitude
            | Check::MediaType
            | Check::Zero
            | Check::NonZero
            | Check::NoZeroPrefix
            | Check::PackageType
            | Check::Winding
            | Check::YesNo => Ok(()),
        }
    }
}

/// One component of a value: `N14`, `X..20`, `[N6]`…, with its content checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Component {
    charset: Charset,
    min: u8,
    max: u8,
    optional: bool,
    checks: &'static [Check],
}

impl Component {
    /// The component's character set.
    pub fn charset(&self) -> Charset {
        self.charset
    }

    /// The shortest length (1 for variable-length components, which are never empty).
    pub fn min(&self) -> usize {
        usize::from(self.min)
    }

    /// The longest length.
    pub fn max(&self) -> usize {
        usize::from(self.max)
    }

    /// True if the component may be left out (`[N6]`); only trailing components may.
    pub fn is_optional(&self) -> bool {
        self.optional
    }

    /// The names of its content checks as the Syntax Dictionary spells them (`"csum"`,
    /// `"iso3166"`, `"yymmd0"`…), in the order they run.
    pub fn linters(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.checks.iter().filter_map(|c| c.name())
    }

    fn is_fixed(&self) -> bool {
        self.min == self.max
    }

    /// True if `bytes`, all of it, is a valid length for this component and in its character
    /// set: what [`ApplicationIdentifier::layout`] accepts of an AI with this one component,
    /// but for an empty optional component, which is left to it.
    fn fits_whole(&self, bytes: &[u8]) -> bool {
        (usize::from(self.min)..=usize::from(self.max)).contains(&bytes.len())
            && self.charset.first_outside(bytes).is_none()
    }
    const fn with(self, checks: &'static [Check]) -> Self {
        Component { checks, ..self }
    }
    const fn optional(self) -> Self {
        Component {
            optional: true,
            ..self
        }
    }
}

const fn component(charset: Charset, min: u8, max: u8) -> Component {
    Component {
        charset,
        min,
        max,
        optional: false,
        checks: &[],
    }
}
/// `Nn`: exactly n digits.
const fn n(len: u8) -> Component {
    component(Charset::Numeric, len, len)
}
/// `N..n`: 1 to n digits.
const fn nv(max: u8) -> Component {
    component(Charset::Numeric, 1, max)
}
/// `Xn`: exactly n characters of set 82.
const fn x(len: u8) -> Component {
    component(Charset::Cset82, len, len)
}
/// `X..n`: 1 to n characters of set 82.
const fn xv(max: u8) -> Component {
    component(Charset::Cset82, 1, max)
}
/// `Y..n`: 1 to n characters of set 39.
const fn yv(max: u8) -> Component {
    component(Charset::Cset39, 1, max)
}
/// `Z..n`: 1 to n characters of set 64, which must decode as base64url.
const fn zv(max: u8) -> Component {
    component(Charset::Cset64, 1, max).with(&[Check::Base64])
}

#[cfg(test)]
mod tests {
    use super::base64url::{BASE64URL, base64url_decoded_len, decode_base64url_into};
    use super::*;
    use crate::digits::check_digit;

    #[test]
    fn the_index_agrees_with_a_linear_search_of_the_table() {
        for len in 2..=4 {
            for n in 0..10usize.pow(u32::try_from(len).unwrap()) {
                let code = format!("{n:0len$}");
                let linear = TABLE.iter().find(|d| d.covers(&code));
                let indexed = index().definition(&code);
                assert_eq!(
                    linear.map(|d| d.first),
                    indexed.map(|(_, d)| d.first),
                    "AI {code}"
                );
            }
        }
        for n in 0..100 {
            let prefix = format!("{n:02}");
            let linear = TABLE
                .iter()
                .find(|d| {
                    d.first.get(..2) <= Some(prefix.as_str())
                        && Some(prefix.as_str()) <= d.last.get(..2)
                })
                .map(|d| d.first.len());
            assert_eq!(linear, ai_length(&prefix), "prefix {prefix}");
        }
    }

    fn engine(value: &[u8]) -> Option<Vec<u8>> {
        BASE64URL.decode(value).ok()
    }

    /// What the parser's decoder says, and that its fast path, where it answers (no padding),
    /// and `is_base64url` say the same.
    fn fast(value: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(value).unwrap();
        let decoded = decode_base64url(text, &String::new).ok();
        if !value.contains(&b'=') {
            let fast = base64url_decoded_len(value.len()).and_then(|len| {
                let mut out = vec![0; len];
                decode_base64url_into(value, &mut out).then_some(out)
            });
            assert_eq!(fast, decoded, "{text:?}");
        }
        assert_eq!(is_base64url(value), decoded.is_some(), "{text:?}");
        decoded
    }

    /// The check digit as GS1 defines it, one character at a time.
    fn check_digit_by_definition(digits: &str) -> u8 {
        let sum: u32 = digits
            .bytes()
            .filter(u8::is_ascii_digit)
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        u8::try_from((10 - sum % 10) % 10).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(crate::seeded::seeded(4000))]

        #[test]
        fn check_digits_agree_with_the_definition(digits in "[0-9]{0,20}|[0-9A-Z ]{0,20}") {
            proptest::prop_assert_eq!(check_digit(&digits), check_digit_by_definition(&digits));
        }

        /// Values of every AI, near its lengths and in and out of its character sets: the
        /// shortcut for one-component AIs gives the layout's answer, error for error, and
        /// `fits` agrees with the layout.
        #[test]
        fn validating_whole_values_agrees_with_the_layout(
            row in 0..TABLE.len(),
            value in "[0-9]{0,95}|[0-9A-Za-z_=-]{0,95}|[0-9A-Z!%&()*+,./:;<=>?_ -]{0,40}|[0-9é]{0,20}",
        ) {
            let code = TABLE[row].first;
            let ai = ApplicationIdentifier::lookup(code).unwrap();
            // Lengths near the AI's own, from the front of the random text.
            let (min, max) = ai.length();
            for len in [min.saturating_sub(1), min, (min + max) / 2, max, max + 1] {
                let Some(value) = value.get(..len.min(value.len())) else { continue };
                proptest::prop_assert_eq!(ai.validate(value), ai.validate_laid_out(value), "{} {:?}", code, value);
                proptest::prop_assert_eq!(ai.fits(value.as_bytes()), ai.layout(value.as_bytes()).is_ok());
            }
        }

        /// The fast base64url decoder accepts what the engine accepts, with the same bytes,
        /// and refuses what it refuses: short texts with padding anywhere, and signatures.
        #[test]
        fn the_fast_base64url_decoder_agrees_with_the_engine(
            text in "[A-Za-z0-9_=-]{0,9}|[A-Za-z0-9_-]{80,90}={0,3}|[A-Za-z0-9_+/-]{1,8}",
        ) {
            proptest::prop_assert_eq!(fast(text.as_bytes()), engine(text.as_bytes()), "{:?}", text);
        }
    }

    #[test]
    fn the_fast_base64url_decoder_agrees_with_the_engine_on_every_short_text() {
        // Every text of up to four characters from the alphabet, padding and one stranger.
        let alphabet = b"AQgw_-=9+";
        let mut texts = vec![Vec::new()];
        for _ in 0..4 {
            let longer: Vec<Vec<u8>> = texts
                .iter()
                .filter(|t| t.len() == texts.last().map_or(0, Vec::len))
                .flat_map(|t| alphabet.iter().map(move |&c| [t.as_slice(), &[c]].concat()))
                .collect();
            texts.extend(longer);
        }
        for text in &texts {
            assert_eq!(
                fast(text),
                engine(text),
                "{:?}",
                String::from_utf8_lossy(text)
            );
        }
        assert!(texts.len() > 6000);
    }

    #[test]
    fn prefixes_that_start_ais_are_those_of_the_index() {
        for p in 0..100u8 {
            let text = format!("{p:02}");
            let b = text.as_bytes();
            assert_eq!(starts_ai(b[0], b[1]), ai_length(&text).is_some(), "{text}");
        }
    }

    #[test]
    fn the_longest_signature_fits_in_place() {
        let (_, max) = ApplicationIdentifier::lookup("8030").unwrap().length();
        for len in 0..=max {
            assert!(
                base64url_decoded_len(len).unwrap_or(0) <= Signature::CAPACITY,
                "{len}"
            );
        }
        let longest = "_".repeat(max - 1) + "w";
        let decoded = decode_signature(longest.as_bytes()).unwrap();
        assert_eq!(decoded.as_bytes(), engine(longest.as_bytes()).unwrap());
        assert_eq!(decoded.as_bytes().len(), Signature::CAPACITY);
        let padded = "_".repeat(max - 6) + "__A=";
        let decoded = decode_signature(padded.as_bytes()).unwrap();
        assert_eq!(decoded.as_bytes(), engine(padded.as_bytes()).unwrap());
    }

    #[test]
    fn every_known_ai_names_its_own_code() {
        let mut known = 0;
        for len in 2..=4 {
            for n in 0..10usize.pow(u32::try_from(len).unwrap()) {
                let code = format!("{n:0len$}");
                if let Some(ai) = ApplicationIdentifier::lookup(&code) {
                    assert_eq!(ai.code(), code);
                    let read = ApplicationIdentifier::at_start_of(code.as_bytes()).unwrap();
                    assert_eq!(read.code(), code);
                    known += 1;
                }
            }
        }
        assert!(known > 500, "{known} AIs");
    }

    #[test]
    fn reading_an_ai_from_bytes_agrees_with_looking_it_up() {
        for width in 1..=4 {
            for n in 0..10usize.pow(width) {
                for tail in ["", "A", "7", "12"] {
                    let text = format!("{n:0w$}{tail}", w = width as usize);
                    let digits = text.bytes().take(4).take_while(u8::is_ascii_digit).count();
                    let len = text
                        .get(..2)
                        .filter(|_| digits >= 2)
                        .and_then(ai_length)
                        .unwrap_or(2)
                        .min(digits);
                    let expected = ApplicationIdentifier::lookup(&text[..len]);
                    let read = ApplicationIdentifier::at_start_of(text.as_bytes());
                    assert_eq!(read, expected, "{text}");
                }
            }
        }
    }

    #[test]
    fn compiled_pairing_rules_match_the_notation() {
        let matches = |pattern: &str, code: &str| {
            pattern.len() == code.len()
                && pattern
                    .bytes()
                    .zip(code.bytes())
                    .all(|(p, c)| p == c || (p == b'n' && c.is_ascii_digit()))
        };
        let codes: Vec<String> = ApplicationIdentifier::all()
            .map(|ai| ai.code().to_owned())
            .collect();
        for ai in ApplicationIdentifier::all() {
            for code in &codes {
                let excluded = ai
                    .excludes()
                    .is_some_and(|ex| ex.split(',').any(|p| matches(p, code)));
                assert_eq!(
                    ai.excluded().iter().any(|p| p.matches(code)),
                    excluded,
                    "{ai:?} {code}"
                );
                let code_sketch = sketch(u16::try_from(Index::slot(code).unwrap()).unwrap());
                assert!(
                    !excluded || ai.pairing().excluded_sketch & code_sketch != 0,
                    "{ai:?} {code}"
                );
            }
            let groups: Vec<Vec<&str>> = ai
                .requires()
                .map(|req| req.split(',').map(|g| g.split('+').collect()).collect())
                .unwrap_or_default();
            assert_eq!(ai.required().len(), groups.len(), "{ai:?}");
            for ((sure, compiled), group) in ai.required().iter().zip(&groups) {
                let exact = group
                    .iter()
                    .filter(|p| !p.contains('n'))
                    .fold(0, |bits, code| {
                        bits | sketch(u16::try_from(Index::slot(code).unwrap()).unwrap())
                    });
                assert_eq!(*sure, exact, "{ai:?}");
                for code in &codes {
                    let each: Vec<bool> = group.iter().map(|p| matches(p, code)).collect();
                    let compiled: Vec<bool> = compiled.iter().map(|p| p.matches(code)).collect();
                    assert_eq!(compiled, each, "{ai:?} {code}");
                }
            }
        }
    }

    #[test]
    fn table_rows_are_well_formed() {
        let mut previous = "";
        for def in TABLE {
            assert_eq!(def.first.len(), def.last.len(), "{}", def.first);
            assert!(def.first <= def.last, "{}", def.first);
            assert!(previous < def.first, "table out of order at {}", def.first);
            previous = def.last;
            assert!(def.first.bytes().all(|b| b.is_ascii_digit()));
            // Only the final component may have a variable length.
            let n = def.components.len();
            assert!(
                def.components[..n - 1].iter().all(Component::is_fixed),
                "{}",
                def.first
            );
            // No mandatory component after an optional one.
            let first_optional = def.components.iter().position(|c| c.optional).unwrap_or(n);
            assert!(
                def.components[first_optional..].iter().all(|c| c.optional),
                "{}",
                def.first
            );
            // The first two digits determine the AI's length.
            assert_eq!(
                ai_length(&def.first[..2]),
                Some(def.first.len()),
                "{}",
                def.first
            );
            // Predefined-length AIs have a fixed length.
            if def.flags & PREDEFINED != 0 {
                assert_eq!(def.components.len(), 1);
                assert!(def.components[0].is_fixed());
            }
            for rule in [def.req, def.ex].into_iter().flatten() {
                for code in rule.split([',', '+']) {
                    // `Pattern` reads `n` only after the digits.
                    assert!(
                        code.trim_end_matches('n')
                            .bytes()
                            .all(|b| b.is_ascii_digit()),
                        "{}: {code}",
                        def.first
                    );
                    let pattern = |ai: &ApplicationIdentifier| {
                        ai.code().len() == code.len()
                            && ai
                                .code()
                                .bytes()
                                .zip(code.bytes())
                                .all(|(a, p)| p == b'n' || a == p)
                    };
                    assert!(
                        ApplicationIdentifier::all().any(|ai| pattern(&ai)),
                        "{}: {code} names no AI",
                        def.first
                    );
                }
            }
            for qualifier in def.key.unwrap_or(&[]).iter().flat_map(|alt| alt.iter()) {
                assert!(
                    ApplicationIdentifier::lookup(qualifier).is_some(),
                    "{qualifier}"
                );
            }
        }
    }

    #[test]
    fn check_digits() {
        assert_eq!(check_digit("0950600013435"), 2);
        assert_eq!(check_digit("03761234500000001"), 4);
        assert_eq!(check_digit(""), 0);
    }
}
