//! The tool subcommands through the binary: `custodian decode` on the generated label images and
//! `custodian parse` on good and bad scanner text.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_e2e::{custodian, custodian_output, workspace};

#[test]
fn decode_reads_every_clean_label_as_a_valid_identifier() {
    let dir = workspace().join("fixtures/labels/clean");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path().to_str().unwrap().to_string())
        .filter(|p| p.ends_with(".png"))
        .collect();
    files.sort();
    assert!(files.len() >= 10);
    let mut args = vec!["decode", "--json"];
    args.extend(files.iter().map(String::as_str));
    let lines: Vec<serde_json::Value> = custodian(&args)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for f in &files {
        let found: Vec<&serde_json::Value> =
            lines.iter().filter(|l| l["file"] == f.as_str()).collect();
        assert_eq!(found.len(), 1, "{f}: {found:?}");
        assert_eq!(found[0]["valid"], true, "{f}: {}", found[0]);
        assert!(!found[0]["text"].as_str().unwrap().is_empty());
    }
}

#[test]
fn parse_explains_what_is_wrong_and_where() {
    let ok: serde_json::Value = serde_json::from_str(&custodian(&[
        "parse",
        "--json",
        "]d2\u{1d}0104012345000016\u{1d}21ABC",
    ]))
    .unwrap();
    assert_eq!(ok["gtin"], "04012345000016");
    assert_eq!(ok["serial"], "ABC");
    let out = custodian_output(&["parse", "--json", "0104012345000013"], None);
    assert_eq!(out.status.code(), Some(2));
    let bad: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        bad["error"].as_str().unwrap().contains("check digit"),
        "{bad}"
    );
    let out = custodian_output(
        &["decode", workspace().join("README.md").to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    assert!(!String::from_utf8_lossy(&out.stderr).is_empty());
}

#[test]
fn manifests_import_from_csv_and_epcis() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("device");
    let dir = dir.to_str().unwrap();
    let manifests = workspace().join("fixtures/manifests");
    custodian(&[
        "manifest",
        "import",
        "--data",
        dir,
        manifests.join("asn-0002.csv").to_str().unwrap(),
    ]);
    custodian(&[
        "manifest",
        "import",
        "--data",
        dir,
        manifests.join("asn-0001.epcis.json").to_str().unwrap(),
    ]);
    let list: Vec<serde_json::Value> = custodian(&["manifest", "list", "--data", dir, "--json"])
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let expected: Vec<(&str, u64)> = list
        .iter()
        .map(|m| {
            (
                m["id"].as_str().unwrap(),
                m["progress"]["expected"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(expected, [("ASN-0001", 24), ("ASN-0002", 10)]);
    let asn2 = list.iter().find(|m| m["id"] == "ASN-0002").unwrap();
    assert_eq!(
        (asn2["source"].as_str(), asn2["destination"].as_str()),
        (Some("acme"), Some("dist-b"))
    );

    let bad = tmp.path().join("bad.csv");
    std::fs::write(&bad, "asn,from,to,shipped_at,parent,code\nA,b,c,2026-01-01T00:00:00Z,,(00)140123450000000044\nA,b,c,2026-01-01T00:00:00Z,(00)140123450000000044,(01)04012345000016(21)X~\n").unwrap();
    let out = custodian_output(
        &["manifest", "import", "--data", dir, bad.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(
        err.contains("line 3, code") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(
        custodian(&["manifest", "list", "--data", dir, "--json"])
            .lines()
            .count(),
        2,
        "nothing of the bad file was stored"
    );
}
