//! The camera as a scanner: frames from a camera (feature `camera`, nokhwa) or from recorded
//! image files (`CUSTODIAN_CAMERA_FRAMES=DIR`, `scanner::live::ImageFrames`), decoded on a
//! worker thread by `scanner::live::LiveScans`, as `custodian scan --camera` decodes them. Each new code is a `camera-scan` event (the same code
//! held in view is one scan), and every few frames a small greyscale preview goes to the
//! viewfinder as a `camera-frame` event. A camera that fails says so in a `camera-error` event
//! and stops; the wedge keeps working meanwhile.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use custodian_scanner::decode::DecodeOptions;
use custodian_scanner::live::{Dedup, Frame, FrameSource, ImageFrames, LiveScans, Stop};
use serde::Serialize;
use tauri::{AppHandle, Emitter, State};

use crate::commands::ApiError;

/// The environment variable naming a directory of recorded frames (PNG or JPEG), offered as a
/// camera.
pub const FRAMES_ENV: &str = "CUSTODIAN_CAMERA_FRAMES";

/// The recorded-frames directory, when one is named.
fn frames_dir() -> Option<PathBuf> {
    std::env::var_os(FRAMES_ENV)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// How long a code must be out of view before it counts as a new scan.
const SAME_CODE_MS: u64 = 1500;
/// Width of the viewfinder's preview, in pixels.
const PREVIEW_WIDTH: u32 = 480;
/// Time between two previews.
const PREVIEW_EVERY: Duration = Duration::from_millis(150);

/// The running camera, if any: its stop switch.
#[derive(Default)]
pub struct CameraControl {
    running: Mutex<Option<Stop>>,
    /// The last frame previewed, for a counterfeit report's photo.
    last: Arc<Mutex<Option<OwnedFrame>>>,
}

impl CameraControl {
    fn stop(&self) {
        if let Some(flag) = self
            .running
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            flag.stop();
        }
    }

    /// The last frame the camera showed, as a JPEG (`None` when no camera ran).
    pub fn last_frame(&self) -> Option<Vec<u8>> {
        let last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        last.as_ref().and_then(|f| jpeg(f, f.width))
    }
}

/// A camera the app can open.
#[derive(Clone, Debug, Serialize)]
pub struct CameraChoice {
    /// What `camera_start` takes: a camera index, or `frames`.
    pub id: String,
    pub name: String,
}

/// One code the camera read.
#[derive(Clone, Debug, Serialize)]
struct CameraScan {
    /// What a handheld scanner would send for it (AIM identifier, then the data).
    text: String,
}

fn camera_error(message: impl Into<String>) -> ApiError {
    ApiError {
        kind: "camera",
        message: message.into(),
    }
}

/// The cameras this build can open.
#[tauri::command]
pub fn cameras() -> Result<Vec<CameraChoice>, ApiError> {
    let mut out = Vec::new();
    if let Some(dir) = frames_dir() {
        out.push(CameraChoice {
            id: "frames".into(),
            name: format!("Recorded frames in {}", dir.display()),
        });
    }
    #[cfg(feature = "camera")]
    {
        let found =
            custodian_scanner::camera::list_cameras().map_err(|e| camera_error(e.to_string()))?;
        out.extend(found.into_iter().map(|c| CameraChoice {
            id: c.index.to_string(),
            name: c.name,
        }));
    }
    Ok(out)
}

/// A frame in hand: luma pixels.
struct OwnedFrame {
    width: u32,
    height: u32,
    luma: Vec<u8>,
}

/// Where frames come from: recorded image files, or a camera.
enum Source {
    Files(ImageFrames),
    #[cfg(feature = "camera")]
    Camera(custodian_scanner::camera::Camera),
}

impl Source {
    fn open(id: &str) -> Result<Source, ApiError> {
        if id == "frames" {
            let dir = frames_dir()
                .ok_or_else(|| camera_error(format!("{FRAMES_ENV} names no directory")))?;
            return ImageFrames::open(&dir)
                .map(Source::Files)
                .map_err(|e| camera_error(e.to_string()));
        }
        #[cfg(feature = "camera")]
        {
            let index: u32 = id
                .parse()
                .map_err(|_| camera_error(format!("no camera {id:?}")))?;
            custodian_scanner::camera::Camera::open(index)
                .map(Source::Camera)
                .map_err(|e| camera_error(e.to_string()))
        }
        #[cfg(not(feature = "camera"))]
        Err(camera_error(
            "this build has no camera support: scan with a handheld scanner",
        ))
    }
}

impl FrameSource for Source {
    type Error = String;

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, String> {
        match self {
            Source::Files(files) => files.next_frame().map_err(|never| match never {}),
            #[cfg(feature = "camera")]
            Source::Camera(camera) => camera.next_frame().map_err(|e| e.to_string()),
        }
    }
}

/// A frame scaled down to `width` (nearest pixel) and encoded as JPEG.
fn jpeg(frame: &OwnedFrame, width: u32) -> Option<Vec<u8>> {
    let w = width.min(frame.width).max(1);
    let h = (u64::from(frame.height) * u64::from(w) / u64::from(frame.width.max(1))).max(1);
    let h = u32::try_from(h).ok()?;
    let mut small = Vec::with_capacity(usize::try_from(w * h).ok()?);
    for y in 0..h {
        let sy = u64::from(y) * u64::from(frame.height) / u64::from(h);
        for x in 0..w {
            let sx = u64::from(x) * u64::from(frame.width) / u64::from(w);
            let i = usize::try_from(sy * u64::from(frame.width) + sx).ok()?;
            small.push(*frame.luma.get(i)?);
        }
    }
    let image = image::GrayImage::from_raw(w, h, small)?;
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Jpeg).ok()?;
    Some(out.into_inner())
}

/// Starts camera `id` (see [`cameras`]); a camera already running is stopped first.
#[tauri::command]
pub fn camera_start<R: tauri::Runtime>(
    app: AppHandle<R>,
    control: State<'_, CameraControl>,
    id: String,
) -> Result<(), ApiError> {
    control.stop();
    let source = Source::open(&id)?;
    let last = Arc::clone(&control.last);
    let viewfinder = app.clone();
    let mut previewed: Option<Instant> = None;
    let scans = LiveScans::spawn_watched(
        source,
        DecodeOptions::default(),
        Dedup::new(SAME_CODE_MS),
        move |frame| {
            let frame = OwnedFrame {
                width: frame.width,
                height: frame.height,
                luma: frame.luma.to_vec(),
            };
            if previewed.is_none_or(|t| t.elapsed() >= PREVIEW_EVERY) {
                previewed = Some(Instant::now());
                if let Some(bytes) = jpeg(&frame, PREVIEW_WIDTH) {
                    let url = format!(
                        "data:image/jpeg;base64,{}",
                        base64::engine::general_purpose::STANDARD.encode(&bytes)
                    );
                    let _ = viewfinder.emit("camera-frame", url);
                }
            }
            *last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(frame);
        },
    );
    let stop = scans.stopper();
    *control
        .running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(stop.clone());
    std::thread::spawn(move || {
        for code in scans {
            match code {
                Ok(code) => {
                    let _ = app.emit(
                        "camera-scan",
                        CameraScan {
                            text: code.scan_text(),
                        },
                    );
                }
                Err(e) => {
                    let _ = app.emit("camera-error", e);
                    return;
                }
            }
        }
        if !stop.is_stopped() {
            let _ = app.emit("camera-error", "the camera stopped");
        }
    });
    Ok(())
}

/// Stops the camera (nothing happens when none runs).
#[tauri::command]
pub fn camera_stop(control: State<'_, CameraControl>) {
    control.stop();
}
