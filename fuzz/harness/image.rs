//! The scanner's door for image files: what `custodian decode` reads. Shared, unchanged, by the
//! fuzz target and by the scanner's replay of the seed corpus and of every input a fuzz run
//! ever broke (`scanner/tests/fuzz_inputs.rs`, with the `image-files` feature).

/// Any bytes as an image file → `luma_from_image_bytes` never panics: a clear error (not an
/// image, a format not read, a corrupt image) or pixels, which are then decoded.
pub fn image(data: &[u8]) -> Result<usize, String> {
    use custodian_scanner::decode::{DecodeOptions, decode_luma, luma_from_image_bytes};
    let (width, height, luma) =
        luma_from_image_bytes(std::path::Path::new("fuzz"), data).map_err(|e| e.to_string())?;
    assert_eq!(luma.len() as u64, u64::from(width) * u64::from(height));
    // Small images only: the decoder's own cost is not what this looks for.
    if luma.len() <= 256 * 256 {
        return Ok(decode_luma(width, height, &luma, &DecodeOptions::default()).len());
    }
    Ok(0)
}
