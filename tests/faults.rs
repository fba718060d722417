//! Sync over a bad link: three devices record events while a fault-injecting proxy between them
//! and the hub refuses, cuts, stalls and slows connections; then the network heals. Every device
//! must converge, the hub must hold every event exactly once, and the flags must be right.
//!
//! Scale and seeds come from the environment so any failure replays:
//! `CUSTODIAN_FAULT_EVENTS` (events per device, default 300) and `CUSTODIAN_FAULT_SEED`
//! (first seed, default 1) with `CUSTODIAN_FAULT_RUNS` (how many seeds, default 2).
//!
//! Each seed prints its figures on one line starting `fault figures:` (events per device, wall
//! time, syncs that failed, retries inside the syncs that succeeded, bytes the successful syncs
//! reported, and the TLS bytes the proxy forwarded each way).

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::sync::atomic::Ordering;
use std::time::Instant;

use custodian_e2e::proxy::FaultyProxy;
use custodian_e2e::{HubProcess, custodian, custodian_output, env_number, workspace};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The demo ASN's 24 units (shipped to dist-a), as element strings.
fn asn_units() -> Vec<String> {
    let path = workspace().join("fixtures/demo/serials.jsonl");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .take(24)
        .map(|l| json(l)["element_string"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn devices_converge_through_a_faulty_link() {
    let per_device = usize::try_from(env_number("CUSTODIAN_FAULT_EVENTS", 300)).unwrap();
    let first = env_number("CUSTODIAN_FAULT_SEED", 1);
    for seed in first..first + env_number("CUSTODIAN_FAULT_RUNS", 2) {
        eprintln!(
            "fault run with seed {seed} (CUSTODIAN_FAULT_SEED={seed} CUSTODIAN_FAULT_RUNS=1 replays it)"
        );
        run_seed(seed, per_device);
    }
}

/// What the syncs of one run added up to.
#[derive(Default)]
struct Tally {
    /// The run's seed: each sync draws its retry jitter from it, so a run replays.
    seed: u64,
    syncs: u64,
    failed: u64,
    retries: u64,
    bytes_sent: u64,
    bytes_received: u64,
}

impl Tally {
    /// Runs `custodian sync --json` on `dir`; with `must`, a failure fails the test.
    fn sync(&mut self, dir: &str, retries: &str, must: bool) {
        let seed = (self.seed << 16 | self.syncs).to_string();
        let out = custodian_output(
            &[
                "sync",
                "--data",
                dir,
                "--retries",
                retries,
                "--seed",
                &seed,
                "--json",
            ],
            None,
        );
        self.syncs += 1;
        if !out.status.success() {
            assert!(
                !must,
                "sync of {dir} failed on a healed link: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            self.failed += 1;
            return;
        }
        let report = json(&String::from_utf8_lossy(&out.stdout));
        let n = |k: &str| report[k].as_u64().unwrap_or(0);
        self.retries += n("retries");
        self.bytes_sent += n("bytes_sent");
        self.bytes_received += n("bytes_received");
    }
}

fn run_seed(seed: u64, per_device: usize) {
    let started = Instant::now();
    let mut tally = Tally {
        seed,
        ..Tally::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let proxy = FaultyProxy::start(hub.address().parse().unwrap(), seed);
    let devices: Vec<(String, &str, &str)> = [
        ("dist-a", "dc-hamburg"),
        ("dist-a", "dc-hamburg"),
        ("dist-b", "dc-oakland"),
    ]
    .iter()
    .enumerate()
    .map(|(i, (org, site))| {
        (
            tmp.path()
                .join(format!("device-{i}"))
                .to_str()
                .unwrap()
                .to_string(),
            *org,
            *site,
        )
    })
    .collect();
    // Enrollment happens on a good link (a person is standing next to the hub's QR code).
    proxy.heal_for(|| {
        for (dir, org, site) in &devices {
            hub.enroll_via(dir.as_ref(), org, site, Some(&proxy.url()));
        }
    });
    let base = json(&custodian(&[
        "hub",
        "status",
        "--data",
        hub.data(),
        "--json",
    ]))["events"]
        .as_i64()
        .unwrap();

    // Each device records its events offline: inspections of the ASN's units, in bursts, and
    // tries to sync between bursts while the link misbehaves.
    let units = asn_units();
    let bursts = 3;
    for burst in 0..bursts {
        for (i, (dir, _, _)) in devices.iter().enumerate() {
            let n = per_device / bursts + usize::from(burst == bursts - 1) * (per_device % bursts);
            let scans: String = (0..n)
                .map(|k| format!("{}\n", units[(i * 7 + burst * 5 + k) % units.len()]))
                .collect();
            let out = custodian_output(
                &["scan", "--data", dir, "--step", "inspecting"],
                Some(&scans),
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // Failures are expected here; nothing may be lost or duplicated by them.
            tally.sync(dir, "2", false);
        }
    }
    let s = &proxy.stats;
    eprintln!(
        "seed {seed}: {} connections: {} refused, {} cut, {} stalled, {} slowed",
        s.connections.load(Ordering::Relaxed),
        s.refused.load(Ordering::Relaxed),
        s.cut.load(Ordering::Relaxed),
        s.stalled.load(Ordering::Relaxed),
        s.slowed.load(Ordering::Relaxed)
    );
    assert!(
        s.refused.load(Ordering::Relaxed) + s.cut.load(Ordering::Relaxed) > 0,
        "the link misbehaved"
    );

    // The network heals: two passes let every device see the others' events.
    proxy.heal();
    for _ in 0..2 {
        for (dir, _, _) in &devices {
            tally.sync(dir, "3", true);
        }
    }

    let hub_status = json(&custodian(&[
        "hub",
        "status",
        "--data",
        hub.data(),
        "--json",
    ]));
    assert_eq!(
        hub_status["events"].as_i64().unwrap(),
        base + i64::try_from(3 * per_device).unwrap(),
        "every event exactly once"
    );
    for (dir, _, _) in &devices {
        let status = json(&custodian(&["status", "--data", dir, "--json"]));
        assert_eq!(status["waiting"], 0, "{dir}: nothing left to upload");
    }
    // The two devices of dist-a hold the same events; dist-b holds its own and the demo's.
    let events = |d: &str| {
        json(&custodian(&["status", "--data", d, "--json"]))["events"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(events(&devices[0].0), events(&devices[1].0));
    // Flags: dist-b inspected units shipped to dist-a: each unit listed once by a diversion
    // flag (one per day of inspections), however many times it was scanned or uploaded; dist-a
    // has none.
    let scanned_by_b: std::collections::BTreeSet<usize> = (0..bursts)
        .flat_map(|burst| {
            let n = per_device / bursts + usize::from(burst == bursts - 1) * (per_device % bursts);
            (0..n).map(move |k| (2 * 7 + burst * 5 + k) % 24)
        })
        .collect();
    let flags_b: Vec<serde_json::Value> =
        serde_json::from_str(&custodian(&["flags", "--data", &devices[2].0, "--json"])).unwrap();
    let listed: u64 = flags_b.iter().map(|f| f["units"].as_u64().unwrap()).sum();
    assert_eq!(listed, u64::try_from(scanned_by_b.len()).unwrap());
    assert!(flags_b.iter().all(|f| f["kind"] == "diversion"));
    let flags_a: Vec<serde_json::Value> =
        serde_json::from_str(&custodian(&["flags", "--data", &devices[0].0, "--json"])).unwrap();
    assert!(flags_a.is_empty());
    assert_eq!(
        hub_status["flags"].as_u64().unwrap(),
        u64::try_from(flags_b.len()).unwrap()
    );
    eprintln!(
        "fault figures: seed {seed}, {per_device} events per device (3 devices), {:.1} s, \
         {} syncs ({} failed), {} retries in successful syncs, {} B sent and {} B received \
         by successful syncs, {} B up and {} B down through the proxy",
        started.elapsed().as_secs_f64(),
        tally.syncs,
        tally.failed,
        tally.retries,
        tally.bytes_sent,
        tally.bytes_received,
        s.bytes_up.load(Ordering::Relaxed),
        s.bytes_down.load(Ordering::Relaxed),
    );
}
