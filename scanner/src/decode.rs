//! Barcodes from pixels: camera frames (8-bit luma buffers) in, decoded symbols out, with their
//! symbology identifier and normalised GS1 text, ready for [`crate::parse`].
//!
//! Decoding is rxing (a Rust port of ZXing) with a hybrid binarizer. The defaults are tuned for
//! a live camera: only the GS1 carriers ([`Format::DEFAULT`]) and no TryHarder;
//! [`DecodeOptions::try_harder`] is for still images where a miss costs more than 100 ms. Over
//! a stream of frames, [`crate::live::Dedup`] turns "the same code in 30 consecutive frames" into one scan.
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

mod binarize;
mod locate;
mod rows;
use binarize::FastHybridBinarizer;
use locate::*;

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
