//! The throwaway PostgreSQL server the suites run the hub against: it starts as a non-root user
//! on a loopback port of its own, keeps what was committed across a restart (and drops what was
//! not), runs beside another, and is gone, server and files, when the test ends.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use custodian_e2e::pg::Cluster;
use postgres::{Client, NoTls};

#[test]
fn a_cluster_keeps_committed_rows_across_a_restart_and_is_gone_when_dropped() {
    let mut cluster = Cluster::start();
    let mut client = Client::connect(&cluster.url(), NoTls).unwrap();
    client
        .batch_execute("CREATE TABLE units (epc TEXT PRIMARY KEY, n INTEGER NOT NULL)")
        .unwrap();
    let mut tx = client.transaction().unwrap();
    for n in 0..100 {
        tx.execute(
            "INSERT INTO units (epc, n) VALUES ($1, $2)",
            &[&format!("unit-{n}"), &n],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    // A second connection's transaction is open when the server stops.
    let mut other = Client::connect(&cluster.url(), NoTls).unwrap();
    let mut open = other.transaction().unwrap();
    open.execute("INSERT INTO units (epc, n) VALUES ('uncommitted', 0)", &[])
        .unwrap();

    cluster.restart();
    assert!(
        open.commit().is_err(),
        "a transaction cut by the restart committed"
    );
    assert!(client.is_closed() || client.simple_query("SELECT 1").is_err());
    let mut client = Client::connect(&cluster.url(), NoTls).unwrap();
    let row = client
        .query_one("SELECT count(*), sum(n) FROM units", &[])
        .unwrap();
    assert_eq!(row.get::<_, i64>(0), 100);
    assert_eq!(row.get::<_, i64>(1), (0..100).sum::<i64>());
    assert!(
        client
            .query_opt("SELECT 1 FROM units WHERE epc = 'uncommitted'", &[])
            .unwrap()
            .is_none()
    );

    let url = cluster.url();
    drop(client);
    drop(cluster);
    assert!(
        Client::connect(&url, NoTls).is_err(),
        "the server still answers after the cluster was dropped"
    );
}

#[test]
fn two_clusters_run_side_by_side_each_with_its_own_data() {
    let a = Cluster::start();
    let b = Cluster::start();
    assert_ne!(a.port(), b.port());
    let mut ca = Client::connect(&a.url(), NoTls).unwrap();
    let mut cb = Client::connect(&b.url(), NoTls).unwrap();
    ca.batch_execute("CREATE TABLE only_in_a (x INTEGER)")
        .unwrap();
    let in_b: i64 = cb
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'only_in_a'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_b, 0);
    let second = a.create_database("second");
    let mut c2 = Client::connect(&second, NoTls).unwrap();
    let db: String = c2
        .query_one("SELECT current_database()", &[])
        .unwrap()
        .get(0);
    assert_eq!(db, "second");
}
