//! From raw scanner text to a [`Scan`]: envelope (BOM, AIM identifier, line ending), then one of
//! the four forms, then the checks that span elements.
//!
//! Positions are byte offsets into the raw text throughout; each reader is given the raw text
//! and the range it owns rather than a re-sliced string, so no offset bookkeeping is lost.

use crate::GS;
use crate::ai::{self, ApplicationIdentifier, char_at};
use crate::digital_link;
use crate::error::{ErrorKind, ParseError};
use crate::keys::{Gtin, Sscc};
use crate::scan::{Carrier, Element, Form, Scan, Symbology};

/// An element together with where its AI and its value start in the raw text.
pub(crate) struct Located {
    pub(crate) element: Element,
    pub(crate) ai_at: usize,
    pub(crate) value_at: usize,
}

/// Parses raw scanner text: an element string, bracketed AIs, a Digital Link URI or a bare
/// GTIN, optionally behind a BOM and an AIM symbology identifier and followed by CR/LF/Tab.
/// See the crate documentation for the rules.
///
/// # Errors
///
/// The first problem found, with its byte position in `raw`: unknown or malformed AIs, values
/// of the wrong length or character set, bad check digits or dates, misplaced Digital Link
/// qualifiers, conflicting duplicates.
pub fn parse(raw: &str) -> Result<Scan, ParseError> {
    let mut start = if raw.starts_with('\u{feff}') {
        '\u{feff}'.len_utf8()
    } else {
        0
    };
    let end = raw.trim_end_matches(['\r', '\n', '\t']).len().max(start);

    let mut symbology = None;
    if raw[start..end].starts_with(']') {
        let aim: String = raw[start..end].chars().take(3).collect();
        let found = Symbology::from_aim(&aim)
            .ok_or_else(|| ParseError::new(ErrorKind::Symbology { text: aim.clone() }, start))?;
        symbology = Some(found);
        start += 3;
    }
    if start == end {
        return Err(ParseError::new(ErrorKind::Empty, start));
    }
    let body = &raw[start..end];

    let (form, elements) = match &symbology {
        Some(s) if s.gs1 => (Form::ElementString, element_string(raw, start, end)?),
        Some(s) if matches!(s.carrier, Carrier::EanUpc | Carrier::Itf) => {
            (Form::PlainGtin, plain_gtin(raw, start, end)?)
        }
        _ if body.starts_with(GS) => (Form::ElementString, element_string(raw, start, end)?),
        _ if is_uri(body) => (Form::DigitalLink, digital_link::parse(raw, start, end)?),
        _ if body.starts_with('(') => (Form::Bracketed, bracketed(raw, start, end)?),
        _ if body.bytes().all(|b| b.is_ascii_digit()) && matches!(body.len(), 8 | 12 | 13 | 14) => {
            (Form::PlainGtin, plain_gtin(raw, start, end)?)
        }
        None => (Form::ElementString, element_string(raw, start, end)?),
        Some(s) => {
            return Err(ParseError::new(
                ErrorKind::NotGs1 { aim: s.aim.clone() },
                start,
            ));
        }
    };
    build(symbology, form, elements)
}

fn is_uri(body: &str) -> bool {
    let lower = |n: usize| body.get(..n).map(str::to_ascii_lowercase);
    lower(7).as_deref() == Some("http://") || lower(8).as_deref() == Some("https://")
}

/// A bare GTIN from EAN/UPC, ITF-14, or an unprefixed run of 8/12/13/14 digits.
fn plain_gtin(raw: &str, start: usize, end: usize) -> Result<Vec<Located>, ParseError> {
    let gtin = Gtin::parse(&raw[start..end]).map_err(|e| e.offset(start))?;
    let element = Element {
        ai: "01".to_owned(),
        value: gtin.into(),
    };
    Ok(vec![Located {
        element,
        ai_at: start,
        value_at: start,
    }])
}

/// Reads the AI starting at `at`: its length follows from its first two digits.
fn read_ai(raw: &str, at: usize, end: usize) -> Result<(ApplicationIdentifier, usize), ParseError> {
    let bytes = &raw.as_bytes()[..end];
    let digits = bytes[at..]
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        let found = (at < end).then(|| char_at(raw, at));
        return Err(ParseError::new(ErrorKind::ExpectedAi { found }, at));
    }
    let prefix = raw.get(at..at + 2).filter(|_| digits >= 2);
    let len = prefix.and_then(ai::ai_length).unwrap_or(2).min(digits);
    let code = &raw[at..at + len];
    ApplicationIdentifier::lookup(code)
        .map(|ai| (ai, at + len))
        .ok_or_else(|| {
            ParseError::new(
                ErrorKind::UnknownAi {
                    ai: code.to_owned(),
                },
                at,
            )
        })
}

/// Validates `raw[at..until]` as the value of `ai`.
fn value(
    raw: &str,
    ai: ApplicationIdentifier,
    at: usize,
    until: usize,
) -> Result<Element, ParseError> {
    // `until` may fall inside a multi-byte character; widen to include it so that it is
    // reported as a character that is not allowed.
    let mut until = until;
    while !raw.is_char_boundary(until) {
        until += 1;
    }
    let value = &raw[at..until];
    ai.validate(value).map_err(|e| e.offset(at))?;
    Ok(Element {
        ai: ai.code().to_owned(),
        value: value.to_owned(),
    })
}

/// AIs and values run together; GS ends a value that is not of predefined length.
fn element_string(raw: &str, start: usize, end: usize) -> Result<Vec<Located>, ParseError> {
    let bytes = &raw.as_bytes()[..end];
    let gs = GS as u8;
    let mut at = start;
    // A leading FNC1, transmitted as GS, is tolerated.
    if bytes.get(at) == Some(&gs) {
        at += 1;
    }
    let mut elements = Vec::new();
    loop {
        let ai_at = at;
        let (ai, value_at) = read_ai(raw, at, end)?;
        let run = bytes[value_at..]
            .iter()
            .position(|&b| b == gs)
            .map_or(end, |i| value_at + i);
        let (_, max) = ai.length();
        let value_end = if ai.is_predefined_length() {
            run.min(value_at + max)
        } else if run - value_at <= max {
            run
        } else {
            // Longer than the AI allows: fine only if the value is at its maximum length and
            // the next AI follows directly (GS1 lets a maximum-length value end without GS).
            let cut = value_at + max;
            if !raw.is_char_boundary(cut) || read_ai(raw, cut, end).is_err() {
                let subject = format!("AI {}", ai.code());
                return Err(ParseError::new(
                    ErrorKind::MissingSeparator { subject },
                    cut,
                ));
            }
            cut
        };
        let element = value(raw, ai, value_at, value_end)?;
        elements.push(Located {
            element,
            ai_at,
            value_at,
        });
        at = value_end;
        if bytes.get(at) == Some(&gs) {
            at += 1;
            if at == end {
                // A trailing GS is harmless; some encoders add one.
                break;
            }
        } else if at == end {
            break;
        }
    }
    Ok(elements)
}

/// `(01)09506000134352(21)ABC`; a `(` inside a value is written `\(`.
fn bracketed(raw: &str, start: usize, end: usize) -> Result<Vec<Located>, ParseError> {
    let bytes = &raw.as_bytes()[..end];
    let mut at = start;
    let mut elements = Vec::new();
    while at < end {
        let ai_at = at;
        if bytes[at] != b'(' {
            return Err(ParseError::new(ErrorKind::Bracket { expected: '(' }, at));
        }
        let close = bytes[at..].iter().position(|&b| b == b')').map(|i| at + i);
        let Some(close) = close else {
            return Err(ParseError::new(ErrorKind::Bracket { expected: ')' }, end));
        };
        let code = &raw[at + 1..close];
        if code.is_empty() {
            return Err(ParseError::new(
                ErrorKind::ExpectedAi { found: Some(')') },
                close,
            ));
        }
        let ai = code
            .parse::<ApplicationIdentifier>()
            .map_err(|e| e.offset(at + 1))?;
        let value_at = close + 1;
        // The value ends at the next `(` that is not escaped.
        let mut value_end = value_at;
        let mut text = String::new();
        let mut positions = Vec::new();
        while value_end < end && bytes[value_end] != b'(' {
            let escaped = bytes[value_end] == b'\\' && bytes.get(value_end + 1) == Some(&b'(');
            let ch = char_at(raw, value_end + usize::from(escaped));
            positions.push(value_end);
            text.push(ch);
            value_end += usize::from(escaped) + ch.len_utf8();
        }
        ai.validate(&text).map_err(|e| {
            e.map_position(|p| {
                let byte = text.char_indices().position(|(i, _)| i == p);
                byte.and_then(|c| positions.get(c))
                    .copied()
                    .unwrap_or(value_end)
            })
        })?;
        elements.push(Located {
            element: Element {
                ai: ai.code().to_owned(),
                value: text,
            },
            ai_at,
            value_at,
        });
        at = value_end;
    }
    Ok(elements)
}

/// The checks that span elements, and the typed keys.
pub(crate) fn build(
    symbology: Option<Symbology>,
    form: Form,
    located: Vec<Located>,
) -> Result<Scan, ParseError> {
    let mut elements: Vec<Element> = Vec::with_capacity(located.len());
    let mut positions = Vec::with_capacity(located.len());
    for item in located {
        match elements.iter().find(|e| e.ai == item.element.ai) {
            Some(seen) if seen.value == item.element.value => {}
            Some(_) => {
                let ai = item.element.ai;
                return Err(ParseError::new(ErrorKind::Duplicate { ai }, item.ai_at));
            }
            None => {
                positions.push((item.ai_at, item.value_at));
                elements.push(item.element);
            }
        }
    }
    let find = |ai: &str| elements.iter().zip(&positions).find(|(e, _)| e.ai == ai);

    if let (Some((_, &(at, _))), None) = (find("254"), find("414")) {
        return Err(ParseError::new(
            ErrorKind::Requires {
                ai: "254".to_owned(),
                needs: "414",
            },
            at,
        ));
    }
    let gtin = find("01")
        .map(|(e, &(_, at))| Gtin::parse(&e.value).map_err(|err| err.offset(at)))
        .transpose()?;
    let sscc = find("00")
        .map(|(e, &(_, at))| Sscc::parse(&e.value).map_err(|err| err.offset(at)))
        .transpose()?;
    let signature = find("8030")
        .map(|(e, &(_, at))| {
            ai::decode_base64url(&e.value, &|| "AI 8030".to_owned()).map_err(|err| err.offset(at))
        })
        .transpose()?;
    Ok(Scan {
        symbology,
        form,
        elements,
        gtin,
        sscc,
        signature,
    })
}
