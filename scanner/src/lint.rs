//! The content checks of the AI table that need more than a line: the alphanumeric check
//! character pair, company prefixes, IBAN, percent-encoding, positions in a sequence, full dates
//! and the two North American coupon structures.
//!
//! Each takes one component's text and the subject for messages (`"AI 8013"`), and reports the
//! first problem with its byte position inside that text.

use chrono::NaiveDate;

use crate::codes;
use crate::digits::{char_at, date};
use crate::error::{ErrorKind, ParseError};

type Subject<'a> = &'a dyn Fn() -> String;

fn invalid(subject: Subject<'_>, reason: String, at: usize) -> ParseError {
    ParseError::new(
        ErrorKind::Invalid {
            subject: subject(),
            reason,
        },
        at,
    )
}

/// GS1 AI encodable character set 82 in the order that gives each character its value for the
/// check character pair.
const CSET82: &[u8] =
    b"!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";
/// The 32 characters a check character can be: digits 2–9 and letters without I and O.
const CSET32: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// `csumalpha`: the last two characters are the check pair of the rest. Each data character's
/// value (its place in set 82) is weighted by a prime, 2 for the rightmost, then 3, 5, 7…; the sum
/// modulo 1021 is split into two 5-bit halves, each naming a character of set 32.
pub(crate) fn check_pair(part: &str, subject: Subject<'_>) -> Result<(), ParseError> {
    let bytes = part.as_bytes();
    let Some(data_len) = bytes.len().checked_sub(2) else {
        return Err(invalid(
            subject,
            format!("{part} is too short to end in two check characters"),
            0,
        ));
    };
    if let Some(i) = bytes[data_len..].iter().position(|b| !CSET32.contains(b)) {
        let at = data_len + i;
        return Err(invalid(
            subject,
            format!(
                "check character {:?} must be a digit 2–9 or a capital letter other than I and O",
                char_at(part, at)
            ),
            at,
        ));
    }
    let mut sum = 0usize;
    for (&b, prime) in bytes[..data_len].iter().rev().zip(primes()) {
        // The component's character set is checked first, so every byte is in set 82.
        let value = CSET82.iter().position(|&c| c == b).unwrap_or(0);
        sum += value * prime;
    }
    sum %= 1021;
    let expected: String = [CSET32[sum >> 5], CSET32[sum & 31]]
        .iter()
        .map(|&b| char::from(b))
        .collect();
    let found = &part[data_len..];
    if found == expected {
        Ok(())
    } else {
        Err(ParseError::new(
            ErrorKind::CheckCharacters {
                subject: subject(),
                found: found.to_owned(),
                expected,
            },
            data_len,
        ))
    }
}

/// The primes 2, 3, 5, 7… (values are at most 90 characters long, so trial division is cheap).
fn primes() -> impl Iterator<Item = usize> {
    (2usize..).filter(|&n| (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0))
}

/// `gcppos1` / `gcppos2`: a GS1 Company Prefix, at least four digits, starts at `skip`.
pub(crate) fn company_prefix(
    part: &str,
    skip: usize,
    subject: Subject<'_>,
) -> Result<(), ParseError> {
    const SHORTEST: usize = 4;
    if part.len() < skip + SHORTEST {
        return Err(invalid(
            subject,
            format!("{part} is too short to hold a GS1 Company Prefix"),
            0,
        ));
    }
    match part.as_bytes()[skip..skip + SHORTEST]
        .iter()
        .position(|b| !b.is_ascii_digit())
    {
        None => Ok(()),
        Some(i) => Err(invalid(
            subject,
            format!(
                "{:?} where the GS1 Company Prefix needs a digit",
                char_at(part, skip + i)
            ),
            skip + i,
        )),
    }
}

/// `yyyymmdd`: a date with a four-digit year.
pub(crate) fn full_date(part: &str, subject: Subject<'_>) -> Result<(), ParseError> {
    let number = |range: std::ops::Range<usize>| {
        part.get(range)
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    if !(1..=12).contains(&month) {
        return Err(ParseError::new(
            ErrorKind::Month {
                subject: subject(),
                month,
            },
            4,
        ));
    }
    // Four digits make at most 9999, which fits.
    let year = i32::try_from(year).unwrap_or(0);
    match NaiveDate::from_ymd_opt(year, month, day) {
        Some(_) => Ok(()),
        None => Err(ParseError::new(
            ErrorKind::Day {
                subject: subject(),
                day,
                year,
                month,
            },
            6,
        )),
    }
}

/// `iban`: ISO 13616. A country code, two check digits and the account (digits and capitals);
/// moving the first four characters to the end and reading letters as 10–35 gives a number
/// that leaves 1 when divided by 97.
pub(crate) fn iban(part: &str, subject: Subject<'_>) -> Result<(), ParseError> {
    let bytes = part.as_bytes();
    if bytes.len() < 5 {
        return Err(invalid(subject, format!("IBAN {part} is too short"), 0));
    }
    let country = &part[..2];
    if !codes::is_country_alpha2(country) {
        return Err(invalid(
            subject,
            format!("IBAN country {country} is not an ISO 3166 alpha-2 code"),
            0,
        ));
    }
    if let Some(i) = bytes[2..4].iter().position(|b| !b.is_ascii_digit()) {
        return Err(invalid(
            subject,
            format!("IBAN check digit {:?} is not a digit", char_at(part, 2 + i)),
            2 + i,
        ));
    }
    if let Some(i) = bytes[4..]
        .iter()
        .position(|b| !(b.is_ascii_digit() || b.is_ascii_uppercase()))
    {
        return Err(invalid(
            subject,
            format!(
                "IBAN character {:?} must be a digit or a capital letter",
                char_at(part, 4 + i)
            ),
            4 + i,
        ));
    }
    let remainder = bytes[4..].iter().chain(&bytes[..4]).fold(0u32, |r, &b| {
        if b.is_ascii_digit() {
            (r * 10 + u32::from(b - b'0')) % 97
        } else {
            (r * 100 + u32::from(b - b'A') + 10) % 97
        }
    });
    if remainder == 1 {
        Ok(())
    } else {
        Err(invalid(
            subject,
            format!("IBAN check digits {} do not match its account", &part[2..4]),
            2,
        ))
    }
}

/// `pcenc`: every `%` begins an escape of two hex digits.
pub(crate) fn percent_encoded(part: &str, subject: Subject<'_>) -> Result<(), ParseError> {
    let bytes = part.as_bytes();
    for (i, _) in part.match_indices('%') {
        let hex = |j: usize| bytes.get(j).is_some_and(u8::is_ascii_hexdigit);
        if !(hex(i + 1) && hex(i + 2)) {
            return Err(invalid(
                subject,
                "'%' must be followed by two hex digits".to_owned(),
                i,
            ));
        }
    }
    Ok(())
}

/// `posinseqslash`: `pos/end`, both without leading zeros, `pos` ≤ `end`.
pub(crate) fn position_in_sequence(part: &str, subject: Subject<'_>) -> Result<(), ParseError> {
    let malformed = || {
        invalid(
            subject,
            format!("{part} is not a position in a sequence (position/end, e.g. 1/2)"),
            0,
        )
    };
    let (position, end) = part.split_once('/').ok_or_else(malformed)?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(position) || !digits(end) {
        return Err(malformed());
    }
    if position.starts_with('0') {
        return Err(invalid(
            subject,
            format!("position {position} must not be 0 or start with 0"),
            0,
        ));
    }
    if end.starts_with('0') {
        return Err(invalid(
            subject,
            format!("end {end} must not be 0 or start with 0"),
            position.len() + 1,
        ));
    }
    // Without leading zeros, the longer number is the larger.
    if (position.len(), position) > (end.len(), end) {
        return Err(invalid(
            subject,
            format!("position {position} is after the end {end}"),
            0,
        ));
    }
    Ok(())
}

/// Reads the digit fields of a coupon code one after another.
struct Fields<'a, 's> {
    text: &'a str,
    at: usize,
    subject: Subject<'s>,
}

impl<'a> Fields<'a, '_> {
    fn error(&self, reason: String, at: usize) -> ParseError {
        invalid(self.subject, format!("coupon {reason}"), at)
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).map(|b| b - b'0')
    }

    /// One digit that must be among `allowed`.
    fn digit(&mut self, field: &str, allowed: &[u8]) -> Result<u8, ParseError> {
        let Some(d) = self.peek() else {
            return Err(self.error(format!("ends before its {field}"), self.at));
        };
        if !allowed.contains(&d) {
            let list: Vec<String> = allowed.iter().map(u8::to_string).collect();
            return Err(self.error(
                format!("{field} {d} must be one of {}", list.join(", ")),
                self.at,
            ));
        }
        self.at += 1;
        Ok(d)
    }

    fn take(&mut self, len: usize, field: &str) -> Result<&'a str, ParseError> {
        let rest = self.text.len() - self.at;
        if rest < len {
            return Err(self.error(format!("{field} needs {len} digits, {rest} left"), self.at));
        }
        let value = &self.text[self.at..self.at + len];
        self.at += len;
        Ok(value)
    }

    /// A length indicator among `allowed` and the field of that length plus `extra`.
    fn sized(&mut self, field: &str, allowed: &[u8], extra: usize) -> Result<&'a str, ParseError> {
        let vli = self.digit(&format!("{field} length indicator"), allowed)?;
        self.take(usize::from(vli) + extra, field)
    }

    /// A six-digit YYMMDD date.
    fn date(&mut self, field: &str) -> Result<NaiveDate, ParseError> {
        let at = self.at;
        let value = self.take(6, field)?;
        let subject = self.subject;
        date(value, &|| format!("{}: coupon {field}", subject()), false).map_err(|e| e.offset(at))
    }

    fn only_digits(&self) -> Result<(), ParseError> {
        match self.text.bytes().position(|b| !b.is_ascii_digit()) {
            None => Ok(()),
            Some(at) => Err(ParseError::new(
                ErrorKind::Character {
                    subject: (self.subject)(),
                    ch: char_at(self.text, at),
                    digit: true,
                },
                at,
            )),
        }
    }

    fn finish(&self) -> Result<(), ParseError> {
        if self.at == self.text.len() {
            Ok(())
        } else {
            Err(self.error(
                format!(
                    "has {} digits after its last field",
                    self.text.len() - self.at
                ),
                self.at,
            ))
        }
    }
}

const ZERO_TO_SIX: &[u8] = &[0, 1, 2, 3, 4, 5, 6];
const ONE_TO_FIVE: &[u8] = &[1, 2, 3, 4, 5];
const REQUIREMENT_CODES: &[u8] = &[0, 1, 2, 3, 4, 9];
const ANY_DIGIT: &[u8] = &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9];

/// `couponcode` (AI 8110, North American coupon code): company prefix, offer code, save value,
/// primary purchase requirement, then optional fields, each once and in the order of their
/// indicator digits 1, 2, 3, 4, 5, 6, 9.
pub(crate) fn coupon_code(part: &str, subject: Subject<'_>) -> Result<(), ParseError> {
    let mut f = Fields {
        text: part,
        at: 0,
        subject,
    };
    f.only_digits()?;
    f.sized("company prefix", ZERO_TO_SIX, 6)?;
    f.take(6, "offer code")?;
    f.sized("save value", ONE_TO_FIVE, 0)?;
    f.sized("purchase requirement", ONE_TO_FIVE, 0)?;
    f.digit("purchase requirement code", REQUIREMENT_CODES)?;
    f.take(3, "purchase family code")?;
    let second_company_prefix = |f: &mut Fields<'_, '_>, field: &str| {
        let vli = f.digit(
            &format!("{field} length indicator"),
            &[0, 1, 2, 3, 4, 5, 6, 9],
        )?;
        // 9 means the primary company prefix applies.
        if vli != 9 {
            f.take(usize::from(vli) + 6, field)?;
        }
        Ok::<(), ParseError>(())
    };
    if f.peek() == Some(1) {
        f.at += 1;
        f.digit("additional purchase rules code", &[0, 1, 2, 3])?;
        f.sized("second purchase requirement", ONE_TO_FIVE, 0)?;
        f.digit("second purchase requirement code", REQUIREMENT_CODES)?;
        f.take(3, "second purchase family code")?;
        second_company_prefix(&mut f, "second purchase company prefix")?;
    }
    if f.peek() == Some(2) {
        f.at += 1;
        f.sized("third purchase requirement", ONE_TO_FIVE, 0)?;
        f.digit("third purchase requirement code", REQUIREMENT_CODES)?;
        f.take(3, "third purchase family code")?;
        second_company_prefix(&mut f, "third purchase company prefix")?;
    }
    let mut expiry = None;
    if f.peek() == Some(3) {
        f.at += 1;
        expiry = Some(f.date("expiration date")?);
    }
    if f.peek() == Some(4) {
        f.at += 1;
        let at = f.at;
        let start = f.date("start date")?;
        if expiry.is_some_and(|expiry| expiry < start) {
            return Err(f.error("expiration date is before its start date".to_owned(), at));
        }
    }
    if f.peek() == Some(5) {
        f.at += 1;
        f.sized("serial number", ANY_DIGIT, 6)?;
    }
    if f.peek() == Some(6) {
        f.at += 1;
        f.sized("retailer company prefix or GLN", &[1, 2, 3, 4, 5, 6, 7], 6)?;
    }
    if f.peek() == Some(9) {
        f.at += 1;
        f.digit("save value code", &[0, 1, 2, 5, 6])?;
        f.digit("save value applies to item", &[0, 1, 2])?;
        f.digit("store coupon flag", ANY_DIGIT)?;
        f.digit("don't multiply flag", &[0, 1])?;
    }
    f.finish()
}

/// `couponposoffer` (AI 8112, positive offer file coupon): format code, funder, offer code and
/// serial number.
pub(crate) fn coupon_positive_offer(part: &str, subject: Subject<'_>) -> Result<(), ParseError> {
    let mut f = Fields {
        text: part,
        at: 0,
        subject,
    };
    f.only_digits()?;
    f.digit("format code", &[0, 1])?;
    f.sized("funder", ZERO_TO_SIX, 6)?;
    f.take(6, "offer code")?;
    f.sized("serial number", ANY_DIGIT, 6)?;
    f.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    type Check = fn(&str, Subject<'_>) -> Result<(), ParseError>;

    /// Runs `check` on `part` for "AI X".
    fn run(check: Check, part: &str) -> Result<(), ParseError> {
        check(part, &|| "AI X".to_owned())
    }

    /// The message `check` refuses `part` with; panics if it takes it.
    fn refusal(check: Check, part: &str) -> String {
        match run(check, part) {
            Ok(()) => panic!("{part:?} passed"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn check_pairs() {
        // The GS1 General Specifications' GMN example, and a few of our own.
        assert_eq!(run(check_pair, "1987654Ad4X4bL5ttr2310c2K"), Ok(()));
        assert_eq!(run(check_pair, "22"), Ok(()));
        assert_eq!(
            refusal(check_pair, "1987654Ad4X4bL5ttr2310cXK"),
            "AI X: check characters XK, expected 2K (position 23)"
        );
        assert_eq!(
            refusal(check_pair, "1987654Ad4X4bL5ttr2310c2I"),
            "AI X: check character 'I' must be a digit 2–9 or a capital letter other than I and O (position 24)"
        );
        assert_eq!(
            refusal(check_pair, "2"),
            "AI X: 2 is too short to end in two check characters (position 0)"
        );
    }

    #[test]
    fn ibans() {
        assert_eq!(run(iban, "GB82WEST12345698765432"), Ok(()));
        assert_eq!(run(iban, "DE89370400440532013000"), Ok(()));
        assert_eq!(
            refusal(iban, "GB83WEST12345698765432"),
            "AI X: IBAN check digits 83 do not match its account (position 2)"
        );
        assert_eq!(
            refusal(iban, "QQ82WEST12345698765432"),
            "AI X: IBAN country QQ is not an ISO 3166 alpha-2 code (position 0)"
        );
        assert_eq!(
            refusal(iban, "GB82west12345698765432"),
            "AI X: IBAN character 'w' must be a digit or a capital letter (position 4)"
        );
        assert_eq!(
            refusal(iban, "GB8"),
            "AI X: IBAN GB8 is too short (position 0)"
        );
    }

    #[test]
    fn positions_in_sequence() {
        for ok in ["1/1", "1/3", "9/10", "10/10", "99/100"] {
            assert_eq!(run(position_in_sequence, ok), Ok(()), "{ok}");
        }
        for (bad, at) in [
            ("2/1", 0),
            ("0/1", 0),
            ("1/0", 2),
            ("1/", 0),
            ("1//", 0),
            ("x/1", 0),
        ] {
            let error = refusal(position_in_sequence, bad);
            assert!(
                error.ends_with(&format!("(position {at})")),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn coupons() {
        assert_eq!(run(coupon_code, "012345612345611110123"), Ok(()));
        // With an expiration date (3), a start date (4) and a serial number (5).
        assert_eq!(
            run(coupon_code, "0123456123456111101233261231426010150123456"),
            Ok(())
        );
        assert_eq!(run(coupon_code, "0123456123456111101234260101"), Ok(()));
        assert_eq!(
            refusal(coupon_code, "012345612345611110123326010142612319"),
            "AI X: coupon expiration date is before its start date (position 29)"
        );
        assert_eq!(
            refusal(coupon_code, "712345678901231"),
            "AI X: coupon company prefix length indicator 7 must be one of 0, 1, 2, 3, 4, 5, 6 (position 0)"
        );
        assert_eq!(
            refusal(coupon_code, "0123456123"),
            "AI X: coupon offer code needs 6 digits, 3 left (position 7)"
        );
        assert_eq!(
            refusal(coupon_code, "0123456123456111101237"),
            "AI X: coupon has 1 digits after its last field (position 21)"
        );
        assert_eq!(
            refusal(coupon_code, "01234561234561111012331313"),
            "AI X: coupon expiration date needs 6 digits, 4 left (position 22)"
        );
        assert_eq!(run(coupon_positive_offer, "001234561234560123456"), Ok(()));
        assert_eq!(
            refusal(coupon_positive_offer, "201234561234560123456"),
            "AI X: coupon format code 2 must be one of 0, 1 (position 0)"
        );
        assert_eq!(
            refusal(coupon_positive_offer, "0012345612345601234567"),
            "AI X: coupon has 1 digits after its last field (position 21)"
        );
        assert_eq!(
            refusal(coupon_positive_offer, "00123456123456012345a"),
            "AI X: character 'a' is not a digit (position 20)"
        );
    }

    #[test]
    fn full_dates_and_percent_encoding() {
        assert_eq!(run(full_date, "20240229"), Ok(()));
        assert_eq!(
            refusal(full_date, "20230229"),
            "AI X: day 29 is not a day of 2023-02 (position 6)"
        );
        assert_eq!(
            refusal(full_date, "20231301"),
            "AI X: month 13 is not a month (position 4)"
        );
        assert_eq!(run(percent_encoded, "M%C3%BCller"), Ok(()));
        assert_eq!(
            refusal(percent_encoded, "100%"),
            "AI X: '%' must be followed by two hex digits (position 3)"
        );
        assert_eq!(
            refusal(company_prefix_at_1, "0A123"),
            "AI X: 'A' where the GS1 Company Prefix needs a digit (position 1)"
        );
    }

    fn company_prefix_at_1(part: &str, subject: Subject<'_>) -> Result<(), ParseError> {
        company_prefix(part, 1, subject)
    }
}
