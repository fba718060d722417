//! A registry restored from a backup: the hub is stopped, its files are put back as a backup
//! left them, and it starts again. What it acknowledged after the backup is gone from it, but
//! the devices that sent it still hold those events, and their cursors are past what the
//! restored registry numbers next. Each device sends again what the hub lost, and downloads
//! again from where the restored registry had served it, so nothing is lost and nothing
//! skipped.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::path::Path;

use custodian_e2e::pg::Cluster;
use custodian_e2e::{HubProcess, custodian, custodian_with_input, demo_serial, json};

/// The demo's issued serials `range`, one per line (24 and on were never shipped).
fn serials(range: std::ops::Range<usize>) -> String {
    range.map(|n| demo_serial(n) + "\n").collect()
}

fn scan(device: &str, range: std::ops::Range<usize>) {
    custodian_with_input(
        &["scan", "--data", device, "--step", "receiving", "--json"],
        Some(&serials(range)),
    );
}

/// Syncs `device` once; the sync must converge with nothing left to send.
fn sync(device: &str) {
    let report = json(&custodian(&["sync", "--data", device, "--json"]));
    assert_eq!(report["converged"], true, "{report}");
    assert_eq!(report["waiting"], 0, "{report}");
}

fn events_on_hub(dir: &str) -> i64 {
    json(&custodian(&["hub", "status", "--data", dir, "--json"]))["events"]
        .as_i64()
        .unwrap()
}

fn events_on_device(device: &str) -> i64 {
    json(&custodian(&["status", "--data", device, "--json"]))["events"]
        .as_i64()
        .unwrap()
}

/// The registry's files as a stopped hub left them (its log with them: a copy of both is what
/// a file-level backup of a stopped hub holds).
fn copy_registry(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for name in ["hub.sqlite-wal", "hub.sqlite-shm"] {
        let _ = std::fs::remove_file(to.join(name));
    }
    for name in ["hub.sqlite", "hub.sqlite-wal"] {
        if from.join(name).exists() {
            std::fs::copy(from.join(name), to.join(name)).unwrap();
        }
    }
}

#[test]
fn devices_send_again_what_a_restored_registry_lost_and_download_what_it_numbered_anew() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir_arg = dir.to_str().unwrap().to_string();
    let backup = tmp.path().join("backup");
    // The registry in its SQLite file: the backup is a copy of its files.
    let sqlite = ["--store", dir_arg.as_str()];
    let mut hub = HubProcess::start_with(&dir, true, "127.0.0.1:0", &sqlite);
    let listen = hub.address().to_string();
    let device = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (a, b, c) = (device("a"), device("b"), device("c"));
    hub.enroll(Path::new(&a), "dist-b", "dc-oakland");
    hub.enroll(Path::new(&b), "dist-b", "dc-oakland");
    scan(&a, 30..35);
    sync(&a);
    sync(&b);

    hub.kill();
    copy_registry(&dir, &backup);
    let at_backup = {
        let mut hub = HubProcess::start_with(&dir, false, &listen, &sqlite);
        let at_backup = events_on_hub(&dir_arg);
        // Acknowledged after the backup: lost with the restore.
        scan(&a, 35..40);
        sync(&a);
        sync(&b);
        assert_eq!(events_on_hub(&dir_arg), at_backup + 5);
        hub.kill();
        at_backup
    };
    let b_before = events_on_device(&b);

    copy_registry(&backup, &dir);
    let hub = HubProcess::start_with(&dir, false, &listen, &sqlite);
    assert_eq!(
        events_on_hub(&dir_arg),
        at_backup,
        "the restore took the registry back"
    );
    // A device enrolled after the restore sends first: its events take the numbers the
    // registry hands out next, which the other devices' cursors had passed before the restore.
    hub.enroll(Path::new(&c), "dist-b", "dc-oakland");
    scan(&c, 40..45);
    sync(&c);
    assert_eq!(events_on_hub(&dir_arg), at_backup + 5);

    sync(&a);
    assert_eq!(
        events_on_hub(&dir_arg),
        at_backup + 10,
        "the device sent again the events the restored registry lost"
    );
    sync(&b);
    assert_eq!(
        events_on_device(&b),
        b_before + 5,
        "the other device downloaded the events numbered after the restore"
    );
    // Once caught up, a sync moves nothing more.
    let before = events_on_hub(&dir_arg);
    sync(&a);
    assert_eq!(events_on_hub(&dir_arg), before);
}

/// The units each flag of `org` lists, by flag, as `device` holds them and as the hub does.
fn listings(dir: &str, device: &str, org: &str) -> Vec<(String, Vec<String>, Vec<String>)> {
    let epcs = |v: serde_json::Value| {
        let mut e: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|u| format!("{} {}", u["epc"], u["resolved"]))
            .collect();
        e.sort();
        e
    };
    let flags = json(&custodian(&["hub", "flags", "--data", dir, "--json"]));
    flags
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["org"] == org)
        .map(|f| {
            let id = f["id"].as_str().unwrap().to_string();
            let on_hub = epcs(json(&custodian(&[
                "hub",
                "flag-units",
                "--data",
                dir,
                &id,
                "--json",
            ])));
            let on_device = epcs(json(&custodian(&[
                "flags", "units", &id, "--data", device, "--json",
            ])));
            (id, on_hub, on_device)
        })
        .collect()
}

#[test]
fn a_device_past_a_restored_registry_still_gets_the_units_its_flags_list_anew() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir_arg = dir.to_str().unwrap().to_string();
    let backup = tmp.path().join("backup");
    let sqlite = ["--store", dir_arg.as_str()];
    let mut hub = HubProcess::start_with(&dir, true, "127.0.0.1:0", &sqlite);
    let listen = hub.address().to_string();
    let device = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (a, b, c) = (device("a"), device("b"), device("c"));
    hub.enroll(Path::new(&a), "dist-b", "dc-oakland");
    hub.enroll(Path::new(&b), "dist-b", "dc-oakland");
    // Receipts of units nobody shipped: the organisation's flag lists each.
    scan(&a, 60..63);
    sync(&a);
    sync(&b);

    hub.kill();
    copy_registry(&dir, &backup);
    {
        let mut hub = HubProcess::start_with(&dir, false, &listen, &sqlite);
        // Listed after the backup, and held by the other device: its cursor moves past what
        // the restored registry will number next.
        scan(&a, 63..70);
        sync(&a);
        sync(&b);
        hub.kill();
    }

    copy_registry(&backup, &dir);
    let hub = HubProcess::start_with(&dir, false, &listen, &sqlite);
    // Listed after the restore, under numbers the other device's cursor had passed.
    hub.enroll(Path::new(&c), "dist-b", "dc-oakland");
    scan(&c, 70..74);
    sync(&c);
    sync(&a);
    sync(&b);
    let held = listings(&dir_arg, &b, "dist-b");
    assert!(!held.is_empty());
    let listed: usize = held.iter().map(|(_, on_hub, _)| on_hub.len()).sum();
    assert_eq!(
        listed, 14,
        "every unit received without a shipment is listed"
    );
    for (id, on_hub, on_device) in held {
        assert_eq!(on_device, on_hub, "flag {id} as the device holds it");
    }
}

/// The organisation's flags as `device` holds them: (id, status, notes of its history).
fn flag_states(device: &str) -> Vec<(String, String, Vec<String>)> {
    let mut flags: Vec<(String, String, Vec<String>)> =
        json(&custodian(&["flags", "--data", device, "--json"]))
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let mut notes: Vec<String> = f["history"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|s| s["note"].as_str().map(str::to_string))
                    .collect();
                notes.sort();
                (
                    f["id"].as_str().unwrap().to_string(),
                    f["status"].as_str().unwrap().to_string(),
                    notes,
                )
            })
            .collect();
    flags.sort();
    flags
}

/// Flags are Automerge documents: a move a device made and the hub acknowledged after the
/// backup is gone from the restored registry's document, while the device's own says the hub
/// had it. The next syncs bring it back to the hub and on to a device enrolled after the
/// restore, and moves made after the restore reach every device.
#[test]
fn a_flags_move_the_restored_registry_lost_comes_back_from_the_device_that_made_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir_arg = dir.to_str().unwrap().to_string();
    let backup = tmp.path().join("backup");
    let sqlite = ["--store", dir_arg.as_str()];
    let mut hub = HubProcess::start_with(&dir, true, "127.0.0.1:0", &sqlite);
    let listen = hub.address().to_string();
    let device = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (a, b, c) = (device("a"), device("b"), device("c"));
    hub.enroll(Path::new(&a), "dist-b", "dc-oakland");
    hub.enroll(Path::new(&b), "dist-b", "dc-oakland");
    // Receipts of units nobody shipped raise the organisation's flag.
    scan(&a, 60..63);
    sync(&a);
    sync(&b);
    let raised = flag_states(&a);
    assert_eq!(raised.len(), 1, "{raised:?}");
    let id = raised[0].0.clone();

    hub.kill();
    copy_registry(&dir, &backup);
    {
        let mut hub = HubProcess::start_with(&dir, false, &listen, &sqlite);
        custodian(&[
            "flags",
            "move",
            "--data",
            &a,
            &id,
            "under investigation",
            "--note",
            "asked the carrier for the delivery note",
        ]);
        sync(&a);
        sync(&b);
        assert_eq!(flag_states(&b), flag_states(&a));
        hub.kill();
    }
    let moved = flag_states(&a);
    assert_eq!(moved[0].1, "under_investigation", "{moved:?}");

    copy_registry(&backup, &dir);
    let hub = HubProcess::start_with(&dir, false, &listen, &sqlite);
    hub.enroll(Path::new(&c), "dist-b", "dc-oakland");
    sync(&c);
    // Restored: the hub's document is as it was at the backup.
    assert_eq!(flag_states(&c)[0].1, "new", "{:?}", flag_states(&c));
    // The device that made the lost move has made nothing since: it holds no change it
    // believes the hub lacks, and the restored registry believes it holds nothing new.
    sync(&a);
    sync(&b);
    sync(&c);
    assert_eq!(
        flag_states(&c),
        moved,
        "the move the restored registry lost came back"
    );
    let on_hub = |status: &str, notes: usize| {
        let flags = json(&custodian(&["hub", "flags", "--data", &dir_arg, "--json"]));
        let flag = flags
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == id.as_str())
            .unwrap()
            .clone();
        assert_eq!(flag["status"], status, "{flag}");
        let noted = flag["history"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["note"].is_string())
            .count();
        assert_eq!(noted, notes, "{flag}");
    };
    on_hub("under_investigation", 1);

    // A move after the restore, by the device enrolled since, reaches the devices that were
    // there before it.
    custodian(&[
        "flags",
        "move",
        "--data",
        &c,
        &id,
        "closed",
        "--note",
        "delivery note found; shipment recorded late",
    ]);
    sync(&c);
    sync(&a);
    sync(&b);
    let closed = flag_states(&c);
    assert_eq!(closed[0].1, "closed", "{closed:?}");
    assert_eq!(closed[0].2.len(), 2, "both moves' notes: {closed:?}");
    assert_eq!(flag_states(&a), closed);
    assert_eq!(flag_states(&b), closed);
    on_hub("closed", 2);
}

/// A registry on PostgreSQL, backed up with `pg_dump` while its hub serves and put back with
/// `pg_restore`: the devices send again the events and the flag move it lost, and nothing is
/// doubled.
#[test]
fn a_postgresql_registry_put_back_from_pg_dump_gets_back_what_devices_hold() {
    let cluster = Cluster::start();
    let store = cluster.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let dir_arg = dir.to_str().unwrap().to_string();
    let on_pg = ["--store", store.as_str()];
    let mut hub = HubProcess::start_with(&dir, true, "127.0.0.1:0", &on_pg);
    let listen = hub.address().to_string();
    let device = |name: &str| tmp.path().join(name).to_str().unwrap().to_string();
    let (a, b) = (device("a"), device("b"));
    hub.enroll(Path::new(&a), "dist-b", "dc-oakland");
    hub.enroll(Path::new(&b), "dist-b", "dc-oakland");
    scan(&a, 60..63);
    sync(&a);
    sync(&b);
    let id = flag_states(&a)[0].0.clone();

    // The backup, taken while the hub serves.
    let backup = cluster.dump("custodian", "registry.dump");
    let at_backup = events_on_hub(&dir_arg);
    custodian(&[
        "flags",
        "move",
        "--data",
        &a,
        &id,
        "under investigation",
        "--note",
        "asked the carrier for the delivery note",
    ]);
    scan(&b, 63..66);
    sync(&a);
    sync(&b);
    sync(&a);
    assert_eq!(events_on_hub(&dir_arg), at_backup + 3);
    let held = flag_states(&a);
    assert_eq!(held[0].1, "under_investigation", "{held:?}");
    assert_eq!(flag_states(&b), held);
    let a_before = events_on_device(&a);
    hub.kill();

    cluster.restore("custodian", &backup);
    let _hub = HubProcess::start_with(&dir, false, &listen, &on_pg);
    assert_eq!(
        events_on_hub(&dir_arg),
        at_backup,
        "the restore took the registry back"
    );
    sync(&a);
    sync(&b);
    assert_eq!(
        events_on_hub(&dir_arg),
        at_backup + 3,
        "the device sent again the events the restored registry lost"
    );
    assert_eq!(
        events_on_device(&a),
        a_before,
        "nothing doubled on the device that moved the flag"
    );
    let on_hub = json(&custodian(&["hub", "flags", "--data", &dir_arg, "--json"]));
    let flag = on_hub
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id.as_str())
        .unwrap();
    assert_eq!(flag["status"], "under_investigation", "{flag}");
    assert_eq!(flag_states(&b), held);
    for (id, on_hub, on_device) in listings(&dir_arg, &b, "dist-b") {
        assert_eq!(
            on_hub.len(),
            6,
            "flag {id} lists every unit received without a shipment"
        );
        assert_eq!(on_device, on_hub, "flag {id} as the device holds it");
    }
}
