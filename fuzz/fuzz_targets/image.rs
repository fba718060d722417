//! Any bytes as an image file → `luma_from_image_bytes` never panics: a clear error (not an
//! image, a format not read, a corrupt image) or pixels, which are then decoded.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../harness/image.rs"]
mod image_harness;

fuzz_target!(|data: &[u8]| {
    let _ = image_harness::image(data);
});
