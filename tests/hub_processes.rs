//! Two hub processes on one PostgreSQL database behind a load balancer: devices of several
//! organisations sync through both at once, one hub is killed (SIGKILL) in the middle of their
//! syncs, and the devices carry on through the other. Afterwards every event is on the hub
//! once, every unit is listed once per organisation's flag, the organisation's two devices hold
//! the same flags, and the second hub goes on serving. A client spreading its verifications over
//! both is held to one rate limit; verifications asked at once, which a hub on PostgreSQL looks
//! up together, each get their own answer. A table the hub grows by thousands of rows has its planner
//! statistics taken at once, not a minute later by the server.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use custodian_e2e::pg::Cluster;
use custodian_e2e::proxy::Balancer;
use custodian_e2e::{
    HubProcess, custodian, custodian_output, custodian_with_input, demo_serial, json,
};
use postgres::{Client, NoTls};

/// The demo's issued serials `range` as a scanner sends them, one per line (24 and on were
/// never shipped: receiving them is out of sequence).
fn serials(range: std::ops::Range<usize>) -> String {
    range.map(|n| demo_serial(n) + "\n").collect()
}

fn address(hub: &HubProcess) -> SocketAddr {
    hub.address().parse().unwrap()
}

/// Syncs until the device has nothing left to send and the hub nothing more to send it; a
/// sync cut by the killed hub is tried again (as a device's next sync would).
fn sync_until_converged(device: &str) {
    for _ in 0..30 {
        let out = custodian_output(
            &["sync", "--data", device, "--json", "--retries", "5"],
            None,
        );
        if out.status.success() {
            let report = json(&String::from_utf8(out.stdout).unwrap());
            if report["converged"] == true && report["waiting"] == 0 {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{device} did not converge");
}

fn flag_ids(device: &str) -> Vec<String> {
    let mut ids: Vec<String> = json(&custodian(&["flags", "--data", device, "--json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[test]
fn devices_sync_through_two_hubs_and_one_killed_loses_or_doubles_nothing() {
    let cluster = Cluster::start();
    let store = cluster.url();
    let tmp = tempfile::tempdir().unwrap();
    // One directory: both hubs present the same TLS identity behind the balancer.
    let dir = tmp.path().join("hub");
    // Small rounds: each device's upload takes many, which the kill lands among.
    let extra = ["--store", store.as_str(), "--round-events", "2"];
    let mut first = HubProcess::start_with(&dir, true, "127.0.0.1:0", &extra);
    let second = HubProcess::start_with(&dir, false, "127.0.0.1:0", &extra);
    let balancer = Balancer::start(vec![address(&first), address(&second)]);
    let url = balancer.url();

    let devices = [
        ("b1", "dist-b", "dc-oakland", 30..60),
        ("b2", "dist-b", "dc-oakland", 45..75),
        ("r1", "retail-berlin", "store-mitte", 100..130),
    ];
    let mut paths = Vec::new();
    for (name, org, site, range) in &devices {
        let path = tmp.path().join(name);
        first.enroll_via(&path, org, site, Some(&url));
        let path = path.to_str().unwrap().to_string();
        custodian_with_input(
            &["scan", "--data", &path, "--step", "receiving", "--json"],
            Some(&serials(range.clone())),
        );
        paths.push(path);
    }

    let mut db = Client::connect(&store, NoTls).unwrap();
    let receipts = |db: &mut Client| -> i64 {
        db.query_one("SELECT count(*) FROM events WHERE step = 'receiving'", &[])
            .unwrap()
            .get(0)
    };
    let at_kill = std::thread::scope(|scope| {
        for path in &paths {
            scope.spawn(move || sync_until_converged(path));
        }
        // Killed once the devices' rounds have begun to arrive, while they go on.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while receipts(&mut db) < 6 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        first.kill();
        receipts(&mut db)
    });
    assert!(
        (6..90).contains(&at_kill),
        "the hub was killed with {at_kill} of 90 receipts stored, not in the middle"
    );
    // Every device once more: the flags raised by the others' uploads reach it.
    for path in &paths {
        sync_until_converged(path);
    }
    assert!(
        balancer.taken[0].load(Ordering::Relaxed) > 0
            && balancer.taken[1].load(Ordering::Relaxed) > 0,
        "both hubs served"
    );

    let count = |db: &mut Client, sql: &str| -> i64 { db.query_one(sql, &[]).unwrap().get(0) };
    // 30 receipts per device, each an event of its own, each stored once, whichever hub
    // took it, retried or not.
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM events WHERE step = 'receiving'"
        ),
        90
    );
    assert_eq!(
        count(&mut db, "SELECT events FROM event_totals"),
        count(&mut db, "SELECT count(*) FROM events"),
        "the event count kept matches the events stored"
    );
    // Each unit received with no shipment is listed once per organisation concerned.
    for (org, units) in [("dist-b", 45), ("retail-berlin", 30)] {
        let row = db
            .query_one(
                "SELECT count(*), count(DISTINCT u.epc) FROM flag_units u JOIN flags f ON f.id = u.flag
                 WHERE u.org = $1 AND f.kind = 'out_of_sequence'",
                &[&org],
            )
            .unwrap();
        assert_eq!(
            (row.get::<_, i64>(0), row.get::<_, i64>(1)),
            (units, units),
            "{org}"
        );
    }
    // Each event reaches each organisation's cursor once.
    assert_eq!(
        count(
            &mut db,
            "SELECT count(*) FROM (SELECT org, seq FROM audience GROUP BY org, seq HAVING count(*) > 1) d"
        ),
        0
    );
    // The organisation's two devices converged on one set of flags, raised by either hub.
    let b1 = flag_ids(&paths[0]);
    assert!(!b1.is_empty());
    assert_eq!(b1, flag_ids(&paths[1]));

    // The hub left standing serves on alone, with what the killed one committed.
    let status = json(&custodian(&[
        "hub",
        "status",
        "--data",
        second.data(),
        "--json",
    ]));
    assert_eq!(status["devices"], 3);
}

#[test]
fn a_database_restart_is_answered_unavailable_and_syncs_complete_after_it() {
    let mut cluster = Cluster::start();
    let store = cluster.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let hub = HubProcess::start_with(
        &dir,
        true,
        "127.0.0.1:0",
        &["--store", store.as_str(), "--round-events", "2"],
    );
    let device = tmp.path().join("b1");
    hub.enroll(&device, "dist-b", "dc-oakland");
    let device = device.to_str().unwrap().to_string();
    custodian_with_input(
        &["scan", "--data", &device, "--step", "receiving", "--json"],
        Some(&serials(30..50)),
    );

    // The database is down: the hub says so (503, try again), and the device keeps its events.
    cluster.stop();
    let refused = custodian_output(&["sync", "--data", &device, "--json"], None);
    assert!(!refused.status.success());
    let said = String::from_utf8(refused.stderr).unwrap();
    assert!(
        said.contains("503") && said.contains("unavailable"),
        "{said}"
    );

    // It comes back while the device retries: the sync completes.
    std::thread::scope(|scope| {
        let syncing = scope.spawn(|| sync_until_converged(&device));
        std::thread::sleep(std::time::Duration::from_millis(500));
        cluster.restart();
        syncing.join().unwrap();
    });
    let mut db = Client::connect(&store, NoTls).unwrap();
    let row = db
        .query_one(
            "SELECT (SELECT count(*) FROM events WHERE step = 'receiving'),
                    (SELECT count(DISTINCT epc) FROM flag_units WHERE org = 'dist-b')",
            &[],
        )
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (20, 20));
    // The hub serves on with the database back: a new device enrolls and syncs.
    let other = tmp.path().join("b2");
    hub.enroll(&other, "dist-b", "dc-oakland");
    sync_until_converged(other.to_str().unwrap());
    assert_eq!(flag_ids(&device), flag_ids(other.to_str().unwrap()));
}

/// `code` as a query parameter's value.
fn query_value(code: &str) -> String {
    code.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' | b'-' | b'_' | b'.' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Hundreds of verifications asked at once of a hub on PostgreSQL are looked up many codes to a
/// statement (a reader takes the checks queued behind the one it is given): each still gets
/// its own code's answer, whatever else was asked with it, one at a time on `/verify` and all
/// together in `/verify/batch`. Genuine signed codes, the same units' codes without their
/// signature, and serials never issued, interleaved.
#[test]
fn verifications_asked_at_once_of_a_postgresql_hub_each_get_their_own_answer() {
    let cluster = Cluster::start();
    let store = cluster.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let hub = HubProcess::start_with(
        &dir,
        true,
        "127.0.0.1:0",
        &[
            "--store",
            store.as_str(),
            "--public-rate",
            "100000",
            "--public-burst",
            "100000",
        ],
    );
    let ca = std::fs::read(dir.join("tls").join("ca.der")).unwrap();
    let demo =
        std::fs::read_to_string(custodian_e2e::workspace().join("fixtures/demo/serials.jsonl"))
            .unwrap();
    // (code, its serial, the status it must get)
    let mut asked: Vec<(String, String, &str)> = Vec::new();
    for (n, line) in demo.lines().take(100).enumerate() {
        let unit = json(line);
        let (gtin, serial) = (
            unit["gtin"].as_str().unwrap(),
            unit["serial"].as_str().unwrap(),
        );
        asked.push((
            unit["digital_link"].as_str().unwrap().into(),
            serial.into(),
            "genuine",
        ));
        asked.push((
            format!("https://id.gs1.org/01/{gtin}/21/{serial}"),
            serial.into(),
            "unsigned",
        ));
        let never = format!("NEVER{n:04}");
        asked.push((
            format!("https://id.gs1.org/01/{gtin}/21/{never}"),
            never,
            "unknown_serial",
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let base = format!("https://{}", hub.address());
    let (answers, batch) = rt.block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_der(&ca).unwrap())
            .build()
            .unwrap();
        let tasks: Vec<_> = asked
            .iter()
            .map(|(code, ..)| {
                let (client, url) = (
                    client.clone(),
                    format!("{base}/verify?code={}", query_value(code)),
                );
                tokio::spawn(async move {
                    let resp = client.get(url).send().await.unwrap();
                    assert_eq!(resp.status(), 200);
                    json(&resp.text().await.unwrap())
                })
            })
            .collect();
        let mut answers = Vec::new();
        for task in tasks {
            answers.push(task.await.unwrap());
        }
        let codes: Vec<&str> = asked.iter().map(|(code, ..)| code.as_str()).collect();
        let batch = client
            .post(format!("{base}/verify/batch"))
            .header("content-type", "application/json")
            .body(serde_json::json!({ "codes": codes }).to_string())
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let batch = json(&batch);
        (answers, batch)
    });
    for (answer, (code, serial, status)) in answers.iter().zip(&asked) {
        assert_eq!(answer["status"], *status, "{code}: {answer}");
        assert_eq!(answer["serial"], serial.as_str(), "{code}: {answer}");
    }
    let results = batch["results"].as_array().unwrap();
    assert_eq!(results.len(), asked.len(), "{batch}");
    for (item, (code, serial, status)) in results.iter().zip(&asked) {
        assert_eq!(item["status"], *status, "{code} in the batch: {item}");
        assert_eq!(
            item["serial"],
            serial.as_str(),
            "{code} in the batch: {item}"
        );
    }
    assert_eq!(batch["summary"]["genuine"], 100, "{}", batch["summary"]);
}

/// A hub told to allow a client two verifications at once and one every hundred seconds (`hub
/// serve --public-rate 0.01 --public-burst 2`) turns the third away with 429; a rate of zero is
/// refused before the hub starts.
#[test]
fn the_public_rate_limit_is_set_when_the_hub_starts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let refused = custodian_output(
        &[
            "hub",
            "serve",
            "--data",
            dir.to_str().unwrap(),
            "--public-rate",
            "0",
        ],
        None,
    );
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not a number above zero"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let hub = HubProcess::start_with(
        &dir,
        true,
        "127.0.0.1:0",
        &["--public-rate", "0.01", "--public-burst", "2"],
    );
    let ca = std::fs::read(dir.join("tls").join("ca.der")).unwrap();
    let code = query_value(&demo_serial(1));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let statuses = rt.block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_der(&ca).unwrap())
            .build()
            .unwrap();
        let mut statuses = Vec::new();
        for _ in 0..3 {
            let url = format!("https://{}/verify?code={code}", hub.address());
            statuses.push(client.get(url).send().await.unwrap().status().as_u16());
        }
        statuses
    });
    assert_eq!(statuses, [200, 200, 429]);
}

/// A client spreading its verifications over two hub processes on one database is held to the
/// one rate limit (bursts of 30, 10 a second), not one per process: past its burst, plus what
/// refilled while it asked, every request is turned away with 429, whichever process takes it.
#[test]
fn the_public_rate_limit_holds_across_hub_processes() {
    let cluster = Cluster::start();
    let store = cluster.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let extra = ["--store", store.as_str()];
    let first = HubProcess::start_with(&dir, true, "127.0.0.1:0", &extra);
    let second = HubProcess::start_with(&dir, false, "127.0.0.1:0", &extra);
    let ca = std::fs::read(dir.join("tls").join("ca.der")).unwrap();
    let code = demo_serial(1);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (allowed, refused, elapsed) = rt.block_on(async {
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_der(&ca).unwrap())
            .build()
            .unwrap();
        let (mut allowed, mut refused) = (0u32, 0u32);
        let started = std::time::Instant::now();
        for n in 0..60 {
            let hub = if n % 2 == 0 { &first } else { &second };
            let status = client
                .get(format!(
                    "https://{}/verify?code={}",
                    hub.address(),
                    code.bytes()
                        .map(|b| match b {
                            b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z' | b'-' | b'_' | b'.' => {
                                char::from(b).to_string()
                            }
                            _ => format!("%{b:02X}"),
                        })
                        .collect::<String>()
                ))
                .send()
                .await
                .unwrap()
                .status();
            match status.as_u16() {
                200 => allowed += 1,
                429 => refused += 1,
                other => panic!("verification answered {other}"),
            }
        }
        (allowed, refused, started.elapsed().as_secs_f64())
    });
    // 30 at once, and 10 a second since.
    let most = 30 + (10.0 * elapsed).ceil() as u32;
    assert!(
        (30..=most).contains(&allowed),
        "{allowed} of 60 verifications allowed in {elapsed:.2} s ({refused} refused); the shared limit allows 30 to {most}"
    );
    assert!(refused > 0, "the two processes limited apart");
    // Each verification answered is counted once, by whichever process answered it (the
    // counts are written every quarter second).
    let mut db = Client::connect(&store, NoTls).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let counted = loop {
        let counted: i64 = db
            .query_one(
                "SELECT COALESCE(sum(count), 0)::bigint FROM verifications",
                &[],
            )
            .unwrap()
            .get(0);
        if counted >= i64::from(allowed) || std::time::Instant::now() > deadline {
            break counted;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert_eq!(counted, i64::from(allowed), "verifications counted");
}

/// An issuance grows the serials and the index of what events name from a few hundred rows to
/// thousands within a second; the hub takes their statistics as it commits (without them every
/// lookup is planned for the small table until the server's autovacuum comes round, a minute
/// later), and leaves a table it did not grow alone.
#[test]
fn tables_an_issuance_grows_have_their_statistics_taken_at_once() {
    let cluster = Cluster::start();
    let store = cluster.url();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("hub");
    let extra = ["--store", store.as_str()];
    drop(HubProcess::start_with(&dir, true, "127.0.0.1:0", &extra));
    let mut db = Client::connect(&store, NoTls).unwrap();
    let mut analysed = |table: &str| -> bool {
        db.query_one(
            "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = $1",
            &[&table],
        )
        .unwrap()
        .get(0)
    };
    assert!(!analysed("serials"), "the demo's few serials need none");
    custodian(&[
        "hub",
        "issue",
        "--data",
        dir.to_str().unwrap(),
        "--store",
        &store,
        "--gtin",
        "04012345000016",
        "--count",
        "5000",
    ]);
    assert!(analysed("serials"));
    assert!(analysed("event_epcs"));
    assert!(!analysed("flag_units"), "an issuance lists no unit");
}
