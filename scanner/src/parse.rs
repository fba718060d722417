//! From raw scanner text to a [`Scan`]: envelope (BOM, AIM identifier, line ending), then one of
//! the four forms, then the checks that span elements (duplicates, required and excluded AIs).
//!
//! Positions are byte offsets into the raw text throughout; each reader is given the raw text
//! and the range it owns rather than a re-sliced string, so no offset bookkeeping is lost. The
//! one exception is the element string, whose scanner mistakes (GS stand-ins, repeated or
//! missing separators) are repaired in a copy that maps every byte back to the raw text: see
//! [`Text`]. Most element strings need no repair; those are read in place, and the search for
//! another valid reading probes the raw text without copying it: see [`direct_scan`].

use crate::GS;

/// GS as the byte it is in UTF-8.
const GS_BYTE: u8 = 0x1d;
use crate::ai::Signature;
use crate::ai::{self, ApplicationIdentifier, Pairing, Pattern};
use crate::digital_link;
use crate::digits::char_at;
use crate::error::{ErrorKind, ParseError};
use crate::keys::{Gtin, Sscc};
use crate::layout::Layout;
use crate::scan::{Carrier, Element, Form, Located, Note, Scan, Symbology};

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
    parse_gs1(raw).map_err(|error| keyboard_layout(raw).unwrap_or(error))
}

/// [`parse`] without the look for a scanner typing into another keyboard layout.
pub(crate) fn parse_gs1(raw: &str) -> Result<Scan, ParseError> {
    match parse_text(raw) {
        Err(error) if is_undecodable_signature(&error) => {
            unreadable_signature(raw, &error).ok_or(error)
        }
        result => result,
    }
}

/// Text that does not parse, but does once mapped back from a German or French keyboard layout
/// (a scanner set up for a US keyboard, typing into a host with another one: `&é"'(` for
/// `12345` on AZERTY, `z` for `y` on QWERTZ) is refused with what it would read as and the
/// setting that fixes it. Nothing is guessed: the same bytes could be meant as typed.
fn keyboard_layout(raw: &str) -> Option<ParseError> {
    [Layout::Qwertz, Layout::Azerty]
        .into_iter()
        .find_map(|layout| {
            let mapped = layout.us_text(raw);
            if mapped == raw {
                return None;
            }
            let scan = parse_gs1(&mapped).ok()?;
            let pairs: Vec<(&str, &str)> = scan
                .elements
                .iter()
                .map(|e| (e.ai.as_ref(), e.value.as_str()))
                .collect();
            Some(ParseError::new(
                ErrorKind::KeyboardLayout {
                    layout: layout.name(),
                    setting: layout.setting(),
                    reading: crate::format::bracketed(&pairs),
                },
                0,
            ))
        })
}

/// An AI 8030 value in its character set that does not decode as base64url.
fn is_undecodable_signature(error: &ParseError) -> bool {
    matches!(&error.kind, ErrorKind::Base64 { subject, .. } if subject == "AI 8030")
}

/// The scan whose AI 8030 value (at `error`) is GS1 text, but no signature: it does not decode
/// as base64url (a length of 4n + 1, spare bits set). GS1 syntax asks only for the character
/// set and the length, so the scan is read, with the value as it is and no signature
/// ([`Scan::signature`] is `None` beside an AI 8030: a signature that does not verify), and a
/// [`Note::SignatureUndecodable`]. The scan is read with a stand-in signature in its place; the
/// rest of it must be valid as it stands.
fn unreadable_signature(raw: &str, error: &ParseError) -> Option<Scan> {
    const STAND_IN: &str = "AAAA";
    let (min, max) = ApplicationIdentifier::lookup("8030")?.length();
    let reason = match &error.kind {
        ErrorKind::Base64 { reason, .. } => *reason,
        _ => "not base64url",
    };
    signature_spans(raw, error.position).find_map(|(at, end)| {
        let value = &raw[at..end];
        if !(min..=max).contains(&value.len()) {
            return None;
        }
        let text = format!("{}{STAND_IN}{}", &raw[..at], &raw[end..]);
        let mut scan = parse_text(&text).ok()?;
        // The stand-in must have been read as the whole of AI 8030's value, and nothing else.
        let element = scan
            .elements
            .iter_mut()
            .find(|e| e.ai == "8030" && e.value == STAND_IN)?;
        element.value = value.to_owned();
        scan.signature = None;
        // Positions after the value move by the difference in length.
        for note in &mut scan.notes {
            note.shift(at + STAND_IN.len(), value.len(), STAND_IN.len());
        }
        scan.notes.push(Note::SignatureUndecodable {
            reason: reason.to_owned(),
            position: at,
        });
        Some(scan)
    })
}

/// Where the AI 8030 value that holds `position` could lie, nearest first: a run of AI 8030's
/// characters (base64url and `=`) through `position`, starting right after the AI, whether
/// written `8030…` (element string), `(8030)…` (bracketed) or `8030=…` (Digital Link query).
fn signature_spans(raw: &str, position: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
    let bytes = raw.as_bytes();
    let in_set = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=');
    let position = position.min(bytes.len());
    let end = position + bytes[position..].iter().take_while(|b| in_set(b)).count();
    let first = position
        - bytes[..position]
            .iter()
            .rev()
            .take_while(|b| in_set(b))
            .count();
    // The run may begin with the AI's own digits ("8030" after a GS), and a bracket or `=`
    // may come right before it.
    (first.saturating_sub(6)..=position)
        .rev()
        .filter(move |&at| {
            at < end
                && raw.is_char_boundary(at)
                && [&b"8030"[..], b"(8030)", b"8030="]
                    .iter()
                    .any(|marker| bytes[..at].ends_with(marker))
                && bytes[at..end].iter().all(in_set)
        })
        .map(move |at| (at, end))
}

fn parse_text(raw: &str) -> Result<Scan, ParseError> {
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
    let bytes = raw.as_bytes();
    let mut end = bytes.len();
    while end > start && matches!(bytes[end - 1], b'\r' | b'\n' | b'\t') {
        end -= 1;
    }

    let mut symbology = None;
    if raw[start..end].starts_with(']') {
        let data = &raw[start..end];
        // The first three characters: three bytes, unless one is not ASCII.
        let aim = match data.as_bytes().get(..3) {
            Some(three) if three.is_ascii() => &data[..3],
            _ => data
                .char_indices()
                .nth(3)
                .map_or(data, |(three, _)| &data[..three]),
        };
        let found = Symbology::from_aim(aim).ok_or_else(|| {
            let text = aim.to_owned();
            ParseError::new(ErrorKind::Symbology { text }, start)
        })?;
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
        ai: "01".into(),
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
    find_ai(raw, at, end).ok_or_else(|| ai_error(raw, at, end))
}

/// The AI starting at `at` and where its value starts, if the table knows it.
fn find_ai(raw: &str, at: usize, end: usize) -> Option<(ApplicationIdentifier, usize)> {
    ApplicationIdentifier::at_start_of(&raw.as_bytes()[at..end]).map(|ai| (ai, at + ai.len()))
}

/// The first GS in `bytes`. Values are searched for their end at every place a missing
/// separator could be, so this looks at eight bytes at a time.
fn find_gs(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    const GS_EVERYWHERE: u64 = u64::from_le_bytes([GS_BYTE; 8]);
    let mut chunks = bytes.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default()) ^ GS_EVERYWHERE;
        // Nonzero if and only if some byte of `word` is zero, that is, a GS; its lowest set
        // bit is in the first such byte (a borrow only runs up from a zero byte).
        let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
        if zeros != 0 {
            return Some(at + zeros.trailing_zeros() as usize / 8);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == GS_BYTE)
        .map(|i| at + i)
}

/// Why [`find_ai`] found no AI at `at`.
fn ai_error(raw: &str, at: usize, end: usize) -> ParseError {
    match ai_digits(raw, at, end) {
        None => {
            let found = (at < end).then(|| char_at(raw, at));
            ParseError::new(ErrorKind::ExpectedAi { found }, at)
        }
        Some(code) => {
            let ai = code.to_owned();
            ParseError::new(ErrorKind::UnknownAi { ai }, at)
        }
    }
}

/// The digits at `at` that an AI would occupy: as many as AIs with these first two digits have
/// (two if no AI starts with them), and no more than there are. `None` if there is no digit.
fn ai_digits(raw: &str, at: usize, end: usize) -> Option<&str> {
    let bytes = &raw.as_bytes()[at..end];
    let digits = bytes
        .iter()
        .take(4)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 {
        return None;
    }
    let len = ai::ai_length_at(bytes).unwrap_or(2).min(digits);
    Some(&raw[at..at + len])
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
        ai: ai.code().into(),
        value: value.to_owned(),
    })
}

/// AIs and values run together; GS ends a value that is not of predefined length.
fn element_string(raw: &str, start: usize, end: usize) -> Result<Vec<Located>, ParseError> {
    let mut elements = Vec::new();
    for span in Spans::new(raw, start, end) {
        let span = span.map_err(|fault| fault.error(raw, end))?;
        let element = value(raw, span.ai, span.value_at, span.value_end)?;
        elements.push(Located {
            element,
            ai_at: span.ai_at,
            value_at: span.value_at,
        });
    }
    Ok(elements)
}

/// Where one element of an element string lies: its AI, where the AI and the value start, and
/// where the value ends (at a GS, at the end, or where a predefined length ends).
#[derive(Clone, Copy)]
struct Span {
    ai: ApplicationIdentifier,
    ai_at: usize,
    value_at: usize,
    value_end: usize,
}

impl Span {
    /// True if the value passes [`ApplicationIdentifier::validate`] (AI 8030's by decoding
    /// it: see [`signature`]).
    fn is_valid(&self, raw: &str) -> bool {
        let Some(value) = self.value(raw) else {
            return false;
        };
        if self.ai.slot() == SIGNATURE {
            signature(self.ai, value).is_some()
        } else {
            self.ai.validate(value).is_ok()
        }
    }

    /// The value's text; `None` if it ends inside a character, which no character set allows.
    fn value<'a>(&self, raw: &'a str) -> Option<&'a str> {
        raw.get(self.value_at..self.value_end)
    }

    fn view<'a>(&'a self, raw: &'a str) -> Option<View<'a>> {
        Some(View {
            code: self.ai.code(),
            slot: self.ai.slot(),
            ai: Some(self.ai),
            pairing: Some(self.ai.pairing()),
            value: self.value(raw)?,
            ai_at: self.ai_at,
            value_at: self.value_at,
        })
    }
}

/// The elements of `raw[start..end]` as the AI table's lengths split them, values unchecked.
/// A leading FNC1, transmitted as GS, is tolerated, and so is a trailing GS (some encoders add
/// one). After a break in the structure it ends.
struct Spans<'a> {
    raw: &'a str,
    at: usize,
    end: usize,
    done: bool,
}

/// A break in an element string's structure, cheap to make: the search for a missing
/// separator probes many places that do not read, and turns none of them into a message.
#[derive(Clone, Copy)]
enum Fault {
    /// No AI, or an AI the table does not know, at this byte.
    Ai { at: usize },
    /// A variable-length value runs past its AI's longest value at this byte.
    Overlong {
        ai: ApplicationIdentifier,
        at: usize,
    },
}

impl Fault {
    fn error(self, raw: &str, end: usize) -> ParseError {
        match self {
            Fault::Ai { at } => ai_error(raw, at, end),
            Fault::Overlong { ai, at } => {
                // A GS is missing somewhere in the value. The repair path looks for the places
                // where one would make the scan valid.
                let subject = format!("AI {}", ai.code());
                ParseError::new(ErrorKind::MissingSeparator { subject }, at)
            }
        }
    }
}

impl<'a> Spans<'a> {
    fn new(raw: &'a str, start: usize, end: usize) -> Spans<'a> {
        let leading_gs = raw.as_bytes().get(start) == Some(&GS_BYTE);
        Spans {
            raw,
            at: start + usize::from(leading_gs),
            end,
            done: false,
        }
    }
}

impl Iterator for Spans<'_> {
    type Item = Result<Span, Fault>;

    fn next(&mut self) -> Option<Result<Span, Fault>> {
        if self.done {
            return None;
        }
        let (raw, end, ai_at) = (self.raw, self.end, self.at);
        let bytes = &raw.as_bytes()[..end];
        let Some((ai, value_at)) = find_ai(raw, ai_at, end) else {
            self.done = true;
            return Some(Err(Fault::Ai { at: ai_at }));
        };
        let run = find_gs(&bytes[value_at..]).map_or(end, |i| value_at + i);
        let (_, max) = ai.length();
        let value_end = if ai.is_predefined_length() {
            run.min(value_at + max)
        } else if run - value_at <= max {
            run
        } else {
            self.done = true;
            let at = value_at + max;
            return Some(Err(Fault::Overlong { ai, at }));
        };
        self.at = value_end;
        if bytes.get(value_end) == Some(&GS_BYTE) {
            self.at += 1;
            self.done = self.at == end;
        } else {
            self.done = value_end == end;
        }
        Some(Ok(Span {
            ai,
            ai_at,
            value_at,
            value_end,
        }))
    }
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
                ai: ai.code().into(),
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
    mut located: Vec<Located>,
) -> Result<Scan, ParseError> {
    let mut views: Vec<View<'_>> = located.iter().map(Located::view).collect();
    let kept = check_across(&mut views)?;
    let keys = Keys::read(&views[..kept], None)?;
    drop(views);
    // A repeat of an element was checked equal to its first occurrence; only that one stays.
    let mut i = 0;
    while i < located.len() {
        let ai = &located[i].element.ai;
        if located[..i].iter().any(|seen| &seen.element.ai == ai) {
            located.remove(i);
        } else {
            i += 1;
        }
    }
    let elements = located.into_iter().map(|l| l.element).collect();
    Ok(keys.scan(symbology, form, elements))
}

/// An element as the checks across elements see it: borrowed from wherever the reading keeps
/// it, with where it sits in the raw text.
#[derive(Clone, Copy)]
struct View<'a> {
    code: &'a str,
    /// The code's [`ApplicationIdentifier::slot`], which names it as a number.
    slot: u16,
    ai: Option<ApplicationIdentifier>,
    /// The AI's pairing rules, looked up once.
    pairing: Option<&'static Pairing>,
    value: &'a str,
    ai_at: usize,
    value_at: usize,
}

impl View<'_> {
    /// A placeholder for arrays of views.
    const EMPTY: View<'static> = View {
        code: "",
        slot: u16::MAX,
        ai: None,
        pairing: None,
        value: "",
        ai_at: 0,
        value_at: 0,
    };

    fn element(&self) -> Element {
        Element {
            ai: self
                .ai
                .map_or_else(|| self.code.to_owned().into(), |ai| ai.code().into()),
            value: self.value.to_owned(),
        }
    }
}

impl Located {
    fn view(&self) -> View<'_> {
        let ai = ApplicationIdentifier::lookup(&self.element.ai);
        View {
            code: &self.element.ai,
            // Elements name known AIs; another code would match no other and no rule.
            slot: ai.map_or(u16::MAX, |ai| ai.slot()),
            ai,
            pairing: ai.map(|ai| ai.pairing()),
            value: &self.element.value,
            ai_at: self.ai_at,
            value_at: self.value_at,
        }
    }
}

/// The checks that span elements, over views in scan order: an AI repeated with the same value
/// is dropped, with another value it is an error; then GS1's pairing rules. Keeps the first
/// occurrence of each AI at the front, in order, and returns how many there are.
fn check_across(views: &mut [View<'_>]) -> Result<usize, ParseError> {
    let mut kept = 0;
    for i in 0..views.len() {
        let (slot, value) = (views[i].slot, views[i].value);
        match views[..kept].iter().find(|seen| seen.slot == slot) {
            Some(seen) if seen.value == value => {}
            Some(_) => {
                let view = &views[i];
                let ai = view.code.to_owned();
                return Err(ParseError::new(ErrorKind::Duplicate { ai }, view.ai_at));
            }
            None => {
                if kept < i {
                    views[kept] = views[i];
                }
                kept += 1;
            }
        }
    }
    pairings(&views[..kept])?;
    Ok(kept)
}

/// The AI of a signature over the scan's key, whose value the scan carries decoded.
const SIGNATURE: u16 = ai::slot_of("8030");
/// The AIs of the GTIN and the SSCC.
const GTIN: u16 = ai::slot_of("01");
const SSCC: u16 = ai::slot_of("00");

/// The signature in AI 8030's value, decoded, if the value is valid for AI 8030: decoding is
/// the check that matters, and it also admits only characters of AI 8030's set (the
/// base64url alphabet and `=` padding), so with the length checked it is all of
/// [`ApplicationIdentifier::validate`].
fn signature(ai: ApplicationIdentifier, value: &str) -> Option<Signature> {
    let (min, max) = ai.length();
    if !(min..=max).contains(&value.len()) {
        return None;
    }
    let decoded = ai::decode_signature(value.as_bytes());
    debug_assert_eq!(decoded.is_some(), ai.validate(value).is_ok(), "{value}");
    decoded
}

/// The typed keys of a scan, read from its elements (after [`check_across`]).
struct Keys {
    gtin: Option<Gtin>,
    sscc: Option<Sscc>,
    signature: Option<Signature>,
}

impl Keys {
    /// The keys of elements whose values passed their AI's validation (which includes the
    /// check digits of AI 01 and AI 00), not checked again; a signature the caller already
    /// decoded from AI 8030's value is taken as it is.
    fn read(views: &[View<'_>], decoded: Option<Signature>) -> Result<Keys, ParseError> {
        let find = |slot: u16| views.iter().find(|v| v.slot == slot);
        let gtin = find(GTIN)
            .map(|v| Gtin::from_valid(v.value).map_err(|err| err.offset(v.value_at)))
            .transpose()?;
        let sscc = find(SSCC)
            .map(|v| Sscc::from_valid(v.value).map_err(|err| err.offset(v.value_at)))
            .transpose()?;
        let signature = match decoded {
            Some(signature) => Some(signature),
            None => find(SIGNATURE)
                .map(|v| match ai::decode_signature(v.value.as_bytes()) {
                    Some(signature) => Ok(signature),
                    None => {
                        let subject = || "AI 8030".to_owned();
                        let error = ai::decode_base64url(v.value, &subject).err();
                        Err(error
                            .unwrap_or_else(|| {
                                let reason = "longer than a signature";
                                ParseError::new(
                                    ErrorKind::Base64 {
                                        subject: subject(),
                                        reason,
                                    },
                                    0,
                                )
                            })
                            .offset(v.value_at))
                    }
                })
                .transpose()?,
        };
        Ok(Keys {
            gtin,
            sscc,
            signature,
        })
    }

    fn scan(self, symbology: Option<Symbology>, form: Form, elements: Vec<Element>) -> Scan {
        Scan {
            symbology,
            form,
            elements,
            gtin: self.gtin,
            sscc: self.sscc,
            signature: self.signature,
            notes: Vec::new(),
            proprietary: None,
        }
    }
}

/// GS1's pairing rules over the elements of one scan: no two AIs that exclude each other (the
/// error names them in scan order, at the later one), then every AI with its requisites (the
/// error is at the AI that lacks them). Exclusions come first: they say the scan contradicts
/// itself, which no further AI could mend.
///
/// The Syntax Dictionary notes that GS1 evaluates pairings over all the carriers on an item.
/// This crate sees one scan at a time, so an AI whose partner sits in another barcode on the
/// same label is reported as lacking it.
fn pairings(views: &[View<'_>]) -> Result<(), ParseError> {
    let present = |pattern: &Pattern| views.iter().any(|v| pattern.matches_slot(v.slot));
    // Most rules are decided by the AIs' sketches: an AI whose excluded AIs' sketch shares no
    // bit with the scan's excludes none of them, and a group of required AIs with a bit the
    // scan's sketch lacks is not all there. The patterns are compared only where they meet.
    let scan_sketch = views.iter().fold(0, |bits, v| bits | ai::sketch(v.slot));
    let excluding = views.iter().any(|view| {
        view.pairing.is_some_and(|p| {
            p.excluded_sketch & scan_sketch != 0
                && p.excluded.iter().any(|e| {
                    views
                        .iter()
                        .any(|v| v.slot != view.slot && e.matches_slot(v.slot))
                })
        })
    });
    if excluding {
        // The first pair in scan order.
        let excludes = |view: &View<'_>, slot: u16| {
            view.pairing
                .is_some_and(|p| p.excluded.iter().any(|p| p.matches_slot(slot)))
        };
        for (j, later) in views.iter().enumerate() {
            for earlier in &views[..j] {
                // An AI never excludes itself, even through a pattern (`310n` on AI 3102).
                if earlier.slot != later.slot
                    && (excludes(earlier, later.slot) || excludes(later, earlier.slot))
                {
                    let kind = ErrorKind::Excludes {
                        ai: earlier.code.to_owned(),
                        other: later.code.to_owned(),
                    };
                    return Err(ParseError::new(kind, later.ai_at));
                }
            }
        }
    }
    for view in views {
        let Some(pairing) = view.pairing else {
            continue;
        };
        let required = &pairing.required;
        let met = |(sketch, group): &(u64, Vec<Pattern>)| {
            sketch & !scan_sketch == 0 && group.iter().all(present)
        };
        if !required.is_empty() && !required.iter().any(met) {
            let kind = ErrorKind::Requires {
                ai: view.code.to_owned(),
                needs: view.ai.and_then(|r| r.requires()).unwrap_or_default(),
            };
            return Err(ParseError::new(kind, view.ai_at));
        }
    }
    Ok(())
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

/// Bytes (in either case) that begin a stand-in: where no byte of a text is one, no stand-in
/// can match anywhere in it.
const STAND_IN_LEADS: [bool; 256] = leads(false);

/// The same for the ambiguous stand-ins only.
static AMBIGUOUS_LEADS: [bool; 256] = leads(true);

const fn leads(ambiguous_only: bool) -> [bool; 256] {
    let mut table = [false; 256];
    let mut i = 0;
    while i < SUBSTITUTES.len() {
        let (text, ambiguous) = SUBSTITUTES[i];
        if ambiguous || !ambiguous_only {
            let first = text.as_bytes()[0];
            table[first.to_ascii_lowercase() as usize] = true;
            table[first.to_ascii_uppercase() as usize] = true;
        }
        i += 1;
    }
    table
}

/// True for every byte of [`STAND_IN_LEADS`] (checked at compile time below), and for a few
/// more that no GS1 character set holds, so that no valid literal reading has them either:
/// every byte above ASCII, `]`, `}`, `|` and `~` (a test checks it). Three compares where the
/// lead bytes themselves would take one each.
const fn may_lead(b: u8) -> bool {
    // `{`, `|`, `}`, `~` and, in the other case, `[`, `\`, `]`, `^`.
    b >= 0x80 || (b | 0x20).wrapping_sub(b'{') < 4 || b == b'<'
}

const _: () = {
    let mut b = 0;
    while b < 256 {
        // `b` is below 256, so the cast is exact.
        assert!(!STAND_IN_LEADS[b] || may_lead(b as u8));
        b += 1;
    }
};

/// True if the text needs the repair path: a byte that may begin a GS stand-in, or two GS in a
/// row. Otherwise a [`Text`] of it would be the text itself, with nothing to note. (A byte of
/// [`may_lead`] that begins no stand-in sends the text there too, and it is read the same;
/// the literal reading was not valid anyway.)
///
/// This runs over every byte of every element string, so it is written for vector compares:
/// whole chunks are folded without branching.
fn needs_repair(text: &[u8]) -> bool {
    let Some((&first, rest)) = text.split_first() else {
        return false;
    };
    // Each byte after the first, chunk by chunk, beside the byte before it.
    may_lead(first)
        || rest.chunks(32).zip(text.chunks(32)).any(|(bytes, before)| {
            bytes.iter().zip(before).fold(false, |hit, (&b, &p)| {
                hit | may_lead(b) | ((b == GS_BYTE) & (p == GS_BYTE))
            })
        })
}

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
            let substitute = SUBSTITUTES
                .iter()
                .filter(|_| STAND_IN_LEADS[usize::from(rest.as_bytes()[0])])
                .find(|&&(s, ambiguous)| {
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
///
/// Most scans need no repair and read validly as written; [`direct_scan`] reads those from the
/// raw text and [`repaired_scan`] the rest. The two agree wherever both apply (a property test
/// holds them to it).
fn element_string_scan(
    raw: &str,
    start: usize,
    end: usize,
    symbology: Option<Symbology>,
) -> Result<Scan, ParseError> {
    match direct_scan(raw, start, end) {
        Some(scan) => Ok(Scan { symbology, ..scan }),
        None => repaired_scan(raw, start, end, symbology),
    }
}

/// Element strings with more elements than this go to [`repaired_scan`]; [`direct_scan`]
/// keeps their spans in an array of this size. GS1 symbols carry far fewer.
const DIRECT_ELEMENTS: usize = 16;

/// Reads an element string that needs no repair (see [`needs_repair`]) straight from the raw
/// text, and looks for another valid reading with one more GS as [`repaired_scan`] does, but
/// without copying the text for each place: the reading with a GS before byte `at` is the
/// literal reading up to the value that `at` splits, then that value's head, then the literal
/// reading from `at`. The elements are borrowed from the raw text until the scan is made, so
/// nothing is allocated but the scan itself.
///
/// `None` leaves the text to [`repaired_scan`]: it needs repair, its literal reading is not
/// valid (a missing separator is looked for there), or a reading has more than
/// [`DIRECT_ELEMENTS`] elements.
///
/// The scan it returns has no symbology; the caller moves its own in.
fn direct_scan(raw: &str, start: usize, end: usize) -> Option<Scan> {
    let bytes = &raw.as_bytes()[..end];
    if needs_repair(&bytes[start..]) {
        return None;
    }
    let mut spans = [None; DIRECT_ELEMENTS];
    let mut count = 0;
    // The first signature, decoded as it is validated (a repeat must have the same value).
    let mut decoded = None;
    for span in Spans::new(raw, start, end) {
        let span = span.ok()?;
        if span.ai.slot() == SIGNATURE {
            let signature = signature(span.ai, span.value(raw)?)?;
            decoded.get_or_insert(signature);
        } else if !span.is_valid(raw) {
            return None;
        }
        *spans.get_mut(count)? = Some(span);
        count += 1;
    }
    let spans = &spans[..count];
    let mut views = [View::EMPTY; DIRECT_ELEMENTS];
    for (view, span) in views.iter_mut().zip(spans.iter().flatten()) {
        *view = span.view(raw)?;
    }
    let kept = check_across(&mut views[..count]).ok()?;
    let keys = Keys::read(&views[..kept], decoded).ok()?;
    let elements = views[..kept].iter().map(View::element).collect();
    let mut scan = keys.scan(None, Form::ElementString, elements);
    if end - start > REPAIR_LIMIT {
        return Some(scan);
    }
    // The places `Text::separator_candidates` lists, in the same order: inside a
    // variable-length value, before two digits that start a known AI.
    for (k, span) in spans.iter().enumerate() {
        let Some(span) = span.filter(|s| !s.ai.is_predefined_length()) else {
            continue;
        };
        // Two digits inside the value (a value holds no GS, and the byte after it is a GS or
        // the end, so no pair reaches past it).
        let value = &bytes[span.value_at..span.value_end];
        for i in DigitPairs::new(value).filter(|&i| i > 0) {
            let at = span.value_at + i;
            if !ai::starts_ai(value[i], value[i + 1]) {
                continue;
            }
            if let Some(alternative) = other_reading(raw, end, spans, k, at, &scan.elements)? {
                scan.notes.push(Note::Ambiguous {
                    alternative,
                    position: at,
                });
                return Some(scan);
            }
        }
    }
    Some(scan)
}

/// The places in a text where two digits start, in order. The search for a missing separator
/// looks at every byte of every variable-length value, so this reads them a word at a time
/// without a branch per byte: eight bytes, stepping by seven so that every pair lies in some
/// word whole.
struct DigitPairs<'a> {
    text: &'a [u8],
    /// Where the word read next starts.
    next: usize,
    /// Where the word read last started, and a bit (the top one of the byte) for each of its
    /// bytes that starts a pair not yet returned.
    word_at: usize,
    pairs: u64,
}

impl<'a> DigitPairs<'a> {
    fn new(text: &'a [u8]) -> DigitPairs<'a> {
        DigitPairs {
            text,
            next: 0,
            word_at: 0,
            pairs: 0,
        }
    }
}

impl Iterator for DigitPairs<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        const LOWS: u64 = u64::from_le_bytes([0x7f; 8]);
        const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
        const ZEROS: u64 = u64::from_le_bytes([b'0'; 8]);
        // Added to a byte below 0x80, sets its top bit if and only if it is 10 or more.
        const TENS: u64 = u64::from_le_bytes([0x80 - 10; 8]);
        while self.pairs == 0 {
            if self.next + 1 >= self.text.len() {
                return None;
            }
            let rest = &self.text[self.next..];
            let word = match rest.first_chunk::<8>() {
                Some(word) => *word,
                None => {
                    // Past the end, zeros: not digits.
                    let mut word = [0; 8];
                    word[..rest.len()].copy_from_slice(rest);
                    word
                }
            };
            let offsets = u64::from_le_bytes(word) ^ ZEROS;
            // The top bit of each byte that is a digit: the byte, less '0', below 10.
            let digits = !(((offsets & LOWS) + TENS) | offsets) & HIGHS;
            // Byte i's top bit if bytes i and i + 1 are digits (the last byte has no partner
            // in the word, and the next word starts with it).
            self.pairs = digits & (digits >> 8);
            self.word_at = self.next;
            self.next += 7;
        }
        let byte = self.pairs.trailing_zeros() as usize / 8;
        self.pairs &= self.pairs - 1;
        Some(self.word_at + byte)
    }
}

/// The reading with a GS inserted before byte `at`, inside the value of `spans[k]` (the literal
/// reading's elements): its bracketed text if it is valid and differs from `elements`, the
/// literal reading's. `None` (no answer) if it has more than [`DIRECT_ELEMENTS`] elements.
fn other_reading(
    raw: &str,
    end: usize,
    spans: &[Option<Span>],
    k: usize,
    at: usize,
    elements: &[Element],
) -> Option<Option<String>> {
    let bytes = raw.as_bytes();
    let Some(split) = spans[k] else {
        return Some(None);
    };
    // Necessary conditions first, cheap and allocating nothing: the rest reads as elements that
    // fit their AIs (most places fail at once, on an unknown AI or an overlong value), and the
    // value's head fits its AI.
    let fits =
        |span: Result<Span, Fault>| span.is_ok_and(|s| s.ai.fits(&bytes[s.value_at..s.value_end]));
    let head = &bytes[split.value_at..at];
    if !Spans::new(raw, at, end).all(fits) || !split.ai.fits(head) {
        return Some(None);
    }
    // A signature cut short rarely decodes (base64url has no length 4n + 1, and the last
    // character's spare bits must be zero), and its validation below comes after the checks
    // of all the rest: refuse it first. (Another AI 8030 in the reading must have the same value.)
    if split.ai.slot() == SIGNATURE && !ai::is_base64url(head) {
        return Some(None);
    }
    let mut reading = [None; DIRECT_ELEMENTS];
    reading[..k].copy_from_slice(&spans[..k]);
    reading[k] = Some(Span {
        value_end: at,
        ..split
    });
    let mut count = k + 1;
    for span in Spans::new(raw, at, end).flatten() {
        *reading.get_mut(count)? = Some(span);
        count += 1;
    }
    // Then the checks of the reading itself; the elements before `k` passed theirs.
    let mut views = [View::EMPTY; DIRECT_ELEMENTS];
    for (i, span) in reading[..count].iter().flatten().enumerate() {
        let Some(view) = span.view(raw) else {
            return Some(None);
        };
        if i >= k && !span.is_valid(raw) {
            return Some(None);
        }
        views[i] = view;
    }
    let views = &mut views[..count];
    let Ok(kept) = check_across(views) else {
        return Some(None);
    };
    let views = &views[..kept];
    let same = views.len() == elements.len()
        && views
            .iter()
            .zip(elements)
            .all(|(v, e)| v.code == e.ai && v.value == e.value);
    // Every value passed its AI's validation (a signature's by decoding), key and check
    // digits included: the reading is valid.
    if same {
        return Some(None);
    }
    let pairs: Vec<(&str, &str)> = views.iter().map(|v| (v.code, v.value)).collect();
    Some(Some(crate::format::bracketed(&pairs)))
}

/// Reads an element string through a [`Text`], which repairs stand-ins and repeated
/// separators, and looks for missing separators as [`element_string_scan`] describes.
fn repaired_scan(
    raw: &str,
    start: usize,
    end: usize,
    symbology: Option<Symbology>,
) -> Result<Scan, ParseError> {
    let strict = Text::new(raw, start, end, false);
    // Without an ambiguous stand-in's first byte, the loose reading is the strict one.
    let loose = raw.as_bytes()[start..end]
        .iter()
        .any(|&b| AMBIGUOUS_LEADS[usize::from(b)])
        .then(|| Text::new(raw, start, end, true))
        .filter(|loose| loose.notes.len() > strict.notes.len());
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
            let alternative = loose
                .clone()
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
            if let Some(loose) = &loose {
                // Reading every stand-in as GS explains the whole text; a missing separator
                // assumes a lost character. So a valid stand-in reading is taken first.
                if let Ok(scan) = loose.read(&symbology) {
                    return Ok(scan);
                }
                bases.push(loose);
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
        .map(|e| (&*e.ai, e.value.as_str()))
        .collect();
    crate::format::bracketed(&pairs)
}

#[cfg(test)]
mod tests {
    //! The direct path must read every text it takes exactly as the repair path does.

    #![allow(clippy::unwrap_used, reason = "in tests a panic is the failure report")]

    use base64::Engine as _;
    use proptest::prelude::*;
    use proptest::{collection, sample};

    use super::*;

    /// Runs both paths on `raw` and, where the direct path answers, compares the answers.
    /// Returns whether it answered.
    fn agree(raw: &str) -> Result<bool, TestCaseError> {
        let Ok((symbology, start, end)) = envelope(raw) else {
            return Ok(false);
        };
        let Some(direct) = direct_scan(raw, start, end) else {
            return Ok(false);
        };
        let direct = Scan {
            symbology: symbology.clone(),
            ..direct
        };
        let repaired = repaired_scan(raw, start, end, symbology);
        prop_assert_eq!(Ok(direct), repaired, "{:?}", raw);
        Ok(true)
    }

    /// The bytes [`may_lead`] takes beyond the stand-ins' first bytes are in no character
    /// set, so that the direct path leaves no valid literal reading to the repair path.
    #[test]
    fn bytes_that_may_lead_a_stand_in_are_leads_or_in_no_character_set() {
        use crate::Charset;
        let sets = [
            Charset::Numeric,
            Charset::Cset82,
            Charset::Cset39,
            Charset::Cset64,
        ];
        for b in 0..=u8::MAX {
            if may_lead(b) && !STAND_IN_LEADS[usize::from(b)] {
                assert!(!sets.iter().any(|set| set.allows(b)), "{b:#x}");
            }
            assert!(!STAND_IN_LEADS[usize::from(b)] || may_lead(b), "{b:#x}");
        }
        assert!(!"0123456789AZaz!\"%&'()*+,-./:;=>?_#".bytes().any(may_lead));
    }

    #[test]
    fn the_paths_agree_on_the_demo_serials() {
        let jsonl = include_str!("../../fixtures/demo/serials.jsonl");
        let mut ambiguous = 0;
        for line in jsonl.lines() {
            let at = line.find("\"element_string\":\"").unwrap() + 18;
            let text = line[at..]
                .split('"')
                .next()
                .unwrap()
                .replace("\\u001d", "\u{1d}");
            let raw = format!("]d2{text}\r\n");
            assert!(agree(&raw).unwrap(), "{raw:?}");
            ambiguous += usize::from(parse(&raw).unwrap().is_ambiguous());
        }
        // Signatures hold digit pairs that start AIs (`9n` takes anything), so some of these
        // scans also read another way; the search for those readings is exercised.
        assert!(ambiguous > 0);
    }

    const ALPHANUMERIC: &str = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    /// Text of characters from `alphabet`, digits made frequent so that values hold places where
    /// an AI could start.
    fn text(alphabet: &'static str, len: std::ops::RangeInclusive<usize>) -> BoxedStrategy<String> {
        let chars: Vec<char> = alphabet.chars().chain("0123456789".chars()).collect();
        collection::vec(sample::select(chars), len)
            .prop_map(|c| c.into_iter().collect())
            .boxed()
    }

    fn with_check_digit(payload: usize) -> BoxedStrategy<String> {
        collection::vec(0..10u8, payload)
            .prop_map(|d| {
                let digits: String = d.iter().map(|d| char::from(b'0' + d)).collect();
                format!("{digits}{}", crate::digits::check_digit(&digits))
            })
            .boxed()
    }

    /// A valid set of scanner-like elements, in any order: a GTIN and some of a serial, a lot,
    /// an expiry date, a weight, internal data and a signature.
    fn elements() -> impl Strategy<Value = Vec<(&'static str, String)>> {
        let signature = collection::vec(any::<u8>(), 1..=64)
            .prop_map(|b| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b));
        let date =
            (0..100u32, 1..=12u32, 0..=28u32).prop_map(|(y, m, d)| format!("{y:02}{m:02}{d:02}"));
        (
            with_check_digit(13),
            proptest::option::of(text(ALPHANUMERIC, 1..=20)),
            proptest::option::of(text(ALPHANUMERIC, 1..=20)),
            proptest::option::of(date),
            proptest::option::of(text("0123456789", 6..=6)),
            proptest::option::of(text(ALPHANUMERIC, 1..=30)),
            proptest::option::of(signature),
        )
            .prop_map(|(gtin, serial, lot, expiry, weight, internal, signature)| {
                // A signature needs a serial (AI 8030 requires 01 with 21).
                let signature = signature.filter(|_| serial.is_some());
                let optional = [
                    ("21", serial),
                    ("10", lot),
                    ("17", expiry),
                    ("3103", weight),
                    ("91", internal),
                    ("8030", signature),
                ];
                let mut out = vec![("01", gtin)];
                out.extend(optional.into_iter().filter_map(|(ai, v)| Some((ai, v?))));
                out
            })
            .prop_shuffle()
    }

    proptest! {
        #![proptest_config(crate::seeded::seeded(1000))]

        /// Element strings of scanner-like elements, a separator sometimes lost.
        #[test]
        fn the_paths_agree_on_element_strings(
            aim in sample::select(vec!["", "]d2", "]C1", "]Q3", "]e0", "]d1"]),
            leading_gs in any::<bool>(),
            elements in elements(),
            lost in collection::vec(any::<bool>(), 8),
            line_end in sample::select(vec!["", "\r\n", "\u{1d}"]),
        ) {
            let mut raw = aim.to_owned();
            if leading_gs {
                raw.push(GS);
            }
            for (i, (ai, value)) in elements.iter().enumerate() {
                raw.push_str(ai);
                raw.push_str(value);
                // A lost separator is rarer than a kept one.
                let kept = !(lost[i] && lost[i + 1]);
                let predefined = matches!(*ai, "01" | "17");
                if kept && !predefined && i + 1 < elements.len() {
                    raw.push(GS);
                }
            }
            raw.push_str(line_end);
            agree(&raw)?;
        }

        #[test]
        fn digit_pairs_are_where_two_digits_start(text in collection::vec(prop_oneof![0x2f..0x3bu8, any::<u8>()], 0..40)) {
            let found: Vec<usize> = DigitPairs::new(&text).collect();
            let expected: Vec<usize> = text
                .windows(2)
                .enumerate()
                .filter(|(_, pair)| pair.iter().all(u8::is_ascii_digit))
                .map(|(i, _)| i)
                .collect();
            prop_assert_eq!(found, expected, "{:?}", text);
        }

        #[test]
        fn find_gs_is_a_search_for_gs(bytes in collection::vec(prop_oneof![Just(GS_BYTE), any::<u8>()], 0..40)) {
            prop_assert_eq!(find_gs(&bytes), bytes.iter().position(|&b| b == GS_BYTE));
        }

        /// Any text of these pieces; most do not read, and the direct path must leave them.
        #[test]
        fn the_paths_agree_on_pieces(pieces in collection::vec(sample::select(vec![
            "]d2", "01", "09506000134352", "10", "21", "17", "261231", "11", "8030", "AQID_v8",
            "91", "95", "00", "037612345000000014", "3103", "ABC", "x", "1", "12", "\u{1d}",
            "é", "<", "{GS}", "240", "22",
        ]), 0..16)) {
            agree(&pieces.concat())?;
        }
    }
}
