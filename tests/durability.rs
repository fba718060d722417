//! A scan whose verdict was shown is on disk: a process recording scans is killed with SIGKILL
//! at random points, many times over; every scan it had acknowledged (printed a verdict for)
//! must be in the ledger afterwards, and the ledger must open cleanly each time: after every kill
//! it passes `PRAGMA integrity_check`, opens as a ledger and holds every acknowledged event. Each
//! process must have died of the SIGKILL (one that exited by itself first failed, and the test
//! says how).
//!
//! A SIGKILL leaves the page cache intact, so this shows what a crash keeps, not a power cut:
//! `ledger/tests/powercut.rs` cuts the power under the ledger.
//!
//! `CUSTODIAN_KILLS` sets how many kills (default 300); `CUSTODIAN_KILL_SEED` the seed.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use custodian_e2e::proxy::Rng;
use custodian_e2e::{HubProcess, bin, custodian, env_number, workspace};

#[test]
fn acknowledged_scans_survive_sigkill() {
    let kills = env_number("CUSTODIAN_KILLS", 300);
    let seed = env_number("CUSTODIAN_KILL_SEED", 7);
    eprintln!("{kills} kills with seed {seed} (CUSTODIAN_KILL_SEED={seed} replays it)");
    let mut rng = Rng::new(seed);
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let dir = tmp.path().join("device");
    let dir = dir.to_str().unwrap();
    hub.enroll(dir.as_ref(), "dist-a", "dc-hamburg");
    drop(hub); // the rest happens offline

    let serials: Vec<String> =
        std::fs::read_to_string(workspace().join("fixtures/demo/serials.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["element_string"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect();
    let mut acknowledged: BTreeSet<String> = BTreeSet::new();
    let mut next = 0usize;
    let mut waited = 0usize;
    for round in 0..kills {
        let stderr_path = tmp.path().join("stderr");
        let mut child = Command::new(bin("custodian"))
            .args(["scan", "--data", dir, "--step", "inspecting", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        // Read acknowledgements on a thread; the kill can land while it waits.
        let (acks, acked) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let event = serde_json::from_str::<serde_json::Value>(&line)
                    .ok()
                    .and_then(|v| v["event"].as_str().map(str::to_string));
                if let Some(event) = event
                    && acks.send(event).is_err()
                {
                    break;
                }
            }
        });
        // Feed a random number of scans, then kill after a random delay, mid-write or not. In
        // every other round the kill waits for a first verdict, so that kills land among
        // acknowledged scans however slow the machine is.
        let feed = 1 + rng.below(40);
        for _ in 0..feed {
            let line = format!("{}\n", serials[next % serials.len()]);
            next += 1;
            if stdin.write_all(line.as_bytes()).is_err() {
                break;
            }
        }
        let _ = stdin.flush();
        if round % 2 == 0 {
            let first = acked
                .recv_timeout(Duration::from_secs(30))
                .expect("no verdict within 30 s");
            acknowledged.insert(first);
            waited += 1;
        }
        std::thread::sleep(Duration::from_micros(rng.below(30_000)));
        child.kill().unwrap(); // SIGKILL
        let status = child.wait().unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "round {round}: the scanning process was not killed by the SIGKILL but ended {status}: {}",
            std::fs::read_to_string(&stderr_path).unwrap_or_default()
        );
        drop(stdin);
        reader.join().unwrap();
        acknowledged.extend(acked.try_iter());
        opens_cleanly(dir.as_ref(), &acknowledged, round);
        if round % 20 == 19 || round + 1 == kills {
            check(dir, &acknowledged);
        }
    }
    assert!(
        waited > 0 && acknowledged.len() >= waited,
        "the test acknowledged too few scans to mean anything"
    );
    eprintln!(
        "{kills} kills, each followed by a clean open; {} acknowledged scans, all present",
        acknowledged.len()
    );
}

/// Right after a kill: the database passes SQLite's integrity check, opens as a ledger (as the
/// next command would) and holds every acknowledged event.
fn opens_cleanly(dir: &Path, acknowledged: &BTreeSet<String>, round: u64) {
    let conn = rusqlite::Connection::open(dir.join("ledger.sqlite")).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok", "round {round}: integrity_check");
    let held: BTreeSet<String> = conn
        .prepare("SELECT id FROM events")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let lost = acknowledged.difference(&held).count();
    assert_eq!(
        lost,
        0,
        "round {round}: {lost} acknowledged scans lost, e.g. {:?}",
        acknowledged.difference(&held).next()
    );
    drop(conn);
    if let Err(e) = custodian_ledger::Ledger::open(dir) {
        panic!("round {round}: the ledger does not open after the kill: {e}");
    }
}

/// The ledger opens (each command opens it) and holds every acknowledged event.
fn check(dir: &str, acknowledged: &BTreeSet<String>) {
    let doc: serde_json::Value =
        serde_json::from_str(&custodian(&["epcis", "export", "--data", dir])).unwrap();
    let held: BTreeSet<&str> = doc["epcisBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventID"].as_str().unwrap())
        .collect();
    let lost: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !held.contains(id.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged scans lost, e.g. {:?}",
        lost.len(),
        lost.first()
    );
}
