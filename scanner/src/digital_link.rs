//! Reading GS1 Digital Link URIs (uncompressed form), on any domain.
//!
//! `https://example.com/some/prefix/01/09506000134352/10/LOT/21/ABC?17=261231&linkType=all`:
//! the path ends with a primary key AI and its value followed by key qualifiers in GS1's order;
//! the query holds data attributes, other query parameters are ignored. Values are
//! percent-decoded, then validated like any other AI value. A GTIN-8/12/13 in the path is
//! padded to GTIN-14, as Digital Link allows.

use crate::ai::ApplicationIdentifier;
use crate::error::{ErrorKind, ParseError};
use crate::scan::{Element, Located};

/// A byte range of the raw text.
type Span = (usize, usize);

/// The elements of the URI in `raw[start..end]`; the caller has checked it starts with a scheme.
pub(crate) fn parse(raw: &str, start: usize, end: usize) -> Result<Vec<Located>, ParseError> {
    let scheme = raw[start..end].find("://").map_or(0, |i| i + 3);
    let authority = start + scheme;
    let authority_end = raw[authority..end]
        .find(['/', '?', '#'])
        .map_or(end, |i| authority + i);
    if authority_end == authority {
        return Err(ParseError::new(
            ErrorKind::Uri {
                reason: "has no domain",
            },
            authority,
        ));
    }
    let uri_end = raw[authority_end..end]
        .find('#')
        .map_or(end, |i| authority_end + i);
    let path_end = raw[authority_end..uri_end]
        .find('?')
        .map_or(uri_end, |i| authority_end + i);

    let mut segments = split(raw, (authority_end, path_end), b'/');
    // The path starts with `/`, so the first piece is empty. A trailing `/` is tolerated where
    // it does not stand for an empty value (`/01/…/21/`).
    if segments.first().is_some_and(|&(a, b)| a == b) {
        segments.remove(0);
    }
    if !segments.len().is_multiple_of(2) && segments.last().is_some_and(|&(a, b)| a == b) {
        segments.pop();
    }

    // The primary key is the first key AI from which the rest of the path pairs up as AI/value
    // (anything before it is a path prefix of the resolver's choosing).
    let is_key = |&(a, b): &Span| {
        let code = &raw[a..b];
        code.bytes().all(|c| c.is_ascii_digit())
            && ApplicationIdentifier::lookup(code).is_some_and(|ai| ai.is_primary_key())
    };
    let mut first_error = None;
    let mut elements = None;
    for i in 0..segments.len() {
        if !(segments.len() - i).is_multiple_of(2) || !is_key(&segments[i]) {
            continue;
        }
        match path(raw, &segments[i..]) {
            Ok(found) => {
                elements = Some(found);
                break;
            }
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    let mut elements = match (elements, first_error) {
        (Some(found), _) => found,
        (None, Some(e)) => return Err(e),
        (None, None) => return Err(ParseError::new(ErrorKind::NoPrimaryKey, authority_end)),
    };

    if path_end < uri_end {
        for (a, b) in split(raw, (path_end + 1, uri_end), b'&') {
            let param = &raw[a..b];
            let key_end = param.find('=').map_or(b, |i| a + i);
            let code = &raw[a..key_end];
            if code.is_empty() || !code.bytes().all(|c| c.is_ascii_digit()) {
                continue; // linkType, context… are for the resolver, not data
            }
            let ai = code
                .parse::<ApplicationIdentifier>()
                .map_err(|e| e.offset(a))?;
            if !ai.is_digital_link_attribute() {
                return Err(ParseError::new(
                    ErrorKind::NotAttribute {
                        ai: code.to_owned(),
                    },
                    a,
                ));
            }
            let value_at = (key_end + 1).min(b);
            let element = value(raw, ai, (value_at, b))?;
            elements.push(Located {
                element,
                ai_at: a,
                value_at,
            });
        }
    }
    Ok(elements)
}

/// The primary key and its qualifiers from path segments paired as AI/value.
fn path(raw: &str, segments: &[Span]) -> Result<Vec<Located>, ParseError> {
    let mut elements: Vec<Located> = Vec::new();
    let mut key: Option<ApplicationIdentifier> = None;
    for pair in segments.chunks(2) {
        let &[(a, b), value_span] = pair else { break };
        let code = &raw[a..b];
        let ai = code
            .parse::<ApplicationIdentifier>()
            .map_err(|e| e.offset(a))?;
        if let Some(key) = key {
            let alternatives = key.qualifiers();
            if !alternatives.iter().any(|alt| alt.contains(&code)) {
                let kind = ErrorKind::NotQualifier {
                    ai: code.to_owned(),
                    key: key.code().to_owned(),
                };
                return Err(ParseError::new(kind, a));
            }
            let seen: Vec<&str> = elements[1..].iter().map(|l| &*l.element.ai).collect();
            // Qualifiers are optional but ordered: what we have must be a subsequence of one
            // alternative.
            let in_order = alternatives.iter().any(|alt| {
                let mut rest = alt.iter();
                seen.iter()
                    .copied()
                    .chain([code])
                    .all(|q| rest.any(|x| *x == q))
            });
            if !in_order {
                let after = seen.last().copied().unwrap_or_default().to_owned();
                return Err(ParseError::new(
                    ErrorKind::QualifierOrder {
                        ai: code.to_owned(),
                        after,
                    },
                    a,
                ));
            }
        } else {
            key = Some(ai);
        }
        let element = value(raw, ai, value_span)?;
        elements.push(Located {
            element,
            ai_at: a,
            value_at: value_span.0,
        });
    }
    Ok(elements)
}

/// Percent-decodes and validates one value.
fn value(raw: &str, ai: ApplicationIdentifier, span: Span) -> Result<Element, ParseError> {
    let (mut text, mut offsets) = percent_decode(raw, span)?;
    // Digital Link allows GTIN-8, -12 and -13 in the path; the element is always GTIN-14.
    if ai.code() == "01"
        && matches!(text.len(), 8 | 12 | 13)
        && text.bytes().all(|b| b.is_ascii_digit())
    {
        let pad = 14 - text.len();
        text.insert_str(0, &"0".repeat(pad));
        offsets.splice(0..0, std::iter::repeat_n(span.0, pad));
    }
    ai.validate(&text)
        .map_err(|e| e.map_position(|p| offsets.get(p).copied().unwrap_or(span.1)))?;
    Ok(Element {
        ai: ai.code().into(),
        value: text,
    })
}

/// The decoded text, and for each of its bytes the offset in `raw` it came from.
fn percent_decode(raw: &str, (start, end): Span) -> Result<(String, Vec<usize>), ParseError> {
    let bytes = &raw.as_bytes()[..end];
    let mut out = Vec::with_capacity(end - start);
    let mut offsets = Vec::with_capacity(end - start);
    let mut i = start;
    while i < end {
        offsets.push(i);
        if bytes[i] == b'%' {
            let hex = |j: usize| bytes.get(j).and_then(|&b| char::from(b).to_digit(16));
            let (Some(high), Some(low)) = (hex(i + 1), hex(i + 2)) else {
                return Err(ParseError::new(ErrorKind::PercentEncoding, i));
            };
            // Two hex digits make at most 255.
            out.push(u8::try_from(high * 16 + low).unwrap_or(u8::MAX));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    match String::from_utf8(out) {
        Ok(text) => Ok((text, offsets)),
        Err(e) => {
            let at = offsets
                .get(e.utf8_error().valid_up_to())
                .copied()
                .unwrap_or(end);
            Err(ParseError::new(ErrorKind::Utf8, at))
        }
    }
}

/// Splits `raw[start..end]` at an ASCII separator, keeping byte spans.
fn split(raw: &str, (start, end): Span, separator: u8) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut from = start;
    for (i, &b) in raw.as_bytes()[start..end].iter().enumerate() {
        if b == separator {
            spans.push((from, start + i));
            from = start + i + 1;
        }
    }
    spans.push((from, end));
    spans
}
