//! A scan whose verdict was shown survives a power cut, not only a killed process.
//!
//! SIGKILL (the end-to-end `durability` suite) leaves the page cache behind: what was written
//! reaches the disk whether it was fsynced or not. Here every SQLite file goes through a VFS that
//! keeps what an fsync made durable (`custodian-powercut`: written but not synced is lost at the
//! cut, or kept in part, torn at 512-byte sectors; a file's directory entry only counts once the
//! directory was synced). Scans are recorded through `Ledger::scan_batch`, the group commit that
//! acknowledges every scan `custodian scan` prints. The power goes at a seeded random operation
//! (a write, sync, truncation, file creation or deletion, on the writer's thread or the
//! checkpointing thread's), mid-commit or between commits; the ledger is then opened from the
//! disk's image alone, must pass `PRAGMA integrity_check` and hold every scan acknowledged before
//! the cut (its scan-log entry and its event), and scanning goes on from there to the next cut.
//!
//! With `synchronous=NORMAL` (or OFF) a WAL commit is not fsynced and this test fails.
//!
//! `CUSTODIAN_POWER_CUTS` sets how many cuts (default 200); `CUSTODIAN_POWER_CUT_SEED` the seed.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use custodian_ledger::{Ledger, Recorder, ScanInput, Step};
use custodian_powercut::{self as powercut, Loss};
use custodian_scanner::{Gtin, check_digit, element_string};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::Connection;

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name}={v:?} is not a number")),
        Err(_) => default,
    }
}

fn drill() -> Gtin {
    let d = "0401234500001";
    Gtin::parse(&format!("{d}{}", check_digit(d))).unwrap()
}

/// A scan the ledger acknowledged: what its log entry and its event must show after a cut.
struct Acknowledged {
    at: String,
    raw: String,
    event: Option<String>,
}

/// Scans per group commit at most, and commits per trial at most.
const BATCH: u64 = 6;
const COMMITS: u64 = 24;

#[test]
fn acknowledged_scans_survive_power_cuts() {
    powercut::install();
    let trials = env_number("CUSTODIAN_POWER_CUTS", 200);
    let seed = env_number("CUSTODIAN_POWER_CUT_SEED", 11);
    eprintln!("{trials} power cuts with seed {seed} (CUSTODIAN_POWER_CUT_SEED={seed} replays it)");
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let tmp = tempfile::tempdir().unwrap();
    let base: DateTime<FixedOffset> =
        DateTime::parse_from_rfc3339("2026-06-01T08:00:00+02:00").unwrap();

    let mut dir = tmp.path().join("boot-0");
    {
        let ledger = Ledger::open(&dir).unwrap();
        ledger
            .set_recorder(&Recorder {
                org: "dist-a".into(),
                site: "dc".into(),
                device: "dev-1".into(),
            })
            .unwrap();
    }

    let mut acknowledged: Vec<Acknowledged> = Vec::new();
    // The connection that checked the last image, open until the ledger is: closing the last
    // connection would checkpoint and remove the log, and the log is meant to grow across cuts
    // until the ledger checkpoints it.
    let mut checked: Option<Connection> = None;
    let mut scanned = 0u64;
    // Operations a commit takes, measured as the test goes, so that cuts fall across a trial.
    let (mut ops_seen, mut commits_seen) = (0u64, 0u64);
    let (mut while_writing, mut torn, mut checkpoints, mut in_checkpoint) = (0u64, 0u64, 0u64, 0);
    for trial in 0..trials {
        let mut ledger = Ledger::open(&dir).unwrap();
        drop(checked.take());
        let loss = if rng.gen_bool(0.5) {
            torn += 1;
            Loss::Torn(rng.r#gen())
        } else {
            Loss::Unsynced
        };
        let per_commit = if commits_seen == 0 {
            20
        } else {
            ops_seen.div_ceil(commits_seen).max(1)
        };
        let after = 1 + rng.gen_range(0..per_commit * COMMITS);
        powercut::arm(&dir, after, loss);
        let commits = 1 + rng.gen_range(0..COMMITS);
        let mut done = 0;
        for _ in 0..commits {
            let n = 1 + rng.gen_range(0..BATCH);
            let batch: Vec<(String, DateTime<FixedOffset>)> = (0..n)
                .map(|_| {
                    scanned += 1;
                    // Now and then a unit already scanned: a duplicate, logged but no event.
                    let serial = if rng.gen_bool(0.1) && scanned > 1 {
                        rng.gen_range(1..scanned)
                    } else {
                        scanned
                    };
                    let raw = element_string(&[
                        ("01", drill().as_str()),
                        ("21", &format!("S{serial:07}")),
                    ]);
                    let at = base + chrono::Duration::milliseconds(i64::try_from(scanned).unwrap());
                    (raw, at)
                })
                .collect();
            let inputs: Vec<ScanInput<'_>> = batch
                .iter()
                .map(|(raw, at)| ScanInput {
                    raw,
                    step: Step::Inspecting,
                    manifest: None,
                    now: *at,
                })
                .collect();
            let verdicts = ledger.scan_batch(&inputs).unwrap();
            // Acknowledged only if the power was still on when the verdicts came back.
            if powercut::fallen() {
                while_writing += 1;
                break;
            }
            done += 1;
            for ((raw, at), verdict) in batch.iter().zip(&verdicts) {
                acknowledged.push(Acknowledged {
                    at: at.to_rfc3339(),
                    raw: raw.clone(),
                    event: verdict.event.clone(),
                });
            }
            // Now and then a person pauses between scans, which is when the ledger checkpoints
            // a long log in the background: cuts fall inside those checkpoints too.
            if rng.gen_bool(0.05) {
                std::thread::sleep(Duration::from_millis(80));
            }
        }
        let image = match powercut::take() {
            Some(image) => image,
            None => {
                ops_seen += powercut::ops();
                commits_seen += done;
                powercut::cut(&dir, loss)
            }
        };
        if image.thread.as_deref() == Some("ledger-checkpoint") {
            in_checkpoint += 1;
        }
        let c = ledger.checkpoints();
        checkpoints += c.background + c.inline;
        drop(ledger);
        powercut::forget(&dir);
        std::fs::remove_dir_all(&dir).unwrap();

        dir = tmp.path().join(format!("boot-{}", trial + 1));
        image.write_to(&dir).unwrap();
        checked = Some(check(&dir, &acknowledged, trial));
    }
    let events = acknowledged.iter().filter(|a| a.event.is_some()).count();
    eprintln!(
        "{trials} power cuts ({while_writing} while writing, {} after the last acknowledgement; \
         {in_checkpoint} in a background checkpoint; {torn} keeping torn parts of unsynced \
         writes, {} dropping all of them; {checkpoints} checkpoints before the cuts): {} \
         acknowledged scans ({events} with an event), lost 0",
        trials - while_writing,
        trials - torn,
        acknowledged.len(),
    );
    assert!(
        while_writing > trials / 4 && acknowledged.len() as u64 > trials,
        "too few cuts fell among acknowledged scans to mean anything"
    );
}

/// The ledger as the disk holds it after a cut opens cleanly and holds every acknowledged scan.
fn check(dir: &Path, acknowledged: &[Acknowledged], trial: u64) -> Connection {
    let conn = Connection::open(dir.join("ledger.sqlite")).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "after cut {trial}: integrity_check");
    let logged: HashSet<(String, String)> = conn
        .prepare("SELECT at, raw FROM scans")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let held: HashSet<String> = conn
        .prepare("SELECT id FROM events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let lost: Vec<&Acknowledged> = acknowledged
        .iter()
        .filter(|a| {
            !logged.contains(&(a.at.clone(), a.raw.clone()))
                || a.event.as_ref().is_some_and(|id| !held.contains(id))
        })
        .collect();
    assert!(
        lost.is_empty(),
        "after cut {trial}: {} of {} acknowledged scans lost, the first at {} ({})",
        lost.len(),
        acknowledged.len(),
        lost[0].at,
        lost[0].raw,
    );
    conn
}
