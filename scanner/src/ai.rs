//! The table of GS1 application identifiers and the validation of one AI's value.
//!
//! Each table row mirrors one line of the GS1 Barcode Syntax Dictionary: a code or a range of
//! codes, whether the value has a predefined length (no GS needed after it), whether Digital Link
//! allows it as a query attribute, and the value's components (character set, length, content
//! check). Adding an AI is adding a row; nothing else in the crate lists AIs.
//!
//! Not checked yet (these only need new [`Check`] variants): ISO 3166/4217 code lists, IBAN,
//! the alphanumeric check pair of 8013, percent-encoded text (`pcenc`), and the `req`/`ex`
//! pairing rules, which GS1 evaluates over all carriers on an item rather than one scan —
//! except "254 needs 414", which the parser enforces.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use chrono::NaiveDate;

use crate::error::{ErrorKind, ParseError};

/// One GS1 application identifier, e.g. `01` (GTIN) or `3103` (net weight in kg, 3 decimals).
///
/// A value of this type is an AI listed in the crate's table; [`ApplicationIdentifier::validate`]
/// checks a value against it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplicationIdentifier {
    code: [u8; 4],
    len: u8,
    def: &'static Definition,
}

impl ApplicationIdentifier {
    /// The AI with this code, if the table knows it.
    pub fn lookup(code: &str) -> Option<ApplicationIdentifier> {
        let def = index().definition(code)?;
        let len = u8::try_from(code.len()).ok()?;
        let mut code_bytes = [0; 4];
        code_bytes
            .get_mut(..code.len())?
            .copy_from_slice(code.as_bytes());
        Some(ApplicationIdentifier {
            code: code_bytes,
            len,
            def,
        })
    }

    /// The AI's digits, e.g. `"01"`.
    pub fn code(&self) -> &str {
        // The code was copied from a `&str` that matched a table row, so it is ASCII digits.
        std::str::from_utf8(&self.code[..usize::from(self.len)]).unwrap_or_default()
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
        let min = self
            .def
            .components
            .iter()
            .filter(|c| !c.optional)
            .map(|c| usize::from(c.min));
        let max = self.def.components.iter().map(|c| usize::from(c.max));
        (min.sum(), max.sum())
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

    /// Checks a value: length, character set, check digits, dates and times, base64url.
    ///
    /// # Errors
    ///
    /// The first problem found, its position a byte offset into `value`.
    pub fn validate(&self, value: &str) -> Result<(), ParseError> {
        let subject = || format!("AI {}", self.code());
        let bytes = value.as_bytes();
        let (min, max) = self.length();
        let length_error = || {
            let got = value.chars().count();
            ParseError::new(
                ErrorKind::Length {
                    subject: subject(),
                    min,
                    max,
                    got,
                    numeric: self.is_numeric(),
                },
                0,
            )
        };

        // Character sets first: a letter in a GTIN is a clearer message than a length.
        let mut start = 0;
        let mut spans = Vec::with_capacity(self.def.components.len());
        for component in self.def.components {
            let rest = bytes.len() - start;
            let take = rest.min(usize::from(component.max));
            if let Some(i) = bytes[start..start + take]
                .iter()
                .position(|&b| !component.charset.allows(b))
            {
                let at = start + i;
                let ch = char_at(value, at);
                let digit = component.charset == Charset::Numeric;
                return Err(ParseError::new(
                    ErrorKind::Character {
                        subject: subject(),
                        ch,
                        digit,
                    },
                    at,
                ));
            }
            let complete = if component.is_fixed() {
                take == usize::from(component.max) || (component.optional && take == 0)
            } else {
                take >= usize::from(component.min) || (component.optional && take == 0)
            };
            if !complete {
                return Err(length_error());
            }
            spans.push((component, start, take));
            start += take;
        }
        if start != bytes.len() {
            return Err(length_error());
        }

        for (component, start, take) in spans {
            if take > 0 {
                let part = &value[start..start + take];
                component
                    .check
                    .run(part, &subject)
                    .map_err(|e| e.offset(start))?;
            }
        }
        Ok(())
    }
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

/// Direct lookups into [`TABLE`], built once: parsing is on the hot path of every scan, and a
/// linear search of the table per AI cost most of its time.
struct Index {
    /// AI length by its first two digits.
    length_by_prefix: [Option<u8>; 100],
    /// Row of [`TABLE`] by code: 2-digit codes at 0..100, 3-digit at 100..1100, 4-digit at
    /// 1100..11100.
    row_by_code: Vec<Option<u16>>,
}

impl Index {
    fn slot(code: &str) -> Option<usize> {
        let v = digits_value(code)?;
        match code.len() {
            2 => Some(v),
            3 => Some(100 + v),
            4 => Some(1100 + v),
            _ => None,
        }
    }

    fn definition(&self, code: &str) -> Option<&'static Definition> {
        let row = (*self.row_by_code.get(Self::slot(code)?)?)?;
        TABLE.get(usize::from(row))
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

/// The character at byte `at` of `s` (or the character containing that byte).
pub(crate) fn char_at(s: &str, mut at: usize) -> char {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    s.get(at..)
        .and_then(|rest| rest.chars().next())
        .unwrap_or('\u{fffd}')
}

/// GS1 mod-10 check digit of `digits` (the payload, without the check digit): weights 3, 1, 3…
/// from the right. Characters that are not ASCII digits are skipped.
pub fn check_digit(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .filter(u8::is_ascii_digit)
        .rev()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    // `sum % 10` is below 10, so the result fits.
    ((10 - sum % 10) % 10) as u8
}

/// Checks the last digit of `digits` (all ASCII digits) as a GS1 check digit.
pub(crate) fn verify_check_digit(digits: &str, what: &'static str) -> Result<(), ParseError> {
    let Some((payload, last)) = digits.len().checked_sub(1).map(|n| digits.split_at(n)) else {
        return Ok(());
    };
    let found = last.as_bytes().first().map_or(0, |b| b.wrapping_sub(b'0'));
    let expected = check_digit(payload);
    if found == expected {
        Ok(())
    } else {
        Err(ParseError::new(
            ErrorKind::CheckDigit {
                what,
                found,
                expected,
            },
            payload.len(),
        ))
    }
}

/// A GS1 YYMMDD date. The crate reads no clock, so GS1's sliding century window cannot be
/// applied; YY below 51 is 20YY, otherwise 19YY. DD = 00 (where allowed) is the month's last day.
pub(crate) fn date(
    value: &str,
    subject: &dyn Fn() -> String,
    zero_day: bool,
) -> Result<NaiveDate, ParseError> {
    let number = |at: usize| {
        value
            .get(at..at + 2)
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (yy, month, day) = (number(0), number(2), number(4));
    // `yy` is two digits, so the conversion cannot fail.
    let year = i32::try_from(if yy < 51 { 2000 + yy } else { 1900 + yy }).unwrap_or(2000);
    if !(1..=12).contains(&month) {
        return Err(ParseError::new(
            ErrorKind::Month {
                subject: subject(),
                month,
            },
            2,
        ));
    }
    let found = if day == 0 && zero_day {
        last_day(year, month)
    } else {
        NaiveDate::from_ymd_opt(year, month, day)
    };
    found.ok_or_else(|| {
        ParseError::new(
            ErrorKind::Day {
                subject: subject(),
                day,
                year,
                month,
            },
            4,
        )
    })
}

fn last_day(year: i32, month: u32) -> Option<NaiveDate> {
    (28..=31)
        .rev()
        .find_map(|day| NaiveDate::from_ymd_opt(year, month, day))
}

/// The base64url engine for AI 8030: URL-safe alphabet, padding optional.
pub(crate) fn decode_base64url(
    value: &str,
    subject: &dyn Fn() -> String,
) -> Result<Vec<u8>, ParseError> {
    const ENGINE: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    ENGINE.decode(value).map_err(|e| {
        let (reason, at) = match e {
            base64::DecodeError::InvalidByte(at, _) => ("'=' is only allowed at the end", at),
            base64::DecodeError::InvalidLength(_) => ("impossible length", value.len()),
            base64::DecodeError::InvalidLastSymbol(at, _) => ("last character has extra bits", at),
            base64::DecodeError::InvalidPadding => ("wrong padding", value.len()),
        };
        ParseError::new(
            ErrorKind::Base64 {
                subject: subject(),
                reason,
            },
            at,
        )
    })
}

// ---------------------------------------------------------------------------------------------
// The table.

/// Character sets of GS1 values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Charset {
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
        match self {
            Charset::Numeric => b.is_ascii_digit(),
            Charset::Cset82 => b.is_ascii_alphanumeric() || b"!\"%&'()*+,-./:;<=>?_".contains(&b),
            Charset::Cset39 => b.is_ascii_digit() || b.is_ascii_uppercase() || b"#-/".contains(&b),
            Charset::Cset64 => b.is_ascii_alphanumeric() || b"-_=".contains(&b),
        }
    }
}

/// Content checks ("linters" in the Syntax Dictionary) applied to one component.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Check {
    None,
    /// GS1 mod-10 check digit over the component; the name is used in messages.
    Mod10(&'static str),
    /// YYMMDD; DD = 00 allowed when true (means last day of the month).
    Date {
        zero_day: bool,
    },
    /// HHMI.
    HourMinute,
    Hour,
    Minute,
    Second,
    /// A single digit that must be 0.
    Zero,
    /// Must not be all zeros.
    NonZero,
    /// Roll winding direction: 0, 1 or 9.
    Winding,
    /// NNMM: piece NN of MM, 1 ≤ NN ≤ MM.
    PieceOfTotal,
    /// Base64url that decodes.
    Base64,
}

impl Check {
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
        let invalid = |reason: String| {
            ParseError::new(
                ErrorKind::Invalid {
                    subject: subject(),
                    reason,
                },
                0,
            )
        };
        match self {
            Check::None => Ok(()),
            Check::Mod10(what) => verify_check_digit(part, what),
            Check::Date { zero_day } => date(part, subject, zero_day).map(drop),
            Check::HourMinute => {
                time("hour", number(0..2), 23, 0)?;
                time("minute", number(2..4), 59, 2)
            }
            Check::Hour => time("hour", number(0..2), 23, 0),
            Check::Minute => time("minute", number(0..2), 59, 0),
            Check::Second => time("second", number(0..2), 59, 0),
            Check::Zero if part != "0" => Err(invalid(format!("digit {part} must be 0"))),
            Check::NonZero if part.bytes().all(|b| b == b'0') => {
                Err(invalid(format!("{part} must not be zero")))
            }
            Check::Winding if !matches!(part, "0" | "1" | "9") => Err(invalid(format!(
                "winding direction {part} must be 0, 1 or 9"
            ))),
            Check::PieceOfTotal => {
                let (piece, total) = (number(0..2), number(2..4));
                if piece == 0 || total == 0 || piece > total {
                    Err(invalid(format!(
                        "piece {piece:02} of {total:02} is not a piece of the total"
                    )))
                } else {
                    Ok(())
                }
            }
            Check::Base64 => decode_base64url(part, subject).map(drop),
            Check::Zero | Check::NonZero | Check::Winding => Ok(()),
        }
    }
}

/// One component of a value: `N14`, `X..20`, `[N6]`…
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Component {
    charset: Charset,
    min: u8,
    max: u8,
    optional: bool,
    check: Check,
}

impl Component {
    fn is_fixed(&self) -> bool {
        self.min == self.max
    }
    const fn check(self, check: Check) -> Self {
        Component { check, ..self }
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
        check: Check::None,
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
/// `Z..n`: 1 to n characters of set 64.
const fn zv(max: u8) -> Component {
    component(Charset::Cset64, 1, max)
}

const DATE: Check = Check::Date { zero_day: true };
const DATE_STRICT: Check = Check::Date { zero_day: false };

/// Flag `*`: predefined length, no GS separator after the value.
const PREDEFINED: u8 = 1;
/// Flag `?`: allowed as a Digital Link query attribute.
const DL_ATTRIBUTE: u8 = 2;
const BOTH: u8 = PREDEFINED | DL_ATTRIBUTE;

/// One row of the table: a code or a range of codes of equal length sharing one definition.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Definition {
    first: &'static str,
    last: &'static str,
    flags: u8,
    components: &'static [Component],
    /// `Some` for Digital Link primary keys, with their alternative qualifier sequences.
    key: Option<&'static [&'static [&'static str]]>,
    title: &'static str,
}

impl Definition {
    /// The linear-search rule the index reproduces (checked by a test).
    #[cfg(test)]
    fn covers(&self, code: &str) -> bool {
        code.len() == self.first.len() && self.first <= code && code <= self.last
    }
    const fn key(self, qualifiers: &'static [&'static [&'static str]]) -> Self {
        Definition {
            key: Some(qualifiers),
            ..self
        }
    }
}

const fn ai(
    code: &'static str,
    flags: u8,
    components: &'static [Component],
    title: &'static str,
) -> Definition {
    range(code, code, flags, components, title)
}

const fn range(
    first: &'static str,
    last: &'static str,
    flags: u8,
    components: &'static [Component],
    title: &'static str,
) -> Definition {
    Definition {
        first,
        last,
        flags,
        components,
        key: None,
        title,
    }
}

/// Measures `31nn`–`36nn`: six digits with an implied decimal point, predefined length.
const MEASURE: &[Component] = &[n(6)];
const GTIN: &[Component] = &[n(14).check(Check::Mod10("GTIN"))];
const GLN: &[Component] = &[n(13).check(Check::Mod10("GLN"))];
/// An ISO 3166 country or ISO 4217 currency code (the code lists are not checked yet).
const ISO: Component = n(3);
const ATTR: u8 = DL_ATTRIBUTE;

#[rustfmt::skip]
static TABLE: &[Definition] = &[
    ai("00", BOTH, &[n(18).check(Check::Mod10("SSCC"))], "SSCC").key(&[]),
    ai("01", BOTH, GTIN, "GTIN").key(&[&["22", "10", "21"], &["235"]]),
    ai("02", BOTH, GTIN, "CONTENT"),
    ai("03", PREDEFINED, GTIN, "MTO GTIN"),
    ai("10", ATTR, &[xv(20)], "BATCH/LOT"),
    ai("11", BOTH, &[n(6).check(DATE)], "PROD DATE"),
    ai("12", BOTH, &[n(6).check(DATE)], "DUE DATE"),
    ai("13", BOTH, &[n(6).check(DATE)], "PACK DATE"),
    ai("15", BOTH, &[n(6).check(DATE)], "BEST BEFORE or BEST BY"),
    ai("16", BOTH, &[n(6).check(DATE)], "SELL BY"),
    ai("17", BOTH, &[n(6).check(DATE)], "USE BY or EXPIRY"),
    ai("20", BOTH, &[n(2)], "VARIANT"),
    ai("21", 0, &[xv(20)], "SERIAL"),
    ai("22", 0, &[xv(20)], "CPV"),
    ai("235", 0, &[xv(28)], "TPX"),
    ai("240", ATTR, &[xv(30)], "ADDITIONAL ID"),
    ai("241", ATTR, &[xv(30)], "CUST. PART No."),
    ai("242", ATTR, &[nv(6)], "MTO VARIANT"),
    ai("243", ATTR, &[xv(20)], "PCN"),
    ai("250", ATTR, &[xv(30)], "SECONDARY SERIAL"),
    ai("251", ATTR, &[xv(30)], "REF. TO SOURCE"),
    ai("253", ATTR, &[n(13).check(Check::Mod10("GDTI")), xv(17).optional()], "GDTI").key(&[]),
    ai("254", 0, &[xv(20)], "GLN EXTENSION COMPONENT"),
    ai("255", ATTR, &[n(13).check(Check::Mod10("GCN")), nv(12).optional()], "GCN").key(&[]),
    ai("30", ATTR, &[nv(8)], "VAR. COUNT"),
    range("3100", "3105", BOTH, MEASURE, "NET WEIGHT (kg)"),
    range("3110", "3115", BOTH, MEASURE, "LENGTH (m)"),
    range("3120", "3125", BOTH, MEASURE, "WIDTH (m)"),
    range("3130", "3135", BOTH, MEASURE, "HEIGHT (m)"),
    range("3140", "3145", BOTH, MEASURE, "AREA (m²)"),
    range("3150", "3155", BOTH, MEASURE, "NET VOLUME (l)"),
    range("3160", "3165", BOTH, MEASURE, "NET VOLUME (m³)"),
    range("3200", "3205", BOTH, MEASURE, "NET WEIGHT (lb)"),
    range("3210", "3215", BOTH, MEASURE, "LENGTH (in)"),
    range("3220", "3225", BOTH, MEASURE, "LENGTH (ft)"),
    range("3230", "3235", BOTH, MEASURE, "LENGTH (yd)"),
    range("3240", "3245", BOTH, MEASURE, "WIDTH (in)"),
    range("3250", "3255", BOTH, MEASURE, "WIDTH (ft)"),
    range("3260", "3265", BOTH, MEASURE, "WIDTH (yd)"),
    range("3270", "3275", BOTH, MEASURE, "HEIGHT (in)"),
    range("3280", "3285", BOTH, MEASURE, "HEIGHT (ft)"),
    range("3290", "3295", BOTH, MEASURE, "HEIGHT (yd)"),
    range("3300", "3305", BOTH, MEASURE, "GROSS WEIGHT (kg)"),
    range("3310", "3315", BOTH, MEASURE, "LENGTH (m), log"),
    range("3320", "3325", BOTH, MEASURE, "WIDTH (m), log"),
    range("3330", "3335", BOTH, MEASURE, "HEIGHT (m), log"),
    range("3340", "3345", BOTH, MEASURE, "AREA (m²), log"),
    range("3350", "3355", BOTH, MEASURE, "VOLUME (l), log"),
    range("3360", "3365", BOTH, MEASURE, "VOLUME (m³), log"),
    range("3370", "3375", BOTH, MEASURE, "KG PER m²"),
    range("3400", "3405", BOTH, MEASURE, "GROSS WEIGHT (lb)"),
    range("3410", "3415", BOTH, MEASURE, "LENGTH (in), log"),
    range("3420", "3425", BOTH, MEASURE, "LENGTH (ft), log"),
    range("3430", "3435", BOTH, MEASURE, "LENGTH (yd), log"),
    range("3440", "3445", BOTH, MEASURE, "WIDTH (in), log"),
    range("3450", "3455", BOTH, MEASURE, "WIDTH (ft), log"),
    range("3460", "3465", BOTH, MEASURE, "WIDTH (yd), log"),
    range("3470", "3475", BOTH, MEASURE, "HEIGHT (in), log"),
    range("3480", "3485", BOTH, MEASURE, "HEIGHT (ft), log"),
    range("3490", "3495", BOTH, MEASURE, "HEIGHT (yd), log"),
    range("3500", "3505", BOTH, MEASURE, "AREA (in²)"),
    range("3510", "3515", BOTH, MEASURE, "AREA (ft²)"),
    range("3520", "3525", BOTH, MEASURE, "AREA (yd²)"),
    range("3530", "3535", BOTH, MEASURE, "AREA (in²), log"),
    range("3540", "3545", BOTH, MEASURE, "AREA (ft²), log"),
    range("3550", "3555", BOTH, MEASURE, "AREA (yd²), log"),
    range("3560", "3565", BOTH, MEASURE, "NET WEIGHT (tr oz)"),
    range("3570", "3575", BOTH, MEASURE, "NET VOLUME (oz)"),
    range("3600", "3605", BOTH, MEASURE, "NET VOLUME (qt (US))"),
    range("3610", "3615", BOTH, MEASURE, "NET VOLUME (gal.)"),
    range("3620", "3625", BOTH, MEASURE, "VOLUME (qt (US)), log"),
    range("3630", "3635", BOTH, MEASURE, "VOLUME (gal (US)), log"),
    range("3640", "3645", BOTH, MEASURE, "NET VOLUME (in³)"),
    range("3650", "3655", BOTH, MEASURE, "NET VOLUME (ft³)"),
    range("3660", "3665", BOTH, MEASURE, "NET VOLUME (yd³)"),
    range("3670", "3675", BOTH, MEASURE, "VOLUME (in³), log"),
    range("3680", "3685", BOTH, MEASURE, "VOLUME (ft³), log"),
    range("3690", "3695", BOTH, MEASURE, "VOLUME (yd³), log"),
    ai("37", ATTR, &[nv(8)], "COUNT"),
    range("3900", "3909", ATTR, &[nv(15)], "AMOUNT"),
    range("3910", "3919", ATTR, &[ISO, nv(15)], "AMOUNT"),
    range("3920", "3929", ATTR, &[nv(15)], "PRICE"),
    range("3930", "3939", ATTR, &[ISO, nv(15)], "PRICE"),
    range("3940", "3943", ATTR, &[n(4)], "PRCNT OFF"),
    range("3950", "3955", ATTR, &[n(6)], "PRICE/UoM"),
    ai("400", ATTR, &[xv(30)], "ORDER NUMBER"),
    ai("401", ATTR, &[xv(30)], "GINC").key(&[]),
    ai("402", ATTR, &[n(17).check(Check::Mod10("GSIN"))], "GSIN").key(&[]),
    ai("403", ATTR, &[xv(30)], "ROUTE"),
    ai("410", BOTH, GLN, "SHIP TO LOC"),
    ai("411", BOTH, GLN, "BILL TO"),
    ai("412", BOTH, GLN, "PURCHASE FROM"),
    ai("413", BOTH, GLN, "SHIP FOR LOC"),
    ai("414", BOTH, GLN, "LOC No.").key(&[&["254"], &["7040"]]),
    ai("415", BOTH, GLN, "PAY TO").key(&[&["8020"]]),
    ai("416", BOTH, GLN, "PROD/SERV LOC"),
    ai("417", BOTH, GLN, "PARTY").key(&[&["7040"]]),
    ai("420", ATTR, &[xv(20)], "SHIP TO POST"),
    ai("421", ATTR, &[ISO, xv(9)], "SHIP TO POST"),
    ai("422", ATTR, &[ISO], "ORIGIN"),
    ai("423", ATTR, &[ISO, ISO.optional(), ISO.optional(), ISO.optional(), ISO.optional()], "COUNTRY - INITIAL PROCESS"),
    ai("424", ATTR, &[ISO], "COUNTRY - PROCESS"),
    ai("425", ATTR, &[ISO, ISO.optional(), ISO.optional(), ISO.optional(), ISO.optional()], "COUNTRY - DISASSEMBLY"),
    ai("426", ATTR, &[ISO], "COUNTRY - FULL PROCESS"),
    ai("427", ATTR, &[xv(3)], "ORIGIN SUBDIVISION"),
    ai("7001", ATTR, &[n(13)], "NSN"),
    ai("7002", ATTR, &[xv(30)], "MEAT CUT"),
    ai("7003", ATTR, &[n(6).check(DATE_STRICT), n(4).check(Check::HourMinute)], "EXPIRY TIME"),
    ai("7004", ATTR, &[nv(4)], "ACTIVE POTENCY"),
    ai("7005", ATTR, &[xv(12)], "CATCH AREA"),
    ai("7006", ATTR, &[n(6).check(DATE_STRICT)], "FIRST FREEZE DATE"),
    ai("7007", ATTR, &[n(6).check(DATE_STRICT), n(6).check(DATE_STRICT).optional()], "HARVEST DATE"),
    ai("7008", ATTR, &[xv(3)], "AQUATIC SPECIES"),
    ai("7009", ATTR, &[xv(10)], "FISHING GEAR TYPE"),
    ai("7010", ATTR, &[xv(2)], "PROD METHOD"),
    ai("7011", ATTR, &[n(6).check(DATE_STRICT), n(4).check(Check::HourMinute).optional()], "TEST BY DATE"),
    ai("7040", 0, &[n(1), x(1), x(1), x(1)], "UIC+EXT"),
    ai("7240", ATTR, &[xv(20)], "PROTOCOL"),
    ai("8001", ATTR, &[n(4).check(Check::NonZero), n(5).check(Check::NonZero), n(3).check(Check::NonZero), n(1).check(Check::Winding), n(1)], "DIMENSIONS"),
    ai("8002", ATTR, &[xv(20)], "CMT No."),
    ai("8003", ATTR, &[n(1).check(Check::Zero), n(13).check(Check::Mod10("GRAI")), xv(16).optional()], "GRAI").key(&[]),
    ai("8004", ATTR, &[xv(30)], "GIAI").key(&[&["7040"]]),
    ai("8005", ATTR, &[n(6)], "PRICE PER UNIT"),
    ai("8006", ATTR, &[n(14).check(Check::Mod10("GTIN")), n(4).check(Check::PieceOfTotal)], "ITIP").key(&[&["22", "10", "21"]]),
    ai("8007", ATTR, &[xv(34)], "IBAN"),
    ai("8008", ATTR, &[n(6).check(DATE_STRICT), n(2).check(Check::Hour), n(2).check(Check::Minute).optional(), n(2).check(Check::Second).optional()], "PROD TIME"),
    ai("8009", ATTR, &[xv(50)], "OPTSEN"),
    ai("8010", ATTR, &[yv(30)], "CPID").key(&[&["8011"]]),
    ai("8011", 0, &[nv(12)], "CPID SERIAL"),
    ai("8012", ATTR, &[xv(20)], "VERSION"),
    ai("8013", ATTR, &[xv(25)], "GMN").key(&[]),
    ai("8017", ATTR, &[n(18).check(Check::Mod10("GSRN"))], "GSRN - PROVIDER").key(&[&["8019"]]),
    ai("8018", ATTR, &[n(18).check(Check::Mod10("GSRN"))], "GSRN - RECIPIENT").key(&[&["8019"]]),
    ai("8019", 0, &[nv(10)], "SRIN"),
    ai("8020", 0, &[xv(25)], "REF No."),
    ai("8026", ATTR, &[n(14).check(Check::Mod10("GTIN")), n(4).check(Check::PieceOfTotal)], "ITIP CONTENT"),
    ai("8030", ATTR, &[zv(90).check(Check::Base64)], "DIGSIG"),
    ai("8200", 0, &[xv(70)], "PRODUCT URL"),
    ai("90", ATTR, &[xv(30)], "INTERNAL"),
    range("91", "99", ATTR, &[xv(90)], "INTERNAL"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_agrees_with_a_linear_search_of_the_table() {
        for len in 2..=4 {
            for n in 0..10usize.pow(u32::try_from(len).unwrap()) {
                let code = format!("{n:0len$}");
                let linear = TABLE.iter().find(|d| d.covers(&code));
                let indexed = index().definition(&code);
                assert_eq!(
                    linear.map(|d| d.first),
                    indexed.map(|d| d.first),
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
