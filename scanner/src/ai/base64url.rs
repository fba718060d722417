//! Base64url for AI 8030 (the digital signature): decoding, and checking that a value decodes,
//! without allocating on the hot path.

use super::*;

/// The base64url engine for AI 8030: URL-safe alphabet, padding optional.
pub(super) const BASE64URL: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Decodes base64url (AI 8030's signature).
pub(crate) fn decode_base64url(
    value: &str,
    subject: &dyn Fn() -> String,
) -> Result<Vec<u8>, ParseError> {
    if let Some(len) = base64url_decoded_len(value.len()) {
        let mut out = vec![0; len];
        if decode_base64url_into(value.as_bytes(), &mut out) {
            return Ok(out);
        }
    }
    // What the fast path leaves (anything it does not accept) is decoded, or refused with the
    // reason and the place, by the engine.
    BASE64URL.decode(value).map_err(|e| {
        let (reason, at) = match e {
            base64::DecodeError::InvalidByte(at, _) => ("'=' is only allowed at the end", at),
            base64::DecodeError::InvalidLength(_) => ("impossible length", value.len()),
            base64::DecodeError::InvalidLastSymbol(at, _) => ("last character has extra bits", at),
            base64::DecodeError::InvalidPadding => ("wrong padding", value.len()),
        };
        ParseError::new(
            ErrorKind::Base64 {
                subject: subject(),
                reason,
            },
            at,
        )
    })
}

/// The value of each base64url character, or `NOT_BASE64` for a byte outside the alphabet.
const BASE64URL_VALUES: [u8; 256] = {
    let mut values = [NOT_BASE64; 256];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut i = 0;
    while i < alphabet.len() {
        values[alphabet[i] as usize] = i as u8;
        i += 1;
    }
    values
};
const NOT_BASE64: u8 = 0xff;

/// For each place in a group of four base64url characters, each character's six bits where
/// they go in the group's 24, or [`NOT_PLACED`] for a byte outside the alphabet.
static BASE64URL_PLACED: [[u32; 256]; 4] = {
    let mut placed = [[NOT_PLACED; 256]; 4];
    let mut place = 0;
    while place < 4 {
        let mut b = 0;
        while b < 256 {
            let v = BASE64URL_VALUES[b];
            if v != NOT_BASE64 {
                placed[place][b] = (v as u32) << (18 - 6 * place);
            }
            b += 1;
        }
        place += 1;
    }
    placed
};
/// A bit above the 24 of a group.
const NOT_PLACED: u32 = 1 << 31;

/// How many bytes unpadded base64url of `len` characters decodes to; `None` for a length no
/// base64 has.
pub(super) fn base64url_decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        1 => None,
        rest => Some(len / 4 * 3 + rest.saturating_sub(1)),
    }
}

/// Decodes base64url without padding into `out`, which holds exactly
/// [`base64url_decoded_len`] bytes, and returns true; false (with `out` in any state) for
/// anything else, and for padding, which the engine decides (it takes padding of any length
/// at the end). A signature is decoded on every signed scan, and the engine's general path
/// cost a tenth of parsing one.
pub(super) fn decode_base64url_into(value: &[u8], out: &mut [u8]) -> bool {
    if base64url_decoded_len(value.len()) != Some(out.len()) {
        return false;
    }
    // Eight characters (48 bits, six bytes) at a time, each character's bits looked up where
    // they go in its group of four; then four; then the tail.
    let quad = |chunk: &[u8]| {
        let [a, b, c, d] = [0, 1, 2, 3].map(|i| usize::from(chunk[i]));
        BASE64URL_PLACED[0][a]
            | BASE64URL_PLACED[1][b]
            | BASE64URL_PLACED[2][c]
            | BASE64URL_PLACED[3][d]
    };
    let mut eights = value.chunks_exact(8);
    let mut sixes = out.chunks_exact_mut(6);
    let mut bad_quads = 0;
    for (chunk, six) in (&mut eights).zip(&mut sixes) {
        let (high, low) = (quad(&chunk[..4]), quad(&chunk[4..]));
        bad_quads |= high | low;
        let n = u64::from(high) << 24 | u64::from(low);
        six.copy_from_slice(&n.to_be_bytes()[2..]);
    }
    let rest = eights.remainder();
    let done = value.len() - rest.len();
    let out = &mut out[done / 4 * 3..];
    let chunks = rest.chunks_exact(4);
    let tail = chunks.remainder();
    for (chunk, three) in chunks.zip(out.chunks_exact_mut(3)) {
        let n = quad(chunk);
        bad_quads |= n;
        three.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    let mut bad = u8::from(bad_quads & NOT_PLACED != 0) << 7;
    let v = |i: usize| BASE64URL_VALUES[usize::from(tail[i])];
    let last = out.len() - tail.len().saturating_sub(1);
    match tail.len() {
        2 => {
            let (a, b) = (v(0), v(1));
            // The last character's bits past the data must be zero.
            bad |= a | b | u8::from(b & 0x0f != 0) << 7;
            out[last] = a << 2 | b >> 4;
        }
        3 => {
            let (a, b, c) = (v(0), v(1), v(2));
            bad |= a | b | c | u8::from(c & 0x03 != 0) << 7;
            out[last] = a << 2 | b >> 4;
            out[last + 1] = (b & 0x0f) << 4 | c >> 2;
        }
        _ => {}
    }
    bad & 0xc0 == 0
}

/// Decodes AI 8030's base64url into a [`Signature`], as [`decode_base64url`] decodes it;
/// `None` where that refuses the text, or for more bytes than a signature holds (AI 8030's
/// longest value decodes to fewer; a test checks it).
pub(crate) fn decode_signature(value: &[u8]) -> Option<Signature> {
    if let Some(len) = base64url_decoded_len(value.len()).filter(|&n| n <= Signature::CAPACITY) {
        let mut signature = Signature::empty();
        if decode_base64url_into(value, signature.buffer(len)) {
            return Some(signature);
        }
    }
    // As in `is_base64url`: what the fast path refuses without padding, the engine refuses.
    if value.last() == Some(&b'=') {
        let bytes = BASE64URL.decode(value).ok()?;
        let mut signature = Signature::empty();
        if bytes.len() <= Signature::CAPACITY {
            signature.buffer(bytes.len()).copy_from_slice(&bytes);
            return Some(signature);
        }
    }
    None
}

/// True if `value` decodes as base64url, as [`decode_base64url`] decodes it, keeping no bytes.
pub(crate) fn is_base64url(value: &[u8]) -> bool {
    // Without padding, the fast path refuses exactly what the engine refuses (tests hold them
    // together), so its refusal needs no second opinion: the search for a missing separator
    // asks this of many cut-short signatures.
    let decodes = match base64url_decoded_len(value.len()) {
        // Up to AI 8030's longest value (90 characters) on the stack.
        Some(len) if len <= 68 => decode_base64url_into(value, &mut [0; 68][..len]),
        Some(len) => decode_base64url_into(value, &mut vec![0; len]),
        None => false,
    };
    decodes || (value.last() == Some(&b'=') && BASE64URL.decode(value).is_ok())
}

/// Checks that base64url decodes, with [`decode_base64url`]'s error if it does not.
pub(crate) fn check_base64url(value: &str, subject: &dyn Fn() -> String) -> Result<(), ParseError> {
    if is_base64url(value.as_bytes()) {
        Ok(())
    } else {
        decode_base64url(value, subject).map(drop)
    }
}

/// AI 8030's signature, decoded, held in place: AI 8030's base64url (at most 90 characters)
/// decodes to at most [`Signature::CAPACITY`] bytes, so a signed scan allocates nothing for it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Signature {
    len: u8,
    /// The bytes, then zeros.
    bytes: [u8; Signature::CAPACITY],
}

impl Signature {
    /// The most bytes a signature holds: AI 8030's longest value, 90 characters, decodes to 67.
    pub(crate) const CAPACITY: usize = 67;

    pub(crate) fn empty() -> Signature {
        Signature {
            len: 0,
            bytes: [0; Signature::CAPACITY],
        }
    }

    /// The first `len` bytes (at most [`Signature::CAPACITY`]), to be written: the signature's
    /// bytes from now on.
    pub(crate) fn buffer(&mut self, len: usize) -> &mut [u8] {
        let len = len.min(Signature::CAPACITY);
        // `len` is at most 67, so the cast is exact.
        self.len = len as u8;
        &mut self.bytes[..len]
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_bytes().fmt(f)
    }
}
