//! rxing's `HybridBinarizer`, computed faster: the same black matrix, bit for bit.
//!
//! rxing thresholds each 8×8 block of pixels against the mean of the 5×5 blocks' black points
//! around it, setting the black pixels one at a time (an index computation, a bounds check
//! and a branch per pixel). That was about a third of the instructions of decoding a crop.
//! Here the block statistics are gathered a row of blocks at a time, and each pixel row is
//! compared against a row of thresholds and packed into the matrix's 64-bit words directly.
//! The 1D readers' rows come from rxing's own `GlobalHistogramBinarizer`, as in rxing's
//! hybrid binarizer. A test holds the two binarizers to identical matrices.

use std::borrow::Cow;
use std::cell::OnceCell;

use rxing::common::{BitArray, BitMatrix, GlobalHistogramBinarizer, LineOrientation, Result};
use rxing::{Binarizer, LuminanceSource};

/// Block side in pixels.
const BLOCK: usize = 8;
/// Images smaller than this in either direction are binarized with the global histogram.
const MINIMUM_DIMENSION: usize = BLOCK * 5;
/// A block whose grey levels span no more than this is taken as flat (all light or all dark).
const MIN_DYNAMIC_RANGE: u8 = 24;
/// Bits per word of a `BitMatrix` row.
const WORD: usize = usize::BITS as usize;

/// A drop-in replacement for `rxing::common::HybridBinarizer`.
pub(super) struct FastHybridBinarizer<LS: LuminanceSource> {
    ghb: GlobalHistogramBinarizer<LS>,
    matrix: OnceCell<BitMatrix>,
}

impl<LS: LuminanceSource> FastHybridBinarizer<LS> {
    pub(super) fn new(source: LS) -> Self {
        FastHybridBinarizer {
            ghb: GlobalHistogramBinarizer::new(source),
            matrix: OnceCell::new(),
        }
    }

    fn calculate(&self) -> Result<BitMatrix> {
        let source = self.ghb.get_luminance_source();
        let (width, height) = (source.get_width(), source.get_height());
        if width < MINIMUM_DIMENSION || height < MINIMUM_DIMENSION {
            return self.ghb.get_black_matrix().cloned();
        }
        let rows: Vec<Cow<'_, [u8]>> = (0..height)
            .map(|y| source.get_row(y).unwrap_or_default())
            .collect();
        if rows.iter().any(|r| r.len() != width) {
            return Err(rxing::Exceptions::INDEX_OUT_OF_BOUNDS);
        }
        let (sub_width, sub_height) = (width.div_ceil(BLOCK), height.div_ceil(BLOCK));
        let black_points = black_points(&rows, width, sub_width, sub_height);

        let row_words = width.div_ceil(WORD);
        let mut words = vec![0usize; row_words * height];
        let mut thresholds = vec![0u8; width];
        let max_x = width - BLOCK;
        let max_y = height - BLOCK;
        for by in 0..sub_height {
            let top = by.clamp(2, sub_height - 3);
            // The threshold of every pixel column in this row of blocks. The last block is
            // shifted left to end at the image's edge and overlaps its neighbour; rxing sets a
            // pixel black if either block's threshold makes it so, which is the higher one.
            for bx in 0..sub_width {
                let left = bx.clamp(2, sub_width - 3);
                let mut sum = 0;
                for row in black_points[(top - 2) * sub_width..(top + 3) * sub_width]
                    .chunks_exact(sub_width)
                {
                    sum += row[left - 2..=left + 2].iter().sum::<u32>();
                }
                // At most 255: the mean of black points, which are grey levels.
                let threshold = u8::try_from(sum / 25).unwrap_or(u8::MAX);
                let x0 = (bx * BLOCK).min(max_x);
                for (x, t) in (x0..).zip(&mut thresholds[x0..x0 + BLOCK]) {
                    *t = if x < bx * BLOCK {
                        (*t).max(threshold)
                    } else {
                        threshold
                    };
                }
            }
            let y0 = (by * BLOCK).min(max_y);
            for y in y0..y0 + BLOCK {
                // Rows of the last block row may already hold the previous one's blacks.
                pack_row(
                    &rows[y],
                    &thresholds,
                    &mut words[y * row_words..(y + 1) * row_words],
                );
            }
        }
        let mut matrix = BitMatrix::new(width as u32, height as u32)?;
        let mut row = BitArray::with_size(width);
        for (y, line) in words.chunks_exact(row_words).enumerate() {
            for (k, &w) in line.iter().enumerate() {
                row.setBulk(k * WORD, w);
            }
            matrix.setRow(y as u32, &row);
        }
        Ok(matrix)
    }
}

/// ORs the pixels of `luma` at or below their `thresholds` into `words` (bit x of the row is
/// bit x % 64 of word x / 64, as in rxing's `BitMatrix`). The comparisons run over whole
/// words' worth of pixels, which the compiler turns into vector instructions; each eight of
/// them are then packed into a byte with one multiplication.
fn pack_row(luma: &[u8], thresholds: &[u8], words: &mut [usize]) {
    let mut flags = [0u8; WORD];
    for ((word, luma), thresholds) in words
        .iter_mut()
        .zip(luma.chunks(WORD))
        .zip(thresholds.chunks(WORD))
    {
        flags.fill(0);
        for ((flag, &p), &t) in flags.iter_mut().zip(luma).zip(thresholds) {
            *flag = u8::from(p <= t);
        }
        let mut bits = 0usize;
        for (k, eight) in flags.chunks_exact(8).enumerate() {
            bits |= pack8(eight) << (8 * k);
        }
        *word |= bits;
    }
}

/// Eight flags (bytes of 0 or 1) as the low eight bits of a word, the first flag lowest. The
/// product puts flag i at bit 56 + i: it adds flag i × 2^(8i + 7k) for k = 1..8, and no two of
/// those 64 terms fall on the same bit, so nothing carries.
fn pack8(eight: &[u8]) -> usize {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(eight);
    let flags = u64::from_le_bytes(bytes);
    (flags.wrapping_mul(0x0102_0408_1020_4080) >> 56) as usize
}

/// The black point of each 8×8 block, as rxing's `HybridBinarizer::calculateBlackPoints`: the
/// mean grey level, or for a flat block half its darkest level, raised to its neighbours'
/// black point where that is above its darkest level. (rxing stops tracking the extremes once
/// they differ by more than [`MIN_DYNAMIC_RANGE`], which changes nothing: the block is not
/// flat either way.) Each row of blocks is summed down its eight pixel rows first, column by
/// column (vector instructions again), then across each block's eight columns.
fn black_points(
    rows: &[Cow<'_, [u8]>],
    width: usize,
    sub_width: usize,
    sub_height: usize,
) -> Vec<u32> {
    let max_x = width - BLOCK;
    let max_y = rows.len() - BLOCK;
    let mut points = vec![0u32; sub_width * sub_height];
    let mut sums = vec![0u16; width];
    let mut mins = vec![0u8; width];
    let mut maxs = vec![0u8; width];
    for by in 0..sub_height {
        let y0 = (by * BLOCK).min(max_y);
        sums.fill(0);
        mins.fill(u8::MAX);
        maxs.fill(u8::MIN);
        for row in &rows[y0..y0 + BLOCK] {
            for (((&p, sum), min), max) in row.iter().zip(&mut sums).zip(&mut mins).zip(&mut maxs) {
                *sum += u16::from(p);
                *min = (*min).min(p);
                *max = (*max).max(p);
            }
        }
        for bx in 0..sub_width {
            let x0 = (bx * BLOCK).min(max_x);
            let columns = x0..x0 + BLOCK;
            let sum: u32 = sums[columns.clone()].iter().map(|&s| u32::from(s)).sum();
            let min = mins[columns.clone()].iter().fold(u8::MAX, |m, &p| m.min(p));
            let max = maxs[columns].iter().fold(u8::MIN, |m, &p| m.max(p));
            let mut average = sum >> 6;
            if max - min <= MIN_DYNAMIC_RANGE {
                average = u32::from(min) / 2;
                if by > 0 && bx > 0 {
                    let above = (by - 1) * sub_width + bx;
                    let neighbours =
                        (points[above] + 2 * points[by * sub_width + bx - 1] + points[above - 1])
                            / 4;
                    if u32::from(min) < neighbours {
                        average = neighbours;
                    }
                }
            }
            points[by * sub_width + bx] = average;
        }
    }
    points
}

impl<LS: LuminanceSource> Binarizer for FastHybridBinarizer<LS> {
    type Source = LS;

    fn get_luminance_source(&self) -> &LS {
        self.ghb.get_luminance_source()
    }

    fn get_black_row(&self, y: usize) -> Result<Cow<'_, BitArray>> {
        self.ghb.get_black_row(y)
    }

    fn get_black_row_from_matrix(&self, y: usize) -> Result<Cow<'_, BitArray>> {
        match self.matrix.get() {
            Some(matrix) => Ok(Cow::Owned(matrix.getRow(y as u32))),
            None => self.get_black_row(y),
        }
    }

    fn get_black_matrix(&self) -> Result<&BitMatrix> {
        if let Some(matrix) = self.matrix.get() {
            return Ok(matrix);
        }
        let matrix = self.calculate()?;
        Ok(self.matrix.get_or_init(|| matrix))
    }

    fn get_black_line(&self, l: usize, lt: LineOrientation) -> Result<Cow<'_, BitArray>> {
        self.ghb.get_black_line(l, lt)
    }

    fn create_binarizer(&self, source: LS) -> Self {
        FastHybridBinarizer::new(source)
    }

    fn get_width(&self) -> usize {
        self.ghb.get_width()
    }

    fn get_height(&self) -> usize {
        self.ghb.get_height()
    }
}

#[cfg(test)]
mod tests {
    use rxing::Luma8Source;
    use rxing::common::HybridBinarizer;

    use super::*;

    /// A deterministic image with flat areas, gradients, fine texture and hard edges, so that
    /// every branch of the black-point rules is taken.
    fn image(width: usize, height: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        (0..width * height)
            .map(|i| {
                let (x, y) = (i % width, i / width);
                let noise = (next() % 9) as i32 - 4;
                let base = match (x / 23 + y / 17) % 5 {
                    0 => 240,
                    1 => 12,
                    2 => ((x * 255) / width) as i32,
                    3 => {
                        if (x / 3 + y / 3) % 2 == 0 {
                            30
                        } else {
                            220
                        }
                    }
                    _ => (next() % 256) as i32,
                };
                (base + noise).clamp(0, 255) as u8
            })
            .collect()
    }

    /// Both binarizers' matrices, `None` where one refuses the image (rxing's global histogram
    /// does, for an image with too little range).
    fn both(width: usize, height: usize, luma: &[u8]) -> (Option<BitMatrix>, Option<BitMatrix>) {
        let source = || Luma8Source::new_with_slice(luma, width as u32, height as u32).unwrap();
        let rxing = HybridBinarizer::new(source())
            .get_black_matrix()
            .ok()
            .cloned();
        let fast = FastHybridBinarizer::new(source())
            .get_black_matrix()
            .ok()
            .cloned();
        (rxing, fast)
    }

    #[test]
    fn same_matrix_as_rxing_for_any_size() {
        // Multiples of 8 and not, of 64 and not, at and below the minimum dimension.
        for (n, &(width, height)) in [
            (40, 40),
            (41, 43),
            (64, 64),
            (65, 47),
            (127, 129),
            (128, 72),
            (200, 333),
            (39, 100),
            (100, 39),
            (8, 8),
            (1, 1),
        ]
        .iter()
        .enumerate()
        {
            let luma = image(width, height, n as u64);
            let (rxing, fast) = both(width, height, &luma);
            assert_eq!(rxing, fast, "{width}×{height}");
            // The block path is taken, and compared, at every size from the minimum up.
            if width >= MINIMUM_DIMENSION && height >= MINIMUM_DIMENSION {
                assert!(fast.is_some(), "{width}×{height}");
            }
        }
    }

    #[test]
    fn same_matrix_as_rxing_for_flat_and_extreme_images() {
        for level in [0u8, 1, 128, 254, 255] {
            let luma = vec![level; 96 * 80];
            let (rxing, fast) = both(96, 80, &luma);
            assert_eq!(rxing, fast, "flat {level}");
        }
        // Flat blocks next to busy ones: the neighbour rule for flat blocks.
        let luma: Vec<u8> = (0..96 * 80)
            .map(|i| {
                if (i % 96) < 40 {
                    250
                } else {
                    (i * 37 % 256) as u8
                }
            })
            .collect();
        let (rxing, fast) = both(96, 80, &luma);
        assert_eq!(rxing, fast, "half flat");
    }

    #[test]
    fn same_matrix_as_rxing_for_crops() {
        let (width, height) = (300, 200);
        let luma = image(width, height, 7);
        let source = Luma8Source::new_with_slice(&luma, width as u32, height as u32).unwrap();
        let crop = source.crop(13, 21, 171, 99).unwrap();
        let rxing = HybridBinarizer::new(crop.clone())
            .get_black_matrix()
            .unwrap()
            .clone();
        let fast = FastHybridBinarizer::new(crop)
            .get_black_matrix()
            .unwrap()
            .clone();
        assert_eq!(rxing, fast);
    }

    #[test]
    fn pack8_packs_every_pattern() {
        for pattern in 0..=255usize {
            let flags: Vec<u8> = (0..8).map(|i| ((pattern >> i) & 1) as u8).collect();
            assert_eq!(pack8(&flags), pattern);
        }
    }

    #[test]
    fn same_matrix_as_rxing_for_the_camera_frames() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/labels/frames");
        for name in ["datamatrix-0", "datamatrix-1", "datamatrix-2", "empty-0"] {
            let luma = image::open(format!("{dir}/{name}.png")).unwrap().to_luma8();
            let (width, height) = luma.dimensions();
            let (rxing, fast) = both(width as usize, height as usize, luma.as_raw());
            assert!(fast.is_some(), "{name}");
            assert_eq!(rxing, fast, "{name}");
        }
    }
}
