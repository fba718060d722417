//! Proprietary serials: products whose manufacturer marks units with its own serial format
//! declare a [`SerialPattern`], and [`parse_with`] reads text that is not GS1 by those
//! patterns. The unit's key is the product code plus the serial ([`Identity::Proprietary`]).
//!
//! The pattern language is a small, anchored subset of regular expressions, with no
//! alternation and no unbounded repetition, so that every pattern matches in time linear in the
//! text (times the largest count) and no declared pattern can make a scan slow:
//!
//! | syntax      | matches                                                        |
//! |-------------|----------------------------------------------------------------|
//! | `A`, `-`, `7` | that character (printable ASCII other than `\ [ ] { } ( )`)  |
//! | `\d`        | one digit                                                      |
//! | `\x`        | `x` itself, for `x` one of `\ [ ] { } ( ) -`                   |
//! | `[A-Z0-9]`  | one character of the set: single characters and ranges         |
//! | `…{n}`      | the preceding item exactly `n` times                           |
//! | `…{m,n}`    | the preceding item `m` to `n` times (`n` ≤ 255)                |
//! | `( … )`     | once per pattern: the serial; without it, the whole text is    |
//!
//! The whole text must match. Matching is case-sensitive. `ACME-(\d{8})` matches
//! `ACME-00012345` with serial `00012345`; `[A-Z]{2}\d{6,10}` matches `XY123456`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorKind, ParseError};
use crate::parse::{envelope, parse};
use crate::scan::{Form, Note, Scan};

/// Longest text a pattern can match; longer patterns are refused.
const MAX_LENGTH: usize = 1024;

/// A product's serial format, valid by construction: parse it with [`SerialPattern::parse`].
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SerialPattern {
    source: String,
    items: Vec<Item>,
    /// Items `[start, end)` that make up the serial.
    serial: (usize, usize),
}

/// One character class repeated `min..=max` times.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Item {
    /// Bit `b` set: ASCII byte `b` matches.
    class: u128,
    min: u8,
    max: u8,
}

impl Item {
    fn allows(self, b: u8) -> bool {
        b < 128 && self.class & (1 << b) != 0
    }
}

/// Why a serial pattern is not valid, and where in the pattern.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("serial pattern: {kind} (position {position})")]
#[non_exhaustive]
pub struct PatternError {
    /// What is wrong.
    pub kind: PatternErrorKind,
    /// Byte offset into the pattern.
    pub position: usize,
}

/// The kinds of [`PatternError`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatternErrorKind {
    /// The pattern could match empty text.
    #[error("it matches empty text; give at least one character")]
    MatchesEmpty,
    /// A character the language does not allow unescaped, or outside printable ASCII.
    #[error("{0:?} is not allowed here (escape \\ [ ] {{ }} ( ) with \\)")]
    Character(char),
    /// A `\` followed by something that is not `d` or a special character.
    #[error("\\{0} is not an escape (use \\d, or \\ before one of \\ [ ] {{ }} ( ) -)")]
    Escape(char),
    /// The pattern ended inside an escape, a set, a count or the serial group.
    #[error("unexpected end, expected {0}")]
    End(&'static str),
    /// A `[…]` set that is empty or has a range from a higher to a lower character.
    #[error("the character set is empty or has a backward range")]
    Set,
    /// A `{…}` count that is not `{n}` or `{m,n}` with m ≤ n ≤ 255, or that follows nothing.
    #[error("counts are {{n}} or {{m,n}} with m ≤ n ≤ 255, after a character or a set")]
    Count,
    /// A second `(`, a `(` inside the group, or a `)` without `(`.
    #[error("only one ( … ) group, marking the serial, is allowed")]
    Group,
    /// The pattern can match more than 1024 characters.
    #[error("it can match more than 1024 characters")]
    TooLong,
}

impl SerialPattern {
    /// Parses the pattern language described in the module documentation.
    ///
    /// # Errors
    ///
    /// The first problem in the pattern, with its byte position.
    ///
    /// ```
    /// use custodian_scanner::SerialPattern;
    /// let pattern = SerialPattern::parse(r"ACME-(\d{8})")?;
    /// assert_eq!(pattern.serial_of("ACME-00012345"), Some("00012345"));
    /// assert_eq!(pattern.serial_of("ACME-0001234"), None);
    /// # Ok::<(), custodian_scanner::PatternError>(())
    /// ```
    pub fn parse(source: &str) -> Result<SerialPattern, PatternError> {
        let error = |kind, position| PatternError { kind, position };
        let bytes = source.as_bytes();
        let mut items: Vec<Item> = Vec::new();
        let mut group_start = None;
        let mut serial = None;
        let mut at = 0;
        while at < bytes.len() {
            let b = bytes[at];
            match b {
                b'(' if group_start.is_none() && serial.is_none() => {
                    group_start = Some(items.len());
                    at += 1;
                }
                b')' => {
                    let start = group_start
                        .take()
                        .ok_or(error(PatternErrorKind::Group, at))?;
                    serial = Some((start, items.len()));
                    at += 1;
                }
                b'(' => return Err(error(PatternErrorKind::Group, at)),
                b'{' => {
                    let close = bytes[at..]
                        .iter()
                        .position(|&c| c == b'}')
                        .ok_or(error(PatternErrorKind::End("}"), bytes.len()))?;
                    let (min, max) = count(&source[at + 1..at + close])
                        .ok_or(error(PatternErrorKind::Count, at))?;
                    // A count repeats the item just before it; not one that opened the group.
                    let opened_here = group_start == Some(items.len());
                    let item = items
                        .last_mut()
                        .filter(|_| !opened_here)
                        .filter(|i| i.min == 1 && i.max == 1)
                        .ok_or(error(PatternErrorKind::Count, at))?;
                    item.min = min;
                    item.max = max;
                    at += close + 1;
                }
                b'[' => {
                    let (class, next) = set(source, at)?;
                    items.push(Item {
                        class,
                        min: 1,
                        max: 1,
                    });
                    at = next;
                }
                b'\\' => {
                    let (class, next) = escape(source, at)?;
                    items.push(Item {
                        class,
                        min: 1,
                        max: 1,
                    });
                    at = next;
                }
                b']' | b'}' => {
                    return Err(error(PatternErrorKind::Character(char::from(b)), at));
                }
                b' '..=b'~' => {
                    items.push(Item {
                        class: 1 << b,
                        min: 1,
                        max: 1,
                    });
                    at += 1;
                }
                _ => {
                    let ch = source[at..].chars().next().unwrap_or('\u{fffd}');
                    return Err(error(PatternErrorKind::Character(ch), at));
                }
            }
        }
        if group_start.is_some() {
            return Err(error(PatternErrorKind::End(")"), bytes.len()));
        }
        if items.iter().map(|i| usize::from(i.max)).sum::<usize>() > MAX_LENGTH {
            return Err(error(PatternErrorKind::TooLong, 0));
        }
        let serial = serial.unwrap_or((0, items.len()));
        let shortest = |items: &[Item]| items.iter().map(|i| usize::from(i.min)).sum::<usize>();
        if shortest(&items) == 0 || shortest(&items[serial.0..serial.1]) == 0 {
            return Err(error(PatternErrorKind::MatchesEmpty, 0));
        }
        Ok(SerialPattern {
            source: source.to_owned(),
            items,
            serial,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The serial in `text`, if the whole text matches. Where counts leave a choice, earlier
    /// items take as many characters as they can.
    pub fn serial_of<'t>(&self, text: &'t str) -> Option<&'t str> {
        let bytes = text.as_bytes();
        let n = bytes.len();
        // No pattern matches more than MAX_LENGTH bytes; this also bounds the table below.
        if n > MAX_LENGTH {
            return None;
        }
        let width = n + 1;
        // `rest[i * width + p]`: items i.. match exactly bytes[p..].
        let mut rest = vec![false; (self.items.len() + 1) * width];
        rest[self.items.len() * width + n] = true;
        for (i, item) in self.items.iter().enumerate().rev() {
            for p in 0..=n {
                let mut k = 0;
                let mut ok = false;
                while k <= usize::from(item.max) {
                    if k >= usize::from(item.min) && rest[(i + 1) * width + p + k] {
                        ok = true;
                        break;
                    }
                    if p + k >= n || !item.allows(bytes[p + k]) {
                        break;
                    }
                    k += 1;
                }
                rest[i * width + p] = ok;
            }
        }
        if !rest[0] {
            return None;
        }
        // Walk forward, each item taking the most it can while the rest still matches.
        let (mut p, mut start, mut end) = (0, 0, n);
        for (i, item) in self.items.iter().enumerate() {
            if i == self.serial.0 {
                start = p;
            }
            let longest = (0..=usize::from(item.max))
                .take_while(|&k| k == 0 || (p + k <= n && item.allows(bytes[p + k - 1])))
                .filter(|&k| k >= usize::from(item.min) && rest[(i + 1) * width + p + k])
                .last()?;
            p += longest;
            if i + 1 == self.serial.1 {
                end = p;
            }
        }
        text.get(start..end)
    }
}

/// `{n}` or `{m,n}` (the braces already stripped).
fn count(inside: &str) -> Option<(u8, u8)> {
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u8>().ok())
            .flatten()
    };
    let (min, max) = match inside.split_once(',') {
        Some((min, max)) => (number(min)?, number(max)?),
        None => {
            let n = number(inside)?;
            (n, n)
        }
    };
    (min <= max && max > 0).then_some((min, max))
}

const SPECIAL: &[u8] = b"\\[]{}()-";

/// `\d` or `\` + a special character, at `at`; the class and where the pattern goes on.
fn escape(source: &str, at: usize) -> Result<(u128, usize), PatternError> {
    match source.as_bytes().get(at + 1) {
        None => Err(PatternError {
            kind: PatternErrorKind::End("a character after \\"),
            position: at + 1,
        }),
        Some(b'd') => Ok((digits(), at + 2)),
        Some(&b) if SPECIAL.contains(&b) => Ok((1 << b, at + 2)),
        Some(_) => Err(PatternError {
            kind: PatternErrorKind::Escape(source[at + 1..].chars().next().unwrap_or('\u{fffd}')),
            position: at,
        }),
    }
}

fn digits() -> u128 {
    (b'0'..=b'9').fold(0, |class, b| class | 1 << b)
}

/// `[…]` starting at `at`; the class and where the pattern goes on.
fn set(source: &str, at: usize) -> Result<(u128, usize), PatternError> {
    let bytes = source.as_bytes();
    let mut class = 0u128;
    let mut i = at + 1;
    // One member: a printable character or an escape.
    let member = |i: usize| -> Result<(u128, Option<u8>, usize), PatternError> {
        match bytes.get(i) {
            None => Err(PatternError {
                kind: PatternErrorKind::End("]"),
                position: bytes.len(),
            }),
            Some(b'\\') => {
                let (class, next) = escape(source, i)?;
                let single = (class.count_ones() == 1).then(|| bytes[i + 1]);
                Ok((class, single, next))
            }
            Some(&b) if (b' '..=b'~').contains(&b) && !b"[]".contains(&b) => {
                Ok((1 << b, Some(b), i + 1))
            }
            Some(_) => Err(PatternError {
                kind: PatternErrorKind::Character(source[i..].chars().next().unwrap_or('\u{fffd}')),
                position: i,
            }),
        }
    };
    while bytes.get(i) != Some(&b']') {
        let (first, low, next) = member(i)?;
        if bytes.get(next) == Some(&b'-') && bytes.get(next + 1).is_some_and(|&b| b != b']') {
            let (_, high, after) = member(next + 1)?;
            let (Some(low), Some(high)) = (low, high) else {
                return Err(PatternError {
                    kind: PatternErrorKind::Set,
                    position: i,
                });
            };
            if low > high {
                return Err(PatternError {
                    kind: PatternErrorKind::Set,
                    position: i,
                });
            }
            class |= (low..=high).fold(0, |c, b| c | 1 << b);
            i = after;
        } else {
            class |= first;
            i = next;
        }
    }
    if class == 0 {
        return Err(PatternError {
            kind: PatternErrorKind::Set,
            position: at,
        });
    }
    Ok((class, i + 1))
}

impl fmt::Debug for SerialPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SerialPattern({:?})", self.source)
    }
}

impl fmt::Display for SerialPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FromStr for SerialPattern {
    type Err = PatternError;
    fn from_str(s: &str) -> Result<Self, PatternError> {
        SerialPattern::parse(s)
    }
}

impl TryFrom<String> for SerialPattern {
    type Error = PatternError;
    fn try_from(s: String) -> Result<Self, PatternError> {
        SerialPattern::parse(&s)
    }
}

impl From<SerialPattern> for String {
    fn from(pattern: SerialPattern) -> String {
        pattern.source
    }
}

/// A product that marks its units with its own serial format.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProprietaryFormat {
    /// The product's code, as the registry knows it (a GTIN or an internal code).
    pub product: String,
    /// What its serials look like.
    pub pattern: SerialPattern,
}

impl ProprietaryFormat {
    /// A product code and a pattern in the language of [`SerialPattern`].
    ///
    /// # Errors
    ///
    /// The pattern is not valid.
    pub fn new(product: impl Into<String>, pattern: &str) -> Result<Self, PatternError> {
        Ok(ProprietaryFormat {
            product: product.into(),
            pattern: SerialPattern::parse(pattern)?,
        })
    }
}

/// Like [`parse`], and text that is not GS1 is read by the products' serial patterns.
///
/// GS1 comes first: a valid GS1 scan is returned as [`parse`] returns it, with a
/// [`Note::AlsoProprietary`] for each product whose pattern also matches the text (a 13-digit
/// serial can be a valid EAN-13 by chance). Otherwise the text, after the BOM, the line ending
/// and any non-GS1 AIM identifier, is matched against every pattern: exactly one matching
/// product gives a [`Form::Proprietary`] scan naming [`crate::Identity::Proprietary`]; several
/// are an [`ErrorKind::AmbiguousProduct`] naming them; none returns the GS1 error.
///
/// # Errors
///
/// The GS1 error when no pattern matches, or the ambiguity.
///
/// ```
/// use custodian_scanner::{Identity, ProprietaryFormat, parse_with};
/// let formats = [ProprietaryFormat::new("ACME-DRILL", r"AC-(\d{8})")?];
/// let scan = parse_with("AC-00012345\r\n", &formats)?;
/// assert_eq!(
///     scan.identity(),
///     Some(Identity::Proprietary { product: "ACME-DRILL".into(), serial: "00012345".into() })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn parse_with(raw: &str, formats: &[ProprietaryFormat]) -> Result<Scan, ParseError> {
    let gs1 = parse(raw);
    let Ok((symbology, start, end)) = envelope(raw) else {
        return gs1;
    };
    let body = &raw[start..end];
    let matches: Vec<(&ProprietaryFormat, &str)> = formats
        .iter()
        .filter_map(|f| Some((f, f.pattern.serial_of(body)?)))
        .collect();
    match gs1 {
        Ok(mut scan) => {
            scan.notes
                .extend(matches.iter().map(|(f, _)| Note::AlsoProprietary {
                    product: f.product.clone(),
                }));
            Ok(scan)
        }
        // A GS1 symbology says the data is GS1; a pattern must not explain its errors away.
        Err(error) if symbology.as_ref().is_some_and(|s| s.gs1) => Err(error),
        Err(error) => match matches.as_slice() {
            [] => Err(error),
            [(format, serial)] => Ok(Scan {
                symbology,
                form: Form::Proprietary,
                elements: Vec::new(),
                gtin: None,
                sscc: None,
                signature: None,
                notes: Vec::new(),
                proprietary: Some((format.product.clone(), (*serial).to_owned())),
            }),
            several => {
                let mut products: Vec<String> =
                    several.iter().map(|(f, _)| f.product.clone()).collect();
                products.dedup();
                Err(ParseError::new(
                    ErrorKind::AmbiguousProduct { products },
                    start,
                ))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(pattern: &str, text: &str) -> Option<String> {
        SerialPattern::parse(pattern)
            .unwrap()
            .serial_of(text)
            .map(str::to_owned)
    }

    fn error(pattern: &str) -> String {
        SerialPattern::parse(pattern).unwrap_err().to_string()
    }

    #[test]
    fn matching() {
        assert_eq!(
            serial(r"ACME-(\d{8})", "ACME-00012345").as_deref(),
            Some("00012345")
        );
        assert_eq!(serial(r"ACME-(\d{8})", "ACME-0001234"), None);
        assert_eq!(serial(r"ACME-(\d{8})", "ACME-000123456"), None);
        assert_eq!(
            serial(r"[A-Z]{2}\d{6,10}", "XY123456").as_deref(),
            Some("XY123456")
        );
        assert_eq!(serial(r"[A-Z]{2}\d{6,10}", "XY12345"), None);
        assert_eq!(serial(r"[A-Z]{2}\d{6,10}", "xy123456"), None);
        // Greedy: the first item takes what it can.
        assert_eq!(
            serial(r"(\d{1,5})\d{1,5}", "123456").as_deref(),
            Some("12345")
        );
        assert_eq!(
            serial(r"SN\(([A-F0-9\-]{4,12})\)", "SN(AB-12)").as_deref(),
            Some("AB-12")
        );
        assert_eq!(serial(r"[0-9A-Z]{3}", "AéB"), None);
        assert_eq!(
            serial(r"a{1,255}", &"a".repeat(255)).map(|s| s.len()),
            Some(255)
        );
    }

    #[test]
    fn pattern_errors() {
        assert_eq!(
            error(""),
            "serial pattern: it matches empty text; give at least one character (position 0)"
        );
        assert_eq!(
            error("A{0,3}"),
            "serial pattern: it matches empty text; give at least one character (position 0)"
        );
        assert_eq!(
            error("AB()"),
            "serial pattern: it matches empty text; give at least one character (position 0)"
        );
        assert_eq!(
            error(r"\q"),
            "serial pattern: \\q is not an escape (use \\d, or \\ before one of \\ [ ] { } ( ) -) (position 0)"
        );
        assert_eq!(
            error("[Z-A]"),
            "serial pattern: the character set is empty or has a backward range (position 1)"
        );
        assert_eq!(
            error("[AB"),
            "serial pattern: unexpected end, expected ] (position 3)"
        );
        assert_eq!(
            error("A{3"),
            "serial pattern: unexpected end, expected } (position 3)"
        );
        assert_eq!(
            error("A{4,3}"),
            "serial pattern: counts are {n} or {m,n} with m ≤ n ≤ 255, after a character or a set (position 1)"
        );
        assert_eq!(
            error("{3}"),
            "serial pattern: counts are {n} or {m,n} with m ≤ n ≤ 255, after a character or a set (position 0)"
        );
        assert_eq!(
            error("A{2}{3}"),
            "serial pattern: counts are {n} or {m,n} with m ≤ n ≤ 255, after a character or a set (position 4)"
        );
        assert_eq!(
            error("(A)(B)"),
            "serial pattern: only one ( … ) group, marking the serial, is allowed (position 3)"
        );
        assert_eq!(
            error("A)"),
            "serial pattern: only one ( … ) group, marking the serial, is allowed (position 1)"
        );
        assert_eq!(
            error("(A"),
            "serial pattern: unexpected end, expected ) (position 2)"
        );
        assert_eq!(
            error("Aé"),
            "serial pattern: 'é' is not allowed here (escape \\ [ ] { } ( ) with \\) (position 1)"
        );
        assert_eq!(
            error(r"\d{255}\d{255}\d{255}\d{255}\d{255}"),
            "serial pattern: it can match more than 1024 characters (position 0)"
        );
    }
}
