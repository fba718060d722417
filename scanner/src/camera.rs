//! Cameras (feature `camera`): a webcam or a handheld's camera as a [`FrameSource`], for
//! [`crate::LiveScans`], which decodes its frames on a worker thread and reports each code once.
//!
//! **This module does I/O and reads a clock**, which the rest of the crate does not: it opens
//! cameras through nokhwa (V4L2 on Linux, AVFoundation, Media Foundation) and stamps each frame
//! with the time since the camera was opened. It is compiled only with the `camera` feature, so
//! headless builds carry no camera stack. What can be pure is: [`to_luma`] turns each pixel
//! format a camera delivers into the 8-bit luma that [`crate::decode_luma`] takes, and the
//! decoding and deduplication are [`crate::decode`]'s and [`crate::live`]'s.
//!
//! Errors say which of the three things a person can act on happened: no camera at that index
//! ([`CameraError::NoCamera`]), another program holding it ([`CameraError::Busy`]), or frames
//! stopping after the camera had been working ([`CameraError::Unplugged`]).
//!
//! ```no_run
//! use custodian_scanner::camera::Camera;
//! use custodian_scanner::{DecodeOptions, Dedup, LiveScans};
//!
//! let camera = Camera::open(0)?;
//! for code in LiveScans::spawn(camera, DecodeOptions::default(), Dedup::new(1500)) {
//!     println!("{}", code?.scan_text());
//! }
//! # Ok::<(), custodian_scanner::camera::CameraError>(())
//! ```

use std::time::Instant;

use nokhwa::NokhwaError;
use nokhwa::pixel_format::LumaFormat;
use nokhwa::utils::{
    ApiBackend, CameraFormat, CameraIndex, FrameFormat, RequestedFormat, RequestedFormatType,
    Resolution,
};

use crate::live::{Frame, FrameSource};

/// Corrupt frames in a row (a torn MJPEG frame now and then is normal) before a camera is
/// taken to be failing.
const MAX_BAD_FRAMES: u32 = 30;

/// A camera the system knows about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraInfo {
    /// What [`Camera::open`] takes.
    pub index: u32,
    /// The device's name ("HD Pro Webcam C920").
    pub name: String,
    /// Where it is ("Video4Linux Device @ /dev/video0").
    pub description: String,
}

/// Why a camera gave no frames.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CameraError {
    /// No camera at that index.
    #[error(
        "no camera {index}: {}; connect a camera (`custodian cameras` lists them) or scan with a handheld scanner",
        if *.found == 0 { "none is connected".to_owned() } else { format!("{} other camera(s) found", .found) }
    )]
    NoCamera {
        /// The index asked for.
        index: u32,
        /// How many cameras the system lists.
        found: usize,
    },
    /// Another program is using the camera.
    #[error(
        "camera {index} is in use by another program ({reason}): close it (a video call, a browser tab, another scan session) and try again"
    )]
    Busy {
        /// The index asked for.
        index: u32,
        /// What the driver said.
        reason: String,
    },
    /// The user may not open the camera.
    #[error(
        "no permission to open camera {index} ({reason}): add the user to the video group and log in again"
    )]
    Denied {
        /// The index asked for.
        index: u32,
        /// What the driver said.
        reason: String,
    },
    /// Frames stopped after the camera had been delivering them.
    #[error(
        "camera {index} stopped delivering frames ({reason}): it was probably unplugged; reconnect it and start scanning again"
    )]
    Unplugged {
        /// The index asked for.
        index: u32,
        /// What the driver said.
        reason: String,
    },
    /// The camera is there but could not be started or read from the start (no format we
    /// can decode, a driver failure).
    #[error(
        "camera {index} could not be started: {source}; check that it works in another program, or try another camera"
    )]
    Failed {
        /// The index asked for.
        index: u32,
        /// What nokhwa said.
        source: NokhwaError,
    },
    /// The system could not list its cameras.
    #[error("cannot list the cameras: {source}")]
    Query {
        /// What nokhwa said.
        source: NokhwaError,
    },
}

/// The cameras the system lists, in index order; empty when there are none.
///
/// # Errors
///
/// [`CameraError::Query`] when the platform's camera service cannot be asked.
pub fn list_cameras() -> Result<Vec<CameraInfo>, CameraError> {
    let backend = nokhwa::native_api_backend().unwrap_or(ApiBackend::Auto);
    let mut cameras: Vec<CameraInfo> = nokhwa::query(backend)
        .map_err(|source| CameraError::Query { source })?
        .into_iter()
        .filter_map(|info| {
            Some(CameraInfo {
                index: info.index().as_index().ok()?,
                name: info.human_name(),
                description: info.description().to_owned(),
            })
        })
        .collect();
    cameras.sort_by_key(|c| c.index);
    Ok(cameras)
}

/// An open, streaming camera: a [`FrameSource`] of luma frames.
pub struct Camera {
    camera: nokhwa::Camera,
    index: u32,
    opened: Instant,
    luma: Vec<u8>,
    frames: u64,
}

impl std::fmt::Debug for Camera {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Camera")
            .field("index", &self.index)
            .field("format", &self.camera.camera_format())
            .field("frames", &self.frames)
            .finish_non_exhaustive()
    }
}

impl Camera {
    /// Opens camera `index` (as [`list_cameras`] numbers them) and starts its stream, at
    /// 1280×720 when it offers that (enough for a label at arm's length, and fast to decode),
    /// else at the best frame rate it has.
    ///
    /// # Errors
    ///
    /// [`CameraError::NoCamera`], [`CameraError::Busy`], [`CameraError::Denied`] or
    /// [`CameraError::Failed`].
    pub fn open(index: u32) -> Result<Camera, CameraError> {
        let cameras = list_cameras()?;
        if !cameras.iter().any(|c| c.index == index) {
            return Err(CameraError::NoCamera {
                index,
                found: cameras.len(),
            });
        }
        let hd = Resolution::new(1280, 720);
        let requests = [
            RequestedFormatType::Closest(CameraFormat::new(hd, FrameFormat::MJPEG, 30)),
            RequestedFormatType::Closest(CameraFormat::new(hd, FrameFormat::YUYV, 30)),
            RequestedFormatType::HighestFrameRate(30),
            RequestedFormatType::AbsoluteHighestFrameRate,
        ];
        let mut last = None;
        for request in requests {
            match nokhwa::Camera::new(
                CameraIndex::Index(index),
                RequestedFormat::new::<LumaFormat>(request),
            ) {
                Ok(mut camera) => {
                    camera
                        .open_stream()
                        .map_err(|e| classify(index, e, false))?;
                    return Ok(Camera {
                        camera,
                        index,
                        opened: Instant::now(),
                        luma: Vec::new(),
                        frames: 0,
                    });
                }
                // This format is not on offer: try the next request.
                Err(
                    e @ (NokhwaError::GetPropertyError { .. }
                    | NokhwaError::SetPropertyError { .. }),
                ) if !is_busy(&e.to_string()) => last = Some(e),
                Err(e) => return Err(classify(index, e, false)),
            }
        }
        Err(classify(
            index,
            last.unwrap_or_else(|| NokhwaError::GeneralError("no usable format".into())),
            false,
        ))
    }

    /// The index it was opened with.
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The frame size and pixel format the camera streams in.
    pub fn format(&self) -> (u32, u32, FrameFormat) {
        let format = self.camera.camera_format();
        (format.width(), format.height(), format.format())
    }
}

impl FrameSource for Camera {
    type Error = CameraError;

    /// The next frame as luma. A corrupt frame is skipped; a camera never ends by itself, so
    /// this never returns `Ok(None)`.
    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CameraError> {
        let mut bad = 0;
        loop {
            let buffer = self
                .camera
                .frame()
                .map_err(|e| classify(self.index, e, self.frames > 0))?;
            let resolution = buffer.resolution();
            let (width, height) = (resolution.width(), resolution.height());
            let converted = to_luma(
                buffer.source_frame_format(),
                width,
                height,
                buffer.buffer(),
                &mut self.luma,
            );
            match converted {
                Ok(()) => {
                    self.frames += 1;
                    let at_ms =
                        u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
                    return Ok(Some(Frame {
                        width,
                        height,
                        luma: &self.luma,
                        at_ms,
                    }));
                }
                Err(_) if bad < MAX_BAD_FRAMES => bad += 1,
                Err(e) => return Err(classify(self.index, e, self.frames > 0)),
            }
        }
    }
}

/// Sorts nokhwa's errors into what a person can act on. `streaming`: frames had been arriving.
fn classify(index: u32, error: NokhwaError, streaming: bool) -> CameraError {
    let reason = error.to_string();
    if is_busy(&reason) {
        return CameraError::Busy { index, reason };
    }
    if reason.contains("Permission denied") || reason.contains("os error 13") {
        return CameraError::Denied { index, reason };
    }
    if streaming {
        return CameraError::Unplugged { index, reason };
    }
    let gone = [
        "No such file or directory",
        "No such device",
        "os error 2)",
        "os error 19)",
    ]
    .iter()
    .any(|s| reason.contains(s));
    if matches!(error, NokhwaError::OpenDeviceError(..)) && gone {
        return CameraError::NoCamera { index, found: 0 };
    }
    CameraError::Failed {
        index,
        source: error,
    }
}

/// EBUSY, as the V4L2 and Media Foundation drivers word it.
fn is_busy(reason: &str) -> bool {
    reason.contains("os error 16)") || reason.to_ascii_lowercase().contains("busy")
}

/// Converts one camera frame to 8-bit luma (row-major, no padding) in `out`.
///
/// GRAY, YUYV and NV12 carry luma already and are copied out; RGB and BGR are weighted with
/// the BT.601 coefficients; MJPEG is decoded first. Pure apart from the JPEG decoder.
///
/// # Errors
///
/// A buffer too short for `width`×`height` in its format, or a corrupt JPEG.
pub fn to_luma(
    format: FrameFormat,
    width: u32,
    height: u32,
    data: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), NokhwaError> {
    let pixels = width as usize * height as usize;
    let short = |need: usize| NokhwaError::ProcessFrameError {
        src: format,
        destination: "luma".into(),
        error: format!(
            "{width}×{height} needs {need} bytes, the frame has {}",
            data.len()
        ),
    };
    let luma = |r: u8, g: u8, b: u8| -> u8 {
        let y = (77 * u32::from(r) + 150 * u32::from(g) + 29 * u32::from(b) + 128) >> 8;
        u8::try_from(y).unwrap_or(u8::MAX)
    };
    out.clear();
    match format {
        FrameFormat::GRAY | FrameFormat::NV12 => {
            out.extend_from_slice(data.get(..pixels).ok_or_else(|| short(pixels))?);
        }
        FrameFormat::YUYV => {
            let bytes = data.get(..pixels * 2).ok_or_else(|| short(pixels * 2))?;
            out.extend(bytes.iter().step_by(2));
        }
        FrameFormat::RAWRGB | FrameFormat::RAWBGR => {
            let bytes = data.get(..pixels * 3).ok_or_else(|| short(pixels * 3))?;
            let bgr = format == FrameFormat::RAWBGR;
            out.extend(bytes.chunks_exact(3).map(|p| {
                if bgr {
                    luma(p[2], p[1], p[0])
                } else {
                    luma(p[0], p[1], p[2])
                }
            }));
        }
        FrameFormat::MJPEG => {
            // libjpeg reports a corrupt stream by unwinding (mozjpeg turns its error exit into
            // a panic): a bad frame must be an error, not the end of the worker.
            let rgb = std::panic::catch_unwind(|| nokhwa::utils::mjpeg_to_rgb(data, false))
                .unwrap_or_else(|_| {
                    Err(NokhwaError::ProcessFrameError {
                        src: format,
                        destination: "RGB888".into(),
                        error: "corrupt JPEG data".into(),
                    })
                })?;
            let bytes = rgb.get(..pixels * 3).ok_or_else(|| short(pixels * 3))?;
            out.extend(bytes.chunks_exact(3).map(|p| luma(p[0], p[1], p[2])));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::path::Path;

    use super::*;
    use crate::decode::{DecodeOptions, Format, decode_luma};
    use crate::live::{Dedup, LiveScans, Recording};

    fn label(file: &str) -> image::GrayImage {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fixtures/labels")
            .join(file);
        image::open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
            .to_luma8()
    }

    #[test]
    fn a_missing_camera_is_a_clear_error_not_a_panic() {
        let cameras = list_cameras().unwrap();
        let absent = cameras.iter().map(|c| c.index + 1).max().unwrap_or(0);
        let error = Camera::open(absent).unwrap_err();
        assert!(
            matches!(error, CameraError::NoCamera { index, found } if index == absent && found == cameras.len()),
            "{error:?}"
        );
        if cameras.is_empty() {
            assert_eq!(
                error.to_string(),
                "no camera 0: none is connected; connect a camera (`custodian cameras` lists them) or scan with a handheld scanner"
            );
        }
    }

    #[test]
    fn driver_errors_are_sorted_into_what_to_do() {
        let busy = NokhwaError::OpenStreamError("Device or resource busy (os error 16)".into());
        assert!(matches!(
            classify(2, busy, false),
            CameraError::Busy { index: 2, .. }
        ));
        let busy = NokhwaError::SetPropertyError {
            property: "Resolution, FrameFormat".into(),
            value: "1280x720@30 MJPEG".into(),
            error: "Device or resource busy (os error 16)".into(),
        };
        let error = classify(0, busy, false);
        assert!(
            error
                .to_string()
                .starts_with("camera 0 is in use by another program"),
            "{error}"
        );
        let gone = NokhwaError::OpenDeviceError(
            "3".into(),
            "V4L2 Error: No such file or directory (os error 2)".into(),
        );
        assert!(matches!(
            classify(3, gone, false),
            CameraError::NoCamera { index: 3, .. }
        ));
        let denied = NokhwaError::OpenDeviceError(
            "0".into(),
            "V4L2 Error: Permission denied (os error 13)".into(),
        );
        assert!(matches!(
            classify(0, denied, false),
            CameraError::Denied { .. }
        ));
        // The same read failure means "unplugged" once frames have been arriving, and "could
        // not be started" before.
        let read = || NokhwaError::ReadFrameError("No such device (os error 19)".into());
        let error = classify(1, read(), true);
        assert_eq!(
            error.to_string(),
            "camera 1 stopped delivering frames (Could not capture frame: No such device (os error 19)): it was probably unplugged; reconnect it and start scanning again"
        );
        assert!(matches!(
            classify(1, read(), false),
            CameraError::Failed { .. }
        ));
    }

    #[test]
    fn every_pixel_format_gives_the_same_luma() {
        let (w, h) = (4u32, 2u32);
        let grey: Vec<u8> = vec![0, 40, 80, 120, 160, 200, 240, 255];
        let mut out = Vec::new();
        to_luma(FrameFormat::GRAY, w, h, &grey, &mut out).unwrap();
        assert_eq!(out, grey);
        let yuyv: Vec<u8> = grey.iter().flat_map(|&y| [y, 128]).collect();
        to_luma(FrameFormat::YUYV, w, h, &yuyv, &mut out).unwrap();
        assert_eq!(out, grey);
        let nv12: Vec<u8> = grey.iter().copied().chain([128; 4]).collect();
        to_luma(FrameFormat::NV12, w, h, &nv12, &mut out).unwrap();
        assert_eq!(out, grey);
        let rgb: Vec<u8> = grey.iter().flat_map(|&y| [y, y, y]).collect();
        to_luma(FrameFormat::RAWRGB, w, h, &rgb, &mut out).unwrap();
        assert_eq!(out, grey);
        to_luma(FrameFormat::RAWBGR, w, h, &rgb, &mut out).unwrap();
        assert_eq!(out, grey);
        // Green weighs more than blue.
        to_luma(FrameFormat::RAWRGB, 2, 1, &[0, 255, 0, 0, 0, 255], &mut out).unwrap();
        assert_eq!(out, [149, 29]);
        to_luma(FrameFormat::RAWBGR, 2, 1, &[0, 255, 0, 0, 0, 255], &mut out).unwrap();
        assert_eq!(out, [149, 77]);
        let error = to_luma(FrameFormat::YUYV, w, h, &yuyv[..10], &mut out).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("4×2 needs 16 bytes, the frame has 10"),
            "{error}"
        );
    }

    #[test]
    fn an_mjpeg_frame_decodes_to_a_readable_label() {
        let label = label("clean/gs1-datamatrix-0.png");
        let (w, h) = label.dimensions();
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&label)
            .unwrap();
        let mut out = Vec::new();
        to_luma(FrameFormat::MJPEG, w, h, &jpeg, &mut out).unwrap();
        assert_eq!(out.len(), (w * h) as usize);
        let found = decode_luma(w, h, &out, &DecodeOptions::default());
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].format, Format::DataMatrix);
        assert!(
            found[0]
                .scan_text()
                .starts_with("]d2010401234500001610L2611A\u{1d}21")
        );
        // A torn frame (USB hiccup) still decodes, its missing rows grey; junk is an error.
        to_luma(FrameFormat::MJPEG, w, h, &jpeg[..jpeg.len() / 3], &mut out).unwrap();
        assert_eq!(out.len(), (w * h) as usize);
        assert!(to_luma(FrameFormat::MJPEG, w, h, b"not a JPEG frame", &mut out).is_err());
    }

    #[test]
    fn live_scans_decode_on_a_worker_and_report_each_code_once() {
        let a = label("clean/gs1-datamatrix-0.png");
        let b = label("clean/gs1-qr-1.png");
        let blank = image::GrayImage::from_pixel(a.width(), a.height(), image::Luma([255]));
        let mut recording = Recording::new();
        // A is held in view for five frames, leaves, and comes back after the dedup window;
        // B passes once.
        let frames = [
            (&blank, 0),
            (&a, 33),
            (&a, 66),
            (&a, 100),
            (&a, 133),
            (&a, 166),
            (&blank, 200),
            (&b, 233),
            (&b, 266),
            (&blank, 300),
            (&a, 3000),
        ];
        for (image, at_ms) in frames {
            recording.push(image.width(), image.height(), image.as_raw().clone(), at_ms);
        }
        let codes: Vec<(Format, String)> =
            LiveScans::spawn(recording, DecodeOptions::default(), Dedup::new(1500))
                .map(|code| code.map(|c| (c.format, c.scan_text())))
                .collect::<Result<_, _>>()
                .unwrap();
        let formats: Vec<Format> = codes.iter().map(|c| c.0).collect();
        assert_eq!(
            formats,
            [Format::DataMatrix, Format::Qr, Format::DataMatrix]
        );
        assert!(
            codes[1]
                .1
                .starts_with("]Q3010401234500001610L2611A\u{1d}216XVJKGAC2H")
        );
        assert_eq!(codes[0].1, codes[2].1);
    }

    /// A source that delivers `good` frames and then fails, as an unplugged camera does.
    struct Failing {
        good: usize,
        luma: Vec<u8>,
    }

    impl FrameSource for Failing {
        type Error = CameraError;

        fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CameraError> {
            if self.good == 0 {
                return Err(classify(
                    0,
                    NokhwaError::ReadFrameError("No such device (os error 19)".into()),
                    true,
                ));
            }
            self.good -= 1;
            Ok(Some(Frame {
                width: 8,
                height: 8,
                luma: &self.luma,
                at_ms: 0,
            }))
        }
    }

    #[test]
    fn a_failing_source_ends_live_scans_with_its_error() {
        let mut scans = LiveScans::spawn(
            Failing {
                good: 3,
                luma: vec![255; 64],
            },
            DecodeOptions::default(),
            Dedup::new(1500),
        );
        assert!(matches!(
            scans.next(),
            Some(Err(CameraError::Unplugged { index: 0, .. }))
        ));
        assert!(scans.next().is_none());
    }
}
