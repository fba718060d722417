//! Serial-line scanners (USB CDC "virtual COM port", Bluetooth SPP): bytes in, whole scans out.
//!
//! A scanner in serial mode sends each scan as a line: the data, then CR, LF or CR LF. Some are
//! configured to add a prefix or suffix (STX/ETX, a fixed tag), some send a UTF-8 BOM, and
//! Bluetooth modules may pad their packets with NUL bytes. The bytes arrive in reads of any
//! size: one read may hold half a scan, or three scans and the start of a fourth.
//! [`Lines`] puts the scans back together. **Invariant:** how the stream is cut into reads
//! never changes the result; every terminated, non-blank line is one scan, in order, and no
//! two scans are ever merged or dropped. A property test checks this against arbitrary
//! chunkings.
//!
//! Rules, in the order they apply:
//! - CR, LF and CR LF each end a line (a CR LF split across two reads is still one
//!   terminator). Blank lines are not scans.
//! - NUL is never scanner data: NUL bytes are dropped wherever they occur, so padding between
//!   or inside packets does no harm.
//! - A line longer than [`LineConfig::max_len`] bytes (a scanner sending no terminator, or line
//!   noise) gives one [`LineError::TooLong`] and is discarded up to its terminator; the lines
//!   around it are unaffected.
//! - A UTF-8 BOM at the start of a line is removed, then the configured prefix and suffix
//!   when present.
//! - The bytes are read as UTF-8; a byte that is not becomes U+FFFD, which the parser then
//!   reports with its position, so the scan is still seen.
//!
//! Pure like the rest of the crate. The `port` half, behind the `serial` feature, opens a port
//! and feeds it: it is, with [`crate::decode_image_file`] and the camera, one of the crate's
//! documented exceptions to "no I/O".
//!
//! ```
//! use custodian_scanner::serial::{LineConfig, Lines};
//!
//! let mut lines = Lines::new(LineConfig::default());
//! assert!(lines.push(b"]d201095060001343").is_empty());
//! let scans: Vec<_> = lines.push(b"52\r\n\0\0(01)09506000134352\r").into_iter().flatten().collect();
//! assert_eq!(scans, ["]d20109506000134352", "(01)09506000134352"]);
//! ```

#[cfg(feature = "serial")]
mod port;

#[cfg(feature = "serial")]
pub use port::{SerialError, SerialScanner};

const CR: u8 = b'\r';
const LF: u8 = b'\n';
const NUL: u8 = 0;
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a serial scanner frames its scans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineConfig {
    /// Removed from the start of a scan when present: a prefix the scanner was configured to
    /// send (STX `"\u{2}"`, a station tag). Empty for none.
    pub prefix: String,
    /// Removed from the end of a scan when present (ETX `"\u{3}"`). Empty for none.
    pub suffix: String,
    /// The longest line accepted, in bytes (NUL bytes not counted). GS1 symbols hold at most
    /// about 3,000 characters, so the default of 8,192 only trips on a stream without
    /// terminators.
    pub max_len: usize,
}

impl Default for LineConfig {
    fn default() -> Self {
        LineConfig {
            prefix: String::new(),
            suffix: String::new(),
            max_len: 8192,
        }
    }
}

/// Why a line was not a scan.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LineError {
    /// More than `max_len` bytes arrived without CR or LF. The line was discarded up to its
    /// terminator; the next line is read normally.
    #[error(
        "a line longer than {max_len} bytes arrived without CR or LF (it began {start:?}) and was discarded: set the scanner to end each scan with CR or LF"
    )]
    TooLong {
        /// The limit, [`LineConfig::max_len`].
        max_len: usize,
        /// The first characters of the discarded line, to recognise it.
        start: String,
    },
}

/// The line assembler: feed it the bytes of each read with [`Lines::push`].
#[derive(Clone, Debug)]
pub struct Lines {
    config: LineConfig,
    /// The unterminated line so far (NUL bytes already dropped).
    line: Vec<u8>,
    /// The last byte was a CR: an LF right after it belongs to the same terminator.
    after_cr: bool,
    /// The current line passed `max_len`; its error has been reported and its bytes are
    /// skipped up to the next terminator.
    overlong: bool,
}

impl Lines {
    /// An assembler with nothing held.
    pub fn new(config: LineConfig) -> Lines {
        Lines {
            config,
            line: Vec::new(),
            after_cr: false,
            overlong: false,
        }
    }

    /// Takes the bytes of one read and returns the scans (and errors) completed by it, in
    /// order. An unterminated rest is held for the next call.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<Result<String, LineError>> {
        let mut out = Vec::new();
        for &byte in bytes {
            if std::mem::take(&mut self.after_cr) && byte == LF {
                continue;
            }
            match byte {
                CR => {
                    self.end_line(&mut out);
                    self.after_cr = true;
                }
                LF => self.end_line(&mut out),
                NUL => {}
                _ if self.overlong => {}
                _ if self.line.len() >= self.config.max_len => {
                    self.overlong = true;
                    out.push(Err(LineError::TooLong {
                        max_len: self.config.max_len,
                        start: preview(&self.line),
                    }));
                    self.line.clear();
                }
                _ => self.line.push(byte),
            }
        }
        out
    }

    /// How many bytes of an unterminated line are held.
    pub fn pending(&self) -> usize {
        if self.overlong { 0 } else { self.line.len() }
    }

    /// Ends the stream: returns the unterminated rest as text (stripped like a scan), if it is
    /// not blank, and forgets it. Whether it is a scan is the caller's call: a serial scanner
    /// always terminates its scans, so a rest usually means the transmission was cut.
    pub fn finish(&mut self) -> Option<String> {
        let line = std::mem::take(&mut self.line);
        let overlong = std::mem::take(&mut self.overlong);
        self.after_cr = false;
        if overlong {
            return None;
        }
        self.text(&line)
    }

    fn end_line(&mut self, out: &mut Vec<Result<String, LineError>>) {
        let line = std::mem::take(&mut self.line);
        if std::mem::take(&mut self.overlong) {
            return;
        }
        if let Some(text) = self.text(&line) {
            out.push(Ok(text));
        }
    }

    /// The scan in a line: BOM, prefix and suffix removed; `None` when nothing is left.
    fn text(&self, line: &[u8]) -> Option<String> {
        let mut data = line.strip_prefix(BOM).unwrap_or(line);
        data = data
            .strip_prefix(self.config.prefix.as_bytes())
            .unwrap_or(data);
        data = data
            .strip_suffix(self.config.suffix.as_bytes())
            .unwrap_or(data);
        let text = String::from_utf8_lossy(data);
        if text.trim().is_empty() {
            None
        } else {
            Some(text.into_owned())
        }
    }
}

/// The first characters of a line, for an error message.
fn preview(line: &[u8]) -> String {
    String::from_utf8_lossy(&line[..line.len().min(24)]).into_owned()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use proptest::prelude::*;

    use super::*;

    /// Feeds `chunks` one read at a time; scans as text, errors as `!too long`, then the
    /// unterminated rest as `…rest`.
    fn run(config: LineConfig, chunks: &[&[u8]]) -> Vec<String> {
        let mut lines = Lines::new(config);
        let mut out: Vec<String> = chunks
            .iter()
            .flat_map(|chunk| lines.push(chunk))
            .map(|r| match r {
                Ok(scan) => scan,
                Err(LineError::TooLong { .. }) => "!too long".to_owned(),
            })
            .collect();
        out.extend(lines.finish().map(|rest| format!("…{rest}")));
        out
    }

    fn check(chunks: &[&[u8]], expect: &[&str]) {
        assert_eq!(run(LineConfig::default(), chunks), expect, "{chunks:?}");
    }

    #[test]
    fn terminators() {
        check(&[b"A1\rB2\nC3\r\nD4"], &["A1", "B2", "C3", "…D4"]);
        check(&[b"A1\r", b"\nB2\r\n"], &["A1", "B2"]);
        check(&[b"A1\n\rB2\n"], &["A1", "B2"]);
        check(&[b"A1\r\rB2\n\nC3\r\n\r\n"], &["A1", "B2", "C3"]);
        check(&[b"\r\n", b"   \r\n", b"\t\n"], &[]);
        check(&[b"", b"A", b"", b"1", b"\r"], &["A1"]);
    }

    #[test]
    fn partial_lines_wait_for_their_end() {
        let mut lines = Lines::new(LineConfig::default());
        assert!(lines.push(b"0109506000").is_empty());
        assert_eq!(lines.pending(), 10);
        assert_eq!(lines.push(b"134352\r"), [Ok("0109506000134352".to_owned())]);
        assert_eq!(lines.pending(), 0);
        assert_eq!(lines.finish(), None);
    }

    #[test]
    fn bom_and_nul_padding() {
        check(
            &[b"\xEF\xBB\xBFA1\r\n\xEF\xBB", b"\xBFB2\r\n"],
            &["A1", "B2"],
        );
        check(&[b"A1\r\n\0\0\0\0", b"\0B\x002\0\r\0\n\0"], &["A1", "B2"]);
        check(&[b"\0\0\0\r\n\0"], &[]);
        // A BOM inside a line is data, not an encoding mark.
        check(&[b"A\xEF\xBB\xBF1\n"], &["A\u{feff}1"]);
    }

    #[test]
    fn prefix_and_suffix_are_stripped_when_present() {
        let config = LineConfig {
            prefix: "\u{2}".into(),
            suffix: "\u{3}".into(),
            ..LineConfig::default()
        };
        assert_eq!(
            run(
                config,
                &[b"\x02A1\x03\r\n\x02B2\r\nC3\x03\r\nD4\r\n\x02\x03\r\n"]
            ),
            ["A1", "B2", "C3", "D4"]
        );
        let config = LineConfig {
            prefix: "SCN:".into(),
            ..LineConfig::default()
        };
        assert_eq!(
            run(config, &[b"SCN:A1\nSC", b"N:B2\n\xEF\xBB\xBFSCN:C3\n"]),
            ["A1", "B2", "C3"]
        );
    }

    #[test]
    fn invalid_utf8_is_kept_visible() {
        check(&[b"A\xFF1\n"], &["A\u{fffd}1"]);
    }

    #[test]
    fn overlong_lines_give_one_error_and_spare_their_neighbours() {
        let config = LineConfig {
            max_len: 4,
            ..LineConfig::default()
        };
        assert_eq!(
            run(config.clone(), &[b"ABCD\nABCDE", b"FGHIJ\r", b"\nWXYZ\r\n"]),
            ["ABCD", "!too long", "WXYZ"]
        );
        // NUL padding does not count toward the limit.
        assert_eq!(run(config.clone(), &[b"A\0B\0C\0D\0\n"]), ["ABCD"]);
        // An overlong rest is not returned by `finish`.
        assert_eq!(run(config, &[b"ABCDEFGHIJ"]), ["!too long"]);
        let error = Lines::new(LineConfig {
            max_len: 30,
            ..LineConfig::default()
        })
        .push(&[b'7'; 40])
        .remove(0)
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "a line longer than 30 bytes arrived without CR or LF (it began \"777777777777777777777777\") and was discarded: set the scanner to end each scan with CR or LF"
        );
    }

    /// Cuts `bytes` at the given points (taken modulo the length, sorted).
    fn chunks(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
        let mut cuts: Vec<usize> = cuts
            .iter()
            .map(|c| c % (bytes.len() + 1))
            .chain([0, bytes.len()])
            .collect();
        cuts.sort_unstable();
        cuts.windows(2)
            .map(|w| bytes[w[0]..w[1]].to_vec())
            .collect()
    }

    fn assemble(
        config: &LineConfig,
        chunks: &[Vec<u8>],
    ) -> (Vec<Result<String, LineError>>, Option<String>) {
        let mut lines = Lines::new(config.clone());
        let out = chunks.iter().flat_map(|c| lines.push(c)).collect();
        (out, lines.finish())
    }

    fn scan_text() -> impl Strategy<Value = String> {
        // What scanners send: printable ASCII, GS, a few non-ASCII letters; never CR, LF or
        // NUL, and never blank.
        "[ -~\u{1d}éü]{0,40}[!-~]".prop_map(|s| s.trim_start().to_owned())
    }

    fn terminator() -> impl Strategy<Value = &'static [u8]> {
        prop_oneof![Just(&b"\r"[..]), Just(&b"\n"[..]), Just(&b"\r\n"[..])]
    }

    proptest! {
        #![proptest_config(crate::seeded::seeded(256))]

        #[test]
        fn any_chunking_gives_the_same_result(
            bytes in proptest::collection::vec(
                prop_oneof![
                    4 => any::<u8>(),
                    1 => Just(CR), 1 => Just(LF), 1 => Just(NUL), 1 => Just(0xEF),
                ],
                0..300,
            ),
            cuts in proptest::collection::vec(any::<usize>(), 0..20),
            max_len in 1usize..64,
        ) {
            let config = LineConfig { prefix: "\u{2}".into(), suffix: "\u{3}".into(), max_len };
            let whole = assemble(&config, std::slice::from_ref(&bytes));
            let chunked = assemble(&config, &chunks(&bytes, &cuts));
            prop_assert_eq!(whole, chunked);
        }

        #[test]
        fn every_scan_comes_out_once_in_order(
            scans in proptest::collection::vec(
                (scan_text(), terminator(), any::<bool>(), any::<bool>(), 0usize..3),
                0..20,
            ),
            cuts in proptest::collection::vec(any::<usize>(), 0..30),
            blank_lines in any::<bool>(),
        ) {
            let config = LineConfig { prefix: "\u{2}".into(), ..LineConfig::default() };
            let mut bytes = Vec::new();
            for (text, end, bom, prefixed, nuls) in &scans {
                if *bom {
                    bytes.extend_from_slice(BOM);
                }
                if *prefixed {
                    bytes.push(2);
                }
                // NUL padding inside the scan as well as around it.
                let mid = text.len() / 2;
                let mid = (0..=mid).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
                bytes.extend_from_slice(&text.as_bytes()[..mid]);
                bytes.extend(std::iter::repeat_n(NUL, *nuls));
                bytes.extend_from_slice(&text.as_bytes()[mid..]);
                bytes.extend_from_slice(end);
                bytes.extend(std::iter::repeat_n(NUL, *nuls));
                if blank_lines {
                    bytes.extend_from_slice(b"\r\n");
                }
            }
            let (out, rest) = assemble(&config, &chunks(&bytes, &cuts));
            let out: Vec<String> = out.into_iter().map(Result::unwrap).collect();
            let expected: Vec<String> = scans.iter().map(|s| s.0.clone()).collect();
            prop_assert_eq!(out, expected);
            prop_assert_eq!(rest, None);
        }
    }
}
