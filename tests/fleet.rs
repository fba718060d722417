//! `custodian bench fleet` at a small size: devices of several organisations back online at
//! once, through one hub on SQLite and through two hub processes on one PostgreSQL database.
//! The benchmark checks what the hub holds afterwards (every event once, one flag per cause and
//! organisation) and fails otherwise; these runs hold it to its figures' shape too.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_e2e::pg::Cluster;
use custodian_e2e::{custodian_output, json};

fn fleet(extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "bench",
        "fleet",
        "--devices",
        "12",
        "--orgs",
        "3",
        "--events",
        "40",
        "--unexpected",
        "3",
        "--concurrency",
        "6",
        "--json",
    ];
    args.extend_from_slice(extra);
    let out = custodian_output(&args, None);
    assert!(
        out.status.success(),
        "bench fleet failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&String::from_utf8(out.stdout).unwrap())
}

fn check(figures: &serde_json::Value, hubs: u64, store: &str) {
    assert_eq!(figures["devices"], 12);
    assert_eq!(figures["events"], 12 * 40);
    assert_eq!(figures["hub_processes"], hubs);
    assert_eq!(figures["store"], store);
    // One flag for each organisation's cause, and the manufacturer's for the same cause.
    assert_eq!(figures["flags_raised"], 6);
    assert_eq!(figures["flags_right"], true);
    // Each device uploads in one round at least.
    assert!(figures["rounds"].as_u64().unwrap() >= 12, "{figures}");
    let p50 = figures["round_p50_ms"].as_f64().unwrap();
    let p99 = figures["round_p99_ms"].as_f64().unwrap();
    assert!(p50 > 0.0 && p50 <= p99, "{figures}");
    assert!(figures["converge_s"].as_f64().unwrap() > 0.0, "{figures}");
}

#[test]
fn a_fleet_converges_through_one_hub_on_sqlite() {
    check(&fleet(&[]), 1, "sqlite");
}

#[test]
fn a_fleet_converges_through_two_hub_processes_on_postgres() {
    let cluster = Cluster::start();
    let store = cluster.create_database("fleet");
    check(&fleet(&["--store", &store]), 2, "postgres");
}

#[test]
fn several_hub_processes_on_sqlite_are_refused() {
    let out = custodian_output(&["bench", "fleet", "--hubs", "2", "--json"], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PostgreSQL"), "{err}");
}
