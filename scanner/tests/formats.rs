//! `decode_image_file` on one real photograph in every image format it reads (PNG, JPEG, WebP,
//! GIF, BMP, TIFF, and HEIC with the `heic` feature), and clear errors, never a panic, for files
//! that are not images, HEIC photos in a build without `heic`, and images cut short or corrupt.

#![cfg(feature = "image-files")]
#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::{Path, PathBuf};

use custodian_scanner::decode::{
    DecodeError, DecodeOptions, decode_image_file_with, luma_from_image_bytes,
};

const TEXT: &str = "Google Print Ads - T.G.I.A.F. - January 31, 2008";

fn formats() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/photos/formats")
}

#[test]
fn every_format_reads_the_same_photo() {
    for ext in ["png", "jpg", "webp", "gif", "bmp", "tiff"] {
        let path = formats().join(format!("qrcode-4-01.{ext}"));
        for options in [DecodeOptions::default(), DecodeOptions::thorough()] {
            let found =
                decode_image_file_with(&path, &options).unwrap_or_else(|e| panic!("{ext}: {e}"));
            assert!(
                found.iter().any(|d| d.text == TEXT && d.aim == "]Q1"),
                "{ext}: {found:?}"
            );
        }
    }
}

#[test]
fn the_lossless_formats_give_the_same_pixels() {
    let read = |ext: &str| {
        let path = formats().join(format!("qrcode-4-01.{ext}"));
        luma_from_image_bytes(&path, &std::fs::read(&path).unwrap()).unwrap()
    };
    let png = read("png");
    for ext in ["webp", "bmp", "tiff"] {
        assert!(read(ext) == png, "{ext}");
    }
}

fn error(bytes: &[u8]) -> DecodeError {
    luma_from_image_bytes(Path::new("scan.dat"), bytes).unwrap_err()
}

#[test]
fn a_file_that_is_not_an_image_is_named_so() {
    for bytes in [
        &b""[..],
        b"0104012345000016\x1d21ABC\n",
        b"%PDF-1.7\n",
        &[0u8; 64],
    ] {
        let e = error(bytes);
        assert!(matches!(e, DecodeError::NotAnImage { .. }), "{e:?}");
        let formats = if cfg!(feature = "heic") {
            "PNG, JPEG, WebP, GIF, BMP, TIFF and HEIC"
        } else {
            "PNG, JPEG, WebP, GIF, BMP and TIFF"
        };
        assert_eq!(
            e.to_string(),
            format!("scan.dat is not an image (custodian decode reads {formats} files)")
        );
    }
    let missing = decode_image_file_with(formats().join("absent.png"), &DecodeOptions::default());
    assert!(
        matches!(missing, Err(DecodeError::Io { .. })),
        "{missing:?}"
    );
}

/// The first box of an iPhone photo: size, `ftyp`, major brand `heic`, minor version,
/// compatible brands.
const HEIC_FTYP: &[u8] = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic";

#[cfg(not(feature = "heic"))]
#[test]
fn a_heic_photo_is_refused_with_what_to_do() {
    let e = error(HEIC_FTYP);
    assert!(
        matches!(e, DecodeError::Unsupported { format: "HEIC", .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("export it as JPEG"), "{e}");
}

/// The photo of the other formats encoded as HEIC by libheif's heif-enc (x265, quality 90).
#[cfg(feature = "heic")]
#[test]
fn a_heic_photo_reads_like_the_others() {
    let path = formats().join("qrcode-4-01.heic");
    for options in [DecodeOptions::default(), DecodeOptions::thorough()] {
        let found = decode_image_file_with(&path, &options).unwrap();
        assert!(
            found.iter().any(|d| d.text == TEXT && d.aim == "]Q1"),
            "{found:?}"
        );
    }
    let (width, height, luma) =
        luma_from_image_bytes(&path, &std::fs::read(&path).unwrap()).unwrap();
    assert_eq!((width, height, luma.len()), (240, 240, 240 * 240));
}

/// A HEIC file cut short, or with its boxes or its picture damaged, is an error naming the file
/// and HEIC (or, where the damage leaves a picture, pixels), never a panic.
#[cfg(feature = "heic")]
#[test]
fn a_heic_photo_cut_short_or_corrupt_is_an_error_not_a_panic() {
    let path = formats().join("qrcode-4-01.heic");
    let bytes = std::fs::read(&path).unwrap();
    let heic_error = |e: &DecodeError| {
        matches!(e, DecodeError::Image { format: "HEIC", .. })
            && e.to_string()
                .starts_with("scan.dat is a HEIC image that cannot be read: ")
    };

    // Only the `ftyp` box: no picture at all.
    let e = error(HEIC_FTYP);
    assert!(heic_error(&e), "{e:?}");

    for len in [12, 40, 100, bytes.len() / 2, bytes.len() - 1] {
        let e = error(&bytes[..len]);
        assert!(heic_error(&e), "cut at {len}: {e:?}");
    }

    // Bytes overwritten at every 97th place (boxes and picture alike), one place at a time.
    for at in (12..bytes.len()).step_by(97) {
        let mut corrupt = bytes.clone();
        corrupt[at] ^= 0xA5;
        if let Err(e) = luma_from_image_bytes(Path::new("scan.dat"), &corrupt) {
            assert!(heic_error(&e), "byte {at}: {e:?}");
        }
    }
}

#[test]
fn an_image_cut_short_is_an_error_not_a_panic() {
    for ext in ["png", "jpg", "webp", "gif", "bmp", "tiff"] {
        let bytes = std::fs::read(formats().join(format!("qrcode-4-01.{ext}"))).unwrap();
        for len in [16, 100, bytes.len() / 2] {
            // A cut-short image is refused or decoded as far as it goes; it never panics.
            if let Err(e) = luma_from_image_bytes(Path::new("cut"), &bytes[..len]) {
                assert!(
                    matches!(
                        e,
                        DecodeError::Image { .. } | DecodeError::NotAnImage { .. }
                    ),
                    "{ext} cut at {len}: {e:?}"
                );
            }
        }
    }
}
