//! The walking skeleton's scenario, end to end through the public interfaces: a real hub on a
//! loopback port, two device ledgers (distributors A and B) syncing over HTTPS.
//!
//! A receives the demo pallet against its ASN; B then receives one of that pallet's units,
//! which was never shipped to B. The hub must raise a diversion flag that reaches B on its next
//! sync, the hub's custody chain must show the unit's whole path, and A's receipt must be clean.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_e2e::{
    HubProcess, custodian, custodian_output, custodian_with_input, demo_asn, sscc_element_string,
    workspace,
};

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

#[test]
fn a_unit_shipped_to_a_and_received_by_b_is_flagged_as_diverted() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let a = tmp.path().join("device-a");
    let b = tmp.path().join("device-b");
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    hub.enroll(a.as_ref(), "dist-a", "dc-hamburg");
    hub.enroll(b.as_ref(), "dist-b", "dc-oakland");

    // A holds the ASN after enrolling (the first sync brings it) and B does not.
    let manifests = json_lines(&custodian(&["manifest", "list", "--data", a, "--json"]));
    assert_eq!(manifests.len(), 1);
    assert_eq!(manifests[0]["id"], "ASN-0001");
    assert_eq!(manifests[0]["progress"]["expected"], 24);
    assert_eq!(custodian(&["manifest", "list", "--data", b, "--json"]), "");

    // A receives the pallet by its SSCC: the 24 units inside are received with it.
    let asn = demo_asn();
    let pallet = sscc_element_string(asn["pallet"].as_str().unwrap());
    let verdicts = json_lines(&custodian_with_input(
        &[
            "scan",
            "--data",
            a,
            "--step",
            "receiving",
            "--manifest",
            "ASN-0001",
            "--json",
        ],
        Some(&format!("{pallet}\r\n")),
    ));
    assert_eq!(verdicts[0]["verdict"], "ok", "{}", verdicts[0]);
    let sync_a: serde_json::Value =
        serde_json::from_str(&custodian(&["sync", "--data", a, "--json"])).unwrap();
    assert_eq!(sync_a["stored_by_hub"], 1);
    assert_eq!(sync_a["new_flags"].as_array().unwrap().len(), 0);

    // B receives one unit of that pallet, scanned as a wedge scanner types it (GS separators).
    let unit = asn["units"][5].as_str().unwrap();
    assert!(
        unit.contains('\u{1d}'),
        "the demo element strings carry GS separators"
    );
    let verdicts = json_lines(&custodian_with_input(
        &["scan", "--data", b, "--step", "receiving", "--json"],
        Some(&format!("]d2{unit}\n")),
    ));
    assert_eq!(
        verdicts[0]["verdict"], "provisional",
        "B cannot know yet: {}",
        verdicts[0]
    );
    assert!(
        verdicts[0]["reason"]
            .as_str()
            .unwrap()
            .contains("signature verified"),
        "{}",
        verdicts[0]
    );

    let sync_b: serde_json::Value =
        serde_json::from_str(&custodian(&["sync", "--data", b, "--json"])).unwrap();
    let new_flags = sync_b["new_flags"].as_array().unwrap();
    assert_eq!(new_flags.len(), 1, "{sync_b}");

    // The flag on B names the unit and says why.
    let flags: Vec<serde_json::Value> =
        serde_json::from_str(&custodian(&["flags", "--data", b, "--json"])).unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0]["kind"], "diversion");
    assert_eq!(flags[0]["status"], "new");
    let epc = flags[0]["epc"].as_str().unwrap();
    let history: serde_json::Value =
        serde_json::from_str(&custodian(&["history", "--data", b, unit, "--json"])).unwrap();
    assert_eq!(history["epc"], epc);
    // B is told the unit was not shipped to it, not where it was shipped: that is A's business.
    let reason = flags[0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("not shipped to Pacific") && reason.contains("outside its authorised"),
        "{reason}"
    );
    assert!(
        !reason.contains("Nordlager") && !reason.contains("ASN-0001"),
        "{reason}"
    );

    // Syncing again raises nothing new: one flag per fact.
    let again: serde_json::Value =
        serde_json::from_str(&custodian(&["sync", "--data", b, "--json"])).unwrap();
    assert_eq!(again["new_flags"].as_array().unwrap().len(), 0);
    let hub_flags: Vec<serde_json::Value> = serde_json::from_str(&custodian(&[
        "hub",
        "flags",
        "--data",
        hub.data(),
        "--json",
    ]))
    .unwrap();
    assert_eq!(hub_flags.len(), 1);

    // The hub's custody chain: commissioned by the manufacturer, packed, shipped to A on the
    // ASN, received by A (through the pallet), received by B; B holds it now.
    let custody: serde_json::Value = serde_json::from_str(&custodian(&[
        "hub",
        "history",
        "--data",
        hub.data(),
        unit,
        "--json",
    ]))
    .unwrap();
    let steps: Vec<(&str, &str)> = custody["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["step"].as_str().unwrap(), l["org"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("commissioning", "acme"),
            ("packing", "acme"),
            ("shipping", "acme"),
            ("receiving", "dist-a"),
            ("receiving", "dist-b")
        ]
    );
    assert_eq!(custody["chain"][2]["destination"], "dist-a");
    assert_eq!(custody["custodian"], "dist-b");

    // A's receipt shows no discrepancy, and A was not told about B's flag.
    let shown: serde_json::Value = serde_json::from_str(&custodian(&[
        "manifest", "show", "--data", a, "ASN-0001", "--json",
    ]))
    .unwrap();
    assert_eq!(shown["progress"]["scanned"], 24);
    for list in ["missing", "unexpected", "wrong_product", "duplicates"] {
        assert_eq!(
            shown["progress"][list].as_array().unwrap().len(),
            0,
            "{list}: {shown}"
        );
    }
    let closed: serde_json::Value = serde_json::from_str(&custodian(&[
        "manifest", "close", "--data", a, "ASN-0001", "--json",
    ]))
    .unwrap();
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["closing_note"], "no discrepancy");
    custodian(&["sync", "--data", a]);
    let a_flags: Vec<serde_json::Value> =
        serde_json::from_str(&custodian(&["flags", "--data", a, "--json"])).unwrap();
    assert!(a_flags.is_empty());
}

#[test]
fn bad_input_gets_a_clear_message_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let a = tmp.path().join("device-a");
    let a = a.to_str().unwrap();
    hub.enroll(a.as_ref(), "dist-a", "dc-hamburg");

    // An unparseable scan is answered with the reason, and recorded in no event.
    let out = json_lines(&custodian_with_input(
        &[
            "scan",
            "--data",
            a,
            "--step",
            "receiving",
            "--manifest",
            "ASN-0001",
            "--json",
        ],
        Some("0104012345000013\u{1d}21X\n"),
    ));
    assert_eq!(out[0]["verdict"], "unreadable");
    assert!(
        out[0]["reason"].as_str().unwrap().contains("check digit"),
        "{}",
        out[0]
    );
    assert!(out[0]["event"].is_null());

    // An unknown manifest, an unknown step: one clear line on stderr, non-zero exit.
    let o = custodian_output(
        &[
            "scan",
            "--data",
            a,
            "--step",
            "receiving",
            "--manifest",
            "ASN-9",
        ],
        Some("x\n"),
    );
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("manifest ASN-9"));
    // The unknown step is refused before a scan is read: with a real unit's code on its input,
    // nothing is printed, nothing is recorded, and the one line names the steps there are.
    let waiting = || {
        let status: serde_json::Value =
            serde_json::from_str(&custodian(&["status", "--data", a, "--json"])).unwrap();
        status["waiting"].as_u64().unwrap()
    };
    let before = waiting();
    let unit = std::fs::read_to_string(workspace().join("fixtures/demo/serials.jsonl")).unwrap();
    let unit: serde_json::Value = serde_json::from_str(unit.lines().next().unwrap()).unwrap();
    let o = custodian_output(
        &["scan", "--data", a, "--step", "borrowing", "--json"],
        Some(&format!("{}\n", unit["element_string"].as_str().unwrap())),
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        o.stdout.is_empty(),
        "no verdict: {:?}",
        String::from_utf8_lossy(&o.stdout)
    );
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("custodian: unknown step \"borrowing\": use one of "),
        "{stderr}"
    );
    for step in [
        "receiving",
        "shipping",
        "retail_selling",
        "inspecting",
        "repairing",
        "returning",
    ] {
        assert!(lines[0].contains(step), "{step} is not offered: {stderr}");
    }
    assert_eq!(
        waiting(),
        before,
        "a scan under an unknown step recorded something"
    );

    // A malformed manifest names the path of its first error and imports nothing.
    let bad = tmp.path().join("bad.json");
    std::fs::write(&bad, r#"[{"id":"x","type":"ObjectEvent","action":"OBSERVE","biz_step":"shipping","event_time":"2026-01-01T00:00:00Z","epcs":["not a code"],"recorder":{"org":"o","site":"s","device":"d"}}]"#).unwrap();
    let o = custodian_output(
        &["manifest", "import", "--data", a, bad.to_str().unwrap()],
        None,
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(err.contains("[0].epcs[0]"), "{err}");

    // An unreachable hub: sync fails with a clear line, and the scan made offline waits.
    let pallet = sscc_element_string(demo_asn()["pallet"].as_str().unwrap());
    custodian_with_input(
        &[
            "scan",
            "--data",
            a,
            "--step",
            "receiving",
            "--manifest",
            "ASN-0001",
        ],
        Some(&pallet),
    );
    let address = hub.address().to_string();
    drop(hub);
    let o = custodian_output(&["sync", "--data", a], None);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("hub unreachable"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let status: serde_json::Value =
        serde_json::from_str(&custodian(&["status", "--data", a, "--json"])).unwrap();
    assert_eq!(status["waiting"], 1);

    // A token that was already used is refused.
    let hub = HubProcess::start_at(&tmp.path().join("hub"), true, &address);
    let token = hub.token("dist-a", "dc-hamburg", None);
    let c = tmp.path().join("device-c");
    custodian(&["enroll", "--data", c.to_str().unwrap(), &token]);
    let d = tmp.path().join("device-d");
    let o = custodian_output(&["enroll", "--data", d.to_str().unwrap(), &token], None);
    assert!(String::from_utf8_lossy(&o.stderr).contains("already used"));
    // Restarted on the same data, the hub takes the offline scan.
    let sync: serde_json::Value =
        serde_json::from_str(&custodian(&["sync", "--data", a, "--json"])).unwrap();
    assert_eq!(sync["stored_by_hub"], 1);
}
