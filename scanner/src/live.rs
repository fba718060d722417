//! Codes seen live: frames from a camera, a recording or image files ([`FrameSource`]), the
//! dedup that turns sightings into scans ([`Dedup`]: the same code in 30 consecutive frames is
//! one scan), and the worker that decodes on its own thread ([`LiveScans`]). The CLI's
//! `scan --camera` and the app's camera both run on [`LiveScans`]; the app also watches each
//! frame for its viewfinder.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;

use crate::decode::{DecodeOptions, Decoded, Format, decode_luma};

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

/// The codes a [`FrameSource`] shows, decoded on a worker thread: each code once while it stays
/// in view ([`Dedup`]), in the order seen. As an iterator it blocks until the next code and
/// ends after the source ends or fails (the failure is the last item), after [`Stop::stop`],
/// or if the worker panics. Dropping it stops the worker after its current frame, which
/// releases the camera.
#[derive(Debug)]
pub struct LiveScans<E> {
    codes: mpsc::Receiver<Result<Decoded, E>>,
    stop: Stop,
}

/// Stops a [`LiveScans`] worker from anywhere: it ends after its current frame.
#[derive(Clone, Debug, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn stop(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

impl<E: Send + 'static> LiveScans<E> {
    /// Starts decoding `source` on a new thread.
    pub fn spawn<S>(source: S, options: DecodeOptions, dedup: Dedup) -> LiveScans<E>
    where
        S: FrameSource<Error = E> + Send + 'static,
    {
        Self::spawn_watched(source, options, dedup, |_| {})
    }

    /// As [`LiveScans::spawn`], showing `watch` every frame before it is decoded (a viewfinder
    /// draws it; a photo keeps it).
    pub fn spawn_watched<S>(
        mut source: S,
        options: DecodeOptions,
        mut dedup: Dedup,
        mut watch: impl FnMut(&Frame<'_>) + Send + 'static,
    ) -> LiveScans<E>
    where
        S: FrameSource<Error = E> + Send + 'static,
    {
        let (sender, codes) = mpsc::channel();
        let stop = Stop::default();
        let stopped = stop.clone();
        thread::spawn(move || {
            while !stopped.is_stopped() {
                let frame = match source.next_frame() {
                    Ok(Some(frame)) => frame,
                    Ok(None) => break,
                    Err(e) => {
                        let _ = sender.send(Err(e));
                        break;
                    }
                };
                watch(&frame);
                let decoded = decode_luma(frame.width, frame.height, frame.luma, &options);
                let fresh = dedup.frame(frame.at_ms, decoded);
                if !fresh.into_iter().all(|code| sender.send(Ok(code)).is_ok()) {
                    break;
                }
            }
        });
        LiveScans { codes, stop }
    }

    /// A handle that stops the worker from another thread.
    pub fn stopper(&self) -> Stop {
        self.stop.clone()
    }
}

impl<E> Iterator for LiveScans<E> {
    type Item = Result<Decoded, E>;

    fn next(&mut self) -> Option<Self::Item> {
        self.codes.recv().ok()
    }
}

impl<E> Drop for LiveScans<E> {
    fn drop(&mut self) {
        self.stop.stop();
    }
}

/// Image files played as a camera: every image of a directory (PNG, JPEG, WebP, GIF, BMP,
/// TIFF), in name order, over and over at [`ImageFrames::EVERY_MS`] a frame, like a camera that
/// never stops. A demonstration or a test points the app's camera at recorded frames with it.
#[cfg(feature = "image-files")]
#[derive(Debug)]
pub struct ImageFrames {
    frames: Vec<image::GrayImage>,
    next: usize,
    started: std::time::Instant,
}

#[cfg(feature = "image-files")]
impl ImageFrames {
    /// The time between two frames.
    pub const EVERY_MS: u64 = 100;

    /// Reads every image in `dir`.
    ///
    /// # Errors
    ///
    /// The directory or an image in it cannot be read, or it holds no image.
    pub fn open(dir: &std::path::Path) -> Result<ImageFrames, FramesError> {
        const IMAGES: [&str; 8] = ["png", "jpg", "jpeg", "webp", "gif", "bmp", "tif", "tiff"];
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
            .map_err(|source| FramesError::Io {
                path: dir.to_path_buf(),
                source,
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| IMAGES.contains(&x.to_ascii_lowercase().as_str()))
            })
            .collect();
        files.sort();
        let frames = files
            .iter()
            .map(|f| {
                image::open(f)
                    .map(|i| i.to_luma8())
                    .map_err(|source| FramesError::Image {
                        path: f.clone(),
                        source,
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if frames.is_empty() {
            return Err(FramesError::Empty(dir.to_path_buf()));
        }
        Ok(ImageFrames {
            frames,
            next: 0,
            started: std::time::Instant::now(),
        })
    }
}

/// Why a directory of frames cannot be played.
#[cfg(feature = "image-files")]
#[derive(Debug, thiserror::Error)]
pub enum FramesError {
    #[error("{}: {source}", path.display())]
    Io {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Image {
        path: std::path::PathBuf,
        source: image::ImageError,
    },
    #[error("{} holds no image frames (PNG, JPEG, WebP, GIF, BMP, TIFF)", .0.display())]
    Empty(std::path::PathBuf),
}

#[cfg(feature = "image-files")]
impl FrameSource for ImageFrames {
    type Error = std::convert::Infallible;

    fn next_frame(&mut self) -> Result<Option<Frame<'_>>, Self::Error> {
        let due =
            self.started + std::time::Duration::from_millis(Self::EVERY_MS * self.next as u64);
        thread::sleep(due.saturating_duration_since(std::time::Instant::now()));
        let image = &self.frames[self.next % self.frames.len()];
        self.next += 1;
        Ok(Some(Frame {
            width: image.width(),
            height: image.height(),
            luma: image.as_raw(),
            at_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
        }))
    }
}

#[cfg(all(test, feature = "image-files"))]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::sync::atomic::AtomicUsize;

    use super::*;

    fn labels() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/labels/clean")
    }

    #[test]
    fn image_frames_play_as_a_camera_that_is_watched_and_stopped() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["gs1-datamatrix-0.png", "gs1-qr-1.png"] {
            std::fs::copy(labels().join(name), dir.path().join(name)).unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "not a frame").unwrap();
        let frames = ImageFrames::open(dir.path()).unwrap();
        let watched = Arc::new(AtomicUsize::new(0));
        let seen = Arc::clone(&watched);
        let mut scans: LiveScans<std::convert::Infallible> = LiveScans::spawn_watched(
            frames,
            DecodeOptions::default(),
            // Longer than the test: each code is one scan however often the loop shows it.
            Dedup::new(60_000),
            move |frame| {
                assert!(
                    frame.width > 0 && frame.luma.len() == (frame.width * frame.height) as usize
                );
                seen.fetch_add(1, Ordering::Relaxed);
            },
        );
        let first: Vec<Format> = (0..2)
            .map(|_| scans.next().unwrap().unwrap().format)
            .collect();
        assert_eq!(first, [Format::DataMatrix, Format::Qr]);
        assert!(watched.load(Ordering::Relaxed) >= 2);
        scans.stopper().stop();
        // The worker ends after its current frame, and the codes with it: nothing more, since
        // the loop shows the same two codes again.
        assert!(scans.next().is_none());
    }

    #[test]
    fn a_directory_without_images_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("notes.txt"), "not a frame").unwrap();
        let err = ImageFrames::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("holds no image frames"), "{err}");
        assert!(ImageFrames::open(&dir.path().join("missing")).is_err());
    }
}
