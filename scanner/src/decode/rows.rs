//! The 1D readers' row scan: rxing's (`OneDReader::_do_decode`, and the turned pass of
//! `MultiFormatOneDReader` with TryHarder), with three changes that real photographs asked for.
//!
//! - Each row is binarized two ways. rxing reads a row thresholded by the histogram of that
//!   row alone (its `GlobalHistogramBinarizer`, with a little sharpening), which holds up on
//!   blur but not on light that changes along the row: glare on one half of a code, a shadow
//!   across it, a label darker at its edge than in its middle. The hybrid binarizer's matrix,
//!   which the 2D readers use anyway, thresholds each pixel against its neighbourhood. The
//!   row's own threshold is read first, then the matrix's row where it differs (UPC/EAN only,
//!   and in a live scan on its middle rows only); on the photographs each reads EAN/UPC codes
//!   the other misses.
//! - UPC/EAN is tried from every start guard of a row, not only the first: rxing gives up on
//!   a row at the first guard-like bar, space, bar with a quiet zone before it that does not
//!   begin a code (printed text, a label's edge beside the code). After the first, a guard
//!   needs the quiet zone the symbology asks for, or text offers guard after guard.
//! - An EAN/UPC code must read on two rows ([`scan`]).

use rxing::common::{BitArray, Result};
use rxing::oned::{
    Code128Reader, EAN8Reader, EAN13Reader, ITFReader, OneDReader, UPCAReader, UPCEANReader,
    pattern_match_variance,
};
use rxing::{BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Exceptions, RXingResult, point};

use super::Format;

/// How many of a live scan's rows (from the middle out) are also read as the hybrid matrix
/// has them; TryHarder's scan reads all of them so. Light that changes along a code changes
/// along all its rows, and the middle five cost a third of the fifteen: on the photographs
/// they read what all fifteen did.
const LOCAL_ROWS: usize = 5;

/// UPC/EAN's start and end guard: bar, space, bar of one module each.
const GUARD: [u32; 3] = [1, 1, 1];
/// How far a guard's bars and space may stray from one module, as rxing's UPC/EAN reader
/// allows: each (as a fraction of a module) and on average.
const GUARD_BAR_VARIANCE: f32 = 0.7;
const GUARD_VARIANCE: f32 = 0.48;

/// rxing's 1D readers for the formats asked for, tried on a row in turn: UPC/EAN, Code 128,
/// ITF.
pub(super) struct Linear {
    ean_13: bool,
    upc_a: bool,
    ean_8: bool,
    code_128: bool,
    itf: Option<ITFReader>,
}

impl Linear {
    /// `None` when no 1D format is asked for.
    pub(super) fn new(formats: &[Format]) -> Option<Linear> {
        let has = |format| formats.contains(&format);
        let linear = Linear {
            ean_13: has(Format::Ean13),
            upc_a: has(Format::UpcA),
            ean_8: has(Format::Ean8),
            code_128: has(Format::Code128),
            itf: has(Format::Itf).then(ITFReader::default),
        };
        (linear.ean_13 || linear.upc_a || linear.ean_8 || linear.code_128 || linear.itf.is_some())
            .then_some(linear)
    }

    /// The first code read along `row`, left to right: UPC/EAN only unless `all`.
    fn decode_row(
        &mut self,
        y: u32,
        row: &BitArray,
        hints: &DecodeHints,
        all: bool,
    ) -> Option<RXingResult> {
        if (self.ean_13 || self.upc_a || self.ean_8)
            && let Some(found) = self.upc_ean(y, row, hints)
        {
            return Some(found);
        }
        if !all {
            return None;
        }
        if self.code_128
            && let Ok(found) = Code128Reader.decode_row(y, row, hints)
        {
            return Some(found);
        }
        self.itf.as_mut()?.decode_row(y, row, hints).ok()
    }

    /// UPC/EAN read from each start guard along `row` with a quiet zone before it, until one
    /// reads: rxing's first (a quiet zone as wide as the guard), then each bar, space, bar
    /// after a quiet zone of 9 modules (UPC-A's; EAN-13's is 11), or text beside a code
    /// offers guard after guard. The later ones are found from the row's white runs, which
    /// costs a fraction of rxing's search pixel by pixel.
    fn upc_ean(&self, y: u32, row: &BitArray, hints: &DecodeHints) -> Option<RXingResult> {
        let first = EAN13Reader.find_start_guard_pattern(row).ok()?;
        if let Some(found) = self.upc_ean_at(y, row, &first, hints) {
            return Some(found);
        }
        let size = row.get_size();
        let mut white = row.getNextUnset(first[1]);
        while white < size {
            let bar = row.getNextSet(white);
            let space = row.getNextUnset(bar);
            // A guard is at least 3 pixels wide, its quiet zone at least 9.
            if bar - white >= 9 {
                let second = row.getNextSet(space);
                let end = row.getNextUnset(second);
                if end >= size {
                    return None;
                }
                let runs = [space - bar, second - space, end - second].map(|run| run as u32);
                if 3 * (end - bar) <= bar - white
                    && pattern_match_variance(&runs, &GUARD, GUARD_BAR_VARIANCE) < GUARD_VARIANCE
                    && let Some(found) = self.upc_ean_at(y, row, &[bar, end], hints)
                {
                    return Some(found);
                }
            }
            white = space;
        }
        None
    }

    /// UPC/EAN read from the start guard at `guard`, as rxing's `MultiFormatUPCEANReader`
    /// does: EAN-13 reads UPC-A too (a UPC-A is the EAN-13 with a leading 0), and is
    /// reported as UPC-A when that was asked for.
    fn upc_ean_at(
        &self,
        y: u32,
        row: &BitArray,
        guard: &[usize; 2],
        hints: &DecodeHints,
    ) -> Option<RXingResult> {
        if self.ean_13 {
            if let Ok(found) = EAN13Reader.decodeRowWithGuardRange(y, row, guard, hints) {
                return Some(match found.getText().strip_prefix('0') {
                    Some(upc_a) if self.upc_a => {
                        let mut as_upc_a = RXingResult::new(
                            upc_a,
                            found.getRawBytes().to_vec(),
                            found.getPoints().to_vec(),
                            BarcodeFormat::UPC_A,
                        );
                        as_upc_a.putAllMetadata(found.getRXingResultMetadata().clone());
                        as_upc_a
                    }
                    _ => found,
                });
            }
        } else if self.upc_a
            && let Ok(found) = UPCAReader::default().decodeRowWithGuardRange(y, row, guard, hints)
        {
            return Some(found);
        }
        if self.ean_8 {
            return EAN8Reader
                .decodeRowWithGuardRange(y, row, guard, hints)
                .ok();
        }
        None
    }
}

/// The first code `reader` reads along the rows of `image`, from the middle out: 15 rows
/// 1/32 of the height apart, or with TryHarder every row and then every column (the image
/// turned a quarter), as rxing scans them. Positions are in `image`'s pixels.
pub(super) fn decode<B: Binarizer>(
    reader: &mut Linear,
    image: &mut BinaryBitmap<B>,
    hints: &DecodeHints,
    ean_upc_twice: bool,
) -> Result<RXingResult> {
    if let Ok(found) = scan(reader, image, hints, ean_upc_twice) {
        return Ok(found);
    }
    if hints.TryHarder != Some(true) || !image.is_rotate_supported() {
        return Err(Exceptions::NOT_FOUND);
    }
    let mut turned = image.rotate_counter_clockwise();
    let mut found = scan(reader, &mut turned, hints, ean_upc_twice)?;
    // Back from the turned image (a quarter turn anticlockwise): its pixel (x, y) is the
    // image's (width - 1 - y, x), and its height is the image's width.
    let width = turned.get_height();
    for p in found.getPointsMut() {
        (p.x, p.y) = (width as f32 - p.y - 1.0, p.x);
    }
    Ok(found)
}

/// The rows of one orientation. With `ean_upc_twice`, an EAN/UPC code, whose single check
/// digit a row across print, texture or a damaged code satisfies now and then with the wrong
/// digits (a photo read 854818097116 for 854818000116), counts only once a second row reads
/// the same: the rows one and two pixels beside the one that read it first (where the scan's
/// rows are further apart), or any later row of the scan. Other codes count on their first
/// row.
fn scan<B: Binarizer>(
    reader: &mut Linear,
    image: &mut BinaryBitmap<B>,
    hints: &DecodeHints,
    ean_upc_twice: bool,
) -> Result<RXingResult> {
    let height = image.get_height();
    let try_harder = hints.TryHarder == Some(true);
    let step = (height >> if try_harder { 8 } else { 5 }).max(1);
    let lines = if try_harder { height } else { 15 };
    let middle = height / 2;
    // EAN/UPC codes read on one row so far.
    let mut once: Vec<RXingResult> = Vec::new();
    for k in 0..lines {
        // The middle, then one step above, one below, two above…
        let offset = step * k.div_ceil(2);
        let y = if k % 2 == 0 {
            middle + offset
        } else {
            match middle.checked_sub(offset) {
                Some(y) => y,
                None => break,
            }
        };
        if y >= height {
            break;
        }
        let local = step == 1 || k < LOCAL_ROWS;
        let Some(found) = read_line(reader, image, y, hints, local) else {
            continue;
        };
        if !ean_upc_twice || !is_upc_ean(*found.getBarcodeFormat()) {
            return Ok(found);
        }
        let same = |other: &RXingResult| {
            other.getBarcodeFormat() == found.getBarcodeFormat()
                && other.getText() == found.getText()
        };
        if let Some(first) = once.iter().position(same) {
            return Ok(once.swap_remove(first));
        }
        let beside: &[isize] = match step {
            1 => &[],
            2 => &[-1, 1],
            _ => &[-1, 1, -2, 2],
        };
        for d in beside {
            let Some(row) = y.checked_add_signed(*d).filter(|&row| row < height) else {
                continue;
            };
            if read_line(reader, image, row, hints, local).is_some_and(|other| same(&other)) {
                return Ok(found);
            }
        }
        once.push(found);
    }
    Err(Exceptions::NOT_FOUND)
}

/// Row `y` read as binarized by its own histogram, then, with `local`, as the matrix has it if
/// that differs.
/// The matrix's row is read for UPC/EAN only: on the photographs it read no Code 128 that the
/// row's own threshold missed, and Code 128's reader costs twice UPC/EAN's.
fn read_line<B: Binarizer>(
    reader: &mut Linear,
    image: &BinaryBitmap<B>,
    y: usize,
    hints: &DecodeHints,
    local: bool,
) -> Option<RXingResult> {
    let own = image.get_black_row(y).ok()?.into_owned();
    if let Some(found) = read_row(reader, y, own.clone(), hints, true) {
        return Some(found);
    }
    if !local {
        return None;
    }
    let local = image.get_black_matrix().getRow(u32::try_from(y).ok()?);
    if local == own {
        return None;
    }
    read_row(reader, y, local, hints, false)
}

fn is_upc_ean(format: BarcodeFormat) -> bool {
    matches!(
        format,
        BarcodeFormat::EAN_13 | BarcodeFormat::UPC_A | BarcodeFormat::EAN_8 | BarcodeFormat::UPC_E
    )
}

/// `row` read left to right, then right to left (a code upside down), with the readers of
/// [`Linear::decode_row`].
fn read_row(
    reader: &mut Linear,
    y: usize,
    mut row: BitArray,
    hints: &DecodeHints,
    all: bool,
) -> Option<RXingResult> {
    let width = row.get_size();
    let y = u32::try_from(y).ok()?;
    if let Some(found) = reader.decode_row(y, &row, hints, all) {
        return Some(found);
    }
    row.reverse();
    let mut found = reader.decode_row(y, &row, hints, all)?;
    for p in found.getPointsMut() {
        *p = point(width as f32 - p.x - 1.0, p.y);
    }
    Some(found)
}
