//! After-sales through the CLI against a real hub: a retailer's device registers and claims
//! warranty, repairs with parts, reports a counterfeit, scraps a return and corrects a mistake;
//! everything syncs, the hub flags the claim on an unsold unit and the sale of a scrapped one,
//! and a distributor exports its ASN as EPCIS.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_e2e::{HubProcess, custodian, custodian_output, custodian_with_input};

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn a_service_desk_day() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(&tmp.path().join("hub"), true);
    let shop = tmp.path().join("shop");
    let shop = shop.to_str().unwrap();
    hub.enroll(shop.as_ref(), "retail-berlin", "store-mitte");
    // Fresh drills, issued (and signed) by the hub, never sold.
    let issued: Vec<String> = custodian(&[
        "hub",
        "issue",
        "--data",
        hub.data(),
        "--gtin",
        "04012345000016",
        "--count",
        "5",
    ])
    .lines()
    .map(|l| json(l)["element_string"].as_str().unwrap().to_string())
    .collect();
    custodian(&["sync", "--data", shop, "--json"]);
    let run = |args: &[&str]| json(&custodian(args));

    let claim = run(&[
        "warranty",
        "claim",
        "--data",
        shop,
        &issued[0],
        "--defect",
        "battery fault",
        "--json",
    ]);
    assert_eq!(claim["validation"]["outcome"], "not_sold_or_registered");
    assert_eq!(
        claim["validation"]["provisional"], false,
        "the signature verified"
    );
    let reg = run(&[
        "warranty",
        "register",
        "--data",
        shop,
        &issued[0],
        "--owner",
        "Ann Example",
        "--json",
    ]);
    assert_eq!(reg["history"]["warranty"]["starts_at"], "registration");
    let claim = run(&[
        "warranty",
        "claim",
        "--data",
        shop,
        &issued[0],
        "--defect",
        "battery fault",
        "--json",
    ]);
    assert_eq!(claim["validation"]["outcome"], "valid", "{claim}");

    let repair = run(&[
        "repair",
        "--data",
        shop,
        "--unit",
        &issued[0],
        "--part-in",
        &issued[1],
        "--json",
    ]);
    assert_eq!(repair["history"]["parts"].as_array().unwrap().len(), 1);

    // The photo is kept in the device's data directory under its hash, as the app keeps a
    // camera frame; a file that is no image is refused.
    let not_a_photo = tmp.path().join("label.txt");
    std::fs::write(&not_a_photo, b"not really a jpeg").unwrap();
    let refused = custodian_output(
        &[
            "report-counterfeit",
            "--data",
            shop,
            &issued[2],
            "--note",
            "hologram missing",
            "--photo",
            not_a_photo.to_str().unwrap(),
        ],
        None,
    );
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "a text file was taken as a photo"
    );
    assert!(said.contains("not a JPEG, PNG or WebP"), "{said}");
    let photo = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/photos/formats/qrcode-4-01.jpg");
    let jpeg = std::fs::read(&photo).unwrap();
    let report = run(&[
        "report-counterfeit",
        "--data",
        shop,
        &issued[2],
        "--note",
        "hologram missing",
        "--photo",
        photo.to_str().unwrap(),
        "--json",
    ]);
    let hash = report["history"]["counterfeit_reports"][0]["photo_sha256"]
        .as_str()
        .unwrap();
    let kept = format!("photos/{hash}.jpg");
    assert_eq!(report["history"]["counterfeit_reports"][0]["photo"], kept);
    assert_eq!(
        std::fs::read(std::path::Path::new(shop).join(&kept)).unwrap(),
        jpeg
    );
    assert_eq!(
        report["history"]["counterfeit_reports"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "the refused report left a record"
    );

    let back = run(&[
        "return",
        "--data",
        shop,
        &issued[3],
        "--outcome",
        "scrapped",
        "--json",
    ]);
    assert_eq!(back["history"]["custody"]["state"], "destroyed");
    let scan = |code: &str| {
        json(&custodian_with_input(
            &["scan", "--data", shop, "--step", "retail_selling", "--json"],
            Some(&format!("{code}\n")),
        ))
    };
    let sale = scan(&issued[3]);
    assert_eq!(sale["verdict"], "already_sold", "{sale}");

    // A mistaken sale of another unit is corrected.
    let sold = scan(&issued[4]);
    let fixed = run(&[
        "correct",
        "--data",
        shop,
        sold["event"].as_str().unwrap(),
        "--reason",
        "did_not_occur",
        "--json",
    ]);
    assert_eq!(fixed["declared"], sold["event"]);

    // Everything syncs; the hub flags the claim on the unsold unit, the sale of the scrapped
    // one and the counterfeit report, once each.
    let sync = run(&["sync", "--data", shop, "--json"]);
    assert_eq!(sync["uploaded"], sync["stored_by_hub"], "{sync}");
    let mut kinds: Vec<&str> = sync["new_flags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["clone", "counterfeit", "warranty"], "{sync}");
    let again = run(&["sync", "--data", shop, "--json"]);
    assert_eq!(again["new_flags"].as_array().unwrap().len(), 0);
    let hub_view = run(&["hub", "history", "--data", hub.data(), &issued[4], "--json"]);
    assert_eq!(
        hub_view["state"], "issued",
        "the hub ignores the retracted sale"
    );

    let text = custodian(&["history", "--data", shop, &issued[0]]);
    for expected in ["owner: Ann Example", "claim ", "repair R-", "part GTIN"] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }

    // A distributor's outbound manifest, as EPCIS.
    let dist = tmp.path().join("dist");
    let dist = dist.to_str().unwrap();
    hub.enroll(dist.as_ref(), "dist-a", "dc-hamburg");
    let doc = run(&["manifest", "export", "--data", dist, "ASN-0001"]);
    let steps: Vec<&str> = doc["epcisBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["bizStep"].as_str().unwrap())
        .collect();
    assert_eq!(steps, ["packing", "packing", "packing", "shipping"]);
}
