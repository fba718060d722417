//! Writing elements back out, for labels and URIs: element strings, bracketed text, Digital Link.
//!
//! The formatters do not validate (the hub formats what it issued); for valid elements
//! `parse(format(x))` gives back `x`, which the property tests check.

use std::fmt::Write as _;

use crate::GS;
use crate::ai::ApplicationIdentifier;
use crate::keys::Gtin;

/// The element string of `elements`, without symbology identifier or leading FNC1: a GS
/// separator follows every value that is not of predefined length, except the last.
///
/// ```
/// use custodian_scanner::{element_string, GS};
/// let data = element_string(&[("01", "09506000134352"), ("10", "LOT7"), ("21", "ABC")]);
/// assert_eq!(data, format!("010950600013435210LOT7{GS}21ABC"));
/// ```
pub fn element_string(elements: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (i, (ai, value)) in elements.iter().enumerate() {
        out.push_str(ai);
        out.push_str(value);
        let predefined =
            ApplicationIdentifier::lookup(ai).is_some_and(|ai| ai.is_predefined_length());
        if !predefined && i + 1 < elements.len() {
            out.push(GS);
        }
    }
    out
}

/// Human-readable text, `(01)09506000134352(21)ABC`; a `(` in a value is written `\(`.
pub fn bracketed(elements: &[(&str, &str)]) -> String {
    let len = elements
        .iter()
        .map(|(ai, value)| ai.len() + value.len() + 2);
    let mut out = String::with_capacity(len.sum());
    for (ai, value) in elements {
        out.push('(');
        out.push_str(ai);
        out.push(')');
        for (i, part) in value.split('(').enumerate() {
            if i > 0 {
                out.push_str("\\(");
            }
            out.push_str(part);
        }
    }
    out
}

/// A GS1 Digital Link URI for a product or unit: `{domain}/01/{gtin}[/21/{serial}][?ai=value…]`.
///
/// `domain` may be a bare host (`example.com`, https is assumed) or a base URI
/// (`https://id.gs1.org`, `https://example.com/dl`). Query AIs must be Digital Link data
/// attributes (10, 17, 8030…); values are percent-encoded.
///
/// ```
/// use custodian_scanner::{digital_link, Gtin};
/// let gtin = Gtin::parse("09506000134352")?;
/// let uri = digital_link("id.gs1.org", &gtin, Some("A/1"), &[("17", "261231")]);
/// assert_eq!(uri, "https://id.gs1.org/01/09506000134352/21/A%2F1?17=261231");
/// # Ok::<(), custodian_scanner::ParseError>(())
/// ```
pub fn digital_link(
    domain: &str,
    gtin: &Gtin,
    serial: Option<&str>,
    query: &[(&str, &str)],
) -> String {
    let base = domain.trim_end_matches('/');
    let mut out = if base.contains("://") {
        base.to_owned()
    } else {
        format!("https://{base}")
    };
    let _ = write!(out, "/01/{gtin}");
    if let Some(serial) = serial {
        let _ = write!(out, "/21/{}", percent_encode(serial));
    }
    for (i, (ai, value)) in query.iter().enumerate() {
        let separator = if i == 0 { '?' } else { '&' };
        let _ = write!(
            out,
            "{separator}{}={}",
            percent_encode(ai),
            percent_encode(value)
        );
    }
    out
}

/// Percent-encodes everything outside RFC 3986's unreserved set, as Digital Link recommends:
/// the one encoder of a Digital Link path or query value (the ledger's EPC URIs use it too).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}
