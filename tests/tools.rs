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
