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

/// The stores' SQL layer on a real server: the statements written for SQLite run there,
/// translated, and values come back as SQLite would give them.
#[test]
fn the_stores_sql_runs_on_postgresql_as_on_sqlite() {
    use custodian_ledger::sql::{Db, PgConn, SqlError, params};

    let cluster = Cluster::start();
    let pg = PgConn::new(Client::connect(&cluster.url(), NoTls).unwrap());
    let sqlite = rusqlite::Connection::open_in_memory().unwrap();
    let schema = "CREATE TABLE t (k TEXT PRIMARY KEY, n BIGINT, lot TEXT, flag BOOLEAN, b BYTEA);";
    pg.client().batch_execute(schema).unwrap();
    sqlite
        .execute_batch(
            &schema
                .replace("BOOLEAN", "INTEGER")
                .replace("BYTEA", "BLOB"),
        )
        .unwrap();
    for db in [Db::from(&pg), Db::from(&sqlite)] {
        let what = if db.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        };
        let insert = "INSERT OR IGNORE INTO t (k, n, lot, flag, b) VALUES (?1, ?2, ?3, ?4, ?5)";
        assert_eq!(
            db.execute(
                insert,
                params!["a", 1_i64, None::<String>, true, vec![0u8, 255]]
            )
            .unwrap(),
            1
        );
        assert_eq!(
            db.execute(insert, params!["a", 2_i64, "L1", false, vec![1u8]])
                .unwrap(),
            0,
            "{what}: an ignored insert changes nothing"
        );
        db.execute(insert, params!["b", 3_i64, "L1", false, Vec::<u8>::new()])
            .unwrap();
        // `IS ?` matches a null as SQLite's does.
        let null_lot: Vec<String> = db
            .query_map(
                "SELECT k FROM t WHERE lot IS ?1",
                params![None::<String>],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(null_lot, ["a"], "{what}");
        let row = db
            .query_row(
                "SELECT n, flag, b, count(*) OVER (), EXISTS (SELECT 1 FROM t WHERE k = ?1) FROM t WHERE k = ?1",
                params!["a"],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, bool>(1)?,
                        r.get::<_, Vec<u8>>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, bool>(4)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(row, (1, true, vec![0, 255], 1, true), "{what}");
        let upsert = "INSERT INTO t (k, n) VALUES (?1, ?2) ON CONFLICT (k) DO UPDATE SET n = excluded.n RETURNING n";
        assert_eq!(
            db.query_row(upsert, params!["a", 7], |r| r.get::<_, i64>(0))
                .unwrap(),
            7,
            "{what}"
        );
        let twice = db
            .execute("INSERT INTO t (k) VALUES (?1)", params!["a"])
            .unwrap_err();
        assert!(twice.is_unique_violation(), "{what}: {twice}");
        assert!(matches!(
            db.query_row("SELECT k FROM t WHERE k = ?1", params!["z"], |r| r
                .get::<_, String>(0)),
            Err(SqlError::NoRow)
        ));
        let wrong = db
            .query_row("SELECT k FROM t WHERE k = ?1", params!["a"], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_err();
        assert!(
            matches!(wrong, SqlError::Conversion { column: 0, .. }),
            "{what}: {wrong}"
        );
    }
    // The server's own words reach the caller.
    let refused = Db::from(&pg)
        .execute("INSERT INTO nowhere (k) VALUES (?1)", params!["a"])
        .unwrap_err();
    assert!(
        refused.to_string().contains("\"nowhere\" does not exist"),
        "{refused}"
    );
}

/// Rows inserted later ([`custodian_ledger::sql::Db::insert_later`]) are held inside a
/// transaction and written before its next statement: what the transaction reads next sees
/// them, a rollback drops them, a row the server refuses fails the statement that writes it
/// and the transaction with it, and outside a transaction a row is written at once. SQLite
/// writes every row at once and answers the same.
#[test]
fn rows_inserted_later_are_read_back_in_order_and_never_half_committed() {
    use custodian_ledger::sql::{Batched, Db, PgConn, params};

    static PARENT: Batched = Batched {
        sql: "INSERT OR IGNORE INTO parent (id, name) VALUES (?1, ?2)",
        types: &["int8", "text"],
    };
    static CHILD: Batched = Batched {
        sql: "INSERT INTO child (parent, note, data) VALUES (?1, ?2, ?3)",
        types: &["int8", "text", "bytea"],
    };
    let cluster = Cluster::start();
    let pg = PgConn::new(Client::connect(&cluster.url(), NoTls).unwrap());
    let sqlite = rusqlite::Connection::open_in_memory().unwrap();
    let schema = "CREATE TABLE parent (id BIGINT PRIMARY KEY, name TEXT NOT NULL);
        CREATE TABLE child (parent BIGINT NOT NULL REFERENCES parent (id), note TEXT, data BYTEA);";
    pg.client().batch_execute(schema).unwrap();
    sqlite
        .execute_batch(&format!(
            "PRAGMA foreign_keys = ON; {}",
            schema.replace("BYTEA", "BLOB")
        ))
        .unwrap();
    for db in [Db::from(&pg), Db::from(&sqlite)] {
        let what = if db.is_postgres() {
            "postgres"
        } else {
            "sqlite"
        };
        let count = |table: &str| {
            db.query_row(&format!("SELECT count(*) FROM {table}"), params![], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap()
        };
        // Outside a transaction: at once.
        db.insert_later(&PARENT, params![1, "one"]).unwrap();
        assert_eq!(count("parent"), 1, "{what}");

        // Inside: read back by the next statement, children after their parents, 12,000 rows
        // (more than one statement's worth), a repeated key ignored, nulls kept.
        let tx = db.transaction().unwrap();
        for i in 2..12_002_i64 {
            tx.insert_later(&PARENT, params![i, format!("n{i}")])
                .unwrap();
            tx.insert_later(&CHILD, params![i, None::<String>, vec![1u8, 2]])
                .unwrap();
        }
        tx.insert_later(&PARENT, params![2, "again"]).unwrap();
        let (parents, name, nulls) = tx
            .query_row(
                "SELECT count(*), (SELECT name FROM parent WHERE id = 2),
                        (SELECT count(*) FROM child WHERE note IS NULL AND data = ?1)
                 FROM parent",
                params![vec![1u8, 2]],
                |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                    ))
                },
            )
            .unwrap();
        assert_eq!(
            (parents, name.as_str(), nulls),
            (12_001, "n2", 12_000),
            "{what}"
        );
        tx.commit().unwrap();
        assert_eq!(count("child"), 12_000, "{what}");

        // Rolled back: nothing of it stays.
        let tx = db.transaction().unwrap();
        tx.insert_later(&PARENT, params![50_000, "gone"]).unwrap();
        drop(tx);
        assert_eq!(
            count("parent"),
            12_001,
            "{what}: a rollback drops held rows"
        );

        // A child of no parent: refused by the statement that writes it, and the transaction
        // does not commit any of its rows.
        let tx = db.transaction().unwrap();
        tx.insert_later(&PARENT, params![60_000, "orphan's neighbour"])
            .unwrap();
        let refused = tx
            .insert_later(&CHILD, params![99_999, "orphan", None::<Vec<u8>>])
            .and_then(|()| tx.commit());
        let refused = refused.unwrap_err().to_string();
        assert!(
            refused.contains("foreign key") || refused.contains("FOREIGN KEY"),
            "{what}: {refused}"
        );
        assert_eq!(
            count("parent"),
            12_001,
            "{what}: nothing of a failed transaction stays"
        );
        // The connection goes on working.
        db.insert_later(&PARENT, params![70_000, "after"]).unwrap();
        assert_eq!(count("parent"), 12_002, "{what}");
    }
}

/// A certificate authority and a server certificate it signed for `names` (host names or IP
/// addresses): (the authority's certificate, the server's certificate, the server's key), PEM.
fn authority_and_server(names: &[&str]) -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.distinguished_name
        .push(DnType::CommonName, "database authority");
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca.clone().self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca, ca_key);
    let names: Vec<String> = names.iter().map(ToString::to_string).collect();
    let server = CertificateParams::new(names).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = server.signed_by(&key, &issuer).unwrap();
    (ca_pem, cert.pem(), key.serialize_pem())
}

/// A registry on a server that speaks TLS only: the hub reaches it with `sslmode=require` and the
/// server's authority in `sslrootcert`, and refuses, saying why, a server whose certificate
/// another authority signed or that is not made out to the host it connects to. The server
/// refuses unencrypted connections, so a hub that reached it spoke TLS.
#[test]
fn the_hub_reaches_postgresql_over_tls_only_when_it_can_trust_the_server() {
    use custodian_e2e::custodian_output;
    let tmp = tempfile::tempdir().unwrap();
    let (ca, cert, key) = authority_and_server(&["127.0.0.1"]);
    let (impostor_ca, _, _) = authority_and_server(&["127.0.0.1"]);
    let ca_path = tmp.path().join("ca.pem");
    let impostor_path = tmp.path().join("impostor.pem");
    std::fs::write(&ca_path, &ca).unwrap();
    std::fs::write(&impostor_path, &impostor_ca).unwrap();
    let mut cluster = Cluster::start();
    cluster.require_tls(&cert, &key);
    let hub = tmp.path().join("hub").display().to_string();
    let status = |url: &str| {
        let out = custodian_output(
            &["hub", "status", "--data", &hub, "--store", url, "--json"],
            None,
        );
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let url = cluster.url();
    let tls = |host: &str, root: &std::path::Path| {
        format!(
            "{}?sslmode=require&sslrootcert={}",
            url.replace("127.0.0.1", host),
            root.display()
        )
    };

    // In the clear, the server turns the hub away.
    let (ok, said) = status(&url);
    assert!(!ok, "the server took an unencrypted connection: {said}");
    assert!(said.contains("no encryption"), "{said}");

    let (ok, said) = status(&tls("127.0.0.1", &ca_path));
    assert!(ok, "the hub did not reach the registry over TLS: {said}");
    let counts: serde_json::Value = serde_json::from_str(said.trim()).unwrap();
    assert_eq!(counts["events"], 0, "{said}");

    // Another authority's word is not taken.
    let (ok, said) = status(&tls("127.0.0.1", &impostor_path));
    assert!(
        !ok,
        "the hub trusted a server its authority did not vouch for: {said}"
    );
    assert!(said.contains("invalid peer certificate"), "{said}");
    // Not an outage to wait out: an operator must act.
    assert!(!said.contains("unavailable"), "{said}");

    // The certificate names 127.0.0.1; the same server reached as `localhost` is not it.
    let (ok, said) = status(&tls("localhost", &ca_path));
    assert!(
        !ok,
        "the hub took a certificate made out to another name: {said}"
    );
    assert!(said.contains("not valid for name"), "{said}");

    // An authority named for a connection that would not use it is a mistake, said so.
    let (ok, said) = status(&format!("{url}?sslrootcert={}", ca_path.display()));
    assert!(!ok, "{said}");
    assert!(said.contains("add sslmode=require"), "{said}");

    let missing = tmp.path().join("missing.pem");
    let (ok, said) = status(&tls("127.0.0.1", &missing));
    assert!(!ok, "{said}");
    assert!(said.contains("sslrootcert"), "{said}");
}
