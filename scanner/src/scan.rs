//! What a successful parse returns: [`Scan`], its [`Element`]s, what it identifies, and the
//! [`Note`]s that say how the text was read when it was not exactly as GS1 writes it.

use std::borrow::Cow;
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::ai::{self, Signature};
use crate::keys::{Gtin, Sscc};

/// One validated scan.
///
/// `elements` is what the barcode said, in order; the typed accessors ([`Scan::gtin`],
/// [`Scan::sscc`], [`Scan::signature`]) were decoded from the same elements by the parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scan {
    /// The AIM symbology identifier the scanner sent, if any.
    pub symbology: Option<Symbology>,
    /// How the data was written.
    pub form: Form,
    /// The AIs and their values, each valid; no AI occurs twice.
    pub elements: Vec<Element>,
    pub(crate) gtin: Option<Gtin>,
    pub(crate) sscc: Option<Sscc>,
    pub(crate) signature: Option<Signature>,
    pub(crate) notes: Vec<Note>,
    /// Product and serial of a proprietary unit ([`crate::parse_with`]).
    pub(crate) proprietary: Option<(String, String)>,
}

impl Scan {
    /// What this scan names, most specific first: a unit (GTIN + serial), then a logistic unit
    /// (SSCC), then a product (GTIN alone). A scan read by a product's serial pattern
    /// ([`crate::parse_with`]) names a proprietary unit.
    pub fn identity(&self) -> Option<Identity> {
        if let Some((product, serial)) = &self.proprietary {
            return Some(Identity::Proprietary {
                product: product.clone(),
                serial: serial.clone(),
            });
        }
        match (&self.gtin, self.serial(), &self.sscc) {
            (Some(gtin), Some(serial), _) => Some(Identity::Unit {
                gtin: gtin.clone(),
                serial: serial.to_owned(),
            }),
            (_, _, Some(sscc)) => Some(Identity::Logistic(sscc.clone())),
            (Some(gtin), None, None) => Some(Identity::Product(gtin.clone())),
            (None, _, None) => None,
        }
    }

    /// The GTIN of AI 01, as GTIN-14.
    pub fn gtin(&self) -> Option<&Gtin> {
        self.gtin.as_ref()
    }

    /// The serial number, AI 21.
    pub fn serial(&self) -> Option<&str> {
        self.get("21")
    }

    /// The SSCC of AI 00.
    pub fn sscc(&self) -> Option<&Sscc> {
        self.sscc.as_ref()
    }

    /// The batch or lot number, AI 10.
    pub fn lot(&self) -> Option<&str> {
        self.get("10")
    }

    /// The expiry date, AI 17; a day of 00 means the last day of the month.
    pub fn expiry(&self) -> Option<NaiveDate> {
        self.date("17")
    }

    /// The date of a YYMMDD AI (11, 12, 13, 15, 16, 17, 7006…), reading YY below 51 as 20YY
    /// and the rest as 19YY, and a day of 00 as the last day of the month.
    pub fn date(&self, ai: &str) -> Option<NaiveDate> {
        let value = self.get(ai)?.get(..6)?;
        crate::digits::date(value, &String::new, true).ok()
    }

    /// The decoded bytes of the digital signature, AI 8030.
    pub fn signature(&self) -> Option<&[u8]> {
        self.signature.as_ref().map(Signature::as_bytes)
    }

    /// How the text was read where it was not exactly as GS1 writes it: repaired scanner
    /// mistakes, and other valid readings of the same text. Empty for a clean scan.
    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    /// True if the parser repaired the text (a GS stand-in, a repeated or a missing separator).
    pub fn is_recovered(&self) -> bool {
        self.notes.iter().any(|n| {
            matches!(
                n,
                Note::GsSubstitute { .. }
                    | Note::RepeatedSeparator { .. }
                    | Note::SeparatorInserted { .. }
            )
        })
    }

    /// True if the text also reads another valid way ([`Note::Ambiguous`],
    /// [`Note::AlsoProprietary`]): show the reading to a person before acting on it.
    pub fn is_ambiguous(&self) -> bool {
        self.notes
            .iter()
            .any(|n| matches!(n, Note::Ambiguous { .. } | Note::AlsoProprietary { .. }))
    }

    /// The raw value of an AI, e.g. `scan.get("10")`.
    pub fn get(&self, ai: &str) -> Option<&str> {
        self.elements
            .iter()
            .find(|e| e.ai == ai)
            .map(|e| e.value.as_str())
    }
}

/// An element together with where its AI and its value start in the raw text.
pub(crate) struct Located {
    pub(crate) element: Element,
    pub(crate) ai_at: usize,
    pub(crate) value_at: usize,
}

/// What a scan identifies.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Identity {
    /// One serialised trade item (SGTIN).
    Unit { gtin: Gtin, serial: String },
    /// One logistic unit.
    Logistic(Sscc),
    /// A product, not a particular instance of it.
    Product(Gtin),
    /// One unit of a product whose manufacturer marks it with its own serial format (see
    /// [`crate::SerialPattern`]); `product` is the code the product was declared with.
    Proprietary { product: String, serial: String },
}

/// How the scanned data was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Form {
    /// AIs and values run together, variable-length values ended by GS (ASCII 29).
    ElementString,
    /// Human-readable `(01)09506000134352(21)ABC`.
    Bracketed,
    /// A GS1 Digital Link URI (uncompressed).
    DigitalLink,
    /// A bare 8, 12, 13 or 14-digit GTIN (EAN/UPC, ITF-14).
    PlainGtin,
    /// Not GS1: text matched by one product's serial pattern ([`crate::parse_with`]).
    Proprietary,
}

/// How the parser read a scan that was not exactly as GS1 writes it. Positions are byte
/// offsets into the raw text, like [`crate::ParseError::position`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Note {
    /// The scanner sent a stand-in for GS (`{GS}`, `^]`, `\x1d`, `␝`, a private-use
    /// character…), read as GS.
    GsSubstitute { text: String, position: usize },
    /// Two or more separators in a row, read as one.
    RepeatedSeparator { position: usize },
    /// The GS after AI `ai`'s value was missing; this was the one place where a GS gives a
    /// valid scan.
    SeparatorInserted { ai: String, position: usize },
    /// The scan was read as written (GS1's meaning), but the text also reads validly as
    /// `alternative` (bracketed), e.g. with a GS at `position`.
    Ambiguous {
        alternative: String,
        position: usize,
    },
    /// The GS1 reading was taken, but the text also matches `product`'s serial pattern.
    AlsoProprietary { product: String },
    /// AI 8030's value is GS1 text but no signature: it does not decode as base64url
    /// (`reason`). The scan was read with the value as it is and no [`Scan::signature`]: the
    /// code carries a signature that does not verify.
    SignatureUndecodable { reason: String, position: usize },
}

impl Note {
    /// Where in the raw text the note applies (0 when it concerns the whole text).
    pub fn position(&self) -> usize {
        match self {
            Note::GsSubstitute { position, .. }
            | Note::RepeatedSeparator { position }
            | Note::SeparatorInserted { position, .. }
            | Note::Ambiguous { position, .. }
            | Note::SignatureUndecodable { position, .. } => *position,
            Note::AlsoProprietary { .. } => 0,
        }
    }

    /// Moves a position at or after `from` in a text where `was` bytes before it became `now`.
    pub(crate) fn shift(&mut self, from: usize, was: usize, now: usize) {
        if let Note::GsSubstitute { position, .. }
        | Note::RepeatedSeparator { position }
        | Note::SeparatorInserted { position, .. }
        | Note::Ambiguous { position, .. }
        | Note::SignatureUndecodable { position, .. } = self
            && *position >= from
        {
            *position = *position + was - now;
        }
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::GsSubstitute { text, position } => {
                write!(f, "{text:?} read as a GS separator (position {position})")
            }
            Note::RepeatedSeparator { position } => {
                write!(f, "repeated GS separator ignored (position {position})")
            }
            Note::SeparatorInserted { ai, position } => write!(
                f,
                "missing GS separator after AI {ai} assumed (position {position})"
            ),
            Note::Ambiguous {
                alternative,
                position,
            } => write!(
                f,
                "read as written; the text also reads as {alternative} (position {position})"
            ),
            Note::AlsoProprietary { product } => {
                write!(f, "the text also matches the serial pattern of {product}")
            }
            Note::SignatureUndecodable { reason, position } => write!(
                f,
                "AI 8030 is not a signature ({reason}): treat the code as one whose signature \
                 does not verify (position {position})"
            ),
        }
    }
}

/// One application identifier and its value.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Element {
    /// The AI's digits, e.g. `"01"`; borrowed from the AI table for elements that
    /// [`crate::parse`] returns.
    pub ai: Cow<'static, str>,
    /// The value as encoded (a GTIN always as 14 digits).
    pub value: String,
}

impl Element {
    /// The AI's table entry (always present for elements returned by [`crate::parse`]).
    pub fn application_identifier(&self) -> Option<ai::ApplicationIdentifier> {
        ai::ApplicationIdentifier::lookup(&self.ai)
    }
}

/// The AIM symbology identifier a scanner prefixes to the data, e.g. `]d2`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Symbology {
    /// The three characters, e.g. `"]d2"`.
    pub aim: String,
    /// The barcode family.
    pub carrier: Carrier,
    /// True if the data is a GS1 element string (FNC1 in first position: `]C1`, `]d2`, `]Q3`,
    /// `]e0`, `]J1`).
    pub gs1: bool,
}

impl Symbology {
    /// Reads a three-character AIM identifier (`]` + code + modifier).
    pub fn from_aim(aim: &str) -> Option<Symbology> {
        let &[b']', code, modifier] = aim.as_bytes() else {
            return None;
        };
        if !code.is_ascii_alphabetic() || !modifier.is_ascii_alphanumeric() {
            return None;
        }
        let carrier = match code {
            b'C' => Carrier::Code128,
            b'd' => Carrier::DataMatrix,
            b'Q' => Carrier::Qr,
            b'e' => Carrier::DataBar,
            b'E' => Carrier::EanUpc,
            b'I' => Carrier::Itf,
            b'J' => Carrier::DotCode,
            _ => Carrier::Other,
        };
        let gs1 = matches!(
            (code, modifier),
            (b'C', b'1') | (b'd', b'2') | (b'Q', b'3') | (b'e', _) | (b'J', b'1')
        );
        Some(Symbology {
            aim: aim.to_owned(),
            carrier,
            gs1,
        })
    }
}

/// Barcode families told apart by the AIM identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Carrier {
    /// `]C`: Code 128 and GS1-128.
    Code128,
    /// `]d`: Data Matrix and GS1 DataMatrix.
    DataMatrix,
    /// `]Q`: QR Code and GS1 QR Code.
    Qr,
    /// `]e`: GS1 DataBar.
    DataBar,
    /// `]E`: EAN-13, UPC-A, EAN-8, UPC-E.
    EanUpc,
    /// `]I`: ITF (ITF-14 carries a GTIN).
    Itf,
    /// `]J`: DotCode.
    DotCode,
    /// Anything else (Aztec, PDF417, Code 39…).
    Other,
}
