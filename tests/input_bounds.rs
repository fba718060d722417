//! Input from outside is bounded at every door of the device, through the real `custodian`
//! binary: a scan line longer than any barcode is refused while the scans around it are
//! recorded; an oversized order file is refused by its size before it is read, and an order
//! asking for billions of units or for an unknown customer is refused whole; an EPCIS document
//! whose content was changed under its `eventID`, or dated where the ledger could not write it
//! back out, is refused. Nothing already recorded is lost by a refusal.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};

use custodian_e2e::{HubProcess, bin, custodian, custodian_output, custodian_with_input, demo_asn};

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect()
}

fn unit(i: usize) -> String {
    demo_asn()["units"][i].as_str().unwrap().to_owned()
}

/// A hub with the demo data and one device of dist-a, which holds ASN-0001 after enrolling.
fn enrolled_device(tmp: &std::path::Path) -> (HubProcess, String) {
    let hub = HubProcess::start(&tmp.join("hub"), true);
    let device = tmp.join("device");
    hub.enroll(&device, "dist-a", "dc-hamburg");
    (hub, device.to_str().unwrap().to_owned())
}

/// The bytes every file in `dir` holds.
fn size_of(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn an_overlong_scan_line_is_refused_and_the_next_is_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let (_hub, device) = enrolled_device(tmp.path());
    let before = size_of(tmp.path().join("device").as_path());

    // A 16 MiB line (a valid code, then digits with no terminator) between two good scans,
    // written through a pipe while the scans are read.
    let mut child = Command::new(bin("custodian"))
        .args([
            "scan",
            "--data",
            &device,
            "--step",
            "receiving",
            "--manifest",
            "ASN-0001",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let mut long = unit(1).into_bytes();
        long.resize(16 << 20, b'9');
        stdin
            .write_all(format!("{}\r\n", unit(0)).as_bytes())
            .unwrap();
        stdin.write_all(&long).unwrap();
        stdin
            .write_all(format!("\r\n{}\r\n", unit(2)).as_bytes())
            .unwrap();
    });
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{stderr}");

    let verdicts = json_lines(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(verdicts.len(), 2, "one verdict per good line: {verdicts:?}");
    for v in &verdicts {
        assert_eq!(v["verdict"], "ok", "{v}");
    }
    assert!(
        stderr.contains(&format!(
            "input line 2: {} bytes without a line end",
            (16 << 20) + 1
        )) && stderr.contains("more than any barcode holds (8192 at most)")
            && stderr.contains("nothing recorded for it"),
        "{stderr}"
    );
    assert!(
        stderr.len() < 1000,
        "the warning does not carry the line: {stderr}"
    );
    let grown = size_of(tmp.path().join("device").as_path()) - before;
    assert!(
        grown < 4 << 20,
        "the device grew by {grown} bytes: the line was stored"
    );

    // The ledger goes on: the next session records its scan, and the two before it stand.
    let next = json_lines(&custodian_with_input(
        &[
            "scan",
            "--data",
            &device,
            "--step",
            "receiving",
            "--manifest",
            "ASN-0001",
            "--json",
        ],
        Some(&format!("{}\r\n", unit(3))),
    ));
    assert_eq!(next[0]["verdict"], "ok", "{}", next[0]);
    let manifest: serde_json::Value = serde_json::from_str(&custodian(&[
        "manifest", "show", "--data", &device, "ASN-0001", "--json",
    ]))
    .unwrap();
    assert_eq!(manifest["progress"]["scanned"], 3, "{manifest}");
}

#[test]
fn an_oversized_or_unknown_customer_order_is_refused_and_nothing_is_imported() {
    let tmp = tempfile::tempdir().unwrap();
    let (_hub, device) = enrolled_device(tmp.path());
    let file = tmp.path().join("order.csv");
    let import = |text: &str| {
        std::fs::write(&file, text).unwrap();
        custodian_output(
            &[
                "manifest",
                "import",
                "--data",
                &device,
                file.to_str().unwrap(),
            ],
            None,
        )
    };
    let good = import("order,to,gtin,quantity\nSO-1,retail-berlin,04012345000016,2\n");
    assert!(good.status.success(), "{}", stderr_of(&good));

    // Two million rows asking for two billion units each, for an organisation that does not
    // exist: refused by its size, before it is read.
    let mut huge = String::from("order,to,gtin,quantity\n");
    huge.push_str(&"SO-2,nowhere-gmbh,04012345000016,2000000000\n".repeat(2_000_000));
    let out = import(&huge);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!(
            "{} bytes; an import file holds at most 67108864 bytes",
            huge.len()
        )) && err.contains("nothing was imported"),
        "{err}"
    );

    for (text, expect) in [
        (
            "order,to,gtin,quantity\nSO-2,retail-berlin,04012345000016,2000000000\n",
            "line 2, quantity: 2000000000 units on one line; a line asks for at most 100000",
        ),
        (
            "order,to,gtin,quantity\nSO-2,retail-berlin,04012345000016,1\nSO-3,nowhere-gmbh,04012345000016,1\n",
            "line 3, to: \"nowhere-gmbh\" is no organisation of the registry",
        ),
    ] {
        let out = import(text);
        assert!(!out.status.success());
        let err = stderr_of(&out);
        assert!(
            err.contains(expect) && err.contains("nothing was imported"),
            "{err}"
        );
    }
    let orders = json_lines(&custodian(&[
        "manifest", "list", "--data", &device, "--json",
    ]));
    let ids: Vec<&str> = orders.iter().filter_map(|o| o["id"].as_str()).collect();
    assert!(ids.contains(&"SO-1"), "{ids:?}");
    assert!(!ids.contains(&"SO-2") && !ids.contains(&"SO-3"), "{ids:?}");
}

#[test]
fn an_epcis_event_whose_content_changed_under_its_id_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_hub, device) = enrolled_device(tmp.path());
    custodian_with_input(
        &[
            "scan",
            "--data",
            &device,
            "--step",
            "receiving",
            "--manifest",
            "ASN-0001",
        ],
        Some(&format!("{}\r\n", unit(0))),
    );
    let exported: serde_json::Value =
        serde_json::from_str(&custodian(&["epcis", "export", "--data", &device])).unwrap();
    let events = exported["epcisBody"]["eventList"].as_array().unwrap();
    let last = events.len() - 1;
    assert_eq!(events[last]["bizStep"], "receiving");

    let other = tmp.path().join("other");
    let other = other.to_str().unwrap();
    let file = tmp.path().join("doc.json");
    let import = |doc: &serde_json::Value| {
        std::fs::write(&file, doc.to_string()).unwrap();
        custodian_output(
            &["epcis", "import", "--data", other, file.to_str().unwrap()],
            None,
        )
    };
    let held = || {
        let doc: serde_json::Value =
            serde_json::from_str(&custodian(&["epcis", "export", "--data", other])).unwrap();
        doc["epcisBody"]["eventList"].as_array().unwrap().len()
    };

    // The receipt turned into a sale, under the receipt's id.
    let mut changed = exported.clone();
    changed["epcisBody"]["eventList"][last]["bizStep"] = "retail_selling".into();
    let out = import(&changed);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!(
            "epcisBody.eventList[{last}].eventID: ni:///sha-256;"
        )) && err.contains("is not the hash of this event's content")
            && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(held(), 0);

    // Dated in the year 9999: refused, with its path.
    let mut future = exported.clone();
    future["epcisBody"]["eventList"][last]["eventTime"] = "9999-12-31T23:59:59Z".into();
    future["epcisBody"]["eventList"][last]
        .as_object_mut()
        .unwrap()
        .remove("eventID");
    let out = import(&future);
    assert!(!out.status.success());
    let err = stderr_of(&out);
    assert!(
        err.contains(&format!("epcisBody.eventList[{last}].eventTime: 9999-12-31T23:59:59+00:00 is more than 24 hours after this device's clock")),
        "{err}"
    );
    assert_eq!(held(), 0);

    // The document as exported imports whole.
    let out = import(&exported);
    assert!(out.status.success(), "{}", stderr_of(&out));
    assert_eq!(held(), events.len());
}

#[test]
fn ledger_events_dated_beyond_what_epcis_can_carry_are_refused_at_import() {
    let tmp = tempfile::tempdir().unwrap();
    let device = tmp.path().join("device");
    let device = device.to_str().unwrap();
    let file = tmp.path().join("events.json");
    for (time, expect) in [
        ("+262142-01-01T00:00:00Z", "[0]"),
        (
            "9999-06-01T00:00:00Z",
            "[0].event_time: 9999-06-01T00:00:00+00:00 is more than 24 hours after",
        ),
    ] {
        let events = serde_json::json!([{
            "type": "ObjectEvent",
            "action": "OBSERVE",
            "biz_step": "inspecting",
            "event_time": time,
            "epcs": ["https://id.gs1.org/01/04012345000016/21/X1"],
            "recorder": { "org": "acme", "site": "plant", "device": "d1" },
        }]);
        std::fs::write(&file, events.to_string()).unwrap();
        let out = custodian_output(
            &[
                "manifest",
                "import",
                "--data",
                device,
                file.to_str().unwrap(),
            ],
            None,
        );
        assert!(!out.status.success(), "{time} was imported");
        let err = stderr_of(&out);
        assert!(
            err.contains(expect) && err.contains("nothing was imported"),
            "{time}: {err}"
        );
    }
    // What the device holds still exports and reads back.
    let doc = custodian(&["epcis", "export", "--data", device]);
    std::fs::write(&file, doc).unwrap();
    custodian(&["epcis", "import", "--data", device, file.to_str().unwrap()]);
}

/// EPCIS XML through the CLI: a 1.2 document a trading partner sends imports, and the ledger
/// exports as EPCIS 2.0 XML that another device imports to the same events.
#[test]
fn an_epcis_xml_document_imports_and_the_ledger_exports_as_xml() {
    let tmp = tempfile::tempdir().unwrap();
    let device = tmp.path().join("device");
    let device = device.to_str().unwrap();
    let xml = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus/epcis/ok-epcis-1-2.xml");
    let out = custodian(&["epcis", "import", "--data", device, xml.to_str().unwrap()]);
    assert_eq!(out.trim(), "imported 2 events (2 new)");
    let exported = custodian(&["epcis", "export", "--data", device, "--format", "xml"]);
    assert!(exported.starts_with("<?xml"), "{exported}");
    assert!(exported.contains("<TransformationEvent>"), "{exported}");
    assert!(
        exported.contains("<bizStep>urn:epcglobal:cbv:bizstep:shipping</bizStep>"),
        "{exported}"
    );
    let file = tmp.path().join("export.xml");
    std::fs::write(&file, &exported).unwrap();
    let other = tmp.path().join("other");
    let out = custodian(&[
        "epcis",
        "import",
        "--data",
        other.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.trim(), "imported 2 events (2 new)");
    // For a partner still on EPCIS 1.2: the same events in 1.2's shape.
    let old = custodian(&["epcis", "export", "--data", device, "--format", "xml-1.2"]);
    assert!(old.contains("schemaVersion=\"1.2\""), "{old}");
    assert!(old.contains("<extension><TransformationEvent>"), "{old}");
    std::fs::write(&file, &old).unwrap();
    let third = tmp.path().join("third");
    let out = custodian(&[
        "epcis",
        "import",
        "--data",
        third.to_str().unwrap(),
        file.to_str().unwrap(),
    ]);
    assert_eq!(out.trim(), "imported 2 events (2 new)");
    // Broken XML is refused with where, and nothing is stored.
    std::fs::write(&file, "<epcis:EPCISDocument><EPCISBody>").unwrap();
    let out = custodian_output(
        &["epcis", "import", "--data", device, file.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("not well-formed XML") && err.contains("nothing was imported"),
        "{err}"
    );
}
