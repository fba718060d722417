//! Checkpoints off the scanning path.
//!
//! A committed transaction is durable once its pages are in the write-ahead log and the log is
//! fsynced; copying them back into the database file (a checkpoint) is housekeeping. SQLite does
//! it, by default, inside the commit that takes the log past 1,000 pages: one scan in a few
//! hundred waits for the copy and a second fsync, and a dock receiving at full speed spent a
//! fifth of its time there. Here the writing connection only signals; a thread of the ledger's
//! own, with its own connection, checkpoints once the writer has paused for [`IDLE`] — between
//! a person's scans, or between deliveries. Copying while the writer commits was measured to
//! cost every scan (p50 0.33 → 0.45 ms, p99 0.49 → 0.85 ms on a 1,000,000-event ledger): the
//! copy's writes and fsync queue beside the log's on the same disk.
//!
//! A writer that never pauses (a dock stream) leaves the log to grow: at [`INLINE_PAGES`] the
//! writer checkpoints itself, in its commit, as SQLite would at 1,000 — a sixteenth as often, and
//! pages changed again and again in between are copied once. The log is rewound only when every
//! frame in it was copied before a write begins, which only the writer can arrange while it
//! writes without pause.

use std::os::raw::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

use crate::Error;

/// Log size, in pages, at which the thread is asked to checkpoint (SQLite's own default).
pub const BACKGROUND_PAGES: c_int = 1_000;
/// How long the writer must have committed nothing before the thread checkpoints.
pub const IDLE: Duration = Duration::from_millis(30);
/// Log size at which the writer checkpoints itself.
pub const INLINE_PAGES: c_int = 16_000;

/// The checkpointing thread of one writing connection; it ends when this is dropped.
pub(crate) struct Checkpointer {
    requests: SyncSender<Request>,
    thread: Option<JoinHandle<()>>,
    counts: Arc<Counts>,
}

/// What the thread is asked to do.
enum Request {
    Checkpoint,
    /// Report how its connection is set to write.
    Durability(mpsc::Sender<Result<Durability, rusqlite::Error>>),
    Stop,
}

/// How one of the ledger's connections is set to write, as SQLite reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Durability {
    /// Which connection: `writer` (scans, imports, sync) or `checkpointer`.
    pub connection: &'static str,
    /// `PRAGMA synchronous`: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
    pub synchronous: i64,
    /// `PRAGMA journal_mode`, e.g. `wal`.
    pub journal_mode: String,
}

/// Asks `conn` how it is set to write.
fn durability(conn: &Connection, connection: &'static str) -> Result<Durability, rusqlite::Error> {
    Ok(Durability {
        connection,
        synchronous: conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?,
        journal_mode: conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?,
    })
}

/// Commits seen and checkpoints run since the ledger was opened.
#[derive(Default)]
struct Counts {
    commits: AtomicU64,
    /// Commits that asked the thread for a checkpoint.
    requested: AtomicU64,
    background: AtomicU64,
    inline: AtomicU64,
}

/// Checkpoints run since the ledger was opened: by its thread, and by the writer itself because
/// the thread had fallen behind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Checkpoints {
    pub background: u64,
    pub inline: u64,
}

impl Checkpointer {
    /// Hooks `conn`'s commits and starts the thread, which opens its own connection to `path`.
    pub(crate) fn install(conn: &mut Connection, path: &Path) -> Result<Checkpointer, Error> {
        let (requests, rx) = mpsc::sync_channel::<Request>(1);
        let counts = Arc::new(Counts::default());
        let other = Connection::open(path)?;
        other.busy_timeout(std::time::Duration::from_secs(10))?;
        // A checkpoint copies committed pages into the database file and must fsync it before
        // the log may be rewound over them: with `synchronous=OFF` it would not, and a power cut
        // after the writer reused the log would lose what had been acknowledged. FULL is
        // SQLite's default too; it is set here so that it is a decision, and a test holds every
        // connection of the ledger to it (`Ledger::durability`).
        other.pragma_update(None, "synchronous", "FULL")?;
        // A connection learns that the file is in WAL mode when it first reads it; until then a
        // checkpoint on it does nothing (and says so only by counting -1 frames).
        let mode: String = other.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if mode != "wal" {
            return Err(Error::Invalid(format!(
                "{}: journal mode {mode}, expected wal",
                path.display()
            )));
        }
        let thread = std::thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn({
                let counts = counts.clone();
                move || run(&other, &rx, &counts)
            })
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let hook_counts = counts.clone();
        let tx = requests.clone();
        conn.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            hook_counts.commits.fetch_add(1, Ordering::Relaxed);
            if pages >= INLINE_PAGES {
                // Busy or failed, it is tried again on the next commit; the commit stands.
                if wal.checkpoint_v2(CheckpointMode::PASSIVE).is_ok() {
                    hook_counts.inline.fetch_add(1, Ordering::Relaxed);
                }
            } else if pages >= BACKGROUND_PAGES {
                // Full: a request is pending already, and one checkpoint serves both.
                hook_counts.requested.fetch_add(1, Ordering::Relaxed);
                let _ = tx.try_send(Request::Checkpoint);
            }
            Ok(())
        }))?;
        Ok(Checkpointer {
            requests,
            thread: Some(thread),
            counts,
        })
    }

    /// How the thread's connection is set to write, asked of the thread that owns it.
    pub(crate) fn durability(&self) -> Result<Durability, Error> {
        let (reply, answer) = mpsc::channel();
        let gone = || Error::Invalid("the checkpointing thread has ended".into());
        self.requests
            .send(Request::Durability(reply))
            .map_err(|_| gone())?;
        Ok(answer
            .recv_timeout(Duration::from_secs(30))
            .map_err(|_| gone())??)
    }

    pub(crate) fn counts(&self) -> Checkpoints {
        Checkpoints {
            background: self.counts.background.load(Ordering::Relaxed),
            inline: self.counts.inline.load(Ordering::Relaxed),
        }
    }
}

impl crate::Ledger {
    /// How each connection the ledger writes through is set to write (`synchronous`, journal
    /// mode): the writer, and the checkpointing thread's, asked of that thread. Each must be
    /// `synchronous=FULL` in WAL mode for an acknowledged scan to survive a power cut.
    pub fn durability(&self) -> Result<Vec<Durability>, Error> {
        Ok(vec![
            durability(&self.conn, "writer")?,
            self.checkpointer.durability()?,
        ])
    }
}

/// Rounds of one checkpoint: each copies what the writer committed during the one before.
const ROUNDS: usize = 8;

fn run(conn: &Connection, requests: &Receiver<Request>, counts: &Counts) {
    loop {
        match requests.recv() {
            Ok(Request::Checkpoint) => {}
            Ok(Request::Durability(reply)) => {
                let _ = reply.send(durability(conn, "checkpointer"));
                continue;
            }
            Ok(Request::Stop) | Err(_) => return,
        }
        if !idle(conn, requests, counts) {
            return;
        }
        // Should the writer start again meanwhile, the rounds go on while each finds more to
        // copy, and stop once one copies everything or makes no headway (a reader still needs
        // the frames). A busy or failed checkpoint leaves the log to the next request or to
        // the writer.
        let mut copied = 0;
        for _ in 0..ROUNDS {
            let Ok((frames, done)) = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE)
            else {
                break;
            };
            if done > copied {
                counts.background.fetch_add(1, Ordering::Relaxed);
            }
            if done >= frames || done <= copied {
                break;
            }
            copied = done;
        }
    }
}

/// Waits until the writer has committed nothing for [`IDLE`]; `false` when told to stop.
fn idle(conn: &Connection, requests: &Receiver<Request>, counts: &Counts) -> bool {
    loop {
        let seen = counts.commits.load(Ordering::Relaxed);
        match requests.recv_timeout(IDLE) {
            // Another commit asked too: still busy.
            Ok(Request::Checkpoint) => {}
            Ok(Request::Durability(reply)) => {
                let _ = reply.send(durability(conn, "checkpointer"));
            }
            Ok(Request::Stop) | Err(RecvTimeoutError::Disconnected) => return false,
            Err(RecvTimeoutError::Timeout) => {
                if counts.commits.load(Ordering::Relaxed) == seen {
                    return true;
                }
            }
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Waits for a pending request to be taken, so the thread at most finishes the
        // checkpoint in hand; the writing connection may still be open (its hook then finds
        // the thread gone and does nothing).
        let _ = self.requests.send(Request::Stop);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "tests fail loudly on any unexpected error"
    )]

    use super::*;

    fn wal_pages(dir: &Path) -> u64 {
        std::fs::metadata(dir.join("l.sqlite-wal")).map_or(0, |m| m.len()) / 4096
    }

    /// Commits of about a hundred pages each (4 KiB rows into an indexed table).
    fn commit(conn: &Connection, round: usize) {
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..100 {
            tx.execute(
                "INSERT INTO t (k, v) VALUES (?1, zeroblob(4000))",
                [format!("{round:06}-{i:03}")],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }

    fn open(path: &Path) -> (Connection, Checkpointer) {
        let mut conn = crate::store::open(path).unwrap();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v BLOB)")
            .unwrap();
        let checkpointer = Checkpointer::install(&mut conn, path).unwrap();
        (conn, checkpointer)
    }

    #[test]
    fn the_thread_checkpoints_and_the_log_stays_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("l.sqlite");
        let (conn, checkpointer) = open(&path);
        // A writer that pauses between commits: the thread copies the log while it waits, so
        // the log is rewound at a next commit and never grows far past the signal (4,000 pages
        // are written; without the thread the log would hold them all).
        let mut largest = 0;
        for round in 0..40 {
            let (asked, served) = (
                checkpointer.counts.requested.load(Ordering::Relaxed),
                checkpointer.counts().background,
            );
            commit(&conn, round);
            largest = largest.max(wal_pages(tmp.path()));
            // The writer pauses; when its commit asked for a checkpoint, the pause lasts until
            // the thread has run one (however slow the machine), then the writer goes on.
            if checkpointer.counts.requested.load(Ordering::Relaxed) > asked {
                let deadline = std::time::Instant::now() + Duration::from_secs(60);
                while checkpointer.counts().background == served {
                    assert!(
                        std::time::Instant::now() < deadline,
                        "round {round}: no background checkpoint within 60 s of the writer pausing"
                    );
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        }
        assert!(
            checkpointer.counts().background > 0,
            "no checkpoint ran off the writer"
        );
        assert!(
            largest <= BACKGROUND_PAGES as u64 + 1_000,
            "the log grew to {largest} pages"
        );
        // A writer that never pauses: the log can only be rewound when the writer itself
        // copies what is left, which it does once the log reaches its bound (a commit or a
        // few later, when the thread holds the checkpoint lock at that moment).
        for round in 40..440 {
            commit(&conn, round);
            largest = largest.max(wal_pages(tmp.path()));
        }
        let bound = checkpointer.counts();
        assert!(bound.inline > 0, "the writer never rewound the log");
        assert!(
            largest <= INLINE_PAGES as u64 + 1_000,
            "the log grew to {largest} pages"
        );
        drop(conn);
        drop(checkpointer);
        let conn = Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 44_000);
    }

    #[test]
    fn dropping_the_checkpointer_ends_the_thread_whatever_the_writer_does() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("l.sqlite");
        let (conn, checkpointer) = open(&path);
        for round in 0..15 {
            commit(&conn, round);
        }
        // Dropped before its writer (as on a panic's unwinding): it must not wait for the
        // writer to close. A hang would show as this timeout.
        let (done, finished) = mpsc::channel();
        std::thread::spawn(move || {
            drop(checkpointer);
            let _ = done.send(());
        });
        finished
            .recv_timeout(std::time::Duration::from_secs(20))
            .expect("the checkpointer's thread did not end");
        // The writer goes on; its signals reach no one and change nothing.
        for round in 15..30 {
            commit(&conn, round);
        }
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 3_000);
    }
}
