//! Quarantine and release through the command line with a real hub: a distributor holds a
//! suspect unit, every scan of it is warned with the reason, picking refuses it, the hold
//! reaches the hub and travels with the unit to the retailer, and its release lifts it there
//! too. Refusals change nothing.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_e2e::{
    HubProcess, custodian, custodian_output, custodian_with_input, demo_asn, sscc_element_string,
};
use serde_json::Value;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// One scan through `custodian scan --json`.
fn scan(data: &str, step: &str, manifest: Option<&str>, code: &str) -> Value {
    let mut args = vec!["scan", "--data", data, "--step", step, "--json"];
    if let Some(m) = manifest {
        args.extend(["--manifest", m]);
    }
    json(custodian_with_input(&args, Some(&format!("{code}\r\n"))).trim())
}

/// Runs a command that must fail; returns its stderr.
fn refused(args: &[&str]) -> String {
    let out = custodian_output(args, None);
    assert!(
        !out.status.success(),
        "custodian {} should have failed",
        args.join(" ")
    );
    String::from_utf8(out.stderr).unwrap()
}

fn event_count(data: &str) -> usize {
    json(&custodian(&["epcis", "export", "--data", data]))["epcisBody"]["eventList"]
        .as_array()
        .unwrap()
        .len()
}

fn history(data: &str, code: &str) -> Value {
    json(&custodian(&["history", "--data", data, code, "--json"]))
}

#[test]
fn a_suspect_unit_is_held_warned_about_everywhere_and_released() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let a = tmp.path().join("dist-a");
    let r = tmp.path().join("retail");
    let (a, r) = (a.to_str().unwrap(), r.to_str().unwrap());
    hub.enroll(a.as_ref(), "dist-a", "dc-hamburg");
    hub.enroll(r.as_ref(), "retail-berlin", "store-mitte");
    let asn = demo_asn();
    let unit = |i: usize| asn["units"][i].as_str().unwrap().to_string();
    let pallet = sscc_element_string(asn["pallet"].as_str().unwrap());
    assert_eq!(
        scan(a, "receiving", Some("ASN-0001"), &pallet)["verdict"],
        "ok"
    );

    // Refusals: each says why and records nothing.
    let before = event_count(a);
    let bad = refused(&[
        "quarantine",
        "--data",
        a,
        "0104012345000013",
        "--reason",
        "x",
    ]);
    assert!(bad.contains("check digit"), "{bad}");
    let missing = refused(&["quarantine", "--data", a, &unit(1)]);
    assert!(missing.contains("--reason"), "{missing}");
    let empty = refused(&["quarantine", "--data", a, &unit(1), "--reason", "  "]);
    assert!(empty.contains("the reason is empty"), "{empty}");
    let not_held = refused(&["release", "--data", a, &unit(1), "--note", "fine"]);
    assert!(
        not_held.contains("is not in quarantine: there is nothing to release"),
        "{not_held}"
    );
    assert_eq!(event_count(a), before);

    // Held, with its reason; a second hold is refused and says since when.
    let held = json(&custodian(&[
        "quarantine",
        "--data",
        a,
        &unit(1),
        "--reason",
        "carton crushed in transit",
        "--json",
    ]));
    let q = &held["history"]["custody"]["quarantine"];
    assert_eq!(q["org"], "dist-a");
    assert_eq!(q["reason"], "carton crushed in transit");
    assert_eq!(
        held["history"]["custody"]["state"], "held_by_partner",
        "a held unit stays with its custodian"
    );
    let since = q["since"].as_str().unwrap()[..10].to_string();
    let again = refused(&["quarantine", "--data", a, &unit(1), "--reason", "again"]);
    assert!(
        again.contains(&format!(
            "is already in quarantine since {since} (by dist-a): carton crushed in transit"
        )),
        "{again}"
    );
    assert_eq!(event_count(a), before + 1);

    // Every scan of it is warned with the reason.
    let v = scan(a, "inspecting", None, &unit(1));
    assert_eq!(v["verdict"], "quarantined");
    assert!(
        v["reason"].as_str().unwrap().ends_with(&format!(
            "is in quarantine since {since} (by dist-a): carton crushed in transit — do not sell or ship"
        )),
        "{v}"
    );

    // Picking for an order refuses it and ships nothing; other units go.
    let order = tmp.path().join("so-7.csv");
    std::fs::write(
        &order,
        "order,to,gtin,quantity\nSO-7,retail-berlin,04012345000016,2\n",
    )
    .unwrap();
    custodian(&["manifest", "import", "--data", a, order.to_str().unwrap()]);
    let pick = scan(a, "shipping", Some("SO-7"), &unit(1));
    assert_eq!(pick["verdict"], "quarantined", "{pick}");
    assert!(pick["event"].is_null(), "a held unit is not picked");
    for i in [0, 2] {
        assert_eq!(scan(a, "shipping", Some("SO-7"), &unit(i))["verdict"], "ok");
    }
    // A plain shipping scan of the held unit warns, and what happened is recorded.
    let moved = scan(a, "shipping", None, &unit(1));
    assert_eq!(moved["verdict"], "quarantined");
    assert!(moved["event"].is_string(), "{moved}");

    // A unit already picked and on its way is held too: the hold follows it to the retailer.
    custodian(&[
        "quarantine",
        "--data",
        a,
        &unit(0),
        "--reason",
        "label smudged: check the serial",
    ]);
    custodian(&[
        "quarantine",
        "--data",
        a,
        &unit(2),
        "--reason",
        "seal broken",
    ]);
    let text = custodian(&["history", "--data", a, &unit(1)]);
    for expected in [
        "in quarantine since",
        "holding",
        "(quarantine)",
        "carton crushed in transit — still held",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    custodian(&["sync", "--data", a]);

    // The hub's custody view shows the holds.
    let on_hub = json(&custodian(&[
        "hub",
        "history",
        "--data",
        hub.data(),
        &unit(1),
        "--json",
    ]));
    assert_eq!(
        on_hub["quarantine"]["reason"], "carton crushed in transit",
        "{on_hub}"
    );
    let hub_text = custodian(&["hub", "history", "--data", hub.data(), &unit(0)]);
    assert!(
        hub_text.contains("(by dist-a): label smudged: check the serial"),
        "{hub_text}"
    );

    // The retailer learns of the holds with the shipment, since when and by whom; why is
    // dist-a's own business. Selling one is warned.
    custodian(&["sync", "--data", r]);
    assert_eq!(
        history(r, &unit(0))["custody"]["quarantine"]["reason"],
        "(withheld: private to the organisation that recorded it)"
    );
    let sale = scan(r, "retail_selling", None, &unit(0));
    assert_eq!(sale["verdict"], "quarantined", "{sale}");
    let said = sale["reason"].as_str().unwrap();
    assert!(
        said.contains("(by dist-a)") && said.contains("do not sell or ship"),
        "{sale}"
    );
    assert!(!said.contains("label smudged"), "{sale}");
    assert_eq!(
        scan(r, "inspecting", None, &unit(2))["verdict"],
        "quarantined"
    );
    // The till stopped the sale: the unit was seen there, not sold.
    let seen = history(r, &unit(0));
    assert_ne!(seen["custody"]["state"], "sold_to_consumer", "{seen}");
    let chain = seen["custody"]["chain"].as_array().unwrap();
    assert_eq!(chain.last().unwrap()["step"], "inspecting", "{seen}");
    assert!(
        chain.iter().all(|l| l["step"] != "retail_selling"),
        "{seen}"
    );

    // Released by the distributor: the release reaches the retailer, and the unit sells.
    let released = json(&custodian(&[
        "release",
        "--data",
        a,
        &unit(2),
        "--note",
        "seal replaced; contents checked",
        "--json",
    ]));
    assert!(released["history"]["custody"]["quarantine"].is_null());
    let hold = &released["history"]["quarantines"][0];
    assert_eq!(hold["reason"], "seal broken");
    assert_eq!(hold["released"]["note"], "seal replaced; contents checked");
    let released_again = refused(&["release", "--data", a, &unit(2), "--note", "again"]);
    assert!(
        released_again.contains("is not in quarantine"),
        "{released_again}"
    );
    custodian(&["sync", "--data", a]);
    custodian(&["sync", "--data", r]);
    assert!(history(r, &unit(2))["custody"]["quarantine"].is_null());
    let sale = scan(r, "retail_selling", None, &unit(2));
    assert!(
        matches!(sale["verdict"].as_str(), Some("ok" | "provisional")),
        "{sale}"
    );
    let on_hub = json(&custodian(&[
        "hub",
        "history",
        "--data",
        hub.data(),
        &unit(2),
        "--json",
    ]));
    assert!(on_hub["quarantine"].is_null(), "{on_hub}");

    // A hold declared erroneous is lifted on the device and, after a sync, on the hub.
    let hold_event = history(a, &unit(1))["custody"]["quarantine"]["event"]
        .as_str()
        .unwrap()
        .to_string();
    custodian(&[
        "correct",
        "--data",
        a,
        &hold_event,
        "--reason",
        "did_not_occur",
    ]);
    assert!(history(a, &unit(1))["custody"]["quarantine"].is_null());
    assert_eq!(
        scan(a, "inspecting", None, &unit(1))["verdict"],
        "provisional"
    );
    custodian(&["sync", "--data", a]);
    let on_hub = json(&custodian(&[
        "hub",
        "history",
        "--data",
        hub.data(),
        &unit(1),
        "--json",
    ]));
    assert!(on_hub["quarantine"].is_null(), "{on_hub}");
}

#[test]
fn a_unit_whose_life_ended_cannot_be_held() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let s = tmp.path().join("retail");
    let s = s.to_str().unwrap();
    hub.enroll(s.as_ref(), "retail-berlin", "store-mitte");
    let code = demo_asn()["units"][3].as_str().unwrap().to_string();
    custodian(&["return", "--data", s, &code, "--outcome", "scrapped"]);
    let before = event_count(s);
    let ended = refused(&["quarantine", "--data", s, &code, "--reason", "x"]);
    assert!(
        ended.contains("life ended") && ended.contains("cannot be put in quarantine"),
        "{ended}"
    );
    assert_eq!(event_count(s), before);
}
