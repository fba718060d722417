//! Moving a registry from SQLite to a real PostgreSQL server with `custodian hub migrate`: every
//! table arrives (serials with their signatures, events, documents, devices, tokens, flags,
//! recalls, alerts), counted and hashed on both sides; a second run adds nothing; a copy killed
//! half-way is finished by running it again; a row changed on the target is caught by its hash;
//! a database holding another registry is refused.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use custodian_e2e::pg::Cluster;
use custodian_e2e::{
    HubProcess, bin, custodian, custodian_output, custodian_with_input, demo_serial, json,
    workspace,
};
use postgres::{Client, NoTls};

/// `custodian hub migrate --json`: its report and whether it exited successfully.
fn migrate(from: &str, to: &str) -> (serde_json::Value, bool, String) {
    let out = custodian_output(
        &["hub", "migrate", "--from", from, "--to", to, "--json"],
        None,
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    if stdout.trim().is_empty() {
        return (serde_json::Value::Null, out.status.success(), stderr);
    }
    (json(&stdout), out.status.success(), stderr)
}

/// The report's line for `table`.
fn table<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == name)
        .unwrap_or_else(|| panic!("no table {name} in {report}"))
}

fn sum(report: &serde_json::Value, key: &str) -> u64 {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t[key].as_u64().unwrap())
        .sum()
}

/// A demo registry that has seen a device's sync, an out-of-sequence flag, an unused token,
/// a recall and a counterfeit alert; the hub is stopped when this returns.
fn busy_registry(root: &std::path::Path) -> String {
    let hub_dir = root.join("hub");
    let hub = HubProcess::start(&hub_dir, true);
    let device = root.join("b1");
    let device = device.to_str().unwrap();
    hub.enroll(device.as_ref(), "dist-b", "dc-oakland");
    custodian_with_input(
        &["scan", "--data", device, "--step", "receiving", "--json"],
        Some(&format!("{}\n", demo_serial(30))),
    );
    custodian(&["sync", "--data", device, "--json"]);
    hub.token("retail-berlin", "store-mitte", None);
    custodian(&[
        "hub",
        "recall",
        "--data",
        hub.data(),
        "--gtin",
        "04012345000023",
        "--lot",
        "L2611B",
        "--reason",
        "a cracked housing",
    ]);
    custodian(&[
        "hub",
        "alert",
        "--data",
        hub.data(),
        &demo_serial(40),
        "--reason",
        "a copy seen online",
    ]);
    drop(hub);
    hub_dir.to_str().unwrap().to_string()
}

#[test]
fn a_registry_moves_whole_is_checked_by_hash_and_a_second_run_adds_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = busy_registry(tmp.path());
    let cluster = Cluster::start();
    let url = cluster.url();

    let (first, ok, stderr) = migrate(&registry, &url);
    assert!(ok, "{stderr}");
    assert_eq!(first["matches"], true);
    for name in [
        "orgs",
        "products",
        "serials",
        "events",
        "docs",
        "devices",
        "tokens",
        "flags",
        "flag_units",
        "recalls",
        "alerts",
        "audience",
        "kv",
    ] {
        let t = table(&first, name);
        assert!(
            t["source_rows"].as_u64().unwrap() > 0,
            "{name} is empty in the source: {t}"
        );
        assert_eq!(t["source_rows"], t["target_rows"], "{t}");
        assert_eq!(t["source_rows"], t["copied"], "{t}");
        assert_eq!(t["source_hash"], t["target_hash"], "{t}");
    }

    // What the registry says of itself, read back from the database by hand.
    let status = json(&custodian(&[
        "hub", "status", "--data", &registry, "--json",
    ]));
    let mut client = Client::connect(&url, NoTls).unwrap();
    let count =
        |client: &mut Client, sql: &str| -> i64 { client.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM serials"),
        status["serials"].as_i64().unwrap()
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM events"),
        status["events"].as_i64().unwrap()
    );
    assert_eq!(
        count(&mut client, "SELECT count(*) FROM flags"),
        status["flags"].as_i64().unwrap()
    );
    let demo_serial = json(
        std::fs::read_to_string(workspace().join("fixtures/demo/serials.jsonl"))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    );
    let signature: String = client
        .query_one(
            "SELECT signature FROM serials WHERE gtin = $1 AND serial = $2",
            &[
                &demo_serial["gtin"].as_str().unwrap(),
                &demo_serial["serial"].as_str().unwrap(),
            ],
        )
        .unwrap()
        .get(0);
    assert!(
        demo_serial["element_string"]
            .as_str()
            .unwrap()
            .ends_with(&format!("8030{signature}")),
        "the signature moved unchanged"
    );
    // Issued serials stay unalterable on PostgreSQL.
    let altered = client.execute("UPDATE serials SET lot = 'X'", &[]);
    let refusal = altered.unwrap_err();
    assert_eq!(
        refusal.as_db_error().map(|e| e.message()),
        Some("issued serials cannot be altered")
    );
    // Keys handed out continue after the copied ones.
    let next: i64 = count(
        &mut client,
        "SELECT nextval(pg_get_serial_sequence('events', 'seq'))",
    );
    assert!(next > count(&mut client, "SELECT max(seq) FROM events"));

    let (second, ok, stderr) = migrate(&registry, &url);
    assert!(ok, "{stderr}");
    assert_eq!(second["matches"], true);
    assert_eq!(
        sum(&second, "copied"),
        0,
        "a second run copied rows again: {second}"
    );
    assert_eq!(sum(&second, "target_rows"), sum(&first, "target_rows"));

    // A listed unit lost on the target comes back with the next run.
    let gone = client
        .execute(
            "DELETE FROM flag_units WHERE seq = (SELECT min(seq) FROM flag_units)",
            &[],
        )
        .unwrap();
    assert_eq!(gone, 1);
    let (third, ok, stderr) = migrate(&registry, &url);
    assert!(ok, "{stderr}");
    assert_eq!(table(&third, "flag_units")["copied"], 1);
    assert_eq!(sum(&third, "copied"), 1);

    // A value changed on the target, same count: the hash tells, and the run fails naming it.
    client
        .execute(
            "UPDATE orgs SET name = name || ' (edited)' WHERE id = 'dist-b'",
            &[],
        )
        .unwrap();
    let out = custodian_output(&["hub", "migrate", "--from", &registry, "--to", &url], None);
    assert!(!out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let orgs = text.lines().find(|l| l.starts_with("orgs ")).unwrap();
    assert!(orgs.ends_with("DIFFERENT"), "{text}");
    assert!(
        text.lines().filter(|l| l.ends_with("DIFFERENT")).count() == 1,
        "{text}"
    );
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("differs from the source")
    );

    // Another registry is not poured into this one.
    let other = tempfile::tempdir().unwrap();
    let other_registry = busy_registry(other.path());
    let (report, ok, stderr) = migrate(&other_registry, &url);
    assert!(!ok && report.is_null(), "{report}");
    assert!(
        stderr.contains("already holds another registry"),
        "{stderr}"
    );
}

#[test]
fn a_migration_killed_half_way_is_finished_by_running_it_again() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = tmp.path().join("hub");
    drop(HubProcess::start(&registry, true));
    let registry = registry.to_str().unwrap().to_string();
    custodian(&[
        "hub",
        "issue",
        "--data",
        &registry,
        "--gtin",
        "04012345000016",
        "--count",
        "40000",
        "--lot",
        "L2612A",
    ]);
    let cluster = Cluster::start();
    let url = cluster.url();

    let mut child = Command::new(bin("custodian"))
        .args(["hub", "migrate", "--from", &registry, "--to", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let progress = BufReader::new(child.stderr.take().unwrap());
    for line in progress.lines() {
        // The first chunk of serials is committed: the copy is cut there.
        if line.unwrap().starts_with("serials:") {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let mut client = Client::connect(&url, NoTls).unwrap();
    let copied: i64 = client
        .query_one("SELECT count(*) FROM serials", &[])
        .unwrap()
        .get(0);
    let status = json(&custodian(&[
        "hub", "status", "--data", &registry, "--json",
    ]));
    let issued = status["serials"].as_i64().unwrap();
    assert!(
        copied > 0 && copied < issued,
        "{copied} of {issued} serials before the cut"
    );
    assert_eq!(
        copied % 10_000,
        0,
        "only whole chunks are committed: {copied}"
    );

    let (report, ok, stderr) = migrate(&registry, &url);
    assert!(ok, "{stderr}");
    assert_eq!(report["matches"], true);
    let serials = table(&report, "serials");
    assert_eq!(serials["target_rows"].as_i64().unwrap(), issued);
    assert_eq!(serials["copied"].as_i64().unwrap(), issued - copied);
}

#[test]
fn bad_input_is_refused_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().to_str().unwrap();
    let cluster = Cluster::start();
    let (_, ok, stderr) = migrate(empty, &cluster.url());
    assert!(!ok);
    assert!(stderr.contains("no hub.sqlite"), "{stderr}");

    let registry = tmp.path().join("hub");
    drop(HubProcess::start(&registry, true));
    let registry = registry.to_str().unwrap();
    let (_, ok, stderr) = migrate(registry, "postgres://nobody:secret@127.0.0.1:1/none");
    assert!(!ok);
    assert!(
        stderr.contains("127.0.0.1:1") && !stderr.contains("secret"),
        "{stderr}"
    );
    let (_, ok, stderr) = migrate(registry, "mysql://127.0.0.1/x");
    assert!(!ok, "{stderr}");
}
