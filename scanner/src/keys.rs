//! GS1 identification keys as types that are valid by construction: [`Gtin`], [`Sscc`], [`Gln`].
//!
//! Each holds its canonical digits in place (a GTIN always as GTIN-14), parses with a check-digit
//! verification, and (de)serializes as that string; deserialization validates.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::digits::{char_at, verify_check_digit};
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

/// The checks of a key of exactly `len` digits with a GS1 check digit.
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

/// Implements the string conversions and serde shared by the key types, which hold their
/// digits in place (`[u8; N]`, ASCII digits only), so that making one allocates nothing.
macro_rules! key_type {
    ($name:ident) => {
        impl $name {
            /// The canonical digits.
            pub fn as_str(&self) -> &str {
                // Only ASCII digits are ever stored, so this never falls back.
                std::str::from_utf8(&self.0).unwrap_or_default()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_tuple(stringify!($name))
                    .field(&self.as_str())
                    .finish()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                self.as_str()
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
                key.as_str().to_owned()
            }
        }
    };
}

/// Makes a key from an element's value without checking it again.
macro_rules! from_valid {
    ($name:ident, $len:literal) => {
        impl $name {
            /// The key of `digits`, which must be exactly its length in digits with a valid
            /// check digit: an element's value that passed its AI's validation. Those checks
            /// are not made again (a debug build asserts them); text of another length is read
            /// by `parse`, with its errors.
            pub(crate) fn from_valid(digits: &str) -> Result<$name, ParseError> {
                match <[u8; $len]>::try_from(digits.as_bytes()) {
                    Ok(bytes) => {
                        debug_assert!($name::check(digits).is_ok(), "{digits}");
                        Ok($name(bytes))
                    }
                    Err(_) => $name::parse(digits),
                }
            }
        }
    };
}

/// A Global Trade Item Number, held as GTIN-14 (EAN-8, UPC-A and EAN-13 are zero padded).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gtin([u8; 14]);

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
        let mut gtin = [b'0'; 14];
        gtin[14 - s.len()..].copy_from_slice(s.as_bytes());
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
from_valid!(Gtin, 14);

/// A Serial Shipping Container Code: 18 digits naming one logistic unit (pallet, case).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Sscc([u8; 18]);

impl Sscc {
    /// Parses 18 digits with a valid check digit.
    ///
    /// # Errors
    ///
    /// A non-digit, another length, or a wrong check digit.
    pub fn parse(s: &str) -> Result<Sscc, ParseError> {
        Sscc::check(s)?;
        Ok(Sscc(s.as_bytes().try_into().unwrap_or([b'0'; 18])))
    }

    /// The checks of [`Sscc::parse`], without making the value.
    pub(crate) fn check(s: &str) -> Result<(), ParseError> {
        check_fixed_key(s, 18, "SSCC")
    }
}

key_type!(Sscc);
from_valid!(Sscc, 18);

/// A Global Location Number: 13 digits naming a party or a place.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Gln([u8; 13]);

impl Gln {
    /// Parses 13 digits with a valid check digit.
    ///
    /// # Errors
    ///
    /// A non-digit, another length, or a wrong check digit.
    pub fn parse(s: &str) -> Result<Gln, ParseError> {
        check_fixed_key(s, 13, "GLN")?;
        Ok(Gln(s.as_bytes().try_into().unwrap_or([b'0'; 13])))
    }
}

key_type!(Gln);
