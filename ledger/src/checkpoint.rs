//! Checkpoints off the scanning path.
//!
//! A committed transaction is durable once its pages are in the write-ahead log and the log is
//! fsynced; copying them back into the database file (a checkpoint) is housekeeping. SQLite does
//! it, by default, inside the commit that takes the log past 1,000 pages, so that one scan waits
//! for the copy and a second fsync, and a dock receiving at full speed spends a fifth of its time
//! there. Here the writing connection only signals; a thread of the ledger's own, with its own
//! connection, checkpoints while the next scans are judged and logged. A passive checkpoint never
//! waits for the writer nor holds it up.
//!
//! Should the thread fall behind (a passive checkpoint cannot copy past what a reader still
//! needs, and a log that is never wholly copied is never rewound), the writer checkpoints itself
//! once the log holds [`INLINE_PAGES`], as SQLite would, so the log stays bounded.

use std::os::raw::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

use crate::Error;

/// Log size, in pages, at which the thread is asked to checkpoint (SQLite's own default).
pub const BACKGROUND_PAGES: c_int = 1_000;
/// Log size at which the writer checkpoints itself.
pub const INLINE_PAGES: c_int = 16_000;

/// The checkpointing thread of one writing connection; it ends when that connection closes.
pub(crate) struct Checkpointer {
    thread: Option<JoinHandle<()>>,
    done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Hooks `conn`'s commits and starts the thread, which opens its own connection to `path`.
    pub(crate) fn install(conn: &mut Connection, path: &Path) -> Result<Checkpointer, Error> {
        let (tx, rx) = mpsc::sync_channel::<()>(1);
        let done = Arc::new(AtomicU64::new(0));
        let other = Connection::open(path)?;
        other.busy_timeout(std::time::Duration::from_secs(10))?;
        let thread = std::thread::Builder::new()
            .name("ledger-checkpoint".into())
            .spawn({
                let done = done.clone();
                move || run(&other, &rx, &done)
            })
            .map_err(|source| Error::Io {
                path: path.to_path_buf(),
                source,
            })?;
        conn.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            if pages >= INLINE_PAGES {
                // Busy or failed, it is tried again on the next commit; the commit stands.
                let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
            } else if pages >= BACKGROUND_PAGES {
                // Full: a request is pending already, and one checkpoint serves both.
                let _ = tx.try_send(());
            }
            Ok(())
        }))?;
        Ok(Checkpointer {
            thread: Some(thread),
            done,
        })
    }

    /// Checkpoints the thread has run.
    pub(crate) fn done(&self) -> u64 {
        self.done.load(Ordering::Relaxed)
    }
}

fn run(conn: &Connection, requests: &Receiver<()>, done: &AtomicU64) {
    // Ends when the writing connection, which holds the sender in its hook, is closed.
    while requests.recv().is_ok() {
        // A busy or failed checkpoint leaves the log to the next request or to the writer.
        if conn
            .wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE)
            .is_ok()
        {
            done.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // The writing connection is dropped first (it is declared before the checkpointer), so
        // the thread has been told to end and at most finishes the checkpoint in hand.
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
        let mut largest = 0;
        for round in 0..400 {
            commit(&conn, round);
            largest = largest.max(wal_pages(tmp.path()));
        }
        // 40,000 pages were written; the log was rewound along the way.
        assert!(checkpointer.done() > 0, "no checkpoint ran off the writer");
        assert!(
            largest <= INLINE_PAGES as u64 + 200,
            "the log grew to {largest} pages"
        );
        drop(conn);
        drop(checkpointer);
        let conn = Connection::open(&path).unwrap();
        let rows: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 40_000);
    }

    #[test]
    fn closing_the_writer_ends_the_thread() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("l.sqlite");
        let (conn, checkpointer) = open(&path);
        for round in 0..15 {
            commit(&conn, round);
        }
        drop(conn);
        let thread = checkpointer.thread.as_ref().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !thread.is_finished() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert!(thread.is_finished(), "the thread outlived its writer");
        drop(checkpointer);
    }
}
