//! Whom a device trusts and who trusts it, through the CLI against real hubs:
//!
//! - a substitute hub on the pinned hub's address (its own certificate authority, or the real
//!   hub's CA certificate without its key) is refused: the sync fails saying so, nothing moves
//!   either way, and the device syncs with its real hub again afterwards;
//! - a revoked device is told it was revoked, `sync --watch` stops instead of retrying, and
//!   nothing it sends after the revocation is stored.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use custodian_e2e::{
    HubProcess, bin, custodian, custodian_output, custodian_with_input, workspace,
};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Element strings of the demo ASN's units (shipped to dist-a): inspecting them raises nothing.
fn units(n: usize) -> String {
    let text = std::fs::read_to_string(workspace().join("fixtures/demo/serials.jsonl")).unwrap();
    let units: Vec<String> = text
        .lines()
        .take(24)
        .map(|l| json(l)["element_string"].as_str().unwrap().to_string())
        .collect();
    (0..n)
        .map(|i| format!("{}\n", units[i % units.len()]))
        .collect()
}

fn inspect(device: &str, n: usize) {
    custodian_with_input(
        &["scan", "--data", device, "--step", "inspecting"],
        Some(&units(n)),
    );
}

fn status(device: &str) -> serde_json::Value {
    json(&custodian(&["status", "--data", device, "--json"]))
}

fn hub_events(hub: &str) -> i64 {
    json(&custodian(&["hub", "status", "--data", hub, "--json"]))["events"]
        .as_i64()
        .unwrap()
}

/// Runs `custodian ARGS` and waits at most `limit` for it to end by itself.
fn run_bounded(args: &[&str], limit: Duration) -> std::process::Output {
    let mut child = Command::new(bin("custodian"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "custodian {} still ran after {limit:?}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A sync through a substitute hub fails as a trust failure and moves nothing.
fn refused_by_device(device: &str, substitute: &HubProcess, base: i64) {
    let before = status(device);
    let out = custodian_output(&["sync", "--data", device, "--retries", "2"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a substitute hub was trusted");
    assert!(
        stderr.contains("did not present the pinned hub certificate"),
        "the refusal says why: {stderr}"
    );
    // `--watch` does not retry what is not transient: it stops, saying the same.
    let out = run_bounded(
        &["sync", "--data", device, "--watch", "--interval", "1"],
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("pinned hub certificate"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = status(device);
    assert_eq!(
        after["waiting"], before["waiting"],
        "nothing counted as sent"
    );
    assert_eq!(after["events"], before["events"], "nothing received");
    assert_eq!(after["last_sync"], before["last_sync"]);
    assert_eq!(
        hub_events(substitute.data()),
        base,
        "the substitute stored nothing"
    );
}

#[test]
fn a_substitute_hub_at_the_pinned_address_is_refused_and_nothing_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let device = tmp.path().join("device");
    let device = device.to_str().unwrap();
    let hub_dir = tmp.path().join("hub");
    let hub = HubProcess::start(&hub_dir, true);
    let address = hub.address().to_string();
    hub.enroll(Path::new(device), "dist-a", "dc-hamburg");
    inspect(device, 3);
    custodian(&["sync", "--data", device]);
    let real_events = hub_events(hub.data());
    inspect(device, 2);
    assert_eq!(status(device)["waiting"], 2);
    drop(hub);

    // A hub with a certificate authority of its own, where the real one listened.
    let other = HubProcess::start_at(&tmp.path().join("other"), true, &address);
    let base = hub_events(other.data());
    refused_by_device(device, &other, base);
    drop(other);

    // A hub holding the real hub's CA certificate (public: every device has it) but not its
    // key: the server certificate it issues does not verify under the pinned one.
    let forger_dir = tmp.path().join("forger");
    drop(HubProcess::start(&forger_dir, true));
    std::fs::copy(hub_dir.join("tls/ca.der"), forger_dir.join("tls/ca.der")).unwrap();
    let forger = HubProcess::start_at(&forger_dir, true, &address);
    let base = hub_events(forger.data());
    refused_by_device(device, &forger, base);
    drop(forger);

    // The real hub back on its address: the device syncs as before, the waiting scans go up.
    let hub = HubProcess::start_at(&hub_dir, true, &address);
    let report = json(&custodian(&["sync", "--data", device, "--json"]));
    assert_eq!(report["stored_by_hub"], 2, "{report}");
    assert_eq!(status(device)["waiting"], 0);
    assert_eq!(hub_events(hub.data()), real_events + 2);
}

#[test]
fn a_revoked_device_is_told_so_stops_retrying_and_nothing_it_sends_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let device = tmp.path().join("device");
    let device = device.to_str().unwrap();
    hub.enroll(Path::new(device), "dist-a", "dc-hamburg");
    let colleague = tmp.path().join("colleague");
    let colleague = colleague.to_str().unwrap();
    hub.enroll(Path::new(colleague), "dist-a", "dc-hamburg");
    inspect(device, 2);
    custodian(&["sync", "--data", device]);
    custodian(&["sync", "--data", colleague]);
    let colleague_held = status(colleague)["events"].as_i64().unwrap();
    let id = status(device)["device"].as_str().unwrap().to_string();

    let revoked = custodian(&["hub", "revoke", "--data", hub.data(), &id]);
    assert!(revoked.contains(&id), "{revoked}");
    let stored = hub_events(hub.data());

    // The device keeps recording: what it scans stays on it.
    inspect(device, 3);
    let out = custodian_output(&["sync", "--data", device, "--retries", "3"], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("(403)") && stderr.contains("revoked"),
        "{stderr}"
    );
    assert_eq!(status(device)["waiting"], 3, "its scans stay, waiting");

    // `sync --watch` stops at once, saying why, rather than retrying for ever.
    let out = run_bounded(
        &["sync", "--data", device, "--watch", "--interval", "1"],
        Duration::from_secs(30),
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"));

    assert_eq!(
        hub_events(hub.data()),
        stored,
        "nothing sent after revocation is stored"
    );
    // Its colleague on the same site syncs as before and receives none of it.
    let report = json(&custodian(&["sync", "--data", colleague, "--json"]));
    assert_eq!(report["downloaded"], 0, "{report}");
    assert_eq!(
        status(colleague)["events"].as_i64().unwrap(),
        colleague_held
    );
}
