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
