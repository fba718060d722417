//! Every connection the ledger writes through fsyncs what it commits: WAL with
//! `synchronous=FULL`, asked of the connections themselves (the writer, and the checkpointing
//! thread's own, whose checkpoints write the database file). With NORMAL a WAL commit is not
//! fsynced and a power cut can lose scans already acknowledged; with OFF on the checkpointer, a
//! checkpoint's copy is not fsynced before the log is rewound over it. `tests/powercut.rs` shows
//! the loss itself.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_ledger::{Ledger, store};

/// `PRAGMA synchronous` FULL.
const FULL: i64 = 2;

#[test]
fn every_connection_of_the_ledger_commits_with_synchronous_full_in_wal_mode() {
    let tmp = tempfile::tempdir().unwrap();
    // A new ledger, and the same one opened again from its file.
    for _ in 0..2 {
        let ledger = Ledger::open(tmp.path()).unwrap();
        let connections = ledger.durability().unwrap();
        let names: Vec<&str> = connections.iter().map(|c| c.connection).collect();
        assert_eq!(names, ["writer", "checkpointer"]);
        for c in &connections {
            assert_eq!(
                c.synchronous, FULL,
                "the {} connection runs synchronous={} (FULL is {FULL})",
                c.connection, c.synchronous
            );
            assert_eq!(c.journal_mode, "wal", "the {} connection", c.connection);
        }
    }
}

#[test]
fn the_hubs_store_connection_commits_with_synchronous_full_in_wal_mode() {
    let tmp = tempfile::tempdir().unwrap();
    let conn = store::open(&tmp.path().join("hub.sqlite")).unwrap();
    let synchronous: i64 = conn
        .query_row("PRAGMA synchronous", [], |r| r.get(0))
        .unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!((synchronous, mode.as_str()), (FULL, "wal"));
}
