//! From raw scanner text to a [`Scan`]: envelope (BOM, AIM identifier, line ending), then one of
//! the four forms, then the checks that span elements (duplicates, required and excluded AIs).
//!
//! Positions are byte offsets into the raw text throughout; each reader is given the raw text
//! and the range it owns rather than a re-sliced string, so no offset bookkeeping is lost. The
//! one exception is the element string, whose scanner mistakes (GS stand-ins, repeated or
//! missing separators) are repaired in a copy that maps every byte back to the raw text: see
//! [`Text`].

use crate::GS;
use crate::ai::{self, ApplicationIdentifier, char_at};
use crate::digital_link;
use crate::error::{ErrorKind, ParseError};
use crate::keys::{Gtin, Sscc};
use crate::scan::{Carrier, Element, Form, Note, Scan, Symbology};

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
    let (symbology, start, end) = envelope(raw)?;
    let body = &raw[start..end];
    let (form, elements) = match &symbology {
        Some(s) if s.gs1 => return element_string_scan(raw, start, end, symbology),
        Some(s) if matches!(s.carrier, Carrier::EanUpc | Carrier::Itf) => {
            (Form::PlainGtin, plain_gtin(raw, start, end)?)
        }
        _ if starts_with_separator(body) => {
            return element_string_scan(raw, start, end, symbology);
        }
        _ if is_uri(body) => (Form::DigitalLink, digital_link::parse(raw, start, end)?),
        _ if body.starts_with('(') => (Form::Bracketed, bracketed(raw, start, end)?),
        _ if body.bytes().all(|b| b.is_ascii_digit()) && matches!(body.len(), 8 | 12 | 13 | 14) => {
            (Form::PlainGtin, plain_gtin(raw, start, end)?)
        }
        None => return element_string_scan(raw, start, end, symbology),
        Some(s) => {
            return Err(ParseError::new(
                ErrorKind::NotGs1 { aim: s.aim.clone() },
                start,
            ));
        }
    };
    build(symbology, form, elements)
}

/// Strips a BOM and trailing CR/LF/Tab, and reads an AIM symbology identifier: the symbology
/// and the byte range of the data.
pub(crate) fn envelope(raw: &str) -> Result<(Option<Symbology>, usize, usize), ParseError> {
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
    Ok((symbology, start, end))
}

/// True if the text starts with GS or one of its unambiguous stand-ins.
fn starts_with_separator(body: &str) -> bool {
    body.starts_with(GS)
        || SUBSTITUTES
            .iter()
            .any(|&(text, ambiguous)| !ambiguous && starts_with_ignoring_case(body, text))
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
            // Longer than the AI allows: a GS is missing somewhere in here. The caller looks for
            // the places where one would make the scan valid.
            let subject = format!("AI {}", ai.code());
            return Err(ParseError::new(
                ErrorKind::MissingSeparator { subject },
                value_at + max,
            ));
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
    pairings(&elements, &positions)?;
    let find = |ai: &str| elements.iter().zip(&positions).find(|(e, _)| e.ai == ai);
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
        notes: Vec::new(),
        proprietary: None,
    })
}

/// GS1's pairing rules over the elements of one scan: no two AIs that exclude each other (the
/// error names them in scan order, at the later one), then every AI with its requisites (the
/// error is at the AI that lacks them). Exclusions come first: they say the scan contradicts
/// itself, which no further AI could mend.
///
/// The Syntax Dictionary notes that GS1 evaluates pairings over all the carriers on an item.
/// This crate sees one scan at a time, so an AI whose partner sits in another barcode on the
/// same label is reported as lacking it.
fn pairings(elements: &[Element], positions: &[(usize, usize)]) -> Result<(), ParseError> {
    let rules: Vec<Option<ApplicationIdentifier>> = elements
        .iter()
        .map(|e| ApplicationIdentifier::lookup(&e.ai))
        .collect();
    let excludes = |rule: Option<ApplicationIdentifier>, code: &str| {
        rule.and_then(|r| r.excludes())
            .is_some_and(|ex| ex.split(',').any(|p| matches_pattern(p, code)))
    };
    for (j, later) in elements.iter().enumerate() {
        for (i, earlier) in elements[..j].iter().enumerate() {
            // An AI never excludes itself, even through a pattern (`310n` on AI 3102).
            if earlier.ai != later.ai
                && (excludes(rules[i], &later.ai) || excludes(rules[j], &earlier.ai))
            {
                let kind = ErrorKind::Excludes {
                    ai: earlier.ai.clone(),
                    other: later.ai.clone(),
                };
                return Err(ParseError::new(kind, positions[j].0));
            }
        }
    }
    for (i, element) in elements.iter().enumerate() {
        let Some(needs) = rules[i].and_then(|r| r.requires()) else {
            continue;
        };
        let present = |pattern: &str| elements.iter().any(|e| matches_pattern(pattern, &e.ai));
        if !needs.split(',').any(|group| group.split('+').all(present)) {
            let kind = ErrorKind::Requires {
                ai: element.ai.clone(),
                needs,
            };
            return Err(ParseError::new(kind, positions[i].0));
        }
    }
    Ok(())
}

/// GS1's AI patterns: `n` stands for any digit (`31nn`, `390n`).
fn matches_pattern(pattern: &str, code: &str) -> bool {
    pattern.len() == code.len()
        && pattern
            .bytes()
            .zip(code.bytes())
            .all(|(p, c)| p == c || (p == b'n' && c.is_ascii_digit()))
}

// ---------------------------------------------------------------------------------------------
// Scanner mistakes in element strings.

/// Text scanners send where GS1 means GS, and whether the same text is also valid data. An
/// ambiguous stand-in (`<GS>` is four characters of set 82, so it could be part of a serial) is
/// only read as GS when the literal reading is not a valid scan; the others always are.
const SUBSTITUTES: &[(&str, bool)] = &[
    ("\u{241d}", false), // ␝, SYMBOL FOR GROUP SEPARATOR, from copied text
    ("\u{e01d}", false), // a private-use code point some scanner drivers map FNC1 to
    ("{GS}", false),
    ("[GS]", false),
    ("{FNC1}", false),
    ("[FNC1]", false),
    ("^]", false), // caret notation of Ctrl+], which types GS
    ("\\x1d", false),
    ("\\u001d", false),
    ("<GS>", true),
    ("<FNC1>", true),
];

fn starts_with_ignoring_case(text: &str, prefix: &str) -> bool {
    text.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

/// An element string being repaired: the text the reader sees, and for each of its bytes (and
/// its end) the byte in the raw scan it stands for.
#[derive(Clone)]
struct Text {
    text: String,
    raw_at: Vec<usize>,
    notes: Vec<Note>,
}

impl Text {
    /// `raw[start..end]` with every stand-in that is unambiguous (or, with `loose`, every one)
    /// replaced by GS, and runs of GS collapsed to one.
    fn new(raw: &str, start: usize, end: usize, loose: bool) -> Text {
        let mut text = String::with_capacity(end - start);
        let mut raw_at = Vec::with_capacity(end - start + 1);
        let mut notes = Vec::new();
        let mut at = start;
        while at < end {
            let rest = &raw[at..end];
            let substitute = SUBSTITUTES.iter().find(|&&(s, ambiguous)| {
                (loose || !ambiguous) && starts_with_ignoring_case(rest, s)
            });
            let (len, is_gs) = match substitute {
                Some(&(s, _)) => {
                    notes.push(Note::GsSubstitute {
                        text: rest[..s.len()].to_owned(),
                        position: at,
                    });
                    (s.len(), true)
                }
                None => {
                    let ch = rest.chars().next().unwrap_or(GS);
                    (ch.len_utf8(), ch == GS)
                }
            };
            if is_gs {
                if text.ends_with(GS) {
                    notes.push(Note::RepeatedSeparator { position: at });
                } else {
                    text.push(GS);
                    raw_at.push(at);
                }
            } else {
                text.push_str(&rest[..len]);
                raw_at.extend(at..at + len);
            }
            at += len;
        }
        raw_at.push(end);
        Text {
            text,
            raw_at,
            notes,
        }
    }

    fn raw_position(&self, at: usize) -> usize {
        self.raw_at
            .get(at)
            .or(self.raw_at.last())
            .copied()
            .unwrap_or(0)
    }

    /// The same text with a GS inserted before byte `at`.
    fn with_separator(&self, at: usize, ai: &str) -> Text {
        let mut repaired = self.clone();
        repaired.text.insert(at, GS);
        let raw = self.raw_position(at);
        repaired.raw_at.insert(at, raw);
        repaired.notes.push(Note::SeparatorInserted {
            ai: ai.to_owned(),
            position: raw,
        });
        repaired
    }

    /// Reads the text as an element string; errors and notes carry raw positions.
    fn read(&self, symbology: &Option<Symbology>) -> Result<Scan, ParseError> {
        let located = element_string(&self.text, 0, self.text.len())
            .map_err(|e| e.map_position(|p| self.raw_position(p)))?;
        let mut scan = build(symbology.clone(), Form::ElementString, located)
            .map_err(|e| e.map_position(|p| self.raw_position(p)))?;
        scan.notes.clone_from(&self.notes);
        Ok(scan)
    }

    /// Where a missing GS could go: before two digits that start a known AI, inside a value (a
    /// value is never empty), and within `within` (byte ranges of the text). Each comes with the
    /// AI whose value it would end, if known.
    fn separator_candidates(&self, within: &[(usize, usize, String)]) -> Vec<(usize, String)> {
        let bytes = self.text.as_bytes();
        let mut out = Vec::new();
        for (from, to, ai) in within {
            for at in from + 1..*to {
                let starts_ai = bytes.get(at..at + 2).is_some_and(|pair| {
                    pair.iter().all(u8::is_ascii_digit)
                        && self.text.get(at..at + 2).and_then(ai::ai_length).is_some()
                });
                if starts_ai && bytes.get(at - 1) != Some(&(GS as u8)) {
                    out.push((at, ai.clone()));
                }
            }
        }
        out
    }

    /// The values of variable-length AIs in the text, as far as a reader can tell without
    /// validating: each AI's value runs to the next GS. Used to place candidate separators when
    /// the literal reading fails.
    fn variable_values(&self) -> Vec<(usize, usize, String)> {
        let bytes = self.text.as_bytes();
        let mut out = Vec::new();
        let mut at = usize::from(bytes.first() == Some(&(GS as u8)));
        let end = bytes.len();
        while at < end {
            let Ok((ai, value_at)) = read_ai(&self.text, at, end) else {
                break;
            };
            let run = bytes[value_at..]
                .iter()
                .position(|&b| b == GS as u8)
                .map_or(end, |i| value_at + i);
            let value_end = if ai.is_predefined_length() {
                run.min(value_at + ai.length().1)
            } else {
                out.push((value_at, run, ai.code().to_owned()));
                run
            };
            at = value_end + usize::from(bytes.get(value_end) == Some(&(GS as u8)));
        }
        out
    }
}

/// Element strings longer than this are not searched for a missing separator (every candidate
/// place costs a full read). GS1 symbols carry far less.
const REPAIR_LIMIT: usize = 512;

/// Reads an element string, repairing what scanners get wrong.
///
/// Unambiguous GS stand-ins and repeated separators are always repaired, with a [`Note`] each.
/// For a missing separator, and for stand-ins that could also be data, the literal reading is
/// GS1's meaning and wins when it is valid; if a repaired reading is valid too, the scan says so
/// with [`Note::Ambiguous`]. When the literal reading is not valid, the reading with every
/// stand-in as GS is taken if it is valid (it explains the whole text). Otherwise every place
/// where one GS would make a valid scan is tried (one missing separator, not several): exactly
/// one valid reading is taken with [`Note::SeparatorInserted`]; several are an
/// [`ErrorKind::AmbiguousReading`]; none leaves the literal reading's error.
fn element_string_scan(
    raw: &str,
    start: usize,
    end: usize,
    symbology: Option<Symbology>,
) -> Result<Scan, ParseError> {
    let strict = Text::new(raw, start, end, false);
    let loose = Text::new(raw, start, end, true);
    let has_loose = loose.notes.len() > strict.notes.len();
    let repairable = strict.text.len() <= REPAIR_LIMIT;

    match strict.read(&symbology) {
        Ok(mut scan) => {
            if !repairable {
                return Ok(scan);
            }
            let values: Vec<(usize, usize, String)> = scan_values(&strict, &scan);
            let mut others = strict
                .separator_candidates(&values)
                .into_iter()
                .map(|(at, ai)| strict.with_separator(at, &ai));
            let loose_reading = has_loose.then(|| loose.clone());
            let alternative = loose_reading
                .into_iter()
                .chain(&mut others)
                .find_map(|text| {
                    let other = text.read(&symbology).ok()?;
                    (other.elements != scan.elements).then_some((text, other))
                });
            if let Some((text, other)) = alternative {
                let position = text
                    .notes
                    .iter()
                    .find(|n| !strict.notes.contains(n))
                    .map_or(start, Note::position);
                scan.notes.push(Note::Ambiguous {
                    alternative: bracketed_text(&other.elements),
                    position,
                });
            }
            Ok(scan)
        }
        Err(error) if !repairable => Err(error),
        Err(error) => {
            let mut readings: Vec<Scan> = Vec::new();
            let mut consider = |text: &Text| {
                if let Ok(scan) = text.read(&symbology)
                    && !readings.iter().any(|r| r.elements == scan.elements)
                {
                    readings.push(scan);
                }
            };
            let mut bases = vec![&strict];
            if has_loose {
                // Reading every stand-in as GS explains the whole text; a missing separator
                // assumes a lost character. So a valid stand-in reading is taken first.
                if let Ok(scan) = loose.read(&symbology) {
                    return Ok(scan);
                }
                bases.push(&loose);
            }
            for base in bases {
                let values = base.variable_values();
                for (at, ai) in base.separator_candidates(&values) {
                    consider(&base.with_separator(at, &ai));
                }
            }
            match readings.len() {
                0 => Err(error),
                1 => Ok(readings.remove(0)),
                _ => {
                    let position = readings
                        .iter()
                        .flat_map(|r| r.notes.iter().map(Note::position))
                        .min()
                        .unwrap_or(start);
                    let readings = readings
                        .iter()
                        .map(|r| bracketed_text(&r.elements))
                        .collect();
                    Err(ParseError::new(
                        ErrorKind::AmbiguousReading { readings },
                        position,
                    ))
                }
            }
        }
    }
}

/// The byte ranges (in `text`) of the values of a valid scan's variable-length elements.
fn scan_values(text: &Text, scan: &Scan) -> Vec<(usize, usize, String)> {
    text.variable_values()
        .into_iter()
        .filter(|(_, _, ai)| scan.elements.iter().any(|e| &e.ai == ai))
        .collect()
}

fn bracketed_text(elements: &[Element]) -> String {
    let pairs: Vec<(&str, &str)> = elements
        .iter()
        .map(|e| (e.ai.as_str(), e.value.as_str()))
        .collect();
    crate::format::bracketed(&pairs)
}
