//! Flags end to end, through the public CLI and a real hub: two devices of one distributor move
//! the same flag while offline and converge on both steps after syncing, the hub sees the moves,
//! refused moves say why; and a receipt of a unit no one shipped is flagged out of sequence once.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_e2e::{
    HubProcess, custodian, custodian_output, custodian_with_input, demo_serial, json,
};

fn receive(device: &str, code: &str) {
    custodian_with_input(
        &["scan", "--data", device, "--step", "receiving", "--json"],
        Some(&format!("{code}\n")),
    );
}

fn sync(device: &str) -> serde_json::Value {
    json(&custodian(&["sync", "--data", device, "--json"]))
}

fn flags(device: &str) -> Vec<serde_json::Value> {
    json(&custodian(&["flags", "--data", device, "--json"]))
        .as_array()
        .unwrap()
        .clone()
}

/// `custodian flags move` that must fail: returns its one-line error.
fn refused(args: &[&str]) -> String {
    let out = custodian_output(args, None);
    assert!(
        !out.status.success(),
        "custodian {} succeeded",
        args.join(" ")
    );
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    err.trim().to_string()
}

/// The (status, device) of each step in a flag's history.
fn steps(flag: &serde_json::Value) -> Vec<(String, String)> {
    flag["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["status"].as_str().unwrap().to_string(),
                s["by"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_flag_moved_on_two_devices_offline_converges_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let b1 = tmp.path().join("b1");
    let b2 = tmp.path().join("b2");
    let (b1, b2) = (b1.to_str().unwrap(), b2.to_str().unwrap());
    hub.enroll(b1.as_ref(), "dist-b", "dc-oakland");
    hub.enroll(b2.as_ref(), "dist-b", "dc-oakland");
    let device = |dir: &str| json(&custodian(&["status", "--data", dir, "--json"]));
    let (id1, id2) = (device(b1), device(b2));
    let (id1, id2) = (
        id1["device"].as_str().unwrap().to_string(),
        id2["device"].as_str().unwrap().to_string(),
    );

    // B receives a unit shipped to A: a diversion flag reaches both of B's devices.
    receive(b1, &demo_serial(5));
    assert_eq!(sync(b1)["new_flags"].as_array().unwrap().len(), 1);
    assert_eq!(sync(b2)["new_flags"].as_array().unwrap().len(), 1);
    let flag = &flags(b2)[0];
    let id = flag["id"].as_str().unwrap().to_string();
    assert_eq!(flag["status"], "new");
    assert_eq!(steps(flag), [("new".to_string(), "hub".to_string())]);

    // Refused moves say why, and change nothing.
    let no_note = refused(&["flags", "move", "--data", b1, &id, "closed"]);
    assert!(no_note.contains("needs a note"), "{no_note}");
    let unknown = refused(&["flags", "--data", b1, "move", &id, "resolved"]);
    assert!(unknown.contains("not one of"), "{unknown}");
    let missing = refused(&["flags", "move", "--data", b1, "flag-nope", "seen"]);
    assert!(missing.contains("not found"), "{missing}");

    // Offline, b1 takes it under investigation and b2 closes it.
    let moved = json(&custodian(&[
        "flags",
        "move",
        "--data",
        b1,
        &id,
        "under investigation",
        "--note",
        "asked Nordlager about ASN-0001",
        "--json",
    ]));
    assert_eq!(moved["status"], "under_investigation");
    custodian(&[
        "flags",
        "move",
        "--data",
        b2,
        &id,
        "closed",
        "--note",
        "Nordlager sold it on to us; paperwork follows",
    ]);
    let backwards = refused(&["flags", "move", "--data", b2, &id, "seen"]);
    assert!(
        backwards.contains("closed flag stays closed"),
        "{backwards}"
    );

    // Both sync (b1 twice, to hear of b2's move): both steps everywhere, closed wins.
    sync(b1);
    sync(b2);
    let heard = sync(b1);
    let moved = heard["moved_flags"].as_array().unwrap();
    assert_eq!(moved.len(), 1, "{heard}");
    assert_eq!(moved[0]["status"], "closed");
    let on_b1 = &flags(b1)[0];
    let on_b2 = &flags(b2)[0];
    assert_eq!(on_b1, on_b2);
    assert_eq!(on_b1["status"], "closed");
    let mut moves = steps(on_b1);
    moves.sort();
    assert_eq!(
        moves,
        [
            ("closed".to_string(), id2.clone()),
            ("new".to_string(), "hub".to_string()),
            ("under_investigation".to_string(), id1.clone()),
        ]
    );
    let closing = on_b1["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "closed")
        .unwrap();
    assert_eq!(
        closing["note"],
        "Nordlager sold it on to us; paperwork follows"
    );
    assert_eq!(closing["org"], "dist-b");

    // The hub sees the moves too.
    let at_hub = json(&custodian(&[
        "hub",
        "flags",
        "--data",
        hub.data(),
        "--json",
    ]));
    assert_eq!(at_hub[0]["status"], "closed");
    assert_eq!(at_hub[0]["history"], on_b1["history"]);

    // The text listing shows the history under the flag.
    let text = custodian(&["flags", "--data", b1]);
    assert!(
        text.contains("[closed]") && text.contains("closed by ") && text.contains("paperwork"),
        "{text}"
    );
}

#[test]
fn a_unit_received_with_no_shipment_is_out_of_sequence_once() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let b = tmp.path().join("b");
    let b = b.to_str().unwrap();
    hub.enroll(b.as_ref(), "dist-b", "dc-oakland");

    // Unit 150 was issued and never shipped; B receives it twice (two scans of one box).
    receive(b, &demo_serial(150));
    receive(b, &demo_serial(150));
    let first = sync(b);
    let new_flags = first["new_flags"].as_array().unwrap();
    assert_eq!(new_flags.len(), 1, "{first}");
    assert_eq!(new_flags[0]["kind"], "out_of_sequence");
    let reason = new_flags[0]["reason"].as_str().unwrap();
    assert!(reason.contains("no shipment on record"), "{reason}");
    assert_eq!(sync(b)["new_flags"].as_array().unwrap().len(), 0);

    // The hub raised it for B and for the manufacturer, which holds the unit on record.
    let at_hub = json(&custodian(&[
        "hub",
        "flags",
        "--data",
        hub.data(),
        "--json",
    ]));
    let mut orgs: Vec<&str> = at_hub
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["kind"], "out_of_sequence");
            f["org"].as_str().unwrap()
        })
        .collect();
    orgs.sort_unstable();
    assert_eq!(orgs, ["acme", "dist-b"]);
}

#[test]
fn units_received_together_with_no_shipment_are_one_flag_listing_them() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let b = tmp.path().join("b");
    let b = b.to_str().unwrap();
    hub.enroll(b.as_ref(), "dist-b", "dc-oakland");

    // Three units issued and never shipped, received in one go.
    let codes: Vec<String> = (150..153).map(demo_serial).collect();
    custodian_with_input(
        &["scan", "--data", b, "--step", "receiving", "--json"],
        Some(&format!("{}\n", codes.join("\n"))),
    );
    let first = sync(b);
    assert_eq!(first["new_flags"].as_array().unwrap().len(), 1, "{first}");
    let held = flags(b);
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["units"], 3);
    assert_eq!(held[0]["open_units"], 3);
    let reason = held[0]["reason"].as_str().unwrap();
    assert!(reason.starts_with("3 units were received by "), "{reason}");
    let id = held[0]["id"].as_str().unwrap();

    // The device lists the flag's units, each as received, none accounted for yet.
    let units = json(&custodian(&["flags", "units", id, "--data", b, "--json"]));
    let units = units.as_array().unwrap();
    assert_eq!(units.len(), 3);
    assert!(
        units
            .iter()
            .all(|u| u["flag"] == id && u.get("resolved").is_none())
    );
    let text = custodian(&["flags", "--data", b]);
    assert!(text.contains("(3 units, 3 open"), "{text}");
    let listed = custodian(&["flags", "units", id, "--data", b]);
    assert_eq!(listed.lines().count(), 3, "{listed}");
    assert!(
        listed.lines().all(|l| l.contains(" open (listed by ")),
        "{listed}"
    );

    // The manufacturer lists the same units from its own flag for the receipt.
    let at_hub = json(&custodian(&[
        "hub",
        "flags",
        "--data",
        hub.data(),
        "--json",
    ]));
    let maker = at_hub
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["org"] == "acme")
        .unwrap();
    assert_eq!(maker["units"], 3);
    let maker_units = json(&custodian(&[
        "hub",
        "flag-units",
        "--data",
        hub.data(),
        maker["id"].as_str().unwrap(),
        "--json",
    ]));
    let epcs = |v: &serde_json::Value| {
        let mut e: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["epc"].as_str().unwrap().to_string())
            .collect();
        e.sort();
        e
    };
    assert_eq!(
        epcs(&maker_units),
        epcs(&serde_json::Value::Array(units.clone()))
    );

    // A flag the device does not hold is named so.
    let out = custodian_output(&["flags", "units", "flag-nope", "--data", b], None);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no flag flag-nope"));
}
