//! The camera as a scanner: frames from a camera (feature `camera`, nokhwa) or from recorded
//! image files (`CUSTODIAN_CAMERA_FRAMES=DIR`, played in a loop like a camera that never
//! stops), decoded on a worker thread. Each new code is a `camera-scan` event (the same code
//! held in view is one scan), and every few frames a small greyscale preview goes to the
//! viewfinder as a `camera-frame` event. A camera that fails says so in a `camera-error` event
//! and stops; the wedge keeps working meanwhile.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use custodian_scanner::decode::{DecodeOptions, Dedup, decode_luma};
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
    running: Mutex<Option<Arc<AtomicBool>>>,
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
            flag.store(true, Ordering::Relaxed);
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

/// A frame in hand: luma pixels and when it was taken.
struct OwnedFrame {
    width: u32,
    height: u32,
    luma: Vec<u8>,
    at_ms: u64,
}

/// Where frames come from.
enum Source {
    /// Image files, in name order, over and over, at about ten a second.
    Files {
        frames: Vec<(u32, u32, Vec<u8>)>,
        next: usize,
        started: Instant,
    },
    #[cfg(feature = "camera")]
    Camera(custodian_scanner::camera::Camera),
}

impl Source {
    fn open(id: &str) -> Result<Source, ApiError> {
        if id == "frames" {
            let dir = frames_dir()
                .ok_or_else(|| camera_error(format!("{FRAMES_ENV} names no directory")))?;
            let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
                .map_err(|e| camera_error(format!("{}: {e}", dir.display())))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().and_then(|x| x.to_str()).is_some_and(|x| {
                        ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"]
                            .contains(&x.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            files.sort();
            let mut frames = Vec::new();
            for f in &files {
                let img = image::open(f)
                    .map_err(|e| camera_error(format!("{}: {e}", f.display())))?
                    .to_luma8();
                frames.push((img.width(), img.height(), img.into_raw()));
            }
            if frames.is_empty() {
                return Err(camera_error(format!(
                    "{} holds no image frames (PNG, JPEG, WebP, GIF, BMP, TIFF)",
                    dir.display()
                )));
            }
            return Ok(Source::Files {
                frames,
                next: 0,
                started: Instant::now(),
            });
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

    fn next(&mut self) -> Result<OwnedFrame, String> {
        match self {
            Source::Files {
                frames,
                next,
                started,
            } => {
                std::thread::sleep(Duration::from_millis(100));
                let (width, height, luma) = &frames[*next % frames.len()];
                *next += 1;
                Ok(OwnedFrame {
                    width: *width,
                    height: *height,
                    luma: luma.clone(),
                    at_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                })
            }
            #[cfg(feature = "camera")]
            Source::Camera(camera) => {
                use custodian_scanner::decode::FrameSource as _;
                match camera.next_frame() {
                    Ok(Some(f)) => Ok(OwnedFrame {
                        width: f.width,
                        height: f.height,
                        luma: f.luma.to_vec(),
                        at_ms: f.at_ms,
                    }),
                    Ok(None) => Err("the camera stopped".into()),
                    Err(e) => Err(e.to_string()),
                }
            }
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
pub fn camera_start(
    app: AppHandle,
    control: State<'_, CameraControl>,
    id: String,
) -> Result<(), ApiError> {
    control.stop();
    let mut source = Source::open(&id)?;
    let stop = Arc::new(AtomicBool::new(false));
    *control
        .running
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::clone(&stop));
    let last = Arc::clone(&control.last);
    std::thread::spawn(move || {
        let options = DecodeOptions::default();
        let mut dedup = Dedup::new(SAME_CODE_MS);
        let mut previewed: Option<Instant> = None;
        while !stop.load(Ordering::Relaxed) {
            let frame = match source.next() {
                Ok(f) => f,
                Err(e) => {
                    let _ = app.emit("camera-error", e);
                    break;
                }
            };
            if previewed.is_none_or(|t| t.elapsed() >= PREVIEW_EVERY) {
                previewed = Some(Instant::now());
                if let Some(bytes) = jpeg(&frame, PREVIEW_WIDTH) {
                    let url = format!(
                        "data:image/jpeg;base64,{}",
                        base64::engine::general_purpose::STANDARD.encode(&bytes)
                    );
                    let _ = app.emit("camera-frame", url);
                }
            }
            let decoded = decode_luma(frame.width, frame.height, &frame.luma, &options);
            for code in dedup.frame(frame.at_ms, decoded) {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let _ = app.emit(
                    "camera-scan",
                    CameraScan {
                        text: code.scan_text(),
                    },
                );
            }
            *last
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(frame);
        }
    });
    Ok(())
}

/// Stops the camera (nothing happens when none runs).
#[tauri::command]
pub fn camera_stop(control: State<'_, CameraControl>) {
    control.stop();
}
