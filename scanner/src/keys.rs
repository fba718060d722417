//! GS1 identification keys as types that are valid by construction: [`Gtin`], [`Sscc`], [`Gln`].
//!
//! Each holds its canonical digits (a GTIN always as GTIN-14), parses with a check-digit
//! verification, and (de)serializes as that string; deserialization validates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ai::{char_at, verify_check_digit};
use crate::error::{ErrorKind, ParseError};

/// Errors for the first non-digit of `s`, if any.
fn digits_only(s: &str, subject: &str) -> Result<(), ParseError> {
    match s.bytes().position(|b| !b.is_ascii_digit()) {
        None => Ok(()),
        Some(i) => Err(ParseError::new(
            ErrorKind::Character {
                subject: subject.to_owned(),
                ch: char_at(s, i),
                digit: true,
            },
            i,
        )),
    }
}

/// Parses a key of exactly `len` digits with a GS1 check digit.
fn fixed_key(s: &str, len: usize, what: &'static str) -> Result<String, ParseError> {
    check_fixed_key(s, len, what)?;
    Ok(s.to_owned())
}

/// The checks of [`fixed_key`].
fn check_fixed_key(s: &str, len: usize, what: &'static str) -> Result<(), ParseError> {
    digits_only(s, what)?;
    if s.len() != len {
        let kind = ErrorKind::Length {
            subject: what.to_owned(),
            min: len,
            max: len,
            got: s.len(),
            numeric: true,
        };
        return Err(ParseError::new(kind, 0));
    }
    verify_check_digit(s, what)
}

/// Implements the string conversions and serde shared by the key types.
macro_rules! key_type {
    ($name:ident) => {
        impl $name {
            /// The canonical digits.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                $name::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ParseError;
            fn try_from(s: String) -> Result<Self, ParseError> {
                $name::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(key: $name) -> String {
                key.0
            }
        }
    };
}

/// A Global Trade Item Number, held as GTIN-14 (EAN-8, UPC-A and EAN-13 are zero padded).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gtin(String);

impl Gtin {
    /// Parses 8, 12, 13 or 14 digits with a valid check digit.
    ///
    /// # Errors
    ///
    /// A non-digit, another length, or a wrong check digit.
    ///
    /// ```
    /// let gtin = custodian_scanner::Gtin::parse("9506000134352")?;
    /// assert_eq!(gtin.as_str(), "09506000134352");
    /// # Ok::<(), custodian_scanner::ParseError>(())
    /// ```
    pub fn parse(s: &str) -> Result<Gtin, ParseError> {
        Gtin::check(s)?;
        let mut gtin = String::with_capacity(14);
        gtin.extend(std::iter::repeat_n('0', 14 - s.len()));
        gtin.push_str(s);
        Ok(Gtin(gtin))
    }
}

impl Gtin {
    /// The checks of [`Gtin::parse`], without making the value.
    pub(crate) fn check(s: &str) -> Result<(), ParseError> {
        digits_only(s, "GTIN")?;
        if !matches!(s.len(), 8 | 12 | 13 | 14) {
            return Err(ParseError::new(ErrorKind::GtinLength { got: s.len() }, 0));
        }
        verify_check_digit(s, "GTIN")
    }
}

key_type!(Gtin);

/// A Serial Shipping Container Code: 18 digits naming one logistic unit (pallet, case).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sscc(String);

impl Sscc {
    /// Parses 18 digits with a valid check digit.
    ///
    /// # Errors
    ///
    /// A non-digit, another length, or a wrong check digit.
    pub fn parse(s: &str) -> Result<Sscc, ParseError> {
        fixed_key(s, 18, "SSCC").map(Sscc)
    }

    /// The checks of [`Sscc::parse`], without making the value.
    pub(crate) fn check(s: &str) -> Result<(), ParseError> {
        check_fixed_key(s, 18, "SSCC")
    }
}

key_type!(Sscc);

/// A Global Location Number: 13 digits naming a party or a place.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gln(String);

impl Gln {
    /// Parses 13 digits with a valid check digit.
    ///
    /// # Errors
    ///
    /// A non-digit, another length, or a wrong check digit.
    pub fn parse(s: &str) -> Result<Gln, ParseError> {
        fixed_key(s, 13, "GLN").map(Gln)
    }
}

key_type!(Gln);
