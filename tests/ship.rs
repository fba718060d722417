//! Shipping against an order, through the command line with a real hub: distributor A picks
//! a retailer's order from the pallet it received, and the shipment its picking built is the
//! manifest the retailer then receives against.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_e2e::{
    HubProcess, custodian, custodian_output, custodian_with_input, demo_asn, sscc_element_string,
};

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn scan(data: &str, step: &str, manifest: &str, lines: &[&str]) -> Vec<serde_json::Value> {
    let mut input = lines.join("\r\n");
    input.push_str("\r\n");
    json_lines(&custodian_with_input(
        &[
            "scan",
            "--data",
            data,
            "--step",
            step,
            "--manifest",
            manifest,
            "--json",
        ],
        Some(&input),
    ))
}

/// A unit of the demo's second product (not on the ASN).
fn laser_level() -> String {
    let text =
        std::fs::read_to_string(custodian_e2e::workspace().join("fixtures/demo/serials.jsonl"))
            .unwrap();
    text.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|s| s["gtin"] == "04012345000023")
        .unwrap()["element_string"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn an_order_is_picked_by_scanning_closed_and_received_by_its_customer() {
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
        scan(a, "receiving", "ASN-0001", &[&pallet])[0]["verdict"],
        "ok"
    );

    // The order: two drills for the Berlin store.
    let order = tmp.path().join("so-1001.csv");
    std::fs::write(
        &order,
        "order,to,gtin,quantity\nSO-1001,retail-berlin,04012345000016,2\n",
    )
    .unwrap();
    let imported = custodian(&["manifest", "import", "--data", a, order.to_str().unwrap()]);
    assert!(
        imported.contains("order SO-1001 to retail-berlin: 2 units to pick"),
        "{imported}"
    );

    // Picking: a drill, the same drill again, a laser level, a second drill, a third.
    let laser = laser_level();
    let v = scan(
        a,
        "shipping",
        "SO-1001",
        &[&unit(0), &unit(0), &laser, &unit(1), &unit(2)],
    );
    let kinds: Vec<&str> = v.iter().map(|x| x["verdict"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["ok", "duplicate", "wrong_product", "ok", "not_on_manifest"],
        "{v:?}"
    );
    assert!(
        v[0]["reason"].as_str().unwrap().contains("1 still to pick"),
        "{}",
        v[0]
    );
    assert!(
        v[3]["reason"]
            .as_str()
            .unwrap()
            .contains("order SO-1001 is complete"),
        "{}",
        v[3]
    );
    assert!(
        v[2]["event"].is_null() && v[4]["event"].is_null(),
        "refused picks ship nothing"
    );

    let shown: serde_json::Value = serde_json::from_str(&custodian(&[
        "manifest", "show", "--data", a, "SO-1001", "--json",
    ]))
    .unwrap();
    assert_eq!(shown["left"], 0);
    assert_eq!(shown["lines"][0]["picked"], 2);
    assert_eq!(shown["units"].as_array().unwrap().len(), 2);

    // Closing ships it; the outbound manifest is an EPCIS document of its shipping events.
    let closed: serde_json::Value = serde_json::from_str(&custodian(&[
        "manifest", "close", "--data", a, "SO-1001", "--json",
    ]))
    .unwrap();
    assert_eq!(closed["order"]["status"], "shipped");
    let events = closed["manifest"]["epcisBody"]["eventList"]
        .as_array()
        .unwrap();
    let shipped: usize = events
        .iter()
        .filter(|e| {
            e["bizStep"]
                .as_str()
                .is_some_and(|s| s.ends_with("shipping"))
        })
        .map(|e| e["epcList"].as_array().unwrap().len())
        .sum();
    assert_eq!(shipped, 2, "{}", closed["manifest"]);
    // It is written for the carrier as the app writes it: outbound/ORDER.epcis.json.
    let file = std::path::Path::new(a).join("outbound/SO-1001.epcis.json");
    assert_eq!(closed["manifest_file"], file.to_str().unwrap());
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(written, closed["manifest"]);
    // A closed order ships nothing more.
    assert_eq!(
        scan(a, "shipping", "SO-1001", &[&unit(3)])[0]["verdict"],
        "not_on_manifest"
    );

    // After both sync, the store receives against the shipment the picking built.
    custodian(&["sync", "--data", a]);
    custodian(&["sync", "--data", r]);
    let manifests = json_lines(&custodian(&["manifest", "list", "--data", r, "--json"]));
    let so = manifests
        .iter()
        .find(|m| m["id"] == "SO-1001")
        .unwrap_or_else(|| panic!("the store holds no SO-1001: {manifests:?}"));
    assert_eq!(so["progress"]["expected"], 2, "{so}");
    assert_eq!(so["source"], "dist-a");
    let received = scan(r, "receiving", "SO-1001", &[&unit(1), &unit(2)]);
    assert_eq!(received[0]["verdict"], "ok", "{}", received[0]);
    assert_eq!(received[1]["verdict"], "not_on_manifest", "{}", received[1]);

    // Bad input: an order file with a broken GTIN is refused whole, with the line named.
    std::fs::write(
        &order,
        "order,to,gtin,quantity\nSO-2,retail-berlin,04012345000016,1\nSO-2,retail-berlin,04012345000017,1\n",
    )
    .unwrap();
    let out = custodian_output(
        &["manifest", "import", "--data", a, order.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3, gtin") && err.contains("nothing was imported"),
        "{err}"
    );
    assert!(
        custodian_output(&["manifest", "show", "--data", a, "SO-2"], None)
            .status
            .code()
            != Some(0)
    );
}

/// A scanner set to a US keyboard, typing into a French host: `scan --layout` reads its text
/// back as the app's keyboard setting does (the same policy, `HostLayout`, behind both).
#[test]
fn scans_are_read_back_under_the_host_keyboard_layout() {
    use custodian_scanner::Layout;
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let a = tmp.path().join("dist-a");
    let a = a.to_str().unwrap();
    hub.enroll(a.as_ref(), "dist-a", "dc-hamburg");
    let meant = laser_level();
    let typed: String = meant
        .chars()
        .map(|c| Layout::Azerty.host_char(c).unwrap())
        .collect();
    assert_ne!(typed, meant);
    let verdict = |layout: &str| {
        json_lines(&custodian_with_input(
            &[
                "scan",
                "--data",
                a,
                "--step",
                "inspecting",
                "--layout",
                layout,
                "--json",
            ],
            Some(&format!("{typed}\n")),
        ))
        .remove(0)
    };
    assert_eq!(verdict("us")["verdict"], "unreadable");
    for layout in ["azerty", "auto"] {
        let v = verdict(layout);
        assert_ne!(v["verdict"], "unreadable", "{layout}: {v}");
    }
    let unknown = custodian_output(
        &[
            "scan",
            "--data",
            a,
            "--step",
            "inspecting",
            "--layout",
            "dvorak",
        ],
        Some(""),
    );
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("unknown keyboard layout"),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}
