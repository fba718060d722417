//! The locate pass: where in a frame could a code be? Sharp edge transitions counted along
//! sparse scan lines, in tiles; dense tiles grown into regions; each region straightened,
//! turned or banded before rxing reads it (see the module above for why).

use super::*;

/// Tile side in pixels.
pub(super) const TILE: usize = 16;
/// Scan lines run along every `LINE_STEP`-th row and column, starting at `LINE_STEP / 2`.
pub(super) const LINE_STEP: usize = 4;
/// A transition is a run of grey-level differences, between pixels two apart, of one sign and
/// at least this much: well above the sensor noise of a bright frame, below the contrast of a
/// faded print. In a noisy frame the bar is raised to [`NOISE_FACTOR`] times the noise.
pub(super) const EDGE: i16 = 20;
/// How far above the noise of the differences a transition must be (in standard deviations).
pub(super) const NOISE_FACTOR: f32 = 3.5;
/// The highest threshold however noisy the frame.
pub(super) const EDGE_MAX: i16 = 64;
/// Transitions a line along the gradient must cross before a region is turned: the 1D codes
/// read here have at least 20 bars (EAN-8: 22 bars and spaces' edges are 44).
pub(super) const MIN_BARS: usize = 20;
/// Samples per frame pixel along the rows of a turned 1D region, and its height in pixels.
pub(super) const UPRIGHT_SCALE: f32 = 2.0;
pub(super) const UPRIGHT_BAND: usize = 160;
/// Height in pixels of the bands of a region looked at on their own for bars, and how far
/// (in degrees) from upright their bars may lean: a band holds the length of a code that
/// leans further only in part.
pub(super) const BAND: usize = 48;
pub(super) const BAND_MAX_ANGLE: f32 = 30.0;
/// How many codes one region can yield: after each, what is left of the region is decoded
/// again.
pub(super) const MAX_CODES_PER_REGION: usize = 4;
/// Margin around a region, in pixels: quiet zones, and the finder edges of a 2D code, whose
/// solid bars have few transitions of their own.
pub(super) const MARGIN: usize = 2 * TILE;

/// Transition counts per tile along horizontal and vertical scan lines.
pub(super) struct EdgeMap {
    pub(super) cols: usize,
    pub(super) rows: usize,
    pub(super) across: Vec<u16>,
    pub(super) down: Vec<u16>,
}

/// The transition threshold for this frame: [`EDGE`], or more in a noisy frame. The noise is
/// the median absolute difference between pixels two apart along every sixteenth row, which
/// sensor noise dominates: edges are a small minority of pixels in any frame.
pub(super) fn edge_threshold(image: &Image<'_>) -> i16 {
    let mut histogram = [0u32; 256];
    let mut count = 0u32;
    for y in (TILE / 2..image.height).step_by(TILE) {
        let row = &image.luma[y * image.width..(y + 1) * image.width];
        for pair in row.windows(3).step_by(2) {
            histogram[usize::from(pair[2].abs_diff(pair[0]))] += 1;
            count += 1;
        }
    }
    let mut seen = 0;
    let quartile = histogram
        .iter()
        .position(|&n| {
            seen += n;
            seen * 4 >= count
        })
        .unwrap_or(0);
    // For Gaussian noise a quarter of the absolute differences lie below 0.3186 standard
    // deviations. The lower quartile rather than the median, because a code that fills the
    // frame makes many differences large, but the pixels within its modules still show the
    // noise alone. Capped: a code fainter than that in such noise is beyond rxing anyway.
    let sigma = (quartile as f32 + 0.5) / 0.3186;
    EDGE.max((NOISE_FACTOR * sigma).round() as i16)
        .min(EDGE_MAX)
}

impl EdgeMap {
    /// Counts transitions on the frame sampled every `step` pixels (1: full resolution; 2:
    /// every other pixel, for codes with large modules), in tiles of `TILE` samples.
    ///
    /// A transition is where the sign of the difference between samples two apart (+1, 0 or
    /// -1 against the threshold) becomes non-zero or flips. Whether there is one at a sample
    /// depends only on that sample's sign and the one before, so each line is worked out whole
    /// over arrays, which the compiler turns into vector instructions: the signs, the
    /// transitions, then their sum per tile. The columns are gathered from the rows first, and
    /// walked together, a row of them at a time.
    pub(super) fn scan(image: &Image<'_>, step: usize, edge: i16) -> EdgeMap {
        let (width, height) = (image.width / step, image.height / step);
        let (cols, rows) = (width.div_ceil(TILE), height.div_ceil(TILE));
        let mut across = vec![0u16; cols * rows];
        let mut down = vec![0u16; cols * rows];
        // The sign of b - a against the threshold, in bytes: b - a ≥ edge exactly when b - a,
        // saturating at 0, is, and likewise a - b. (The threshold is at most `EDGE_MAX`.)
        let edge = u8::try_from(edge).unwrap_or(u8::MAX);
        let sign = |a: u8, b: u8| {
            i8::from(b.saturating_sub(a) >= edge) - i8::from(a.saturating_sub(b) >= edge)
        };
        let luma = &image.luma[..];
        // Sample row y: frame row y * step, whose pixels 0, step, 2 step… are its samples.
        let line = |y: usize| &luma[y * step * image.width..(y * step + 1) * image.width];

        // Rows: the transition between samples x and x + 2 counts in the tile of x + 1.
        let mut samples = Vec::with_capacity(width);
        let mut signs = Vec::with_capacity(width);
        let mut flags = vec![0u8; width];
        for y in (LINE_STEP / 2..height).step_by(LINE_STEP) {
            samples.clear();
            let pixels = line(y);
            if step == 1 {
                samples.extend_from_slice(pixels);
            } else {
                samples.extend(pixels.chunks_exact(step).map(|p| p[0]));
            }
            if width < 3 {
                continue;
            }
            signs.clear();
            signs.extend(samples.iter().zip(&samples[2..]).map(|(&a, &b)| sign(a, b)));
            // flags[x + 1]: a transition at x (the line starts at sign 0).
            flags[1] = u8::from(signs[0] != 0);
            for ((flag, &s), &before) in flags[2..].iter_mut().zip(&signs[1..]).zip(&signs) {
                *flag = u8::from(s != 0) & u8::from(s != before);
            }
            let tiles = &mut across[(y / TILE) * cols..(y / TILE + 1) * cols];
            for (tile, flags) in tiles.iter_mut().zip(flags[..width - 1].chunks(TILE)) {
                *tile += flags.iter().map(|&f| u16::from(f)).sum::<u16>();
            }
        }

        // Columns x = 2, 6, 10…: the transition between samples y - 2 and y counts in the tile
        // of y - 1. Every pixel of the frame rows is worked, which costs less than picking the
        // columns' pixels out one by one, and only the columns' counts are kept: column x is
        // frame pixel x * step, in tile x / TILE.
        // A tile row has at most 16 sample rows, so its counts fit in bytes.
        let mut prev = vec![0i8; image.width];
        let mut counts = vec![0u8; image.width];
        let flush = |tile_row: usize, counts: &mut [u8], down: &mut [u16]| {
            let tiles = &mut down[tile_row * cols..(tile_row + 1) * cols];
            for x in (LINE_STEP / 2..width).step_by(LINE_STEP) {
                tiles[x / TILE] += u16::from(counts[x * step]);
            }
            counts.fill(0);
        };
        for y in 2..height {
            let (above, row) = (line(y - 2), line(y));
            for (((count, prev), &a), &b) in counts.iter_mut().zip(&mut prev).zip(above).zip(row) {
                let s = sign(a, b);
                *count += u8::from(s != 0) & u8::from(s != *prev);
                *prev = s;
            }
            // The tile row of y - 1 ends with this sample row, or the frame does.
            if y % TILE == 0 || y + 1 == height {
                flush((y - 1) / TILE, &mut counts, &mut down);
            }
        }
        EdgeMap {
            cols,
            rows,
            across,
            down,
        }
    }

    /// The scan as first written, sample by sample: the reference the vector-friendly one is
    /// tested against.
    #[cfg(test)]
    pub(super) fn scan_reference(image: &Image<'_>, step: usize, edge: i16) -> EdgeMap {
        let (width, height) = (image.width / step, image.height / step);
        let (cols, rows) = (width.div_ceil(TILE), height.div_ceil(TILE));
        let mut across = vec![0u16; cols * rows];
        let mut down = vec![0u16; cols * rows];
        let sign = |d: i16| i8::from(d >= edge) - i8::from(d <= -edge);
        let luma = &image.luma[..];
        for y in (LINE_STEP / 2..height).step_by(LINE_STEP) {
            let start = y * step * image.width;
            let row = &luma[start..start + image.width];
            let tiles = &mut across[(y / TILE) * cols..(y / TILE + 1) * cols];
            let mut prev = 0;
            for x in 0..width.saturating_sub(2) {
                let s = sign(i16::from(row[(x + 2) * step]) - i16::from(row[x * step]));
                if s != 0 && s != prev {
                    tiles[(x + 1) / TILE] += 1;
                }
                prev = s;
            }
        }
        let columns: Vec<usize> = (LINE_STEP / 2..width).step_by(LINE_STEP).collect();
        let mut prev = vec![0i8; columns.len()];
        for y in 2..height {
            let above = &luma[(y - 2) * step * image.width..][..image.width];
            let row = &luma[y * step * image.width..][..image.width];
            let tiles = &mut down[((y - 1) / TILE) * cols..((y - 1) / TILE + 1) * cols];
            for (&x, prev) in columns.iter().zip(prev.iter_mut()) {
                let s = sign(i16::from(row[x * step]) - i16::from(above[x * step]));
                if s != 0 && s != *prev {
                    tiles[x / TILE] += 1;
                }
                *prev = s;
            }
        }
        EdgeMap {
            cols,
            rows,
            across,
            down,
        }
    }

    /// A tile with the transitions of a code: dense in both directions (2D codes, and 1D codes
    /// at an angle), or very dense in one (1D codes about upright). A straight edge crosses
    /// each of a tile's four scan lines per direction at most once.
    pub(super) fn busy(&self, i: usize) -> bool {
        let (a, d) = (self.across[i], self.down[i]);
        (a >= 3 && d >= 3 && a + d >= 8) || a.max(d) >= 6
    }
}

/// Where the codes could be: which tiles are busy, and the regions they form.
pub(super) fn locate(image: &Image<'_>) -> (TileMap, Vec<Region>) {
    let edge = edge_threshold(image);
    let fine = EdgeMap::scan(image, 1, edge);
    // Codes with modules of more than about 6 pixels have too few transitions per tile at full
    // resolution; at half resolution they look like the smaller ones.
    let coarse = EdgeMap::scan(image, 2, edge);
    let (cols, rows) = (fine.cols, fine.rows);
    let busy: Vec<bool> = (0..cols * rows)
        .map(|i| {
            let (tx, ty) = (i % cols / 2, i / cols / 2);
            fine.busy(i)
                || (tx < coarse.cols && ty < coarse.rows && coarse.busy(ty * coarse.cols + tx))
        })
        .collect();
    let map = TileMap {
        cols,
        rows,
        busy,
        width: image.width,
        height: image.height,
    };
    let regions = map.regions(|_| true);
    (map, regions)
}

/// The busy tiles of a frame.
pub(super) struct TileMap {
    pub(super) cols: usize,
    pub(super) rows: usize,
    pub(super) busy: Vec<bool>,
    /// The frame's size in pixels.
    pub(super) width: usize,
    pub(super) height: usize,
}

/// A region worth decoding: connected busy tiles (`tiles`, an inclusive box of tile
/// coordinates) and the frame pixels to decode for them (`rect`: the tiles with a margin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Region {
    pub(super) rect: Rect,
    pub(super) tiles: Rect,
}

impl TileMap {
    /// The regions of the busy tiles that `keep` accepts: connected groups of tiles, with a
    /// margin, merged where they overlap.
    pub(super) fn regions(&self, keep: impl Fn(usize) -> bool) -> Vec<Region> {
        let (cols, rows) = (self.cols, self.rows);
        let busy = |i: usize| self.busy[i] && keep(i);
        let mut seen = vec![false; cols * rows];
        let mut regions: Vec<Region> = Vec::new();
        let mut stack = Vec::new();
        for start in 0..cols * rows {
            if seen[start] || !busy(start) {
                continue;
            }
            seen[start] = true;
            stack.push(start);
            let (mut x0, mut y0, mut x1, mut y1) = (cols, rows, 0, 0);
            let mut tiles = 0;
            while let Some(i) = stack.pop() {
                tiles += 1;
                let (tx, ty) = (i % cols, i / cols);
                (x0, y0, x1, y1) = (x0.min(tx), y0.min(ty), x1.max(tx), y1.max(ty));
                for ny in ty.saturating_sub(1)..=(ty + 1).min(rows - 1) {
                    for nx in tx.saturating_sub(1)..=(tx + 1).min(cols - 1) {
                        let n = ny * cols + nx;
                        if !seen[n] && busy(n) {
                            seen[n] = true;
                            stack.push(n);
                        }
                    }
                }
            }
            // A lone tile is a speck: a code covers at least two tiles in each direction.
            if tiles < 3 || x1 == x0 || y1 == y0 {
                continue;
            }
            let left = (x0 * TILE).saturating_sub(MARGIN);
            let top = (y0 * TILE).saturating_sub(MARGIN);
            let right = ((x1 + 1) * TILE + MARGIN).min(self.width);
            let bottom = ((y1 + 1) * TILE + MARGIN).min(self.height);
            let mut region = Region {
                rect: Rect {
                    x: left,
                    y: top,
                    width: right - left,
                    height: bottom - top,
                },
                tiles: Rect {
                    x: x0,
                    y: y0,
                    width: x1 - x0 + 1,
                    height: y1 - y0 + 1,
                },
            };
            // Regions whose margins merely touch stay apart: rxing's DataMatrix detector
            // traces from the crop's borders inwards, and neighbouring clutter in the crop
            // blocks it (a label's text beside its code). Regions that overlap by a third of
            // the smaller one are pieces of one thing (a code whose busy tiles have gaps) and
            // become one.
            while let Some(k) = regions.iter().position(|r| {
                r.rect.intersection(&region.rect) * 3 >= r.rect.area().min(region.rect.area())
            }) {
                let other = regions.swap_remove(k);
                region = Region {
                    rect: region.rect.union(&other.rect),
                    tiles: region.tiles.union(&other.tiles),
                };
            }
            regions.push(region);
        }
        regions
    }

    /// What is left of `region` to decode once `codes` were found: its busy tiles that none
    /// of the codes covers, as regions of their own, except those whose crop would still hold
    /// the centre of one of the codes (tiles around it that stay connected, printed text about
    /// a code): rxing would most likely read that code again.
    pub(super) fn leftover(
        &self,
        image: &Image<'_>,
        region: &Region,
        codes: &[Decoded],
    ) -> Vec<Region> {
        let covered: Vec<Rect> = codes.iter().map(|code| code_box(image, code)).collect();
        let mut left = self.regions(|i| {
            let (tx, ty) = (i % self.cols, i / self.cols);
            let tile = Rect {
                x: tx * TILE,
                y: ty * TILE,
                width: TILE,
                height: TILE,
            };
            region.tiles.contains_cell(tx, ty) && !covered.iter().any(|c| c.intersection(&tile) > 0)
        });
        left.retain(|r| !covered.iter().any(|c| r.rect.contains(c.centre())));
        left
    }
}

/// The frame pixels a decoded code covers, roughly, with a margin for the tiles the pre-pass
/// marks busy about it (at half resolution a tile is 32 pixels). The points of a 2D code are
/// its corners or the centres of its finder patterns (a few modules in), so the box of the
/// points grows by a fifth of its size on each side. A 1D code read along a row reports the
/// two ends of that row, which say nothing of how tall its bars are: the bars are measured in
/// the frame ([`bars`]), and the box takes them in, with the quiet zones across and two tiles
/// above and below. A 1D code read at an angle gets bars of an eighth of its width either side
/// of the row.
pub(super) fn code_box(image: &Image<'_>, code: &Decoded) -> Rect {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, 0f32, 0f32);
    for p in &code.position {
        (x0, y0) = (x0.min(p.x), y0.min(p.y));
        (x1, y1) = (x1.max(p.x), y1.max(p.y));
    }
    if x0 > x1 || y0 > y1 {
        return Rect {
            x: 0,
            y: 0,
            width: 0,
            height: 0,
        };
    }
    let (grow_x, grow_y) = if code.format.is_1d() {
        if let Some(found) = bars(image, x0, x1, y0, y1) {
            // The points are the middles of the start and stop patterns, at most 6.5 modules
            // from the code's ends; then come 10 modules of quiet zone, and the tiles about it.
            let grow_x = 6.5 * found.module + 2.0 * TILE as f32;
            (y0, y1) = (found.top as f32, found.bottom as f32);
            (grow_x, 2.0 * TILE as f32)
        } else {
            (TILE as f32, (MARGIN as f32).max((x1 - x0) / 8.0))
        }
    } else {
        let grow = (TILE as f32).max((x1 - x0).max(y1 - y0) / 5.0);
        (grow, grow)
    };
    let (left, top) = ((x0 - grow_x).max(0.0), (y0 - grow_y).max(0.0));
    Rect {
        x: left as usize,
        y: top as usize,
        width: (x1 + grow_x - left).ceil() as usize,
        height: (y1 + grow_y - top).ceil() as usize,
    }
}

/// The bars of a 1D code that rxing read along a row: the first and last rows they reach, and
/// the module size (in pixels, roughly).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Bars {
    pub(super) top: usize,
    pub(super) bottom: usize,
    pub(super) module: f32,
}

/// Measures the bars of a 1D code read between (`x0`, `y0`) and (`x1`, `y1`), when that was
/// along a row: the read row, thresholded halfway between its darkest and lightest pixels,
/// is followed up and down while each row agrees with the one before on four pixels in five
/// (so a code a little off upright is followed along its bars) and keeps at least half the
/// read row's dark pixels (so fading bar ends stop it). `None` for a read at an angle, or a
/// row too short or too flat to measure.
pub(super) fn bars(image: &Image<'_>, x0: f32, x1: f32, y0: f32, y1: f32) -> Option<Bars> {
    if y1 - y0 > 1.0 || x0 < 0.0 || y0 < 0.0 {
        return None;
    }
    let (left, right) = (x0 as usize, (x1 as usize).min(image.width - 1));
    let row = (((y0 + y1) / 2.0) as usize).min(image.height - 1);
    if right < left + 16 {
        return None;
    }
    let line = |y: usize| &image.luma[y * image.width + left..=y * image.width + right];
    let read = line(row);
    let (lo, hi) = read
        .iter()
        .fold((u8::MAX, 0), |(lo, hi), &p| (lo.min(p), hi.max(p)));
    if hi - lo < 32 {
        return None;
    }
    let threshold = lo / 2 + hi / 2;
    let dark = |p: &u8| *p < threshold;
    let read_dark = read.iter().filter(|p| dark(p)).count();
    let runs = 1 + read
        .windows(2)
        .filter(|w| dark(&w[0]) != dark(&w[1]))
        .count();
    // Code 128 and EAN/UPC symbols average a little under two modules per bar or space.
    let module = (read.len() as f32 / runs as f32 / 1.8).max(1.0);
    let follow = |rows: &mut dyn Iterator<Item = usize>| {
        let mut last = row;
        let mut before = read;
        for y in rows {
            let here = line(y);
            let agree = here
                .iter()
                .zip(before)
                .filter(|(a, b)| dark(a) == dark(b))
                .count();
            let dark_here = here.iter().filter(|p| dark(p)).count();
            if agree * 5 < here.len() * 4 || dark_here * 2 < read_dark {
                break;
            }
            (last, before) = (y, here);
        }
        last
    };
    let top = follow(&mut (0..row).rev());
    let bottom = follow(&mut (row + 1..image.height));
    Some(Bars {
        top,
        bottom,
        module,
    })
}

/// Where nothing decoded in `region` but its gradients share one orientation (a 1D code at an
/// angle), the region turned so that the gradients run along rows, decoded with the 1D formats;
/// where they do not, the bands of it whose gradients do ([`banded`]).
pub(super) fn straightened(
    image: &Image<'_>,
    region: &Rect,
    options: &DecodeOptions,
) -> Vec<Decoded> {
    let formats: Vec<Format> = options
        .formats
        .iter()
        .copied()
        .filter(|f| f.is_1d())
        .collect();
    if formats.is_empty() {
        return Vec::new();
    }
    // A coherent region is only worth another look if a line through it along the gradient
    // crosses many bars: a box edge or a shelf line is coherent too, but crossed once or twice.
    let rows = tensor_rows(image, region);
    match orientation(Tensor::sum(&rows)).filter(|&a| crossings(image, region, a) >= MIN_BARS) {
        Some(estimate) => turned(image, region, estimate, options, &formats),
        None => banded(image, region, &rows, options, &formats),
    }
}

/// `region`, whose bars run at about `estimate` from upright, read with the 1D `formats`:
/// turned upright, or about upright on every row.
pub(super) fn turned(
    image: &Image<'_>,
    region: &Rect,
    estimate: f32,
    options: &DecodeOptions,
    formats: &[Format],
) -> Vec<Decoded> {
    // rxing's row scans read codes within a few degrees of upright, but a live decode reads
    // only 15 rows about the crop's middle: glare, a crease, a wrinkled wrapper or a finger
    // across those rows hides a code whose other rows read. So bars about upright are read
    // again on every row of the region (TryHarder's row scan). A thorough decode of a frame
    // that regions mostly cover read the whole frame instead, where an EAN/UPC hit must be
    // confirmed by rows beside it; in the region's own crop it need not be.
    let upright = |image: &Image<'_>| {
        let every_row = DecodeOptions {
            try_harder: true,
            ..options.clone()
        };
        let crop = image.crop(region);
        decode_buffer(&crop, region, formats, &every_row, Search::First, false)
    };
    if estimate.abs() < 4f32.to_radians() {
        return upright(image);
    }
    let angle = refine_angle(image, region, estimate);
    if angle.abs() < 6f32.to_radians() {
        return upright(image);
    }
    let (sin, cos) = angle.sin_cos();
    let (w, h) = (region.width as f32, region.height as f32);
    // Along the rows the turned image has two samples per pixel: bilinear resampling leaves a
    // grey pixel at each edge, and at one sample per pixel that is half a narrow module, more
    // than rxing's bar-width tolerance. Across, only a band about the centre: rxing's 1D scan
    // reads fifteen rows about the middle, and the region is centred on its code.
    let width = (UPRIGHT_SCALE * (w * cos.abs() + h * sin.abs())).ceil() as usize;
    let height = ((w * sin.abs() + h * cos.abs()).ceil() as usize).min(UPRIGHT_BAND);
    let (cx, cy) = (region.x as f32 + w / 2.0, region.y as f32 + h / 2.0);
    let (ncx, ncy) = (width as f32 / 2.0, height as f32 / 2.0);
    // Output pixel (u, v) shows frame point centre + R(angle) · ((u - ncx) / scale, v - ncy):
    // turning the frame by -angle brings the gradient onto the rows.
    let to_frame = |u: f32, v: f32| {
        let (du, dv) = ((u - ncx) / UPRIGHT_SCALE, v - ncy);
        (cx + cos * du - sin * dv, cy + sin * du + cos * dv)
    };
    let mut luma = Vec::with_capacity(width * height);
    for v in 0..height {
        for u in 0..width {
            let (fx, fy) = to_frame(u as f32 + 0.5, v as f32 + 0.5);
            luma.push(bilinear(image, fx - 0.5, fy - 0.5));
        }
    }
    let upright = Image {
        width,
        height,
        luma: std::borrow::Cow::Owned(luma),
    };
    let search = if options.multiple {
        Search::All
    } else {
        Search::First
    };
    decode_rxing(&upright, formats, options, search, false)
        .into_iter()
        .map(|mut d| {
            for p in &mut d.position {
                let (x, y) = to_frame(p.x, p.y);
                *p = Point { x, y };
            }
            d
        })
        .collect()
}

/// Bands of `region` whose gradients share one direction about upright, in a region whose
/// gradients as a whole do not (a code between lines of text on a label, a code in a photo
/// that the regions mostly cover), each read on every row. `rows` is the region's
/// [`tensor_rows`].
pub(super) fn banded(
    image: &Image<'_>,
    region: &Rect,
    rows: &[Tensor],
    options: &DecodeOptions,
    formats: &[Format],
) -> Vec<Decoded> {
    // In tensor rows (every other pixel row): bands of BAND pixel rows, half a band apart.
    let (band, step) = (BAND / 2, BAND / 4);
    // Text, shelf edges and wood grain make such bands too; each look costs about as much as
    // the region's decode, so only the band that crosses the most bars is looked at.
    (0..rows.len().saturating_sub(band) + 1)
        .step_by(step)
        .filter(|&first| first + band <= rows.len())
        .filter_map(|first| {
            let rect = Rect {
                x: region.x,
                y: region.y + 2 * first,
                width: region.width,
                height: BAND,
            };
            let angle = orientation(Tensor::sum(&rows[first..first + band]))?;
            if angle.abs() > BAND_MAX_ANGLE.to_radians() {
                return None;
            }
            let bars = crossings(image, &rect, angle);
            (bars >= MIN_BARS).then_some((bars, rect, angle))
        })
        .max_by_key(|&(bars, _, _)| bars)
        .map(|(_, rect, angle)| turned(image, &rect, angle, options, formats))
        .unwrap_or_default()
}

/// Sharpens an estimate of the gradient direction: rows of the turned image must cross the
/// bars square, or they drift off the bars' ends before reaching both quiet zones. The
/// structure tensor is a few degrees off on narrow modules, where pixel differences alias. So
/// for each candidate direction, parallel lines through the region's centre (spread across
/// the bars' length) are sampled every half pixel and averaged into one profile; the direction
/// whose profile has the sharpest steps wins: across the bars the lines agree, at an angle
/// they smear each other's edges. Coarse to fine: 1° steps over ±8°, then 0.25°.
pub(super) fn refine_angle(image: &Image<'_>, region: &Rect, estimate: f32) -> f32 {
    let (cx, cy) = (
        region.x as f32 + region.width as f32 / 2.0,
        region.y as f32 + region.height as f32 / 2.0,
    );
    let reach = region.width.max(region.height) as f32 / 2.0;
    let samples = (4.0 * reach) as usize;
    let mut profile = vec![0f32; samples];
    let mut sharpness = |angle: f32| {
        profile.fill(0.0);
        let (sin, cos) = angle.sin_cos();
        for offset in (-40..=40).step_by(10) {
            // A line along the gradient, `offset` pixels along the bars from the centre.
            let (ox, oy) = (cx - sin * offset as f32, cy + cos * offset as f32);
            for (i, p) in profile.iter_mut().enumerate() {
                let t = i as f32 / 2.0 - reach;
                *p += f32::from(bilinear(image, ox + cos * t, oy + sin * t));
            }
        }
        profile
            .windows(2)
            .map(|w| (w[1] - w[0]).powi(2))
            .sum::<f32>()
    };
    let mut best = (estimate, sharpness(estimate));
    for (step, span) in [(1f32, 8), (0.25, 4)] {
        let centre = best.0;
        for k in -span..=span {
            let angle = centre + (k as f32 * step).to_radians();
            let score = sharpness(angle);
            if score > best.1 {
                best = (angle, score);
            }
        }
    }
    best.0
}

/// Sharp transitions (as the pre-pass counts them, at the base threshold) along the line through
/// the centre of `region` in direction `angle`, sampled every pixel.
pub(super) fn crossings(image: &Image<'_>, region: &Rect, angle: f32) -> usize {
    let (cx, cy) = (
        region.x as f32 + region.width as f32 / 2.0,
        region.y as f32 + region.height as f32 / 2.0,
    );
    let reach = region.width.max(region.height) as i32 / 2;
    let (sin, cos) = angle.sin_cos();
    let samples: Vec<i16> = (-reach..=reach)
        .map(|t| i16::from(bilinear(image, cx + cos * t as f32, cy + sin * t as f32)))
        .collect();
    let mut prev = 0;
    let mut count = 0;
    for w in samples.windows(3) {
        let d = w[2] - w[0];
        let s = i8::from(d >= EDGE) - i8::from(d <= -EDGE);
        if s != 0 && s != prev {
            count += 1;
        }
        prev = s;
    }
    count
}

pub(super) fn bilinear(image: &Image<'_>, x: f32, y: f32) -> u8 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let (x0, y0) = (x0 as isize, y0 as isize);
    let p = |dx: isize, dy: isize| f32::from(image.at(x0 + dx, y0 + dy));
    let top = p(0, 0) * (1.0 - fx) + p(1, 0) * fx;
    let bottom = p(0, 1) * (1.0 - fx) + p(1, 1) * fx;
    (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
}

/// The sums of the structure tensor's products of gradients (x², y², xy) over some pixels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Tensor {
    pub(super) xx: i64,
    pub(super) yy: i64,
    pub(super) xy: i64,
}

impl Tensor {
    pub(super) fn sum(rows: &[Tensor]) -> Tensor {
        rows.iter().fold(Tensor::default(), |a, b| Tensor {
            xx: a.xx + b.xx,
            yy: a.yy + b.yy,
            xy: a.xy + b.xy,
        })
    }
}

/// The structure tensor of every other row of `region` (rows 1, 3, 5… of it, but the last),
/// each sampled on every other pixel.
pub(super) fn tensor_rows(image: &Image<'_>, region: &Rect) -> Vec<Tensor> {
    if region.width < 3 || region.height < 3 {
        return Vec::new();
    }
    // Sums of integers, exact: each row's in 32 bits (at most 65,025 a sample), the region's
    // in 64. (Floating point cost twice as much, a tenth of a millisecond a frame.)
    let line = |y: usize| &image.luma[y * image.width + region.x..][..region.width];
    (region.y + 1..region.y + region.height - 1)
        .step_by(2)
        .map(|y| {
            let (row, above, below) = (line(y), line(y - 1), line(y + 1));
            let (mut xx, mut yy, mut xy) = (0i32, 0i32, 0i32);
            // Pixels 1, 3, 5… of the row (but the last): the differences of their neighbours
            // left and right, and above and below. Sample k (even) reads row[k] and
            // row[k + 2], above[k + 1] and below[k + 1].
            let n = 2 * ((region.width - 1) / 2) - 1;
            let (left, right) = (&row[..n], &row[2..n + 2]);
            let (up, down) = (&above[1..n + 1], &below[1..n + 1]);
            for k in (0..n).step_by(2) {
                let gx = i32::from(right[k]) - i32::from(left[k]);
                let gy = i32::from(down[k]) - i32::from(up[k]);
                xx += gx * gx;
                yy += gy * gy;
                xy += gx * gy;
            }
            Tensor {
                xx: i64::from(xx),
                yy: i64::from(yy),
                xy: i64::from(xy),
            }
        })
        .collect()
}

/// The direction of the grey-level gradient whose structure tensor is `tensor` (radians, in
/// -π/2..π/2, 0 = along the rows) if it is coherent enough to be the bars of a 1D code: the
/// tensor's dominant eigenvector. 2D codes and text have gradients in all directions and give
/// `None`.
pub(super) fn orientation(tensor: Tensor) -> Option<f32> {
    let (xx, yy, xy) = (tensor.xx as f64, tensor.yy as f64, tensor.xy as f64);
    let energy = xx + yy;
    if energy <= 0.0 {
        return None;
    }
    let coherence = ((xx - yy).powi(2) + 4.0 * xy * xy).sqrt() / energy;
    (coherence >= 0.6).then(|| (0.5 * (2.0 * xy).atan2(xx - yy)) as f32)
}
