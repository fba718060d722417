//! Barcodes from pixels: camera frames (8-bit luma buffers) in, decoded symbols out, with their
//! symbology identifier and normalised GS1 text, ready for [`crate::parse`].
//!
//! Decoding is rxing (a Rust port of ZXing) with a hybrid binarizer. The defaults are tuned for
//! a live camera: only the GS1 carriers ([`Format::DEFAULT`]) and no TryHarder, a few ms per
//! 720p frame; [`DecodeOptions::try_harder`] is for still images where a miss costs more than
//! 100 ms. Over a stream of frames, [`Dedup`] turns "the same code in 30 consecutive frames"
//! into one scan.
//!
//! Normalisation: rxing reports GS1-128 as `]C1` + data, and GS1 DataMatrix/QR without the
//! prefix; [`Decoded::text`] is always the data alone (element strings with GS separators), and
//! [`Decoded::aim`] the symbology identifier, so `aim + text` ([`Decoded::scan_text`]) is exactly
//! what a handheld scanner would have sent.
//!
//! Pure like the rest of the crate: frames come in as buffers with timestamps. The one
//! exception is [`decode_image_file`], behind the `image-files` feature.

use std::collections::HashSet;

use rxing::common::HybridBinarizer;
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::{
    BarcodeFormat, BinaryBitmap, DecodeHints, Luma8Source, MultiFormatReader, RXingResult,
    RXingResultMetadataType, RXingResultMetadataValue, Reader,
};

use crate::GS;

/// The barcode formats this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Format {
    /// Data Matrix, GS1 DataMatrix when the AIM identifier is `]d2`.
    DataMatrix,
    /// QR Code, GS1 QR when `]Q3`; Digital Link URIs come as plain QR (`]Q1`).
    Qr,
    /// Code 128, GS1-128 when `]C1`.
    Code128,
    /// EAN-13 (a GTIN-13).
    Ean13,
    /// UPC-A (a GTIN-12).
    UpcA,
    /// EAN-8 (a GTIN-8).
    Ean8,
    /// ITF (ITF-14 carries a GTIN-14).
    Itf,
}

impl Format {
    /// What a live camera looks for: the GS1 carriers on serialised goods and cases.
    pub const DEFAULT: [Format; 5] = [
        Format::DataMatrix,
        Format::Qr,
        Format::Code128,
        Format::Ean13,
        Format::UpcA,
    ];

    fn to_rxing(self) -> BarcodeFormat {
        match self {
            Format::DataMatrix => BarcodeFormat::DATA_MATRIX,
            Format::Qr => BarcodeFormat::QR_CODE,
            Format::Code128 => BarcodeFormat::CODE_128,
            Format::Ean13 => BarcodeFormat::EAN_13,
            Format::UpcA => BarcodeFormat::UPC_A,
            Format::Ean8 => BarcodeFormat::EAN_8,
            Format::Itf => BarcodeFormat::ITF,
        }
    }

    fn from_rxing(format: BarcodeFormat) -> Option<Format> {
        Some(match format {
            BarcodeFormat::DATA_MATRIX => Format::DataMatrix,
            BarcodeFormat::QR_CODE => Format::Qr,
            BarcodeFormat::CODE_128 => Format::Code128,
            BarcodeFormat::EAN_13 => Format::Ean13,
            BarcodeFormat::UPC_A => Format::UpcA,
            BarcodeFormat::EAN_8 => Format::Ean8,
            BarcodeFormat::ITF => Format::Itf,
            _ => return None,
        })
    }

    /// The AIM identifier to assume when the decoder reports none.
    fn default_aim(self) -> &'static str {
        match self {
            Format::DataMatrix => "]d1",
            Format::Qr => "]Q1",
            Format::Code128 => "]C0",
            Format::Ean13 | Format::UpcA | Format::Ean8 => "]E0",
            Format::Itf => "]I0",
        }
    }
}

/// How hard to look, and for what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The formats to look for; fewer is faster. Defaults to [`Format::DEFAULT`].
    pub formats: Vec<Format>,
    /// Spend several times longer per frame for a better chance on small, rotated or blurred
    /// codes: for still images, not for a live preview.
    pub try_harder: bool,
    /// Look for more than one code per frame (rxing's multi reader: after a hit, the regions
    /// around it are searched again). Costs nothing on frames without a code.
    pub multiple: bool,
    /// Also look for light-on-dark codes (laser-etched DataMatrix on metal): doubles the time.
    pub inverted: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            formats: Format::DEFAULT.to_vec(),
            try_harder: false,
            multiple: true,
            inverted: false,
        }
    }
}

impl DecodeOptions {
    /// The defaults with TryHarder on: for image files and stills.
    pub fn thorough() -> Self {
        DecodeOptions {
            try_harder: true,
            ..DecodeOptions::default()
        }
    }

    fn hints(&self) -> DecodeHints {
        let formats: HashSet<BarcodeFormat> = self.formats.iter().map(|f| f.to_rxing()).collect();
        DecodeHints {
            PossibleFormats: Some(formats),
            TryHarder: Some(self.try_harder),
            // FNC1 in Code 128 must come back as GS, or GS1-128 loses its separators.
            AssumeGs1: Some(true),
            AlsoInverted: Some(self.inverted),
            ..DecodeHints::default()
        }
    }
}

/// A point in pixel coordinates of the frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub x: f32,
    pub y: f32,
}

/// One symbol found in a frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Decoded {
    /// What kind of barcode.
    pub format: Format,
    /// The data, normalised: GS1 element strings with GS separators and no `]C1` prefix, a
    /// Digital Link URI as is, EAN/UPC as its digits.
    pub text: String,
    /// The AIM symbology identifier, e.g. `]d2` for GS1 DataMatrix, `]Q1` for a plain QR code.
    pub aim: String,
    /// Where: the finder points rxing reports (two ends of a 1D scan line, three or four
    /// corners of a 2D symbol), in frame pixels.
    pub position: Vec<Point>,
}

impl Decoded {
    /// The AIM identifier followed by the data: what a handheld scanner would send, and what
    /// [`crate::parse`] takes.
    pub fn scan_text(&self) -> String {
        format!("{}{}", self.aim, self.text)
    }

    /// The centre of [`Decoded::position`] (the origin if rxing reported no points).
    pub fn center(&self) -> Point {
        let n = self.position.len().max(1) as f32;
        let (x, y) = self
            .position
            .iter()
            .fold((0.0, 0.0), |(x, y), p| (x + p.x, y + p.y));
        Point { x: x / n, y: y / n }
    }

    fn from_rxing(result: &RXingResult) -> Option<Decoded> {
        let format = Format::from_rxing(*result.getBarcodeFormat())?;
        let aim = match result
            .getRXingResultMetadata()
            .get(&RXingResultMetadataType::SYMBOLOGY_IDENTIFIER)
        {
            Some(RXingResultMetadataValue::SymbologyIdentifier(aim)) if aim.len() == 3 => {
                aim.clone()
            }
            _ => format.default_aim().to_owned(),
        };
        let mut text = result.getText();
        // GS1-128 with AssumeGs1 arrives as "]C1" + data; the identifier lives in `aim`.
        if let Some(rest) = text.strip_prefix(aim.as_str()) {
            text = rest;
        }
        // A leading FNC1 some decoders pass through as GS says nothing `aim` does not.
        if aim != "]d1" && aim != "]Q1" && aim != "]C0" {
            text = text.strip_prefix(GS).unwrap_or(text);
        }
        let position = result
            .getPoints()
            .iter()
            .map(|p| Point { x: p.x, y: p.y })
            .collect();
        Some(Decoded {
            format,
            text: text.to_owned(),
            aim,
            position,
        })
    }
}

/// Finds the barcodes in an 8-bit greyscale frame (`luma.len() == width * height`, row-major,
/// no padding). Returns them in the order found; an empty frame, or a buffer whose size does
/// not match, gives an empty list.
///
/// ```
/// use custodian_scanner::decode::{decode_luma, DecodeOptions};
/// let blank = vec![255u8; 64 * 48];
/// assert!(decode_luma(64, 48, &blank, &DecodeOptions::default()).is_empty());
/// ```
pub fn decode_luma(width: u32, height: u32, luma: &[u8], options: &DecodeOptions) -> Vec<Decoded> {
    if width == 0 || height == 0 || options.formats.is_empty() {
        return Vec::new();
    }
    let Ok(source) = Luma8Source::new_with_slice(luma, width, height) else {
        return Vec::new();
    };
    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
    let hints = options.hints();
    let results = if options.multiple {
        GenericMultipleBarcodeReader::new(MultiFormatReader::default())
            .decode_multiple_with_hints(&mut bitmap, &hints)
            .unwrap_or_default()
    } else {
        MultiFormatReader::default()
            .decode_with_hints(&mut bitmap, &hints)
            .map(|r| vec![r])
            .unwrap_or_default()
    };
    let mut decoded: Vec<Decoded> = Vec::with_capacity(results.len());
    for result in &results {
        if let Some(d) = Decoded::from_rxing(result)
            && !decoded
                .iter()
                .any(|seen| seen.format == d.format && seen.text == d.text)
        {
            decoded.push(d);
        }
    }
    decoded
}

/// One camera frame: 8-bit luma, row-major, no padding, and when it was taken.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    pub width: u32,
    pub height: u32,
    pub luma: &'a [u8],
    /// Capture time in milliseconds on any monotonic clock.
    pub at_ms: u64,
}

/// Anything that yields frames: a camera behind a feature in the app, a recording in tests.
pub trait FrameSource {
    /// Why a frame could not be had (device unplugged…).
    type Error;

    /// The next frame, `Ok(None)` when the source has ended. The frame borrows the source's
    /// buffer until the next call.
    ///
    /// # Errors
    ///
    /// Whatever the source reports; the caller decides whether to retry.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, Self::Error>;
}

/// A recorded sequence of frames, played back in order: for tests, benchmarks and replays.
#[derive(Clone, Debug, Default)]
pub struct Recording {
    frames: Vec<(u32, u32, Vec<u8>, u64)>,
    next: usize,
}

impl Recording {
    /// An empty recording.
    pub fn new() -> Self {
        Recording::default()
    }

    /// Appends a frame.
    pub fn push(&mut self, width: u32, height: u32, luma: Vec<u8>, at_ms: u64) {
        self.frames.push((width, height, luma, at_ms));
    }
}

impl FrameSource for Recording {
    type Error = std::convert::Infallible;

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, Self::Error> {
        let Some((width, height, luma, at_ms)) = self.frames.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        Ok(Some(Frame {
            width: *width,
            height: *height,
            luma,
            at_ms: *at_ms,
        }))
    }
}

/// Turns sightings into scans: a code held in front of the camera is seen in every frame, but
/// is one scan. A code is new when it was not seen within the last `window_ms`; each sighting
/// extends the window, so a code that stays in view is reported once, and again only after it
/// has been out of view for `window_ms`.
#[derive(Clone, Debug)]
pub struct Dedup {
    window_ms: u64,
    /// (format, text) → last time seen.
    seen: Vec<(Format, String, u64)>,
}

impl Dedup {
    /// A deduplicator with this window; 1000–2000 ms suits a handheld camera.
    pub fn new(window_ms: u64) -> Self {
        Dedup {
            window_ms,
            seen: Vec::new(),
        }
    }

    /// Records the codes of one frame taken at `at_ms` and returns those that are new.
    pub fn frame(&mut self, at_ms: u64, decoded: Vec<Decoded>) -> Vec<Decoded> {
        let window = self.window_ms;
        self.seen
            .retain(|(_, _, last)| at_ms.saturating_sub(*last) <= window);
        let mut fresh = Vec::new();
        for d in decoded {
            match self
                .seen
                .iter_mut()
                .find(|(format, text, _)| *format == d.format && *text == d.text)
            {
                Some((_, _, last)) => *last = (*last).max(at_ms),
                None => {
                    self.seen.push((d.format, d.text.clone(), at_ms));
                    fresh.push(d);
                }
            }
        }
        fresh
    }
}

/// Reads one frame from `source`, decodes it and returns the codes `dedup` has not reported
/// yet; `Ok(None)` when the source has ended.
///
/// # Errors
///
/// The source's error.
pub fn next_scans<S: FrameSource>(
    source: &mut S,
    options: &DecodeOptions,
    dedup: &mut Dedup,
) -> Result<Option<Vec<Decoded>>, S::Error> {
    let Some(frame) = source.next_frame()? else {
        return Ok(None);
    };
    let at_ms = frame.at_ms;
    let decoded = decode_luma(frame.width, frame.height, frame.luma, options);
    Ok(Some(dedup.frame(at_ms, decoded)))
}

/// Why an image file could not be decoded.
#[cfg(feature = "image-files")]
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    /// The file is not an image in a supported format (PNG, JPEG) or is corrupt.
    #[error("{path} is not a readable PNG or JPEG image: {source}")]
    Image {
        path: std::path::PathBuf,
        source: image::ImageError,
    },
}

/// Reads a PNG or JPEG file, converts it to greyscale and decodes it with
/// [`DecodeOptions::thorough`] (TryHarder: a still image is worth the extra time).
///
/// **This is the one function of the crate that does I/O**; it exists for the CLI's
/// `custodian decode` and is compiled only with the `image-files` feature. Everything else takes
/// pixels as buffers.
///
/// # Errors
///
/// The file cannot be read, or is not a PNG/JPEG image.
#[cfg(feature = "image-files")]
pub fn decode_image_file(path: impl AsRef<std::path::Path>) -> Result<Vec<Decoded>, DecodeError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| DecodeError::Io {
        path: path.to_owned(),
        source,
    })?;
    let image = image::load_from_memory(&bytes).map_err(|source| DecodeError::Image {
        path: path.to_owned(),
        source,
    })?;
    let luma = image.to_luma8();
    let (width, height) = luma.dimensions();
    Ok(decode_luma(
        width,
        height,
        luma.as_raw(),
        &DecodeOptions::thorough(),
    ))
}
