//! Any bytes as an image file → `luma_from_image_bytes` never panics: a clear error (not an
//! image, a format not read, a corrupt image) or pixels, which are then decoded.
#![no_main]

use custodian_scanner::decode::{DecodeOptions, decode_luma, luma_from_image_bytes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match luma_from_image_bytes(std::path::Path::new("fuzz"), data) {
        Ok((width, height, luma)) => {
            assert_eq!(luma.len() as u64, u64::from(width) * u64::from(height));
            // Small images only: the decoder's own cost is not what this target looks for.
            if luma.len() <= 256 * 256 {
                let _ = decode_luma(width, height, &luma, &DecodeOptions::default());
            }
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
