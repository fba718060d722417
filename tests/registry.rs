//! The registry extract through the CLI with a real hub: a counterfeit report by one partner
//! reaches every partner's device, which then judges the unit offline; the extract travels as
//! nothing when unchanged and as a delta when a recall is published or withdrawn; enrollment
//! tokens expire; `sync --watch` uploads what was recorded offline once the hub is back.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::process::{Command, Stdio};

use custodian_e2e::{
    HubProcess, LinesWithin, bin, custodian, custodian_output, custodian_with_input, demo_serial,
    json,
};

fn sync(dir: &str) -> serde_json::Value {
    json(&custodian(&["sync", "--data", dir, "--json"]))
}

fn inspect(dir: &str, code: &str) -> serde_json::Value {
    json(&custodian_with_input(
        &["scan", "--data", dir, "--step", "inspecting", "--json"],
        Some(&format!("{code}\n")),
    ))
}

#[test]
fn a_counterfeit_report_reaches_every_partners_device() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let shop = tmp.path().join("shop");
    let shop = shop.to_str().unwrap();
    let depot = tmp.path().join("depot");
    let depot = depot.to_str().unwrap();
    hub.enroll(shop.as_ref(), "retail-berlin", "store-mitte");
    hub.enroll(depot.as_ref(), "dist-a", "dc-hamburg");
    // Unit 0 is on the demo pallet shipped to dist-a: the distributor holds it, so its report
    // lists the unit at once.
    let unit = demo_serial(0);
    assert_eq!(inspect(shop, &unit)["verdict"], "provisional");

    custodian(&[
        "report-counterfeit",
        "--data",
        depot,
        &unit,
        "--note",
        "blurred print, wrong weight",
    ]);
    let depot_sync = sync(depot);
    let flags = depot_sync["new_flags"].as_array().unwrap();
    assert_eq!(flags.len(), 1, "{depot_sync}");
    assert_eq!(flags[0]["kind"], "counterfeit");
    assert_eq!(depot_sync["extract"], "delta", "{depot_sync}");

    // The retailer's device learns of it with its next sync, and judges it offline. Who
    // reported it and when travel with the list; the note stays with the reporter and the
    // manufacturer.
    assert_eq!(sync(shop)["extract"], "delta");
    let verdict = inspect(shop, &unit);
    assert_eq!(verdict["verdict"], "reported_counterfeit", "{verdict}");
    let reason = verdict["reason"].as_str().unwrap();
    assert!(
        reason.contains("reported counterfeit by Nordlager Distribution GmbH")
            && !reason.contains("blurred print"),
        "{reason}"
    );
    // Other units are untouched.
    assert_eq!(inspect(shop, &demo_serial(1))["verdict"], "provisional");

    // The hub lists who reported it and when; the manufacturer is flagged, once.
    let alerts = json(&custodian(&[
        "hub",
        "alerts",
        "--data",
        hub.data(),
        "--json",
    ]));
    let alert = alerts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["reported_by"] == "dist-a")
        .unwrap_or_else(|| panic!("{alerts}"));
    assert!(alert["reported_at"].as_str().is_some());
    assert_eq!(alert["note"], "blurred print, wrong weight");
    // Public verification says it is on the list, without naming the reporter.
    assert!(!alert["reason"].as_str().unwrap().contains("Nordlager"));
    custodian(&[
        "report-counterfeit",
        "--data",
        depot,
        &unit,
        "--note",
        "second look: same",
    ]);
    sync(depot);
    let hub_flags = json(&custodian(&[
        "hub",
        "flags",
        "--data",
        hub.data(),
        "--json",
    ]));
    let counterfeit: Vec<&serde_json::Value> = hub_flags
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "counterfeit")
        .collect();
    let mut orgs: Vec<&str> = counterfeit
        .iter()
        .map(|f| f["org"].as_str().unwrap())
        .collect();
    orgs.sort_unstable();
    // The reporter and the manufacturer; no one else holds the unit.
    assert_eq!(orgs, ["acme", "dist-a"], "{hub_flags}");
    // The second report is kept beside the first; the unit is listed once.
    let alerts = json(&custodian(&[
        "hub",
        "alerts",
        "--data",
        hub.data(),
        "--json",
    ]));
    assert_eq!(alerts.as_array().unwrap().len(), 1, "{alerts}");
    let notes: Vec<&str> = alerts[0]["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["note"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["blurred print, wrong weight", "second look: same"]);
    let listed = custodian(&["hub", "alerts", "--data", hub.data()]);
    assert!(
        listed.contains("2 report(s)") && listed.contains("second look: same"),
        "{listed}"
    );
    for f in &counterfeit {
        let reason = f["reason"].as_str().unwrap();
        assert!(reason.contains("second look: same"), "{reason}");
    }

    // The manufacturer finds it genuine and clears it: the next sync carries that too.
    let out = custodian_output(
        &["hub", "alert", "--data", hub.data(), &unit, "--clear"],
        None,
    );
    assert!(!out.status.success(), "clearing needs a note");
    custodian(&[
        "hub",
        "alert",
        "--data",
        hub.data(),
        &unit,
        "--clear",
        "--note",
        "label checked: genuine",
    ]);
    assert_eq!(sync(shop)["extract"], "delta");
    assert_eq!(inspect(shop, &unit)["verdict"], "provisional");
}

#[test]
fn the_extract_travels_by_version() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let depot = tmp.path().join("depot");
    let depot = depot.to_str().unwrap();
    hub.enroll(depot.as_ref(), "dist-a", "dc-hamburg");
    let unit = demo_serial(1);

    // Nothing changed: the extract costs nothing, the whole sync under 250 bytes each way.
    let idle = sync(depot);
    assert_eq!(idle["extract"], "unchanged");
    let idle_down = idle["bytes_received"].as_u64().unwrap();
    let idle_up = idle["bytes_sent"].as_u64().unwrap();
    eprintln!("an idle sync: {idle_up} B up, {idle_down} B down");
    assert!(idle_down < 250 && idle_up < 250, "{idle}");
    // No working document changed (the depot holds its flags and the demo ASN's manifest), so
    // no document message goes either way, and one round suffices; again the next time.
    for idle in [idle.clone(), sync(depot)] {
        assert_eq!(idle["documents"], 0, "{idle}");
        assert_eq!(idle["documents_sent"], 0, "{idle}");
        assert_eq!(idle["rounds"], 1, "{idle}");
        assert!(
            idle["bytes_sent"].as_u64().unwrap() <= idle_up + 8,
            "{idle}"
        );
    }

    // A recall published on the hub arrives as a delta, and the verdict changes offline.
    let version = idle["extract_version"].as_u64().unwrap();
    custodian(&[
        "hub",
        "recall",
        "--data",
        hub.data(),
        "--gtin",
        "04012345000016",
        "--lot",
        "L2611A",
        "--reason",
        "battery overheats",
    ]);
    let recalled = sync(depot);
    assert_eq!(recalled["extract"], "delta", "{recalled}");
    assert_eq!(recalled["extract_version"], version + 1);
    let delta_down = recalled["bytes_received"].as_u64().unwrap();
    eprintln!("a sync bringing one recall: {delta_down} B down");
    assert!(delta_down < idle_down + 200, "{recalled}");
    let verdict = inspect(depot, &unit);
    assert_eq!(verdict["verdict"], "recalled", "{verdict}");
    assert!(
        verdict["reason"]
            .as_str()
            .unwrap()
            .contains("battery overheats")
    );

    custodian(&[
        "hub",
        "recall",
        "--data",
        hub.data(),
        "--gtin",
        "04012345000016",
        "--lot",
        "L2611A",
        "--withdraw",
    ]);
    assert_eq!(sync(depot)["extract"], "delta");
    assert_eq!(inspect(depot, &unit)["verdict"], "provisional");
}

#[test]
fn enrollment_tokens_expire() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let token = |valid_for: &str| {
        custodian(&[
            "hub",
            "token",
            "--data",
            hub.data(),
            "--org",
            "dist-a",
            "--site",
            "dc-hamburg",
            "--valid-for",
            valid_for,
        ])
        .trim()
        .to_string()
    };
    let short = token("1s");
    let long = token("10m");
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let late = tmp.path().join("late");
    let out = custodian_output(&["enroll", "--data", late.to_str().unwrap(), &short], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("expired at") && err.contains("ask the hub for a new one"),
        "{err}"
    );
    custodian(&["enroll", "--data", late.to_str().unwrap(), &long]);
    for bad in ["0s", "5", "3w", "400d"] {
        let out = custodian_output(
            &[
                "hub",
                "token",
                "--data",
                hub.data(),
                "--org",
                "dist-a",
                "--site",
                "dc-hamburg",
                "--valid-for",
                bad,
            ],
            None,
        );
        assert!(!out.status.success(), "--valid-for {bad} is refused");
    }
}

#[test]
fn sync_watch_uploads_once_the_hub_is_back() {
    let tmp = tempfile::tempdir().unwrap();
    let hub_dir = tmp.path().join("hub");
    let hub = HubProcess::start(&hub_dir, true);
    let address = hub.address().to_string();
    let depot = tmp.path().join("depot");
    let depot = depot.to_str().unwrap();
    hub.enroll(depot.as_ref(), "dist-a", "dc-hamburg");
    drop(hub);
    inspect(depot, &demo_serial(2));

    let watch = Command::new(bin("custodian"))
        .args([
            "sync",
            "--data",
            depot,
            "--watch",
            "--interval",
            "1",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Killed however the test ends: a failed assertion must not leave it syncing.
    let mut watch = KillOnDrop(watch);
    let lines = LinesWithin::new(watch.0.stdout.take().unwrap(), "custodian sync --watch");
    // Each round is an --interval (1 s) apart; a line long overdue fails the test.
    let patience = std::time::Duration::from_secs(60);
    let first = json(&lines.next_within(patience));
    assert!(first["offline"].as_str().is_some(), "{first}");

    let hub = HubProcess::start_at(&hub_dir, true, &address);
    let report = json(&lines.next_within(patience));
    assert_eq!(report["uploaded"], 1, "{report}");
    assert_eq!(report["stored_by_hub"], 1, "{report}");
    let status = json(&custodian(&["status", "--data", depot, "--json"]));
    assert_eq!(status["waiting"], 0);
    drop(watch);
    drop(hub);
}

/// A child process killed and reaped when dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
