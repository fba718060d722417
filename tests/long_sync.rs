//! Syncs that take more than one round, and what runs beside them, through the CLI against a
//! real hub:
//!
//! - a device with more events than 64 rounds carry uploads them all in one `custodian sync`,
//!   and another device of its site downloads them all in one (the hub's paging);
//! - scans fed to `custodian scan` while syncs run on the same ledger are all recorded, none
//!   refused with "database is locked";
//! - Ctrl-C during the first round of `sync --watch` stops it cleanly;
//! - a reader that goes away (`| head`) ends `custodian` quietly.
//!
//! Rounds are made small (`--round-events`) so that many rounds cost seconds, not minutes; the
//! rounds are the hub's and the device's real paging all the same. `CUSTODIAN_LONG_SYNC_EVENTS`
//! sets the number of events (default 3,317: 67 rounds of 50).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use custodian_e2e::{HubProcess, bin, custodian, custodian_with_input, env_number, workspace};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Element strings of the demo ASN's units (shipped to dist-a): inspecting them raises nothing.
fn unit_lines(n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(workspace().join("fixtures/demo/serials.jsonl")).unwrap();
    let units: Vec<String> = text
        .lines()
        .take(24)
        .map(|l| json(l)["element_string"].as_str().unwrap().to_string())
        .collect();
    (0..n).map(|i| units[i % units.len()].clone()).collect()
}

fn status(device: &str) -> serde_json::Value {
    json(&custodian(&["status", "--data", device, "--json"]))
}

fn hub_events(hub: &str) -> i64 {
    json(&custodian(&["hub", "status", "--data", hub, "--json"]))["events"]
        .as_i64()
        .unwrap()
}

const ROUND: usize = 50;

#[test]
fn more_than_sixty_four_rounds_go_up_and_come_down_in_one_sync_each() {
    let events = usize::try_from(env_number("CUSTODIAN_LONG_SYNC_EVENTS", 67 * 50 - 33)).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let back = tmp.path().join("back-from-a-month-offline");
    let back = back.to_str().unwrap();
    let colleague = tmp.path().join("colleague");
    let colleague = colleague.to_str().unwrap();
    hub.enroll(Path::new(back), "dist-a", "dc-hamburg");
    hub.enroll(Path::new(colleague), "dist-a", "dc-hamburg");
    let base = hub_events(hub.data());

    let scans = unit_lines(events).join("\n") + "\n";
    custodian_with_input(
        &["scan", "--data", back, "--step", "inspecting"],
        Some(&scans),
    );
    assert_eq!(status(back)["waiting"].as_u64().unwrap(), events as u64);

    let round = ROUND.to_string();
    let started = Instant::now();
    let up = json(&custodian(&[
        "sync",
        "--data",
        back,
        "--round-events",
        &round,
        "--json",
    ]));
    let up_s = started.elapsed().as_secs_f64();
    assert_eq!(up["converged"], true, "{up}");
    assert_eq!(up["uploaded"].as_u64().unwrap(), events as u64, "{up}");
    assert_eq!(up["stored_by_hub"].as_u64().unwrap(), events as u64, "{up}");
    assert_eq!(up["waiting"], 0, "{up}");
    let rounds = up["rounds"].as_u64().unwrap();
    assert!(rounds > 64, "{rounds} rounds: the test must go past 64");
    assert!(rounds >= events.div_ceil(ROUND) as u64, "{up}");
    assert_eq!(status(back)["waiting"], 0);
    assert_eq!(
        hub_events(hub.data()),
        base + i64::try_from(events).unwrap()
    );

    let started = Instant::now();
    let down = json(&custodian(&[
        "sync",
        "--data",
        colleague,
        "--round-events",
        &round,
        "--json",
    ]));
    let down_s = started.elapsed().as_secs_f64();
    assert_eq!(down["converged"], true, "{down}");
    assert_eq!(
        down["downloaded"].as_u64().unwrap(),
        events as u64,
        "{down}"
    );
    assert!(down["rounds"].as_u64().unwrap() > 64, "{down}");
    assert_eq!(down["hub_has_more"], false, "{down}");
    assert_eq!(status(colleague)["events"], status(back)["events"]);
    eprintln!(
        "long sync figures: {events} events, up in {rounds} rounds ({up_s:.1} s), down in {} rounds ({down_s:.1} s)",
        down["rounds"]
    );

    // A sync after that moves nothing and says everything is done.
    let idle = json(&custodian(&["sync", "--data", colleague, "--json"]));
    assert_eq!(idle["converged"], true, "{idle}");
    assert_eq!(idle["downloaded"], 0, "{idle}");
}

/// A hub that takes fewer events per round than the device sends (an operator's
/// `--round-events`, or a hub from before rounds of 10,000) refuses the round as too large; the
/// device sends smaller rounds and uploads everything in the same sync, nothing twice.
#[test]
fn a_hub_taking_smaller_rounds_gets_everything_in_one_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start_with(
        &tmp.path().join("hub"),
        true,
        "127.0.0.1:0",
        &["--round-events", "100"],
    );
    let device = tmp.path().join("device");
    let device = device.to_str().unwrap();
    hub.enroll(Path::new(device), "dist-a", "dc-hamburg");
    let base = hub_events(hub.data());
    let events = 450;
    let scans = unit_lines(events).join("\n") + "\n";
    custodian_with_input(
        &["scan", "--data", device, "--step", "inspecting"],
        Some(&scans),
    );
    let up = json(&custodian(&["sync", "--data", device, "--json"]));
    assert_eq!(up["converged"], true, "{up}");
    assert_eq!(up["uploaded"].as_u64().unwrap(), events as u64, "{up}");
    assert_eq!(up["stored_by_hub"].as_u64().unwrap(), events as u64, "{up}");
    assert_eq!(up["waiting"], 0, "{up}");
    // 450 events in rounds the hub takes: 7 rounds of 56 after halving 450 → 225 → 112 → 56,
    // and the closing round; refused rounds are not counted.
    let rounds = up["rounds"].as_u64().unwrap();
    assert!((5..=12).contains(&rounds), "{up}");
    assert_eq!(
        hub_events(hub.data()),
        base + i64::try_from(events).unwrap()
    );
}

#[test]
fn scans_fed_while_syncs_run_are_all_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let device = tmp.path().join("device");
    let device = device.to_str().unwrap();
    let colleague = tmp.path().join("colleague");
    let colleague = colleague.to_str().unwrap();
    hub.enroll(Path::new(device), "dist-a", "dc-hamburg");
    hub.enroll(Path::new(colleague), "dist-a", "dc-hamburg");
    let lines = unit_lines(2_400);

    for trial in 0..5 {
        // Work for the syncs both ways: the device's own backlog up, the colleague's down.
        let backlog = lines[..600].join("\n") + "\n";
        custodian_with_input(
            &["scan", "--data", device, "--step", "inspecting"],
            Some(&backlog),
        );
        custodian_with_input(
            &["scan", "--data", colleague, "--step", "inspecting"],
            Some(&backlog),
        );
        custodian(&["sync", "--data", colleague]);
        let held = status(device)["events"].as_u64().unwrap();

        let mut scan = Command::new(bin("custodian"))
            .args(["scan", "--data", device, "--step", "inspecting", "--json"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = scan.stdin.take().unwrap();
        let mut verdicts = BufReader::new(scan.stdout.take().unwrap());
        let mut sync = Command::new(bin("custodian"))
            .args(["sync", "--data", device, "--round-events", "50"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // One scan at a time, each answered before the next, every few milliseconds for as
        // long as the sync runs (and at least 20): a busy scanner while the device syncs.
        let mut fed = 0;
        let mut line = String::new();
        let started = Instant::now();
        loop {
            writeln!(input, "{}", lines[fed % lines.len()]).unwrap();
            input.flush().unwrap();
            fed += 1;
            line.clear();
            let read = verdicts.read_line(&mut line).unwrap();
            assert!(
                read > 0,
                "trial {trial}: scan {fed} got no verdict: {}",
                stderr_of(&mut scan)
            );
            assert!(line.contains("\"verdict\""), "trial {trial}: {line}");
            if fed >= 20 && sync.try_wait().unwrap().is_some() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the sync never ended"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(input);
        let scanned = scan.wait().unwrap();
        let scan_err = stderr_of(&mut scan);
        assert!(scanned.success(), "trial {trial}: scan failed: {scan_err}");
        assert!(!scan_err.contains("locked"), "trial {trial}: {scan_err}");
        let synced = sync.wait().unwrap();
        let mut sync_err = String::new();
        sync.stderr
            .take()
            .unwrap()
            .read_to_string(&mut sync_err)
            .unwrap();
        assert!(synced.success(), "trial {trial}: sync failed: {sync_err}");
        assert_eq!(
            status(device)["events"].as_u64().unwrap(),
            held + fed as u64 + 600,
            "trial {trial}: every scan fed is recorded, with what the sync brought down"
        );
        eprintln!("trial {trial}: {fed} scans during the sync, all recorded");
        // What was scanned meanwhile goes with the next sync.
        let next = json(&custodian(&["sync", "--data", device, "--json"]));
        assert_eq!(next["waiting"], 0, "{next}");
    }
}

fn stderr_of(child: &mut std::process::Child) -> String {
    let mut text = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut text);
    }
    text
}

#[test]
fn ctrl_c_in_the_first_round_of_watch_stops_it_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let device = tmp.path().join("device");
    let device = device.to_str().unwrap();
    hub.enroll(Path::new(device), "dist-a", "dc-hamburg");
    let address = hub.address().to_string();
    drop(hub);
    // Where the hub was, something that accepts connections and never answers: the first
    // round of the sync waits in its TLS handshake.
    let silent = std::net::TcpListener::bind(&address).unwrap();
    let mut watch = Command::new(bin("custodian"))
        .args(["sync", "--data", device, "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (held, _) = silent.accept().unwrap();
    // The sync is in its first round now: its connection is open and waiting.
    let killed = Command::new("kill")
        .args(["-INT", &watch.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = watch.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "Ctrl-C did not stop the watch"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    drop(held);
    assert_eq!(
        status.signal(),
        None,
        "killed by the signal instead of stopping: {status}"
    );
    assert!(status.success(), "{status}: {}", stderr_of(&mut watch));
    // The ledger is whole and usable.
    assert_eq!(
        json(&custodian(&["status", "--data", device, "--json"]))["enrolled"],
        true
    );
}

#[test]
fn a_reader_that_goes_away_ends_custodian_quietly() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let device = tmp.path().join("device");
    let device = device.to_str().unwrap();
    hub.enroll(Path::new(device), "dist-a", "dc-hamburg");
    // Enough events that their export is far larger than a pipe holds.
    let scans = unit_lines(300).join("\n") + "\n";
    custodian_with_input(
        &["scan", "--data", device, "--step", "inspecting"],
        Some(&scans),
    );
    let scans = unit_lines(2_000).join("\n") + "\n";
    // `scan` writes a verdict per line; its reader takes one and goes.
    let mut scan = Command::new(bin("custodian"))
        .args(["scan", "--data", device, "--step", "inspecting"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = scan.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // The scanner may stop reading once its output is gone: a failed write here is fine.
        let _ = input.write_all(scans.as_bytes());
    });
    let mut first = String::new();
    BufReader::new(scan.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(!first.is_empty());
    let status = scan.wait().unwrap();
    feeder.join().unwrap();
    let stderr = stderr_of(&mut scan);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !stderr.contains("Broken pipe"),
        "a closed pipe is no error to report: {stderr}"
    );
    assert_eq!(status.code(), Some(141), "{status}: {stderr}");

    // A command printing with one large write: the export of what was scanned.
    let mut export = Command::new(bin("custodian"))
        .args(["epcis", "export", "--data", device])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(export.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let status = export.wait().unwrap();
    let stderr = stderr_of(&mut export);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(status.code(), Some(141), "{status}: {stderr}");
}
