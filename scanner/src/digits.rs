//! GS1's primitives below the AI table: a character at a byte offset, the mod-10 check digit,
//! and YYMMDD dates. The table's validation ([`crate::ai`]), its linters ([`crate::lint`]) and
//! the keys ([`crate::keys`]) all stand on them.

use chrono::NaiveDate;

use crate::error::{ErrorKind, ParseError};

/// The character at byte `at` of `s` (or the character containing that byte).
pub(crate) fn char_at(s: &str, mut at: usize) -> char {
    while at > 0 && !s.is_char_boundary(at) {
        at -= 1;
    }
    s.get(at..)
        .and_then(|rest| rest.chars().next())
        .unwrap_or('\u{fffd}')
}

/// GS1 mod-10 check digit of `digits` (the payload, without the check digit): weights 3, 1, 3…
/// from the right. Characters that are not ASCII digits are skipped.
pub fn check_digit(digits: &str) -> u8 {
    // Keys are all digits: two at a time from the right, the right one weighing 3, with a
    // note of anything that is not a digit, which the general sum below skips.
    let mut pairs = digits.as_bytes().rchunks_exact(2);
    let (mut threes, mut ones, mut stranger) = (0u32, 0u32, false);
    for pair in &mut pairs {
        let (left, right) = (pair[0].wrapping_sub(b'0'), pair[1].wrapping_sub(b'0'));
        stranger |= left > 9 || right > 9;
        threes += u32::from(right);
        ones += u32::from(left);
    }
    if let [first] = pairs.remainder() {
        let digit = first.wrapping_sub(b'0');
        stranger |= digit > 9;
        threes += u32::from(digit);
    }
    let sum = if stranger {
        digits
            .bytes()
            .filter(u8::is_ascii_digit)
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum()
    } else {
        3 * threes + ones
    };
    // `sum % 10` is below 10, so the result fits.
    ((10 - sum % 10) % 10) as u8
}

/// Checks the last digit of `digits` (all ASCII digits) as a GS1 check digit.
pub(crate) fn verify_check_digit(digits: &str, what: &'static str) -> Result<(), ParseError> {
    let Some((payload, last)) = digits.len().checked_sub(1).map(|n| digits.split_at(n)) else {
        return Ok(());
    };
    let found = last.as_bytes().first().map_or(0, |b| b.wrapping_sub(b'0'));
    let expected = check_digit(payload);
    if found == expected {
        Ok(())
    } else {
        Err(ParseError::new(
            ErrorKind::CheckDigit {
                what,
                found,
                expected,
            },
            payload.len(),
        ))
    }
}

/// A GS1 YYMMDD date. The crate reads no clock, so GS1's sliding century window cannot be
/// applied; YY below 51 is 20YY, otherwise 19YY. DD = 00 (where allowed) is the month's last day.
pub(crate) fn date(
    value: &str,
    subject: &dyn Fn() -> String,
    zero_day: bool,
) -> Result<NaiveDate, ParseError> {
    let number = |at: usize| {
        value
            .get(at..at + 2)
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (yy, month, day) = (number(0), number(2), number(4));
    // `yy` is two digits, so the conversion cannot fail.
    let year = i32::try_from(if yy < 51 { 2000 + yy } else { 1900 + yy }).unwrap_or(2000);
    if !(1..=12).contains(&month) {
        return Err(ParseError::new(
            ErrorKind::Month {
                subject: subject(),
                month,
            },
            2,
        ));
    }
    let found = if day == 0 && zero_day {
        last_day(year, month)
    } else {
        NaiveDate::from_ymd_opt(year, month, day)
    };
    found.ok_or_else(|| {
        ParseError::new(
            ErrorKind::Day {
                subject: subject(),
                day,
                year,
                month,
            },
            4,
        )
    })
}

fn last_day(year: i32, month: u32) -> Option<NaiveDate> {
    (28..=31)
        .rev()
        .find_map(|day| NaiveDate::from_ymd_opt(year, month, day))
}
