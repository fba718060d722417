//! Label images for tests, benchmarks and the `make-labels` fixture generator: GS1 symbols
//! encoded with rxing's writers and rendered to greyscale, plus the degradations a handheld
//! camera adds (rotation, blur, noise, low contrast, small modules).
//!
//! Shared by `tests/decode.rs`, `benches/scanner.rs` and `examples/make-labels.rs` through
//! `#[path]`, so every user renders labels the same way. Deterministic: noise comes from a
//! seeded [`Rng`].

#![allow(dead_code, reason = "each includer uses a different subset")]

use rxing::common::BitMatrix;
use rxing::oned::{Code128Writer, EAN13Writer, OneDimensionalCodeWriter};
use rxing::{BarcodeFormat, EncodeHints, MultiFormatWriter, Writer};

/// FNC1 as rxing's Code 128 writer wants it.
const FNC1: char = '\u{f1}';
const GS: char = '\u{1d}';

/// The symbols the fixtures use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symbol {
    /// GS1 DataMatrix (`]d2`) of an element string.
    Gs1DataMatrix,
    /// GS1 QR Code (`]Q3`) of an element string.
    Gs1Qr,
    /// Plain QR (`]Q1`) of a Digital Link URI.
    DigitalLinkQr,
    /// GS1-128 (`]C1`) of an element string.
    Gs1_128,
    /// EAN-13 of a GTIN-13.
    Ean13,
}

impl Symbol {
    pub fn name(self) -> &'static str {
        match self {
            Symbol::Gs1DataMatrix => "gs1-datamatrix",
            Symbol::Gs1Qr => "gs1-qr",
            Symbol::DigitalLinkQr => "digital-link-qr",
            Symbol::Gs1_128 => "gs1-128",
            Symbol::Ean13 => "ean-13",
        }
    }

    /// The AIM identifier a decoder reports for it.
    pub fn aim(self) -> &'static str {
        match self {
            Symbol::Gs1DataMatrix => "]d2",
            Symbol::Gs1Qr => "]Q3",
            Symbol::DigitalLinkQr => "]Q1",
            Symbol::Gs1_128 => "]C1",
            Symbol::Ean13 => "]E0",
        }
    }

    fn is_1d(self) -> bool {
        matches!(self, Symbol::Gs1_128 | Symbol::Ean13)
    }
}

/// A grid of modules, `true` = dark.
#[derive(Clone, Debug)]
pub struct Modules {
    pub width: usize,
    pub height: usize,
    pub dark: Vec<bool>,
}

fn from_matrix(m: &BitMatrix) -> Modules {
    let (width, height) = (m.getWidth() as usize, m.getHeight() as usize);
    let mut dark = Vec::with_capacity(width * height);
    for y in 0..height {
        for x in 0..width {
            dark.push(m.get(x as u32, y as u32));
        }
    }
    Modules {
        width,
        height,
        dark,
    }
}

/// Encodes `data` (element string with GS separators, a URI or 13 digits) as `symbol`.
/// 1D symbols come back as one row of modules.
pub fn encode(symbol: Symbol, data: &str) -> Modules {
    let writer = MultiFormatWriter;
    let one_row = |bars: Vec<bool>| Modules {
        width: bars.len(),
        height: 1,
        dark: bars,
    };
    match symbol {
        Symbol::Gs1DataMatrix => gs1_datamatrix(data),
        Symbol::Gs1Qr | Symbol::DigitalLinkQr => {
            let hints = EncodeHints {
                Gs1Format: Some(symbol == Symbol::Gs1Qr),
                Margin: Some("0".to_owned()),
                ErrorCorrection: Some("M".to_owned()),
                ..EncodeHints::default()
            };
            let m = writer
                .encode_with_hints(data, &BarcodeFormat::QR_CODE, 0, 0, &hints)
                .expect("the demo data fits a QR code");
            from_matrix(&m)
        }
        Symbol::Gs1_128 => {
            let content: String = std::iter::once(FNC1)
                .chain(data.chars().map(|c| if c == GS { FNC1 } else { c }))
                .collect();
            let bars = Code128Writer
                .encode_oned(&content)
                .expect("GS1-128 data is printable ASCII");
            one_row(bars)
        }
        Symbol::Ean13 => {
            let bars = EAN13Writer.encode_oned(data).expect("a valid GTIN-13");
            one_row(bars)
        }
    }
}

/// GS1 DataMatrix in ASCII encodation, framed by rxing's ECC 200 and module placement.
///
/// rxing's own GS1 path (`Gs1Format` + `DataMatrixCompact`) panics in its minimal encoder
/// (`assertion failed: setIndex == 2`, minimal_encoder.rs:1044) when it tries C40/Text for a
/// GS, which the demo serials' element strings trigger; ASCII encodation with FNC1 (232) is
/// what most label printers emit anyway.
pub fn gs1_datamatrix(data: &str) -> Modules {
    use rxing::datamatrix::encoder::{
        DefaultPlacement, SymbolInfoLookup, SymbolShapeHint, error_correction,
    };
    const FNC1_CW: u32 = 232;
    let bytes = data.as_bytes();
    let mut cw: Vec<u32> = vec![FNC1_CW];
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_digit() && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            cw.push(130 + u32::from(b - b'0') * 10 + u32::from(bytes[i + 1] - b'0'));
            i += 2;
            continue;
        }
        if b == 0x1d {
            cw.push(FNC1_CW);
        } else {
            assert!(b < 128, "GS1 data is ASCII");
            cw.push(u32::from(b) + 1);
        }
        i += 1;
    }
    let lookup = SymbolInfoLookup::new();
    let info = lookup
        .lookup_with_shape(cw.len() as u32, SymbolShapeHint::FORCE_SQUARE)
        .expect("lookup")
        .expect("data fits a DataMatrix");
    let capacity = info.getDataCapacity() as usize;
    if cw.len() < capacity {
        cw.push(129);
        while cw.len() < capacity {
            let pos = cw.len() as u32 + 1;
            let mut pad = ((149 * pos) % 253) + 1 + 129;
            if pad > 254 {
                pad -= 254;
            }
            cw.push(pad);
        }
    }
    let text: String = cw
        .iter()
        .map(|&c| char::from_u32(c).expect("byte"))
        .collect();
    let codewords = error_correction::encodeECC200(&text, info).expect("ECC 200");
    let (data_w, data_h) = (
        info.getSymbolDataWidth().expect("width") as usize,
        info.getSymbolDataHeight().expect("height") as usize,
    );
    let mut placement = DefaultPlacement::new(codewords, data_w, data_h);
    placement.place().expect("placement");
    let (sym_w, sym_h) = (
        info.getSymbolWidth().expect("width") as usize,
        info.getSymbolHeight().expect("height") as usize,
    );
    // Each data region is framed by an L finder (left, bottom) and a clock track (top, right).
    let region_w = data_w / ((sym_w - data_w) / 2);
    let region_h = data_h / ((sym_h - data_h) / 2);
    let mut dark = vec![false; sym_w * sym_h];
    let mut set = |x: usize, y: usize, v: bool| dark[y * sym_w + x] = v;
    let mut my = 0;
    for y in 0..data_h {
        if y % region_h == 0 {
            for x in 0..sym_w {
                set(x, my, x % 2 == 0);
            }
            my += 1;
        }
        let mut mx = 0;
        for x in 0..data_w {
            if x % region_w == 0 {
                set(mx, my, true);
                mx += 1;
            }
            set(mx, my, placement.getBit(x, y));
            mx += 1;
            if x % region_w == region_w - 1 {
                set(mx, my, y % 2 == 0);
                mx += 1;
            }
        }
        my += 1;
        if y % region_h == region_h - 1 {
            for x in 0..sym_w {
                set(x, my, true);
            }
            my += 1;
        }
    }
    Modules {
        width: sym_w,
        height: sym_h,
        dark,
    }
}

/// An 8-bit greyscale image, row-major.
#[derive(Clone, Debug)]
pub struct Gray {
    pub width: usize,
    pub height: usize,
    pub px: Vec<u8>,
}

impl Gray {
    pub fn blank(width: usize, height: usize, level: u8) -> Gray {
        Gray {
            width,
            height,
            px: vec![level; width * height],
        }
    }

    fn get(&self, x: isize, y: isize) -> f32 {
        if x < 0 || y < 0 || x >= self.width as isize || y >= self.height as isize {
            255.0
        } else {
            f32::from(self.px[y as usize * self.width + x as usize])
        }
    }

    /// Copies `other` with its top-left corner at (`x`, `y`), clipped.
    pub fn blit(&mut self, other: &Gray, x: usize, y: usize) {
        for oy in 0..other.height {
            for ox in 0..other.width {
                let (tx, ty) = (x + ox, y + oy);
                if tx < self.width && ty < self.height {
                    self.px[ty * self.width + tx] = other.px[oy * other.width + ox];
                }
            }
        }
    }

    /// Pastes `other` centred on a white canvas of the given size.
    pub fn centred(other: &Gray, width: usize, height: usize) -> Gray {
        let mut canvas = Gray::blank(width, height, 255);
        canvas.blit(
            other,
            width.saturating_sub(other.width) / 2,
            height.saturating_sub(other.height) / 2,
        );
        canvas
    }

    /// Rotated by `degrees` about its centre (bilinear), on a canvas large enough to hold it.
    pub fn rotated(&self, degrees: f32) -> Gray {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (w, h) = (self.width as f32, self.height as f32);
        let nw = (w * cos.abs() + h * sin.abs()).ceil() as usize;
        let nh = (w * sin.abs() + h * cos.abs()).ceil() as usize;
        let (cx, cy) = (w / 2.0, h / 2.0);
        let (ncx, ncy) = (nw as f32 / 2.0, nh as f32 / 2.0);
        let mut out = Gray::blank(nw, nh, 255);
        for y in 0..nh {
            for x in 0..nw {
                let (dx, dy) = (x as f32 + 0.5 - ncx, y as f32 + 0.5 - ncy);
                let sx = cos * dx + sin * dy + cx - 0.5;
                let sy = -sin * dx + cos * dy + cy - 0.5;
                out.px[y * nw + x] = self.sample(sx, sy);
            }
        }
        out
    }

    fn sample(&self, sx: f32, sy: f32) -> u8 {
        let (x0, y0) = (sx.floor(), sy.floor());
        let (fx, fy) = (sx - x0, sy - y0);
        let (x0, y0) = (x0 as isize, y0 as isize);
        let top = self.get(x0, y0) * (1.0 - fx) + self.get(x0 + 1, y0) * fx;
        let bottom = self.get(x0, y0 + 1) * (1.0 - fx) + self.get(x0 + 1, y0 + 1) * fx;
        (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8
    }

    /// Resampled to `factor` times its size (bilinear; below 1 this is a downscale that makes
    /// modules fractional pixels wide).
    pub fn scaled(&self, factor: f32) -> Gray {
        let nw = ((self.width as f32) * factor).round().max(1.0) as usize;
        let nh = ((self.height as f32) * factor).round().max(1.0) as usize;
        let mut out = Gray::blank(nw, nh, 255);
        for y in 0..nh {
            for x in 0..nw {
                let sx = (x as f32 + 0.5) / factor - 0.5;
                let sy = (y as f32 + 0.5) / factor - 0.5;
                out.px[y * nw + x] = self.sample(sx, sy);
            }
        }
        out
    }

    /// Box blur of the given radius, applied twice (close to a Gaussian).
    pub fn blurred(&self, radius: usize) -> Gray {
        let mut img = self.clone();
        for _ in 0..2 {
            img = img.box_pass(radius, true).box_pass(radius, false);
        }
        img
    }

    fn box_pass(&self, r: usize, horizontal: bool) -> Gray {
        let mut out = self.clone();
        let r = r as isize;
        for y in 0..self.height as isize {
            for x in 0..self.width as isize {
                let mut sum = 0.0;
                for d in -r..=r {
                    sum += if horizontal {
                        self.get(x + d, y)
                    } else {
                        self.get(x, y + d)
                    };
                }
                out.px[y as usize * self.width + x as usize] =
                    (sum / (2 * r + 1) as f32).round() as u8;
            }
        }
        out
    }

    /// Adds uniform noise of ±`amplitude` grey levels.
    pub fn noisy(&self, amplitude: i32, rng: &mut Rng) -> Gray {
        let mut out = self.clone();
        for p in &mut out.px {
            let delta = (rng.next() % (2 * amplitude as u64 + 1)) as i32 - amplitude;
            *p = (i32::from(*p) + delta).clamp(0, 255) as u8;
        }
        out
    }

    /// Seen at an angle: the image's corners (top-left, top-right, bottom-right, bottom-left) go
    /// to `quad`, given as fractions of the image's width and height, through the projective
    /// map between the two (bilinear sampling, white outside). The canvas is the quad's bounding
    /// box.
    pub fn warped(&self, quad: [[f32; 2]; 4]) -> Gray {
        let (w, h) = (self.width as f32, self.height as f32);
        let dst: Vec<[f32; 2]> = quad.iter().map(|[x, y]| [x * w, y * h]).collect();
        let (min_x, min_y) = dst
            .iter()
            .fold((f32::MAX, f32::MAX), |(a, b), p| (a.min(p[0]), b.min(p[1])));
        let (max_x, max_y) = dst
            .iter()
            .fold((f32::MIN, f32::MIN), |(a, b), p| (a.max(p[0]), b.max(p[1])));
        let quad: [[f32; 2]; 4] = std::array::from_fn(|i| [dst[i][0] - min_x, dst[i][1] - min_y]);
        let to_square = invert3(square_to_quad(quad));
        let (nw, nh) = (
            (max_x - min_x).ceil() as usize,
            (max_y - min_y).ceil() as usize,
        );
        let mut out = Gray::blank(nw, nh, 255);
        for y in 0..nh {
            for x in 0..nw {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let m = &to_square;
                let d = m[6] * px + m[7] * py + m[8];
                let u = (m[0] * px + m[1] * py + m[2]) / d;
                let v = (m[3] * px + m[4] * py + m[5]) / d;
                out.px[y * nw + x] = self.sample(u * w - 0.5, v * h - 0.5);
            }
        }
        out
    }

    /// A specular highlight: a bright blob centred at (`cx`, `cy`) (fractions of the size) with
    /// a Gaussian fall-off of `radius` (a fraction of the shorter side), adding up to
    /// `strength` × 255 grey levels and saturating at white, as a glossy label under a lamp.
    pub fn glare(&self, cx: f32, cy: f32, radius: f32, strength: f32) -> Gray {
        let mut out = self.clone();
        let (cx, cy) = (cx * self.width as f32, cy * self.height as f32);
        let r = radius * self.width.min(self.height) as f32;
        for y in 0..self.height {
            for x in 0..self.width {
                let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
                let g = (-(dx * dx + dy * dy) / (r * r)).exp();
                let p = &mut out.px[y * self.width + x];
                *p = (f32::from(*p) + 255.0 * strength * g).round().min(255.0) as u8;
            }
        }
        out
    }

    /// Fills a rectangle (clipped) with `level`.
    pub fn fill(&mut self, x: usize, y: usize, w: usize, h: usize, level: u8) {
        for row in y..(y + h).min(self.height) {
            let start = row * self.width + x.min(self.width);
            let end = row * self.width + (x + w).min(self.width);
            self.px[start..end].fill(level);
        }
    }

    /// Maps black..white onto `low..high`.
    pub fn contrast(&self, low: u8, high: u8) -> Gray {
        let mut out = self.clone();
        let span = f32::from(high) - f32::from(low);
        for p in &mut out.px {
            *p = (f32::from(low) + span * f32::from(*p) / 255.0).round() as u8;
        }
        out
    }
}

/// The projective map from the unit square (corners (0,0), (1,0), (1,1), (0,1)) to `quad`
/// (same corner order), as a row-major 3×3 matrix acting on (u, v, 1).
fn square_to_quad(q: [[f32; 2]; 4]) -> [f32; 9] {
    let [[x0, y0], [x1, y1], [x2, y2], [x3, y3]] = q;
    let (sx, sy) = (x0 - x1 + x2 - x3, y0 - y1 + y2 - y3);
    let (dx1, dy1, dx2, dy2) = (x1 - x2, y1 - y2, x3 - x2, y3 - y2);
    let den = dx1 * dy2 - dx2 * dy1;
    let g = (sx * dy2 - dx2 * sy) / den;
    let h = (dx1 * sy - sx * dy1) / den;
    [
        x1 - x0 + g * x1,
        x3 - x0 + h * x3,
        x0,
        y1 - y0 + g * y1,
        y3 - y0 + h * y3,
        y0,
        g,
        h,
        1.0,
    ]
}

/// The inverse of a 3×3 matrix up to scale (its adjugate), which is all a projective map needs.
fn invert3(m: [f32; 9]) -> [f32; 9] {
    [
        m[4] * m[8] - m[5] * m[7],
        m[2] * m[7] - m[1] * m[8],
        m[1] * m[5] - m[2] * m[4],
        m[5] * m[6] - m[3] * m[8],
        m[0] * m[8] - m[2] * m[6],
        m[2] * m[3] - m[0] * m[5],
        m[3] * m[7] - m[4] * m[6],
        m[1] * m[6] - m[0] * m[7],
        m[0] * m[4] - m[1] * m[3],
    ]
}

/// Renders modules at `module_px` pixels each with a quiet zone; 1D symbols get bars
/// `bar_height` pixels tall.
pub fn render(symbol: Symbol, modules: &Modules, module_px: usize) -> Gray {
    let quiet = if symbol.is_1d() { 10 } else { 4 } * module_px;
    let rows = if symbol.is_1d() {
        (module_px * 40).max(40)
    } else {
        modules.height * module_px
    };
    let width = modules.width * module_px + 2 * quiet;
    let height = rows + 2 * quiet;
    let mut img = Gray::blank(width, height, 255);
    for y in 0..rows {
        let my = if symbol.is_1d() { 0 } else { y / module_px };
        for mx in 0..modules.width {
            if modules.dark[my * modules.width + mx] {
                let start = (quiet + y) * width + quiet + mx * module_px;
                img.px[start..start + module_px].fill(0);
            }
        }
    }
    img
}

/// Encodes and renders in one go.
pub fn label(symbol: Symbol, data: &str, module_px: usize) -> Gray {
    render(symbol, &encode(symbol, data), module_px)
}

/// SplitMix64: a seeded generator, so every fixture and test is reproducible.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

impl Rng {
    /// A uniform draw from `0.0..1.0`.
    pub fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }

    /// A uniform draw from `low..high` (`low` when the range is empty).
    pub fn range(&mut self, low: usize, high: usize) -> usize {
        if high <= low {
            low
        } else {
            low + (self.next() % (high - low) as u64) as usize
        }
    }
}

/// Smooth random texture in `-1.0..1.0`: random values on a grid of `cell` pixels, bilinearly
/// interpolated.
fn value_noise(width: usize, height: usize, cell: usize, rng: &mut Rng) -> Vec<f32> {
    let (gw, gh) = (width / cell + 2, height / cell + 2);
    let grid: Vec<f32> = (0..gw * gh).map(|_| rng.unit() * 2.0 - 1.0).collect();
    let mut out = Vec::with_capacity(width * height);
    for y in 0..height {
        let (gy, fy) = (y / cell, (y % cell) as f32 / cell as f32);
        for x in 0..width {
            let (gx, fx) = (x / cell, (x % cell) as f32 / cell as f32);
            let at = |i: usize, j: usize| grid[(gy + j) * gw + gx + i];
            let top = at(0, 0) * (1.0 - fx) + at(1, 0) * fx;
            let bottom = at(0, 1) * (1.0 - fx) + at(1, 1) * fx;
            out.push(top * (1.0 - fy) + bottom * fy);
        }
    }
    out
}

/// Lines of glyph-like marks, as printed text looks to a camera: each character cell
/// (`size` × 0.6 by `size` pixels) gets two or three strokes, with spaces between words. This
/// is the clutter a barcode locator must not take for a code, or must at least reject cheaply.
/// `at` is the top-left corner, `extent` the lines and characters per line.
pub fn text(
    img: &mut Gray,
    (x, y): (usize, usize),
    (lines, chars): (usize, usize),
    size: usize,
    ink: u8,
    rng: &mut Rng,
) {
    let cell_w = (size * 3 / 5).max(3);
    let stroke = (size / 7).max(1);
    for line in 0..lines {
        let top = y + line * (size + size / 2);
        let mut word = rng.range(3, 9);
        for c in 0..chars {
            let left = x + c * (cell_w + stroke);
            if word == 0 {
                word = rng.range(3, 9);
                continue;
            }
            word -= 1;
            let glyph_w = cell_w - stroke;
            for _ in 0..rng.range(2, 4) {
                match rng.range(0, 6) {
                    0 => img.fill(left, top, stroke, size, ink),
                    1 => img.fill(left + glyph_w - stroke, top, stroke, size, ink),
                    2 => img.fill(left + glyph_w / 2, top, stroke, size, ink),
                    3 => img.fill(left, top, glyph_w, stroke, ink),
                    4 => img.fill(left, top + size / 2, glyph_w, stroke, ink),
                    _ => img.fill(left, top + size - stroke, glyph_w, stroke, ink),
                }
            }
        }
    }
}

/// What a handheld camera sees around the codes: a carton-and-shelf scene with no barcode in
/// it, `width` × `height`, drawn from `seed`. Uneven lighting and cardboard texture, flat
/// boxes with straight edges, shipping labels with printed text, large printed letters, a
/// little optical blur and sensor noise of standard deviation about 0.8 × `noise` grey levels
/// (3: a bright scene; 10: a dim warehouse corner at high gain).
pub fn scene(width: usize, height: usize, seed: u64, noise: u64) -> Gray {
    let mut rng = Rng::new(seed);
    let coarse = value_noise(width, height, 48, &mut rng);
    let fine = value_noise(width, height, 5, &mut rng);
    let (tilt_x, tilt_y) = (rng.unit() * 60.0 - 30.0, rng.unit() * 40.0 - 20.0);
    let mut img = Gray::blank(width, height, 0);
    for y in 0..height {
        for x in 0..width {
            let i = y * width + x;
            let v = 150.0
                + tilt_x * (x as f32 / width as f32 - 0.5)
                + tilt_y * (y as f32 / height as f32 - 0.5)
                + 22.0 * coarse[i]
                + 7.0 * fine[i];
            img.px[i] = v.round().clamp(0.0, 255.0) as u8;
        }
    }
    // Cartons and shelf edges: flat areas with straight borders.
    for _ in 0..5 {
        let (w, h) = (rng.range(150, 600), rng.range(80, 400));
        let (x, y) = (rng.range(0, width), rng.range(0, height));
        let level = rng.range(90, 220) as u8;
        img.fill(x, y, w, h, level);
        let edge = level.saturating_sub(50);
        img.fill(x, y, w, 2, edge);
        img.fill(x, y, 2, h, edge);
    }
    // Shipping labels with several lines of small text.
    for _ in 0..3 {
        let (w, h) = (rng.range(220, 420), rng.range(100, 200));
        let (x, y) = (
            rng.range(0, width.saturating_sub(w)),
            rng.range(0, height.saturating_sub(h)),
        );
        img.fill(x, y, w, h, rng.range(225, 250) as u8);
        let size = rng.range(9, 15);
        let lines = (h - 16) / (size + size / 2);
        let chars = (w - 16) / (size * 3 / 5 + size / 7).max(1);
        text(
            &mut img,
            (x + 8, y + 8),
            (lines, chars),
            size,
            rng.range(20, 70) as u8,
            &mut rng,
        );
    }
    // Large printed letters on a carton.
    let size = rng.range(40, 70);
    let (x, y) = (rng.range(0, width / 2), rng.range(0, height - size));
    text(
        &mut img,
        (x, y),
        (1, 8),
        size,
        rng.range(30, 80) as u8,
        &mut rng,
    );
    // Optics, then sensor noise (triangular, ±2 × `noise` grey levels).
    let mut img = img.blurred(1);
    let span = 2 * noise + 1;
    for p in &mut img.px {
        let n = (rng.next() % span) as i32 + (rng.next() % span) as i32 - 2 * noise as i32;
        *p = (i32::from(*p) + n).clamp(0, 255) as u8;
    }
    img
}

/// A product label as printed: the code on white with a few lines of human-readable text to
/// its right.
pub fn product_label(code: &Gray, rng: &mut Rng) -> Gray {
    let size = 12;
    let text_w = 26 * (size * 3 / 5 + size / 7);
    let mut img = Gray::blank(
        code.width + text_w + 24,
        code.height.max(5 * size * 3 / 2) + 16,
        245,
    );
    img.blit(code, 8, 8);
    let lines = (img.height - 16) / (size + size / 2);
    text(
        &mut img,
        (code.width + 16, 12),
        (lines.min(4), 26),
        size,
        35,
        rng,
    );
    img
}

/// One benchmark camera frame: the scene's seed and noise (see [`scene`]), and the printed
/// GS1 DataMatrix label's module size and top-left corner in the frame with a code.
#[derive(Clone, Copy, Debug)]
pub struct FrameSpec {
    pub seed: u64,
    pub noise: u64,
    pub module_px: usize,
    pub x: usize,
    pub y: usize,
}

impl FrameSpec {
    pub fn empty(&self) -> Gray {
        scene(1280, 720, self.seed, self.noise)
    }

    /// The scene with a printed GS1 DataMatrix label of `data` at `module_px` pixels per
    /// module and (`x`, `y`); the label is printed on the scene before the sensor noise.
    pub fn with_datamatrix(&self, data: &str, module_px: usize, x: usize, y: usize) -> Gray {
        let mut frame = scene(1280, 720, self.seed, 0);
        let mut rng = Rng::new(self.seed ^ 0x1abe1);
        let label = product_label(&label(Symbol::Gs1DataMatrix, data, module_px), &mut rng);
        frame.blit(&label.blurred(1), x, y);
        let span = 2 * self.noise + 1;
        for p in &mut frame.px {
            let n = (rng.next() % span) as i32 + (rng.next() % span) as i32 - 2 * self.noise as i32;
            *p = (i32::from(*p) + n).clamp(0, 255) as u8;
        }
        frame
    }
}

/// The benchmark frames: bright, ordinary and dim scenes.
pub const FRAMES: [FrameSpec; 3] = [
    FrameSpec {
        seed: 0xca57_0001,
        noise: 3,
        module_px: 4,
        x: 620,
        y: 260,
    },
    FrameSpec {
        seed: 0xca57_0002,
        noise: 6,
        module_px: 3,
        x: 120,
        y: 420,
    },
    FrameSpec {
        seed: 0xca57_0003,
        noise: 10,
        module_px: 6,
        x: 380,
        y: 90,
    },
];

/// The demo serials' element strings (GS separators) from `fixtures/demo/serials.jsonl`.
pub struct Demo {
    pub gtin: String,
    pub element_string: String,
    pub digital_link: String,
}

/// Reads the first `n` demo serials of each GTIN.
pub fn demo_serials(jsonl: &str, per_gtin: usize) -> Vec<Demo> {
    let mut out: Vec<Demo> = Vec::new();
    for line in jsonl.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value =
            serde_json::from_str(line).expect("serials.jsonl is JSON lines");
        let text = |name: &str| row[name].as_str().expect("string field").to_owned();
        let gtin = text("gtin");
        if out.iter().filter(|d| d.gtin == gtin).count() < per_gtin {
            out.push(Demo {
                gtin,
                element_string: text("element_string"),
                digital_link: text("digital_link"),
            });
        }
    }
    out
}

/// The element string without AI 8030 (the signature does not fit a GS1-128 symbol, whose
/// data is limited to 48 characters).
pub fn without_signature(element_string: &str) -> String {
    let parts: Vec<&str> = element_string
        .split(GS)
        .filter(|p| !p.starts_with("8030"))
        .collect();
    parts.join(&GS.to_string())
}

/// One image of the label corpus in `fixtures/labels/` and the codes it holds.
pub struct Fixture {
    /// `clean`, `degraded`, `multi` (several codes in a 720p frame), `frame` (one label in a
    /// 720p scene) or `empty` (a 720p scene with no code).
    pub set: &'static str,
    /// The degradation (`rot30`, `glare`…) for `degraded`; the set's name otherwise.
    pub variant: String,
    /// Path relative to `fixtures/labels/`.
    pub file: String,
    pub image: Gray,
    /// Every code in the image: its symbol and the text a decoder must report.
    pub codes: Vec<(Symbol, String)>,
}

impl Fixture {
    /// The manifest lines of this image: `set`, `file`, `symbol`, `aim`, expected text (GS
    /// written `\x1d`), `variant`; one line per code, or one with an empty symbol when there is
    /// none.
    pub fn manifest_lines(&self) -> String {
        let line = |symbol: &str, aim: &str, text: &str| {
            let escaped = text.replace(GS, "\\x1d");
            format!(
                "{}\t{}\t{symbol}\t{aim}\t{escaped}\t{}\n",
                self.set, self.file, self.variant
            )
        };
        if self.codes.is_empty() {
            return line("", "", "");
        }
        self.codes
            .iter()
            .map(|(symbol, text)| line(symbol.name(), symbol.aim(), text))
            .collect()
    }
}

/// The manifest header.
pub const MANIFEST_HEADER: &str = "set\tfile\tsymbol\taim\texpected\tvariant\n";

/// What `symbol` carries for one demo serial.
pub fn content(symbol: Symbol, d: &Demo) -> String {
    match symbol {
        Symbol::Gs1DataMatrix | Symbol::Gs1Qr => d.element_string.clone(),
        Symbol::DigitalLinkQr => d.digital_link.clone(),
        Symbol::Gs1_128 => without_signature(&d.element_string),
        Symbol::Ean13 => d.gtin[1..].to_owned(),
    }
}

/// The module size each symbol is printed at in the corpus.
pub fn module_px(symbol: Symbol) -> usize {
    match symbol {
        Symbol::Gs1_128 => 2,
        Symbol::Ean13 => 3,
        _ => 4,
    }
}

/// The degradations of the corpus, each applied to a base label. `rng` is the corpus's one
/// seeded generator, drawn from in a fixed order.
pub fn degrade(base: &Gray, rng: &mut Rng) -> Vec<(&'static str, Gray)> {
    vec![
        ("rot10", base.rotated(10.0)),
        ("rot30", base.rotated(-30.0)),
        ("rot45", base.rotated(45.0)),
        // Tilted away from the camera (the top edge narrower), and seen from the side.
        (
            "persp-tilt",
            base.warped([[0.1, 0.0], [0.9, 0.0], [1.0, 0.85], [0.0, 0.85]]),
        ),
        (
            "persp-side",
            base.warped([[0.0, 0.0], [0.7, 0.12], [0.7, 0.88], [0.0, 1.0]]),
        ),
        ("blur1", base.blurred(1)),
        ("blur2", base.blurred(2)),
        ("noise40", base.noisy(40, rng)),
        ("noise80", base.noisy(80, rng)),
        ("contrast", base.contrast(90, 160)),
        ("glare", base.glare(0.42, 0.4, 0.2, 1.1)),
        ("small", base.scaled(0.45)),
        (
            "all",
            base.rotated(20.0)
                .blurred(1)
                .contrast(60, 190)
                .noisy(30, rng),
        ),
    ]
}

/// The whole label corpus, generated from the demo serials (`fixtures/demo/serials.jsonl`):
/// deterministic, so `make-labels` regenerates `fixtures/labels/` byte for byte and a test
/// can check the committed images against it.
pub fn corpus(jsonl: &str) -> Vec<Fixture> {
    let demo = demo_serials(jsonl, 2);
    let mut out = Vec::new();
    let one = |symbol: Symbol, text: &str| vec![(symbol, text.to_owned())];

    // Clean: every 2D/128 symbol for each demo serial, one EAN-13 per GTIN.
    let symbols = [
        Symbol::Gs1DataMatrix,
        Symbol::Gs1Qr,
        Symbol::DigitalLinkQr,
        Symbol::Gs1_128,
    ];
    for (i, d) in demo.iter().enumerate() {
        for symbol in symbols
            .into_iter()
            .chain((i % 2 == 0).then_some(Symbol::Ean13))
        {
            let text = content(symbol, d);
            let img = label(symbol, &text, module_px(symbol));
            out.push(Fixture {
                set: "clean",
                variant: "clean".to_owned(),
                file: format!("clean/{}-{i}.png", symbol.name()),
                image: Gray::centred(&img, img.width + 40, img.height + 40),
                codes: one(symbol, &text),
            });
        }
    }

    // Degraded: two base labels per symbol (different serials), each damage on its own and a
    // combination.
    let mut rng = Rng::new(0x5eed_1abe1);
    let bases = [
        (Symbol::Gs1DataMatrix, [0, 4]),
        (Symbol::Gs1Qr, [1, 5]),
        (Symbol::DigitalLinkQr, [2, 6]),
        (Symbol::Gs1_128, [3, 7]),
        (Symbol::Ean13, [0, 2]),
    ];
    for (symbol, serials) in bases {
        for (k, s) in serials.into_iter().enumerate() {
            let text = content(symbol, &demo[s % demo.len()]);
            let code = label(symbol, &text, module_px(symbol));
            // The label with a white surround, all of which the damage applies to (a faded
            // print is faded to its edges).
            let base = Gray::centred(&code, code.width + 30, code.height + 30);
            for (name, img) in degrade(&base, &mut rng) {
                out.push(Fixture {
                    set: "degraded",
                    variant: name.to_owned(),
                    file: format!("degraded/{}-{k}-{name}.png", symbol.name()),
                    image: img,
                    codes: one(symbol, &text),
                });
            }
        }
    }

    // Several codes in one 720p frame, as a camera over a shipping carton sees them.
    for (n, serials) in [[0usize, 1, 2, 3], [2, 3, 0, 1]].iter().enumerate() {
        let mut frame = Gray::blank(1280, 720, 235);
        let placed = [
            (Symbol::Gs1DataMatrix, 60, 60),
            (Symbol::Gs1Qr, 700, 80),
            (Symbol::Gs1_128, 40, 460),
            (Symbol::DigitalLinkQr, 980, 380),
        ];
        let mut codes = Vec::new();
        for ((symbol, x, y), &s) in placed.into_iter().zip(serials) {
            let text = content(symbol, &demo[s]);
            let px = if symbol == Symbol::Gs1_128 { 2 } else { 3 };
            frame.blit(&label(symbol, &text, px), x, y);
            codes.push((symbol, text));
        }
        out.push(Fixture {
            set: "multi",
            variant: "multi".to_owned(),
            file: format!("multi/frame-{n}.png"),
            image: frame,
            codes,
        });
    }

    // Camera frames of a cluttered scene, with one printed GS1 DataMatrix label and without.
    for (n, spec) in FRAMES.iter().enumerate() {
        let text = content(Symbol::Gs1DataMatrix, &demo[n]);
        out.push(Fixture {
            set: "frame",
            variant: "frame".to_owned(),
            file: format!("frames/datamatrix-{n}.png"),
            image: spec.with_datamatrix(&text, spec.module_px, spec.x, spec.y),
            codes: one(Symbol::Gs1DataMatrix, &text),
        });
        out.push(Fixture {
            set: "empty",
            variant: "empty".to_owned(),
            file: format!("frames/empty-{n}.png"),
            image: spec.empty(),
            codes: Vec::new(),
        });
    }
    out
}

/// Where the `i`-th degraded label goes when pasted into a 1280×720 scene: spread over the
/// frame, 40 pixels clear of its edges. `scripts/compare_decoders.py` places them the same way.
pub fn paste_position(i: usize, width: usize, height: usize) -> (usize, usize) {
    let x = 40 + (i * 397) % 1200usize.saturating_sub(width).max(1);
    let y = 40 + (i * 211) % 640usize.saturating_sub(height).max(1);
    (x, y)
}
