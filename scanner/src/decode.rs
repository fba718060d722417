//! Barcodes from pixels: camera frames (8-bit luma buffers) in, decoded symbols out, with their
//! symbology identifier and normalised GS1 text, ready for [`crate::parse`].
//!
//! Decoding is rxing (a Rust port of ZXing) with a hybrid binarizer. The defaults are tuned for
//! a live camera: only the GS1 carriers ([`Format::DEFAULT`]) and no TryHarder;
//! [`DecodeOptions::try_harder`] is for still images where a miss costs more than 100 ms. Over
//! a stream of frames, [`Dedup`] turns "the same code in 30 consecutive frames" into one scan.
//!
//! **Locate first, then decode.** Most frames a handheld camera delivers hold no code, and
//! rxing over a whole cluttered 720p frame costs about as much as finding a code in it. So by
//! default ([`DecodeOptions::locate`]) a pre-pass counts sharp edge transitions along sparse
//! scan lines (every fourth row and column) in 16×16-pixel tiles. Codes are dense in
//! transitions at any module size from about 1.5 to 8 pixels; flat areas, lighting, texture
//! and sensor noise have none, and a straight edge has at most one per scan line. rxing then
//! runs only on the regions of transition-dense tiles, each cropped with a margin for the
//! quiet zone: a frame without such regions is rejected at the cost of the pre-pass, and a
//! frame with a code is decoded on a small crop. Printed text is transition-dense too; its
//! regions are decoded and found empty, which is still far cheaper than the whole frame. When
//! the regions cover most of the frame, the whole frame is decoded once instead. Each decode
//! looks for one code of each kind, 1D and 2D, on the same binarized image (a GS1-128 beside a
//! GS1 DataMatrix on a carton label is one region): after a hit, the busy tiles of its region
//! that the codes do not cover are grouped into regions again and decoded in turn (not those
//! whose crop would still hold a code's centre), and after a hit on the whole frame, the other
//! regions are. A 1D code is read along one row, so the height of its bars is measured in the
//! frame before the tiles it covers are set aside. (rxing's multi-code
//! reader, which after each hit decodes the strips of the image around the code from scratch,
//! cost several whole-frame decodes on a cluttered frame and mostly re-read printed text.)
//! rxing binarizes each crop with a port of its hybrid binarizer that computes the same
//! matrix several times faster (`binarize.rs`), and its readers run in a fixed order. The 1D
//! readers' row scan is our own (`rows.rs`): each row is read as its own histogram thresholds
//! it and, for UPC/EAN, as the hybrid matrix has it (light that changes along a row); UPC/EAN
//! is tried from every start guard of a row; and an EAN/UPC code counts once two rows read
//! it. A region where nothing decoded but whose gradients all point one way (the bars of a 1D
//! code at an angle, which rxing's row scans miss beyond about 15°) is turned upright and
//! tried again with the 1D readers; about upright, every row of it is read. Where the
//! gradients of the whole region do not agree, those of a band of it may (a code between
//! lines of text on a label, or in a photo that regions mostly cover), and that band's rows
//! are read.
//!
//! Normalisation: rxing reports GS1-128 as `]C1` + data, and GS1 DataMatrix/QR without the
//! prefix; [`Decoded::text`] is always the data alone (element strings with GS separators), and
//! [`Decoded::aim`] the symbology identifier, so `aim + text` ([`Decoded::scan_text`]) is exactly
//! what a handheld scanner would have sent.
//!
//! Pure like the rest of the crate: frames come in as buffers with timestamps. The one
//! exception is [`decode_image_file`], behind the `image-files` feature.

use std::collections::HashSet;

use rxing::datamatrix::DataMatrixReader;
use rxing::multi::{GenericMultipleBarcodeReader, MultipleBarcodeReader};
use rxing::qrcode::QRCodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{
    BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Exceptions, Luma8Source, RXingResult,
    RXingResultMetadataType, RXingResultMetadataValue, Reader,
};

use crate::GS;
pub use crate::live::{Dedup, Frame, FrameSource, Recording, next_scans};

mod binarize;
mod rows;
use binarize::FastHybridBinarizer;

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

    /// True for the linear symbologies, which rxing reads along rows.
    fn is_1d(self) -> bool {
        !matches!(self, Format::DataMatrix | Format::Qr)
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
    /// Look for more than one code per frame. With [`DecodeOptions::locate`], every located
    /// region is decoded, one 1D and one 2D code at a time: after a hit, the region's busy
    /// tiles away from the codes are grouped and decoded again (two 2D codes touching each
    /// other still count as one); over the whole frame, rxing's multi reader searches the areas around each hit
    /// again. Off: stop at the first code.
    pub multiple: bool,
    /// Also look for light-on-dark codes (laser-etched DataMatrix on metal): doubles the time.
    pub inverted: bool,
    /// Decode only the regions a cheap pre-pass finds barcode-like (see the module docs), and
    /// straighten 1D codes seen at an angle. Off: rxing over the whole frame. With
    /// [`DecodeOptions::try_harder`], a frame where the regions held nothing is decoded whole
    /// as well.
    pub locate: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            formats: Format::DEFAULT.to_vec(),
            try_harder: false,
            multiple: true,
            inverted: false,
            locate: true,
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

    fn hints(&self, formats: &[Format]) -> DecodeHints {
        let formats: HashSet<BarcodeFormat> = formats.iter().map(|f| f.to_rxing()).collect();
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

/// Code 128's FNC1 code value.
const CODE128_FNC1: u8 = 102;

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
        // rxing decodes a Code 128 check character of value 102 as an FNC1 like any other,
        // which arrives as a GS after the data that the symbol does not hold. Its raw codes
        // are the start code, the data, the check character and the stop code.
        if format == Format::Code128
            && let [.., CODE128_FNC1, _stop] = result.getRawBytes()
        {
            text = text.strip_suffix(GS).unwrap_or(text);
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
    let Some(image) = Image::new(width, height, luma) else {
        return Vec::new();
    };
    if options.formats.is_empty() {
        return Vec::new();
    }
    let whole = if options.multiple {
        Search::All
    } else {
        Search::First
    };
    if !options.locate {
        return decode_whole(&image, options, whole);
    }
    // Each region yields at most one code of each kind (1D, 2D) per decode (see
    // `Search::EachKind`): rxing's multi-code reader, which after each hit decodes the strips
    // of the frame around the code again from scratch, costs several whole-frame decodes on a
    // cluttered frame, and mostly re-reads printed text. Instead, the busy tiles of a region
    // that lie away from the codes it held are grouped into regions again and decoded in
    // turn, so that a second code beside the first (a QR code under a DataMatrix on one label)
    // is still found.
    let per_region = if options.multiple {
        Search::EachKind
    } else {
        Search::First
    };
    let (map, regions) = locate(&image);
    let covered: usize = regions.iter().map(|r| r.rect.area()).sum();
    // A whole-frame decode reads rows across everything in the frame (TryHarder: every row);
    // an EAN/UPC read there must read the same on rows beside it ([`confirmed`]).
    let whole_frame = |search: Search| {
        let mut found = decode_whole(&image, options, search);
        found.retain(|code| confirmed(&image, code, &options.formats, options));
        found
    };
    let mut found = Vec::new();
    // Regions still to decode, with how many codes were found before them in their region.
    let mut queue: Vec<(Region, usize)> = Vec::new();
    if covered * 2 > image.width * image.height {
        // Crops would cost about as much as the frame: decode it whole once.
        found = whole_frame(per_region);
        if found.is_empty() {
            for region in &regions {
                if !options.multiple && !found.is_empty() {
                    break;
                }
                extend_unique(&mut found, straightened(&image, &region.rect, options));
            }
        } else if options.multiple {
            for region in regions {
                if found.iter().any(|d| region.rect.contains(d.center())) {
                    queue.extend(
                        map.leftover(&image, &region, &found)
                            .into_iter()
                            .map(|r| (r, 1)),
                    );
                } else {
                    queue.push((region, 0));
                }
            }
        }
    } else {
        queue = regions.into_iter().map(|r| (r, 0)).collect();
    }
    let mut next = 0;
    while let Some(&(region, depth)) = queue.get(next) {
        next += 1;
        if !options.multiple && !found.is_empty() {
            break;
        }
        let crop = image.crop(&region.rect);
        let here = decode_buffer(
            &crop,
            &region.rect,
            &options.formats,
            options,
            per_region,
            false,
        );
        if here.is_empty() {
            extend_unique(&mut found, straightened(&image, &region.rect, options));
            continue;
        }
        let before = found.len();
        extend_unique(&mut found, here);
        if found.len() > before && options.multiple && depth < MAX_CODES_PER_REGION {
            queue.extend(
                map.leftover(&image, &region, &found)
                    .into_iter()
                    .map(|r| (r, depth + 1)),
            );
        }
    }
    if found.is_empty() && options.try_harder {
        found = whole_frame(whole);
    }
    found
}

/// How many codes one rxing decode of an image looks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Search {
    /// The first code the readers find, in their order.
    First,
    /// The first code the 1D readers find and the first the 2D readers find: a 1D code and a
    /// 2D code side by side (a GS1-128 beside a GS1 DataMatrix on a carton label) are one
    /// located region, and a hit by one kind of reader must not end the search for the other.
    /// A 1D reader reads one row, whose two ends say little about where the bars are, so what
    /// was left of the region around them once held some of the bars and the DataMatrix in
    /// one crop that the DataMatrix reader missed, or took in the GS1-128's centre and was
    /// dropped. The 2D readers find their finder patterns among bars, and the 1D readers read
    /// rows past a 2D code, so both kinds run on the same binarized image. (With TryHarder,
    /// whose 1D readers scan every row and run after the 2D ones, a 1D search after a 2D hit
    /// scans as a live decode does: the rows about the middle.)
    EachKind,
    /// rxing's multi-code reader: after each hit, the strips of the image around the code are
    /// decoded again.
    All,
}

/// rxing over the whole frame.
fn decode_whole(image: &Image<'_>, options: &DecodeOptions, search: Search) -> Vec<Decoded> {
    let all = Rect {
        x: 0,
        y: 0,
        width: image.width,
        height: image.height,
    };
    decode_buffer(image, &all, &options.formats, options, search, false)
}

/// rxing over `image`, which shows `area` of the frame: positions are mapped back into frame
/// coordinates by offsetting them.
fn decode_buffer(
    image: &Image<'_>,
    area: &Rect,
    formats: &[Format],
    options: &DecodeOptions,
    search: Search,
    confirm: bool,
) -> Vec<Decoded> {
    let offset = Point {
        x: area.x as f32,
        y: area.y as f32,
    };
    decode_rxing(image, formats, options, search, confirm)
        .into_iter()
        .map(|mut d| {
            for p in &mut d.position {
                p.x += offset.x;
                p.y += offset.y;
            }
            d
        })
        .collect()
}

/// rxing over `image`; with `confirm`, its EAN/UPC hits must be confirmed ([`confirmed`]).
fn decode_rxing(
    image: &Image<'_>,
    formats: &[Format],
    options: &DecodeOptions,
    search: Search,
    confirm: bool,
) -> Vec<Decoded> {
    let results = read_rxing(image, formats, options, search, true);
    let mut decoded: Vec<Decoded> = Vec::with_capacity(results.len());
    extend_unique(
        &mut decoded,
        results
            .iter()
            .filter_map(Decoded::from_rxing)
            .filter(|code| !confirm || confirmed(image, code, formats, options))
            .collect(),
    );
    decoded
}

/// rxing's readers over `image`, as they report. With `ean_upc_twice`, an EAN/UPC code must
/// read on two rows (see `rows::scan`); without, where `image` is rows beside one that read it.
fn read_rxing(
    image: &Image<'_>,
    formats: &[Format],
    options: &DecodeOptions,
    search: Search,
    ean_upc_twice: bool,
) -> Vec<RXingResult> {
    let (Ok(width), Ok(height)) = (u32::try_from(image.width), u32::try_from(image.height)) else {
        return Vec::new();
    };
    let Ok(source) = Luma8Source::new_with_slice(&image.luma, width, height) else {
        return Vec::new();
    };
    let mut bitmap = BinaryBitmap::new(FastHybridBinarizer::new(source));
    let hints = options.hints(formats);
    let mut readers = Readers::new(formats, &hints, ean_upc_twice);
    match search {
        Search::All => GenericMultipleBarcodeReader::new(readers)
            .decode_multiple_with_hints(&mut bitmap, &hints)
            .unwrap_or_default(),
        Search::First => readers
            .decode_with_hints(&mut bitmap, &hints)
            .map(|r| vec![r])
            .unwrap_or_default(),
        Search::EachKind => readers.decode_each_kind(&mut bitmap, &hints),
    }
}

/// Rows read beside an EAN/UPC hit to confirm it: this far from its row at least, in pixels,
/// and this many rows on each side.
const CONFIRM_GAP: usize = 2;
const CONFIRM_ROWS: usize = 40;

/// Whether an EAN/UPC code read along one row of `image` reads the same on a row beside it.
/// An EAN-13 carries a single check digit, and TryHarder's scan of every row of a whole photo
/// crosses a texture now and then that decodes as a valid EAN-13 on that one row (a photo
/// without any code gave one), which no other row confirms; a printed code's bars run on
/// above and below. (zxing-cpp likewise asks a linear code to read the same on two lines.)
/// (The scan itself already asks that of EAN/UPC, but its second row may be one pixel away.)
/// The rows beside it are read in strips of [`CONFIRM_ROWS`] either side (as many as the
/// hybrid binarizer needs to threshold them locally, as the frame's rows were), along the code with
/// a quarter of its length either side for the quiet zones, both for reads along rows and along
/// columns (TryHarder's turned image). Other codes, and reads at an angle, pass as they are:
/// Code 128's checksum is strong. Only whole-frame reads are held to this: it also refuses a
/// few real codes so damaged that a single row reads.
fn confirmed(
    image: &Image<'_>,
    code: &Decoded,
    formats: &[Format],
    options: &DecodeOptions,
) -> bool {
    if !matches!(code.format, Format::Ean13 | Format::UpcA | Format::Ean8) {
        return true;
    }
    let [a, b] = code.position[..] else {
        return true;
    };
    let along_row = (a.y - b.y).abs() < 1.0;
    let along_column = (a.x - b.x).abs() < 1.0;
    if !along_row && !along_column {
        return true;
    }
    // Along the code: its length, and a twelfth of it either side for the quiet zones (an
    // EAN-13 is 95 modules, with quiet zones of 7 to 11), at least 8 pixels.
    let (from, to, across) = if along_row {
        (a.x.min(b.x), a.x.max(b.x), a.y)
    } else {
        (a.y.min(b.y), a.y.max(b.y), a.x)
    };
    let (length, breadth) = if along_row {
        (image.width, image.height)
    } else {
        (image.height, image.width)
    };
    let pad = ((to - from) / 4.0).max(16.0);
    let start = (from - pad).max(0.0) as usize;
    let end = ((to + pad).ceil() as usize).min(length);
    let row = across.round().max(0.0) as usize;
    if end <= start + 16 {
        return true;
    }
    // Every row of the strips (TryHarder's row scan): a damaged code may read on few rows.
    let every_row = DecodeOptions {
        try_harder: true,
        ..options.clone()
    };
    let strips = [
        row.checked_sub(CONFIRM_GAP + CONFIRM_ROWS - 1),
        Some(row + CONFIRM_GAP).filter(|&first| first + CONFIRM_ROWS <= breadth),
    ];
    strips.into_iter().flatten().any(|first| {
        let mut luma = Vec::with_capacity((end - start) * CONFIRM_ROWS);
        for k in first..first + CONFIRM_ROWS {
            if along_row {
                luma.extend_from_slice(&image.luma[k * image.width + start..k * image.width + end]);
            } else {
                luma.extend((start..end).map(|y| image.luma[y * image.width + k]));
            }
        }
        let strip = Image {
            width: end - start,
            height: CONFIRM_ROWS,
            luma: std::borrow::Cow::Owned(luma),
        };
        read_rxing(&strip, formats, &every_row, Search::First, false)
            .iter()
            .filter_map(Decoded::from_rxing)
            .any(|d| d.format == code.format && d.text == code.text)
    })
}

/// rxing's readers for a set of formats, tried in a fixed order on one binarized image: what
/// rxing's `MultiFormatReader` does, except that it tries the 2D formats in the order of a
/// `HashSet`, which differs from call to call, so that a frame's cost depended on whether the
/// QR readers (two of them: the port of zxing-cpp's, then ZXing's) ran before DataMatrix. Here
/// it is always: the 1D readers (last instead with TryHarder, as in rxing), DataMatrix, QR;
/// then all of it again on the inverted image if asked for.
struct Readers {
    one_d: Option<rows::Linear>,
    /// Whether an EAN/UPC code must read on two rows.
    ean_upc_twice: bool,
    data_matrix: bool,
    qr: bool,
    try_harder: bool,
    also_inverted: bool,
    hints: DecodeHints,
}

impl Readers {
    fn new(formats: &[Format], hints: &DecodeHints, ean_upc_twice: bool) -> Readers {
        Readers {
            one_d: rows::Linear::new(formats),
            data_matrix: formats.contains(&Format::DataMatrix),
            qr: formats.contains(&Format::Qr),
            ean_upc_twice,
            try_harder: hints.TryHarder == Some(true),
            also_inverted: hints.AlsoInverted == Some(true),
            hints: hints.clone(),
        }
    }

    /// The 1D readers, if any 1D format was asked for.
    fn decode_1d<B: Binarizer>(
        &mut self,
        image: &mut BinaryBitmap<B>,
        hints: &DecodeHints,
    ) -> Option<RXingResult> {
        rows::decode(self.one_d.as_mut()?, image, hints, self.ean_upc_twice).ok()
    }

    /// The 2D readers asked for: DataMatrix, then QR.
    fn decode_2d<B: Binarizer>(
        &mut self,
        image: &mut BinaryBitmap<B>,
        hints: &DecodeHints,
    ) -> Option<RXingResult> {
        if self.data_matrix
            && let Ok(found) = DataMatrixReader.decode_with_hints(image, hints)
        {
            return Some(found);
        }
        if self.qr {
            if let Ok(found) = QrReader.decode_with_hints(image, hints) {
                return Some(found);
            }
            if let Ok(found) = QRCodeReader.decode_with_hints(image, hints) {
                return Some(found);
            }
        }
        None
    }

    fn decode_formats<B: Binarizer>(
        &mut self,
        image: &mut BinaryBitmap<B>,
        hints: &DecodeHints,
    ) -> rxing::common::Result<RXingResult> {
        if !self.try_harder
            && let Some(found) = self.decode_1d(image, hints)
        {
            return Ok(found);
        }
        if let Some(found) = self.decode_2d(image, hints) {
            return Ok(found);
        }
        if self.try_harder
            && let Some(found) = self.decode_1d(image, hints)
        {
            return Ok(found);
        }
        Err(Exceptions::NOT_FOUND)
    }

    /// [`Search::EachKind`]: the first code of the 1D readers and the first of the 2D
    /// readers, in their order; on the inverted image too if asked for and nothing was found.
    fn decode_each_kind<B: Binarizer>(
        &mut self,
        image: &mut BinaryBitmap<B>,
        hints: &DecodeHints,
    ) -> Vec<RXingResult> {
        let mut found = self.each_kind(image, hints);
        if found.is_empty() && self.also_inverted {
            image.invert();
            found = self.each_kind(image, hints);
            image.invert();
        }
        found
    }

    fn each_kind<B: Binarizer>(
        &mut self,
        image: &mut BinaryBitmap<B>,
        hints: &DecodeHints,
    ) -> Vec<RXingResult> {
        let mut found = Vec::new();
        if !self.try_harder {
            found.extend(self.decode_1d(image, hints));
            found.extend(self.decode_2d(image, hints));
        } else if let Some(code) = self.decode_2d(image, hints) {
            // TryHarder's 1D readers scan every row, which costs more than the rest of the
            // decode: beside a 2D code, the rows about the middle that a live decode scans.
            found.push(code);
            let quick = DecodeHints {
                TryHarder: Some(false),
                ..hints.clone()
            };
            found.extend(self.decode_1d(image, &quick));
        } else {
            found.extend(self.decode_1d(image, hints));
        }
        found
    }
}

impl Reader for Readers {
    fn decode<B: Binarizer>(
        &mut self,
        image: &mut BinaryBitmap<B>,
    ) -> rxing::common::Result<RXingResult> {
        let hints = self.hints.clone();
        self.decode_with_hints(image, &hints)
    }

    fn decode_with_hints<B: Binarizer>(
        &mut self,
        image: &mut BinaryBitmap<B>,
        hints: &DecodeHints,
    ) -> rxing::common::Result<RXingResult> {
        if let Ok(found) = self.decode_formats(image, hints) {
            return Ok(found);
        }
        if self.also_inverted {
            image.invert();
            let found = self.decode_formats(image, hints);
            image.invert();
            return found;
        }
        Err(Exceptions::NOT_FOUND)
    }
}

/// Appends the codes of `more` not already in `found` (same format and text).
fn extend_unique(found: &mut Vec<Decoded>, more: Vec<Decoded>) {
    for d in more {
        if !found
            .iter()
            .any(|seen| seen.format == d.format && seen.text == d.text)
        {
            found.push(d);
        }
    }
}

/// A borrowed 8-bit greyscale image, row-major without padding, or an owned crop of one.
struct Image<'a> {
    width: usize,
    height: usize,
    luma: std::borrow::Cow<'a, [u8]>,
}

impl<'a> Image<'a> {
    /// `None` if the sizes are zero or do not match the buffer.
    fn new(width: u32, height: u32, luma: &'a [u8]) -> Option<Image<'a>> {
        let (width, height) = (usize::try_from(width).ok()?, usize::try_from(height).ok()?);
        (width > 0 && height > 0 && width.checked_mul(height) == Some(luma.len())).then_some(
            Image {
                width,
                height,
                luma: std::borrow::Cow::Borrowed(luma),
            },
        )
    }

    fn crop(&self, area: &Rect) -> Image<'static> {
        let mut luma = Vec::with_capacity(area.area());
        for y in area.y..area.y + area.height {
            let row = y * self.width + area.x;
            luma.extend_from_slice(&self.luma[row..row + area.width]);
        }
        Image {
            width: area.width,
            height: area.height,
            luma: std::borrow::Cow::Owned(luma),
        }
    }

    /// The grey level at (`x`, `y`), clamped to the image.
    fn at(&self, x: isize, y: isize) -> u8 {
        let x = x.clamp(0, self.width as isize - 1) as usize;
        let y = y.clamp(0, self.height as isize - 1) as usize;
        self.luma[y * self.width + x]
    }
}

/// A rectangle of frame pixels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Rect {
    x: usize,
    y: usize,
    width: usize,
    height: usize,
}

impl Rect {
    fn area(&self) -> usize {
        self.width * self.height
    }

    fn centre(&self) -> Point {
        Point {
            x: self.x as f32 + self.width as f32 / 2.0,
            y: self.y as f32 + self.height as f32 / 2.0,
        }
    }

    fn contains(&self, p: Point) -> bool {
        p.x >= self.x as f32
            && p.y >= self.y as f32
            && p.x < (self.x + self.width) as f32
            && p.y < (self.y + self.height) as f32
    }

    /// Whether the cell (`x`, `y`) of a grid lies in this rectangle of cells.
    fn contains_cell(&self, x: usize, y: usize) -> bool {
        x >= self.x && y >= self.y && x < self.x + self.width && y < self.y + self.height
    }

    fn intersection(&self, other: &Rect) -> usize {
        let w = (self.x + self.width).min(other.x + other.width);
        let h = (self.y + self.height).min(other.y + other.height);
        w.saturating_sub(self.x.max(other.x)) * h.saturating_sub(self.y.max(other.y))
    }

    fn union(&self, other: &Rect) -> Rect {
        let (x, y) = (self.x.min(other.x), self.y.min(other.y));
        Rect {
            x,
            y,
            width: (self.x + self.width).max(other.x + other.width) - x,
            height: (self.y + self.height).max(other.y + other.height) - y,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The pre-pass: where could a code be?

/// Tile side in pixels.
const TILE: usize = 16;
/// Scan lines run along every `LINE_STEP`-th row and column, starting at `LINE_STEP / 2`.
const LINE_STEP: usize = 4;
/// A transition is a run of grey-level differences, between pixels two apart, of one sign and
/// at least this much: well above the sensor noise of a bright frame, below the contrast of a
/// faded print. In a noisy frame the bar is raised to [`NOISE_FACTOR`] times the noise.
const EDGE: i16 = 20;
/// How far above the noise of the differences a transition must be (in standard deviations).
const NOISE_FACTOR: f32 = 3.5;
/// The highest threshold however noisy the frame.
const EDGE_MAX: i16 = 64;
/// Transitions a line along the gradient must cross before a region is turned: the 1D codes
/// read here have at least 20 bars (EAN-8: 22 bars and spaces' edges are 44).
const MIN_BARS: usize = 20;
/// Samples per frame pixel along the rows of a turned 1D region, and its height in pixels.
const UPRIGHT_SCALE: f32 = 2.0;
const UPRIGHT_BAND: usize = 160;
/// Height in pixels of the bands of a region looked at on their own for bars, and how far
/// (in degrees) from upright their bars may lean: a band holds the length of a code that
/// leans further only in part.
const BAND: usize = 48;
const BAND_MAX_ANGLE: f32 = 30.0;
/// How many codes one region can yield: after each, what is left of the region is decoded
/// again.
const MAX_CODES_PER_REGION: usize = 4;
/// Margin around a region, in pixels: quiet zones, and the finder edges of a 2D code, whose
/// solid bars have few transitions of their own.
const MARGIN: usize = 2 * TILE;

/// Transition counts per tile along horizontal and vertical scan lines.
struct EdgeMap {
    cols: usize,
    rows: usize,
    across: Vec<u16>,
    down: Vec<u16>,
}

/// The transition threshold for this frame: [`EDGE`], or more in a noisy frame. The noise is
/// the median absolute difference between pixels two apart along every sixteenth row, which
/// sensor noise dominates: edges are a small minority of pixels in any frame.
fn edge_threshold(image: &Image<'_>) -> i16 {
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
    fn scan(image: &Image<'_>, step: usize, edge: i16) -> EdgeMap {
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
    fn scan_reference(image: &Image<'_>, step: usize, edge: i16) -> EdgeMap {
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
    fn busy(&self, i: usize) -> bool {
        let (a, d) = (self.across[i], self.down[i]);
        (a >= 3 && d >= 3 && a + d >= 8) || a.max(d) >= 6
    }
}

/// Where the codes could be: which tiles are busy, and the regions they form.
fn locate(image: &Image<'_>) -> (TileMap, Vec<Region>) {
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
struct TileMap {
    cols: usize,
    rows: usize,
    busy: Vec<bool>,
    /// The frame's size in pixels.
    width: usize,
    height: usize,
}

/// A region worth decoding: connected busy tiles (`tiles`, an inclusive box of tile
/// coordinates) and the frame pixels to decode for them (`rect`: the tiles with a margin).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Region {
    rect: Rect,
    tiles: Rect,
}

impl TileMap {
    /// The regions of the busy tiles that `keep` accepts: connected groups of tiles, with a
    /// margin, merged where they overlap.
    fn regions(&self, keep: impl Fn(usize) -> bool) -> Vec<Region> {
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
    fn leftover(&self, image: &Image<'_>, region: &Region, codes: &[Decoded]) -> Vec<Region> {
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
fn code_box(image: &Image<'_>, code: &Decoded) -> Rect {
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
struct Bars {
    top: usize,
    bottom: usize,
    module: f32,
}

/// Measures the bars of a 1D code read between (`x0`, `y0`) and (`x1`, `y1`), when that was
/// along a row: the read row, thresholded halfway between its darkest and lightest pixels,
/// is followed up and down while each row agrees with the one before on four pixels in five
/// (so a code a little off upright is followed along its bars) and keeps at least half the
/// read row's dark pixels (so fading bar ends stop it). `None` for a read at an angle, or a
/// row too short or too flat to measure.
fn bars(image: &Image<'_>, x0: f32, x1: f32, y0: f32, y1: f32) -> Option<Bars> {
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
fn straightened(image: &Image<'_>, region: &Rect, options: &DecodeOptions) -> Vec<Decoded> {
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
fn turned(
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
fn banded(
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
fn refine_angle(image: &Image<'_>, region: &Rect, estimate: f32) -> f32 {
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
fn crossings(image: &Image<'_>, region: &Rect, angle: f32) -> usize {
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

fn bilinear(image: &Image<'_>, x: f32, y: f32) -> u8 {
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
struct Tensor {
    xx: i64,
    yy: i64,
    xy: i64,
}

impl Tensor {
    fn sum(rows: &[Tensor]) -> Tensor {
        rows.iter().fold(Tensor::default(), |a, b| Tensor {
            xx: a.xx + b.xx,
            yy: a.yy + b.yy,
            xy: a.xy + b.xy,
        })
    }
}

/// The structure tensor of every other row of `region` (rows 1, 3, 5… of it, but the last),
/// each sampled on every other pixel.
fn tensor_rows(image: &Image<'_>, region: &Rect) -> Vec<Tensor> {
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
fn orientation(tensor: Tensor) -> Option<f32> {
    let (xx, yy, xy) = (tensor.xx as f64, tensor.yy as f64, tensor.xy as f64);
    let energy = xx + yy;
    if energy <= 0.0 {
        return None;
    }
    let coherence = ((xx - yy).powi(2) + 4.0 * xy * xy).sqrt() / energy;
    (coherence >= 0.6).then(|| (0.5 * (2.0 * xy).atan2(xx - yy)) as f32)
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
    /// The file is not an image in any format this build reads.
    #[cfg_attr(
        feature = "heic",
        error(
            "{path} is not an image (custodian decode reads PNG, JPEG, WebP, GIF, BMP, TIFF and HEIC files)"
        )
    )]
    #[cfg_attr(
        not(feature = "heic"),
        error(
            "{path} is not an image (custodian decode reads PNG, JPEG, WebP, GIF, BMP and TIFF files)"
        )
    )]
    NotAnImage { path: std::path::PathBuf },
    /// The file is an image in a format this build does not read (HEIC: a build without the
    /// `heic` feature, or a libheif without an HEVC decoder).
    #[error("{path} is a {format} image, which custodian cannot read: {hint}")]
    Unsupported {
        path: std::path::PathBuf,
        /// The format's name, e.g. `HEIC`.
        format: &'static str,
        /// What to do instead.
        hint: &'static str,
    },
    /// The file is an image in a format this build reads, but it is corrupt or cut short.
    #[error("{path} is a {format} image that cannot be read: {source}")]
    Image {
        path: std::path::PathBuf,
        format: &'static str,
        source: image::ImageError,
    },
}

/// The image formats [`decode_image_file`] reads, with the names its errors use.
#[cfg(feature = "image-files")]
const IMAGE_FORMATS: [(image::ImageFormat, &str); 6] = [
    (image::ImageFormat::Png, "PNG"),
    (image::ImageFormat::Jpeg, "JPEG"),
    (image::ImageFormat::WebP, "WebP"),
    (image::ImageFormat::Gif, "GIF"),
    (image::ImageFormat::Bmp, "BMP"),
    (image::ImageFormat::Tiff, "TIFF"),
];

/// An image file's pixels as 8-bit luma: PNG, JPEG, WebP, GIF (its first frame), BMP or TIFF,
/// told apart by their contents, not their names. A HEIC/HEIF photo (an iPhone's default) is
/// read through the system's libheif with the `heic` feature (its primary image, turned as
/// the file says), and recognised and refused with what to do instead without it; anything
/// else is not an image.
///
/// # Errors
///
/// [`DecodeError::NotAnImage`], [`DecodeError::Unsupported`], or [`DecodeError::Image`] for a
/// corrupt file of a known format; `path` only names the file in the error.
#[cfg(feature = "image-files")]
pub fn luma_from_image_bytes(
    path: &std::path::Path,
    bytes: &[u8],
) -> Result<(u32, u32, Vec<u8>), DecodeError> {
    let Some((format, name)) = image::guess_format(bytes)
        .ok()
        .and_then(|f| IMAGE_FORMATS.iter().find(|(known, _)| *known == f))
        .copied()
    else {
        return match unsupported_format(bytes) {
            #[cfg(feature = "heic")]
            Some(("HEIC", _)) => heic::luma(path, bytes),
            Some((format, hint)) => Err(DecodeError::Unsupported {
                path: path.to_owned(),
                format,
                hint,
            }),
            None => Err(DecodeError::NotAnImage {
                path: path.to_owned(),
            }),
        };
    };
    let image = image::load_from_memory_with_format(bytes, format).map_err(|source| {
        DecodeError::Image {
            path: path.to_owned(),
            format: name,
            source,
        }
    })?;
    let luma = image.into_luma8();
    let (width, height) = luma.dimensions();
    Ok((width, height, luma.into_raw()))
}

/// Image formats recognised by their signature but not read, and what to do instead.
#[cfg(feature = "image-files")]
fn unsupported_format(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    // ISO base media files: a box size, `ftyp`, then the major brand.
    let brand = bytes.get(4..12).filter(|b| b.starts_with(b"ftyp"))?;
    match &brand[4..] {
        b"heic" | b"heix" | b"heim" | b"heis" | b"hevc" | b"hevx" | b"mif1" | b"msf1" => Some((
            "HEIC",
            "export it as JPEG (on an iPhone: Settings > Camera > Formats > Most Compatible) or convert it with heif-convert",
        )),
        b"avif" | b"avis" => Some(("AVIF", "convert it to PNG or JPEG")),
        _ => None,
    }
}

/// HEIC/HEIF photos through libheif (feature `heic`).
#[cfg(feature = "heic")]
mod heic {
    use std::path::Path;

    use image::error::{DecodingError, ImageError, ImageFormatHint, LimitError, LimitErrorKind};
    use libheif_rs::{
        ColorSpace, HeifContext, HeifError, HeifErrorCode, HeifErrorSubCode, LibHeif, RgbChroma,
    };

    use super::DecodeError;

    /// The most RGB bytes a photo may decode to (the `image` crate's default allocation
    /// limit): 170 megapixels, over three times a 48-megapixel iPhone photo.
    const MAX_RGB_BYTES: u64 = 512 * 1024 * 1024;

    /// The primary image of a HEIC/HEIF file as 8-bit luma, with its rotation, mirroring and
    /// crop applied.
    pub(super) fn luma(path: &Path, bytes: &[u8]) -> Result<(u32, u32, Vec<u8>), DecodeError> {
        let corrupt = |source: ImageError| DecodeError::Image {
            path: path.to_owned(),
            format: "HEIC",
            source,
        };
        let decoding = |message: String| {
            corrupt(ImageError::Decoding(DecodingError::new(
                ImageFormatHint::Name("HEIC".to_owned()),
                message,
            )))
        };
        let heif = |e: HeifError| match (e.code, e.sub_code) {
            (HeifErrorCode::UnsupportedFeature, HeifErrorSubCode::UnsupportedCodec) => {
                DecodeError::Unsupported {
                    path: path.to_owned(),
                    format: "HEIC",
                    hint: "this system's libheif has no HEVC decoder (on Debian, install libheif1 \
                           with libde265-0); or export it as JPEG",
                }
            }
            _ if e.message.is_empty() => decoding(format!("{:?} ({:?})", e.code, e.sub_code)),
            _ => decoding(e.message),
        };

        let libheif = LibHeif::new();
        let context = HeifContext::read_from_bytes(bytes).map_err(heif)?;
        let handle = context.primary_image_handle().map_err(heif)?;
        if u64::from(handle.width()) * u64::from(handle.height()) * 3 > MAX_RGB_BYTES {
            return Err(corrupt(ImageError::Limits(LimitError::from_kind(
                LimitErrorKind::DimensionError,
            ))));
        }
        let image = libheif
            .decode(&handle, ColorSpace::Rgb(RgbChroma::Rgb), None)
            .map_err(heif)?;
        let planes = image.planes();
        let plane = planes
            .interleaved
            .ok_or_else(|| decoding("libheif gave no interleaved RGB plane".to_owned()))?;
        let (width, height) = (plane.width, plane.height);
        let row_bytes = width as usize * 3;
        let mut rgb = Vec::with_capacity(row_bytes * height as usize);
        for row in plane.data.chunks(plane.stride.max(1)).take(height as usize) {
            let pixels = row
                .get(..row_bytes)
                .ok_or_else(|| decoding("libheif gave a row shorter than the image".to_owned()))?;
            rgb.extend_from_slice(pixels);
        }
        let rgb = image::RgbImage::from_raw(width, height, rgb)
            .ok_or_else(|| decoding("libheif gave fewer rows than the image".to_owned()))?;
        let luma = image::DynamicImage::ImageRgb8(rgb).into_luma8();
        Ok((width, height, luma.into_raw()))
    }
}

/// Reads an image file ([`luma_from_image_bytes`] lists the formats), converts it to greyscale
/// and decodes it with [`DecodeOptions::thorough`] (TryHarder: a still image is worth the
/// extra time).
///
/// **This and [`decode_image_file_with`] are the functions of the crate that do I/O**; they
/// exist for the CLI's `custodian decode` and are compiled only with the `image-files`
/// feature. Everything else takes pixels as buffers.
///
/// # Errors
///
/// The file cannot be read, or is not an image in a format this build reads.
#[cfg(feature = "image-files")]
pub fn decode_image_file(path: impl AsRef<std::path::Path>) -> Result<Vec<Decoded>, DecodeError> {
    decode_image_file_with(path, &DecodeOptions::thorough())
}

/// [`decode_image_file`] with the given options (the live camera's defaults, or TryHarder).
///
/// # Errors
///
/// As [`decode_image_file`].
#[cfg(feature = "image-files")]
pub fn decode_image_file_with(
    path: impl AsRef<std::path::Path>,
    options: &DecodeOptions,
) -> Result<Vec<Decoded>, DecodeError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| DecodeError::Io {
        path: path.to_owned(),
        source,
    })?;
    let (width, height, luma) = luma_from_image_bytes(path, &bytes)?;
    Ok(decode_luma(width, height, &luma, options))
}

/// The label images the integration tests draw, for the tests below.
#[cfg(test)]
#[path = "../tests/support/labels.rs"]
mod test_labels;

#[cfg(test)]
mod tests {
    use super::*;
    use test_labels::{FRAMES, Gray, Symbol, label};

    /// Noise, flat patches, fine stripes and steps, from a seed.
    fn texture(width: usize, height: usize, seed: u64) -> Vec<u8> {
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
                let noise = (next() % 31) as i32 - 15;
                let base = match (x / 37 + y / 29) % 4 {
                    0 => 128,
                    1 => {
                        if (x / 2) % 2 == 0 {
                            40
                        } else {
                            210
                        }
                    }
                    2 => {
                        if (y / 3) % 2 == 0 {
                            20
                        } else {
                            230
                        }
                    }
                    _ => (next() % 256) as i32,
                };
                (base + noise).clamp(0, 255) as u8
            })
            .collect()
    }

    fn assert_same_edge_maps(width: usize, height: usize, luma: &[u8], what: &str) {
        let image = Image::new(width as u32, height as u32, luma).unwrap();
        for step in [1, 2] {
            for edge in [EDGE, 33, EDGE_MAX] {
                let fast = EdgeMap::scan(&image, step, edge);
                let reference = EdgeMap::scan_reference(&image, step, edge);
                let context = format!("{what} {width}×{height} step {step} edge {edge}");
                assert_eq!(
                    (fast.cols, fast.rows),
                    (reference.cols, reference.rows),
                    "{context}"
                );
                assert_eq!(fast.across, reference.across, "{context}: across");
                assert_eq!(fast.down, reference.down, "{context}: down");
            }
        }
    }

    #[test]
    fn edge_map_counts_as_the_reference_at_any_size() {
        for (n, (width, height)) in [
            (64, 48),
            (65, 49),
            (100, 37),
            (33, 70),
            (17, 17),
            (5, 5),
            (3, 2),
            (2, 3),
            (1, 1),
            (250, 130),
        ]
        .into_iter()
        .enumerate()
        {
            let luma = texture(width, height, n as u64);
            assert_same_edge_maps(width, height, &luma, "texture");
        }
    }

    #[test]
    fn edge_map_counts_as_the_reference_on_the_camera_frames() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/labels/frames");
        for name in ["datamatrix-0", "datamatrix-1", "empty-2"] {
            let luma = image::open(format!("{dir}/{name}.png")).unwrap().to_luma8();
            let (width, height) = luma.dimensions();
            assert_same_edge_maps(width as usize, height as usize, luma.as_raw(), name);
        }
    }

    const SSCC_128: &str = "00340123450000000016";
    const UNIT_DM: &str = "010401234500001610L2611A\u{1d}215FNRJRW2M5";

    /// Where a carton label puts its GS1 DataMatrix against its GS1-128.
    #[derive(Clone, Copy, Debug)]
    enum Layout {
        Beside,
        Below,
        Left,
    }

    /// A carton label (white, each symbol with its own quiet zone, `gap` pixels apart:
    /// negative where the quiet zones overlap) pasted at (300, 300) into a frame, plain
    /// grey or one of the benchmark scenes blurred a little as a camera would. Returns the
    /// frame and where each symbol's modules are.
    fn carton(
        layout: Layout,
        (bar_module, dm_module): (usize, usize),
        gap: isize,
        scene: Option<usize>,
    ) -> (Gray, Rect, Rect) {
        let bars = label(Symbol::Gs1_128, SSCC_128, bar_module);
        let dm = label(Symbol::Gs1DataMatrix, UNIT_DM, dm_module);
        let (x, y) = (300isize, 300isize);
        let (dx, dy) = match layout {
            Layout::Beside => (x + bars.width as isize + gap, y),
            Layout::Below => (x, y + bars.height as isize + gap),
            Layout::Left => (x - dm.width as isize - gap, y),
        };
        let (left, top) = (x.min(dx) as usize, y.min(dy) as usize);
        let right = (x as usize + bars.width).max(dx as usize + dm.width);
        let bottom = (y as usize + bars.height).max(dy as usize + dm.height);
        let mut paper = Gray::blank(right - left, bottom - top, 250);
        paper.blit(&bars, x as usize - left, y as usize - top);
        paper.blit(&dm, dx as usize - left, dy as usize - top);
        let mut frame = match scene {
            Some(n) => FRAMES[n].empty(),
            None => Gray::blank(1280, 720, 120),
        };
        frame.blit(&paper, left, top);
        if scene.is_some() {
            frame = frame.blurred(1);
        }
        // The modules inside the quiet zones: 10 modules for GS1-128, 4 for the DataMatrix.
        let inside = |x: isize, y: isize, symbol: &Gray, quiet: usize| Rect {
            x: x as usize + quiet,
            y: y as usize + quiet,
            width: symbol.width - 2 * quiet,
            height: symbol.height - 2 * quiet,
        };
        let bars_rect = inside(x, y, &bars, 10 * bar_module);
        let dm_rect = inside(dx, dy, &dm, 4 * dm_module);
        (frame, bars_rect, dm_rect)
    }

    /// A GS1-128 and a GS1 DataMatrix on one carton label are one located region. The
    /// GS1-128 is read first; before, what was left of the region around the row that read it
    /// still held its bars and the DataMatrix in one crop that the DataMatrix reader missed,
    /// or took in the GS1-128's centre and was dropped, and the DataMatrix was not found in
    /// that frame (nor, with the label held still, in any other).
    #[test]
    fn a_gs1_128_and_a_datamatrix_in_one_region_are_both_found() {
        let cases = [
            (Layout::Beside, (2, 4), -4, None),
            (Layout::Beside, (3, 4), 0, Some(0)),
            (Layout::Beside, (3, 5), -4, Some(0)),
            (Layout::Below, (2, 4), 0, None),
            (Layout::Below, (2, 5), -4, None),
            (Layout::Left, (3, 4), 8, Some(0)),
            (Layout::Left, (3, 5), 0, Some(0)),
        ];
        for (layout, modules, gap, scene) in cases {
            let case = format!("{layout:?}, modules {modules:?}, gap {gap}, scene {scene:?}");
            let (frame, bars, dm) = carton(layout, modules, gap, scene);
            let image = Image::new(1280, 720, &frame.px).unwrap();
            let (_, regions) = locate(&image);
            assert!(
                regions
                    .iter()
                    .any(|r| { r.rect.contains(bars.centre()) && r.rect.contains(dm.centre()) }),
                "{case}: the two symbols are not one region: {regions:?}"
            );
            for options in [DecodeOptions::default(), DecodeOptions::thorough()] {
                let decoded = decode_luma(1280, 720, &frame.px, &options);
                let find =
                    |aim: &str, text: &str| decoded.iter().find(|d| d.aim == aim && d.text == text);
                let (Some(line), Some(matrix)) = (find("]C1", SSCC_128), find("]d2", UNIT_DM))
                else {
                    panic!("{case}, {options:?}: {decoded:?}");
                };
                assert_eq!(decoded.len(), 2, "{case}: {decoded:?}");
                assert!(bars.contains(line.center()), "{case}: {line:?}");
                assert!(dm.contains(matrix.center()), "{case}: {matrix:?}");
            }
            let first = DecodeOptions {
                multiple: false,
                ..DecodeOptions::default()
            };
            assert_eq!(decode_luma(1280, 720, &frame.px, &first).len(), 1, "{case}");
        }
    }

    #[test]
    fn bars_are_measured_from_the_row_that_read_them() {
        for (module, blur, degrees) in [(2, 0, 0.0), (3, 1, 0.0), (2, 1, 6.0), (4, 1, -8.0)] {
            let case = format!("module {module}, blur {blur}, {degrees}°");
            let code = label(Symbol::Gs1_128, SSCC_128, module);
            let code = if degrees == 0.0 {
                code
            } else {
                code.rotated(degrees)
            };
            let mut frame = Gray::blank(640, 480, 250);
            let (x, y) = (100, 120);
            frame.blit(&code, x, y);
            // A DataMatrix right under the code's quiet zone, and text-like clutter above it.
            let dm = label(Symbol::Gs1DataMatrix, UNIT_DM, 4);
            frame.blit(&dm, x + 40, y + code.height);
            for (i, px) in frame.px[(y - 20) * 640..(y - 12) * 640]
                .iter_mut()
                .enumerate()
            {
                if (i % 640) % 7 < 3 {
                    *px = 30;
                }
            }
            let frame = if blur > 0 { frame.blurred(blur) } else { frame };
            let image = Image::new(640, 480, &frame.px).unwrap();
            let (quiet, tall) = (10 * module, 40 * module);
            let middle = (y + code.height / 2) as f32;
            let (x0, x1) = (
                (x + quiet + 5 * module) as f32,
                (x + code.width - quiet - 6 * module) as f32,
            );
            let found =
                bars(&image, x0, x1, middle, middle).unwrap_or_else(|| panic!("{case}: no bars"));
            // Upright: the bars' rows, give or take the blur. At an angle: the rows where
            // the bars still cross most of the read row's span.
            let slack = if degrees == 0.0 {
                2
            } else {
                code.height - tall - 2 * quiet + 8
            };
            let (top, bottom) = (
                y + (code.height - tall) / 2,
                y + (code.height + tall) / 2 - 1,
            );
            assert!(
                found.top.abs_diff(top) <= slack,
                "{case}: {found:?}, bars from {top}"
            );
            assert!(
                found.bottom.abs_diff(bottom) <= slack,
                "{case}: {found:?}, bars to {bottom}"
            );
            assert!(
                (0.6..=1.6).contains(&(found.module / module as f32)),
                "{case}: {found:?}"
            );
        }
        // A row across a flat area or at an angle is not measured.
        let flat = vec![200u8; 64 * 64];
        let flat = Image::new(64, 64, &flat).unwrap();
        assert_eq!(bars(&flat, 2.0, 60.0, 30.0, 30.0), None);
        assert_eq!(bars(&flat, 2.0, 60.0, 10.0, 40.0), None);
    }
}
