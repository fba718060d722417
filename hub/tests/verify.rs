//! Public verification through the hub's router, in process: Digital Link resolution,
//! `/verify`, batch verification of a manifest, what a code's signature and other elements must
//! be to be genuine, rate limiting per client, the velocity flag (counted by source address),
//! and the OpenAPI document; and the served hub over HTTPS, which tells clients apart by their
//! connection's address.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use custodian_hub::registry::IssuedSerial;
use custodian_hub::verify::{
    MAX_BATCH_CODES, MAX_CODE_BYTES, PublicOptions, RateLimit, RateLimiter, Source,
    VELOCITY_THRESHOLD, Verifier,
};
use custodian_hub::{Registry, demo, server};
use custodian_ledger::Event;
use custodian_ledger::extract::{Alert, Recall};
use serde_json::{Value, json};
use tower::ServiceExt;

/// A limit no test reaches, for tests about something else.
const UNLIMITED: RateLimit = RateLimit {
    per_second: 1e9,
    burst: 1e9,
};

fn app_with(
    dir: &std::path::Path,
    client: &str,
    rate: RateLimit,
) -> (axum::Router, Arc<Registry>, demo::DemoData) {
    let registry = Arc::new(Registry::open_with_key(dir, demo::issuer_key).unwrap());
    let data = demo::seed(&registry).unwrap();
    let client: SocketAddr = client.parse().unwrap();
    let public = PublicOptions {
        rate,
        ..PublicOptions::default()
    };
    (
        server::router(registry.clone(), &public)
            .unwrap()
            .layer(MockConnectInfo(client)),
        registry,
        data,
    )
}

/// The hub as the public meets it: the product's default limits.
fn app(dir: &std::path::Path, client: &str) -> (axum::Router, Arc<Registry>, demo::DemoData) {
    app_with(dir, client, PublicOptions::default().rate)
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, Value) {
    let resp = app.clone().oneshot(request).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    send(app, Request::get(uri).body(Body::empty()).unwrap()).await
}

/// `GET uri` from the client at `from`, whatever address the router's mock gives the others.
async fn get_from(app: &axum::Router, uri: &str, from: SocketAddr) -> (StatusCode, Value) {
    let mut request = Request::get(uri).body(Body::empty()).unwrap();
    request.extensions_mut().insert(ConnectInfo(from));
    send(app, request).await
}

/// The Digital Link a label's QR code carries (with its lot, expiry and signature), as a path
/// on the hub's domain.
fn link(s: &IssuedSerial) -> String {
    s.digital_link[s.digital_link.find("/01/").unwrap()..].to_string()
}

/// `code` for `/verify?code=`.
fn query(code: &str) -> String {
    let mut out = String::from("/verify?code=");
    for b in code.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

async fn post_batch(app: &axum::Router, body: &Value) -> (StatusCode, Value) {
    send(
        app,
        Request::post("/verify/batch")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn verification_answers_what_the_public_may_know() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, data) = app(tmp.path(), "127.0.0.1:5000");
    let s = &data.serials[0];
    let (status, v) = get(&app, &link(s)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(v["status"], "genuine");
    assert_eq!(v["product"], "Cordless drill DX-18");
    assert!(
        v.get("custodian").is_none() && !v.to_string().contains("dist-a"),
        "no custody details: {v}"
    );

    let (_, v) = get(&app, &format!("/verify/01/{}/21/NEVERISSUED", s.gtin)).await;
    assert_eq!(v["status"], "unknown_serial");
    assert_eq!(v["genuine"], false);

    let code = s.element_string.replace('\u{1d}', "%1D");
    let (status, v) = get(&app, &format!("/verify?code={code}")).await;
    assert_eq!(
        (status, v["status"].as_str()),
        (StatusCode::OK, Some("genuine"))
    );

    let (status, v) = get(&app, "/verify?code=0104012345000013").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.as_str().unwrap().contains("check digit"), "{v}");
}

#[tokio::test]
async fn recalls_and_alerts_are_answered() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "127.0.0.1:5000", UNLIMITED);
    let laser = &data.serials[250];
    registry
        .add_recall(&Recall {
            gtin: laser.gtin.clone(),
            lot: laser.lot.clone(),
            reason: "battery contacts overheat".into(),
        })
        .unwrap();
    let drill = &data.serials[3];
    registry
        .add_alert(&Alert {
            epc: format!("https://id.gs1.org/01/{}/21/{}", drill.gtin, drill.serial),
            reason: "seen on a counterfeit listing".into(),
        })
        .unwrap();
    let (_, v) = get(&app, &link(laser)).await;
    assert_eq!(
        (v["status"].as_str(), v["genuine"].as_bool()),
        (Some("recalled"), Some(true))
    );
    assert!(v["message"].as_str().unwrap().contains("overheat"), "{v}");
    let (_, v) = get(&app, &link(drill)).await;
    assert_eq!(v["status"], "reported_counterfeit");
    let other_drill = &data.serials[4];
    let (_, v) = get(&app, &link(other_drill)).await;
    assert_eq!(
        v["status"], "genuine",
        "the recall is of the laser level's lot only"
    );
}

/// A `holding` event about `serial`'s unit by dist-a, a quarantine or its release.
fn holding(s: &custodian_hub::registry::IssuedSerial, at: &str, release: bool) -> Event {
    use custodian_ledger::event::{Action, BizStep, Detail, Disposition, EventType, Text};
    let mut body = custodian_ledger::EventBody {
        event_type: EventType::ObjectEvent,
        action: Action::Observe,
        biz_step: BizStep::Holding,
        disposition: Some(if release {
            Disposition::SellableAccessible
        } else {
            Disposition::NonSellableOther
        }),
        event_time: chrono::DateTime::parse_from_rfc3339(at).unwrap(),
        epcs: vec![custodian_ledger::Epc::parse(&s.digital_link).unwrap()],
        parent: None,
        biz_transactions: vec![],
        source: None,
        destination: None,
        recorder: custodian_ledger::Recorder {
            org: "dist-a".into(),
            site: "dc-hamburg".into(),
            device: "dev-1".into(),
        },
        extension: Default::default(),
    };
    body.extension.detail = Some(if release {
        Detail::Release {
            note: Text::parse("carton only").unwrap(),
        }
    } else {
        Detail::Quarantine {
            reason: Text::parse("water damage in the dc").unwrap(),
        }
    });
    Event::new(body)
}

#[tokio::test]
async fn a_unit_in_quarantine_is_genuine_but_not_to_be_sold_and_who_holds_it_stays_private() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "127.0.0.1:5000", UNLIMITED);
    let s = &data.serials[5];
    let url = link(s);
    let held = holding(s, "2026-11-20T09:00:00+01:00", false);
    registry.record(std::slice::from_ref(&held)).unwrap();
    let (_, v) = get(&app, &url).await;
    assert_eq!(
        (v["status"].as_str(), v["genuine"].as_bool()),
        (Some("quarantined"), Some(true)),
        "{v}"
    );
    assert_eq!(
        v["message"],
        "genuine Cordless drill DX-18, but in quarantine since 2026-11-20: not to be sold until it is released"
    );
    assert!(
        !v.to_string().contains("dist-a") && !v.to_string().contains("water"),
        "neither who holds it nor why: {v}"
    );
    let (_, report) = post_batch(&app, &json!({ "codes": [s.element_string] })).await;
    assert_eq!(report["summary"]["quarantined"], 1, "{report}");

    // Released, it is genuine again; the same release twice changes nothing.
    let released = holding(s, "2026-11-21T09:00:00+01:00", true);
    registry.record(std::slice::from_ref(&released)).unwrap();
    registry.record(std::slice::from_ref(&released)).unwrap();
    assert_eq!(get(&app, &url).await.1["status"], "genuine");

    // A later hold declared erroneous is lifted, whichever order the two arrive in.
    let again = holding(s, "2026-11-22T09:00:00+01:00", false);
    let declared = Event::declaring_error(
        &again,
        custodian_ledger::event::ErrorDeclaration {
            declaration_time: chrono::DateTime::parse_from_rfc3339("2026-11-22T10:00:00+01:00")
                .unwrap(),
            reason: None,
            corrective_event_ids: vec![],
            declared_by: again.body.recorder.clone(),
        },
    );
    registry.record(std::slice::from_ref(&declared)).unwrap();
    registry.record(std::slice::from_ref(&again)).unwrap();
    assert_eq!(get(&app, &url).await.1["status"], "genuine");

    // A recall says more than a hold.
    let other = &data.serials[6];
    registry
        .record(&[holding(other, "2026-11-20T09:00:00+01:00", false)])
        .unwrap();
    registry
        .add_recall(&Recall {
            gtin: other.gtin.clone(),
            lot: None,
            reason: "switch sticks".into(),
        })
        .unwrap();
    let (_, v) = get(&app, &link(other)).await;
    assert_eq!(v["status"], "recalled");
    // The hub's custody view shows the hold, with who and why.
    let custody = registry.custody(&other.element_string).unwrap();
    let q = custody.quarantine.unwrap();
    assert_eq!(
        (q.org.as_str(), q.reason.as_str()),
        ("dist-a", "water damage in the dc")
    );

    // Another device of dist-a, which had not heard of the hold, ships the unit: the hold goes
    // to the recipient with the shipment.
    let third = &data.serials[7];
    let hold = holding(third, "2026-11-20T09:00:00+01:00", false);
    let mut ship = holding(third, "2026-11-20T11:00:00+01:00", false).body;
    ship.biz_step = custodian_ledger::event::BizStep::Shipping;
    ship.disposition = Some(custodian_ledger::event::Disposition::InTransit);
    ship.extension = Default::default();
    ship.source = Some("dist-a".into());
    ship.destination = Some("retail-berlin".into());
    ship.recorder.device = "dev-2".into();
    registry.record(&[hold.clone(), Event::new(ship)]).unwrap();
    let db = rusqlite::Connection::open(tmp.path().join("hub.sqlite")).unwrap();
    let seen_by: Vec<String> = db
        .prepare(
            "SELECT a.org FROM audience a JOIN events e ON e.seq = a.seq WHERE e.id = ?1 ORDER BY a.org",
        )
        .unwrap()
        .query_map([&hold.id.0], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(seen_by, ["dist-a", "retail-berlin"]);
}

#[tokio::test]
async fn each_client_is_rate_limited_by_default() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, data) = app(tmp.path(), "127.0.0.9:5000");
    let s = &data.serials[1];
    // Requests from one address until the first is refused. A token bucket of the public limit
    // lets its burst through at once and then its rate: however fast or slow the requests come,
    // the first refusal falls after at least the burst and at most the burst plus what the rate
    // refilled meanwhile. (Without a limit none is ever refused: 2,000 requests is the bound.)
    let RateLimit { per_second, burst } = RateLimit::PUBLIC;
    let started = Instant::now();
    let mut allowed = 0u32;
    loop {
        let (status, _) = get(&app, &format!("/01/{}/21/{}", s.gtin, s.serial)).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(status, StatusCode::OK);
        allowed += 1;
        assert!(
            allowed < 2_000,
            "2,000 requests from one address and none refused"
        );
    }
    let refilled = started.elapsed().as_secs_f64() * per_second;
    assert!(
        f64::from(allowed) >= burst && f64::from(allowed) <= burst + refilled + 1.0,
        "{allowed} requests allowed before the first refusal; the burst is {burst}, and \
         {refilled:.1} tokens were refilled meanwhile"
    );
    assert_eq!(PublicOptions::default().rate, RateLimit::PUBLIC);
    assert_eq!(
        (RateLimit::PUBLIC.per_second, RateLimit::PUBLIC.burst),
        (10.0, 30.0)
    );
}

#[test]
fn the_public_limit_is_a_burst_of_30_then_10_a_second() {
    // Time is an input here: the same instant for a burst, then a second later.
    let limiter = RateLimiter::new(PublicOptions::default().rate);
    let client: IpAddr = "127.0.0.9".parse().unwrap();
    let t0 = Instant::now();
    let burst = (0..40).filter(|_| limiter.allow(client, t0)).count();
    assert_eq!(burst, 30, "a burst of 40 at one instant");
    let later = t0 + Duration::from_secs(1);
    let refilled = (0..40).filter(|_| limiter.allow(client, later)).count();
    assert_eq!(refilled, 10, "a second later");
    assert!(
        limiter.allow("127.0.0.10".parse().unwrap(), later),
        "another address has its own bucket"
    );
}

#[tokio::test]
async fn a_raised_limit_lets_a_flood_through() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, data) = app_with(tmp.path(), "127.0.0.9:5000", UNLIMITED);
    let s = &data.serials[1];
    for _ in 0..40 {
        let (status, _) = get(&app, &format!("/01/{}/21/{}", s.gtin, s.serial)).await;
        assert_eq!(status, StatusCode::OK);
    }
}

/// Velocity flags in the registry.
fn velocity_flags(registry: &Registry) -> Vec<custodian_hub::registry::HubFlag> {
    registry
        .flags()
        .unwrap()
        .into_iter()
        .filter(|f| f.kind == "velocity")
        .collect()
}

/// Queries of the unit counted on disk, and the sources they came from.
fn counted(dir: &std::path::Path, gtin: &str, serial: &str) -> (i64, i64) {
    let conn = rusqlite::Connection::open(dir.join(custodian_hub::verify::VELOCITY_FILE)).unwrap();
    conn.query_row(
        "SELECT coalesce(sum(count), 0), coalesce(sum(length(sources) / 8), 0)
         FROM verifications WHERE epc = ?1",
        [format!("https://id.gs1.org/01/{gtin}/21/{serial}")],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .unwrap()
}

/// The `n`th of many client addresses, each its own source.
fn address(n: u32) -> IpAddr {
    IpAddr::from([10, (n >> 16) as u8, (n >> 8) as u8, n as u8])
}

fn source(n: u32) -> Source {
    Source::address(address(n))
}

#[tokio::test]
async fn the_velocity_flag_fires_once_when_the_sources_pass_the_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap());
    let data = demo::seed(&registry).unwrap();
    let verifier = Verifier::start(registry.clone(), 2).unwrap();
    let s = &data.serials[2];
    let threshold = u32::try_from(VELOCITY_THRESHOLD).unwrap();
    // Counted in memory, written in batches of different sizes; every source asks twice.
    for n in 0..threshold - 5 {
        verifier.verify(&s.digital_link, source(n)).await.unwrap();
        verifier.verify(&s.element_string, source(n)).await.unwrap();
    }
    verifier.flush().unwrap();
    for n in threshold - 5..threshold {
        verifier.verify(&s.element_string, source(n)).await.unwrap();
    }
    verifier.flush().unwrap();
    assert_eq!(
        counted(tmp.path(), &s.gtin, &s.serial),
        (2 * VELOCITY_THRESHOLD - 5, VELOCITY_THRESHOLD),
        "every query and every source is counted"
    );
    assert!(
        velocity_flags(&registry).is_empty(),
        "at the threshold, no flag yet"
    );

    verifier
        .verify(&s.digital_link, source(threshold))
        .await
        .unwrap();
    assert_eq!(verifier.flush().unwrap(), 1);
    for n in threshold + 1..2 * threshold {
        verifier.verify(&s.digital_link, source(n)).await.unwrap();
        verifier.flush().unwrap();
    }
    let flags = velocity_flags(&registry);
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0].org, "acme");
    assert!(flags[0].epc.ends_with(&s.serial));
    assert!(flags[0].reason.contains("addresses"), "{}", flags[0].reason);
    assert_eq!(
        counted(tmp.path(), &s.gtin, &s.serial),
        (3 * VELOCITY_THRESHOLD - 5, VELOCITY_THRESHOLD + 1),
        "sources past the one that raised the flag decide nothing and are not kept"
    );

    // A serial that was never issued is not counted: there is no unit to flag.
    for n in 0..=threshold + 2 {
        let v = verifier
            .verify(
                &format!("https://x.example/01/{}/21/NEVERISSUED", s.gtin),
                source(n),
            )
            .await
            .unwrap();
        assert_eq!(
            v.status,
            custodian_ledger::VerificationStatus::UnknownSerial
        );
    }
    verifier.flush().unwrap();
    assert_eq!(counted(tmp.path(), &s.gtin, "NEVERISSUED"), (0, 0));
    assert_eq!(velocity_flags(&registry).len(), 1);
}

#[tokio::test]
async fn an_ipv6_client_counts_as_its_network_and_a_mapped_ipv4_one_as_its_address() {
    let ip = |s: &str| Source::address(s.parse().unwrap());
    assert_eq!(
        ip("2001:db8:1:2::1"),
        ip("2001:db8:1:2:ffff:ffff:ffff:ffff")
    );
    assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
    assert_eq!(ip("::ffff:192.0.2.7"), ip("192.0.2.7"));
    assert_ne!(ip("192.0.2.7"), ip("192.0.2.8"));

    // A client with a whole /64 to send from is one source however many addresses it uses.
    let tmp = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap());
    let data = demo::seed(&registry).unwrap();
    let verifier = Verifier::start(registry.clone(), 2).unwrap();
    let s = &data.serials[9];
    for n in 0..3 * VELOCITY_THRESHOLD {
        let from = Source::address(format!("2001:db8:7:7::{n:x}").parse().unwrap());
        verifier.verify(&s.element_string, from).await.unwrap();
    }
    verifier.flush().unwrap();
    assert_eq!(
        counted(tmp.path(), &s.gtin, &s.serial),
        (3 * VELOCITY_THRESHOLD, 1)
    );
    assert!(velocity_flags(&registry).is_empty());
}

/// Waits up to 10 s for the served hub's velocity thread to raise `n` flags.
async fn await_velocity_flags(
    registry: &Registry,
    n: usize,
) -> Vec<custodian_hub::registry::HubFlag> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let flags = velocity_flags(registry);
        if flags.len() >= n {
            return flags;
        }
        assert!(Instant::now() < deadline, "no velocity flag within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the served hub's velocity thread has written `queries` queries of `s`.
async fn await_counted(dir: &std::path::Path, s: &IssuedSerial, queries: i64) -> (i64, i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let counts = counted(dir, &s.gtin, &s.serial);
        if counts.0 >= queries {
            return counts;
        }
        assert!(
            Instant::now() < deadline,
            "only {counts:?} of {queries} queries written within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn many_addresses_verifying_one_serial_raise_one_velocity_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    let s = &data.serials[5];
    let threshold = u32::try_from(VELOCITY_THRESHOLD).unwrap();
    for n in 0..=threshold {
        let (status, _) = get_from(&app, &link(s), SocketAddr::new(address(n), 40_000)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let flags = await_velocity_flags(&registry, 1).await;
    assert!(flags[0].epc.ends_with(&s.serial), "{flags:?}");
    // More addresses on the same day raise nothing new.
    for n in threshold + 1..2 * threshold {
        get_from(&app, &link(s), SocketAddr::new(address(n), 40_000)).await;
    }
    await_counted(tmp.path(), s, 2 * VELOCITY_THRESHOLD).await;
    assert_eq!(velocity_flags(&registry).len(), 1);
}

#[tokio::test]
async fn a_thousand_gets_of_a_genuine_code_from_one_address_raise_no_velocity_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "192.0.2.10:5000", UNLIMITED);
    let s = &data.serials[11];
    for n in 0..1_000 {
        // The same client on new connections (new ports) each time.
        let (status, v) = get_from(
            &app,
            &link(s),
            SocketAddr::new("192.0.2.10".parse().unwrap(), 1_024 + n),
        )
        .await;
        assert_eq!(
            (status, v["status"].as_str()),
            (StatusCode::OK, Some("genuine"))
        );
    }
    assert_eq!(await_counted(tmp.path(), s, 1_000).await, (1_000, 1));
    assert!(velocity_flags(&registry).is_empty());
}

#[tokio::test]
async fn a_batch_naming_one_code_a_thousand_times_counts_it_once_and_raises_no_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "192.0.2.20:5000", UNLIMITED);
    let s = &data.serials[12];
    let body = json!({ "codes": vec![s.element_string.clone(); MAX_BATCH_CODES] });
    let (status, report) = post_batch(&app, &body).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["summary"]["genuine"], MAX_BATCH_CODES);
    // And again with the same code in other forms: still this one client's queries.
    let (status, _) = post_batch(
        &app,
        &json!({ "codes": [s.digital_link, s.bracketed, { "gtin": s.gtin, "serial": s.serial }] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(await_counted(tmp.path(), s, 2).await, (2, 1));
    assert!(velocity_flags(&registry).is_empty());
}

#[tokio::test]
async fn a_manifest_is_verified_code_by_code() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app(tmp.path(), "127.0.0.1:7000");
    let laser = &data.serials[210];
    registry
        .add_recall(&Recall {
            gtin: laser.gtin.clone(),
            lot: None,
            reason: "laser class label wrong".into(),
        })
        .unwrap();
    let alerted = &data.serials[7];
    registry
        .add_alert(&Alert {
            epc: format!(
                "https://id.gs1.org/01/{}/21/{}",
                alerted.gtin, alerted.serial
            ),
            reason: "code copied".into(),
        })
        .unwrap();
    let drill = &data.serials[0];
    let body = json!({ "codes": [
        drill.element_string,
        data.serials[1].digital_link,
        { "gtin": data.serials[2].gtin, "serial": data.serials[2].serial },
        { "gtin": drill.gtin, "serial": "NEVERISSUED" },
        laser.bracketed,
        alerted.element_string,
        "0104012345000013",
        format!("(01){}", drill.gtin),
        { "gtin": "123", "serial": "A" },
        "(01)09506000134352(21)X",
    ]});
    let (status, report) = post_batch(&app, &body).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let statuses: Vec<&str> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        [
            "genuine",
            "genuine",
            "unsigned",
            "unknown_serial",
            "recalled",
            "reported_counterfeit",
            "unreadable",
            "unreadable",
            "unreadable",
            "unknown_product",
        ]
    );
    let results = &report["results"];
    assert_eq!(results[0]["code"], drill.element_string.as_str());
    assert!(
        results[2].get("code").is_none(),
        "a key pair is not echoed as a code"
    );
    assert_eq!(results[2]["serial"], data.serials[2].serial.as_str());
    assert_eq!(
        results[2]["genuine"], false,
        "a key carries no signature: the serial was issued, the label is not shown genuine"
    );
    assert!(
        results[6]["message"]
            .as_str()
            .unwrap()
            .contains("check digit"),
        "{}",
        results[6]
    );
    assert!(
        results[7]["message"]
            .as_str()
            .unwrap()
            .contains("serialised unit"),
        "{}",
        results[7]
    );
    assert!(results[8]["message"].as_str().unwrap().starts_with("gtin:"));
    assert_eq!(
        report["summary"],
        json!({ "genuine": 2, "unsigned": 1, "unknown_serial": 1, "recalled": 1,
                "reported_counterfeit": 1, "unreadable": 3, "unknown_product": 1 })
    );
}

#[tokio::test]
async fn batches_are_bounded_and_cost_one_request_per_fifty_codes() {
    let tmp = tempfile::tempdir().unwrap();
    // The product's burst, and a refill too slow to matter within the test.
    let rate = RateLimit {
        per_second: 0.001,
        burst: RateLimit::PUBLIC.burst,
    };
    let (app, _, data) = app_with(tmp.path(), "127.0.0.1:7001", rate);
    let codes = |n: usize| -> Value {
        json!({ "codes": data.serials.iter().cycle().take(n).map(|s| s.element_string.clone()).collect::<Vec<_>>() })
    };
    let (status, report) = post_batch(&app, &codes(MAX_BATCH_CODES)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(report["summary"]["genuine"], MAX_BATCH_CODES);
    // That cost 20 of the 30 requests of the burst: 10 remain, so 500 codes pass and 51 not.
    let (status, _) = post_batch(&app, &codes(500)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = post_batch(&app, &codes(1)).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, _) = get(
        &app,
        &format!("/01/{}/21/{}", data.serials[0].gtin, data.serials[0].serial),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "one bucket for both");

    let (status, body) = post_batch(&app, &codes(MAX_BATCH_CODES + 1)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        body.as_str().unwrap().contains("at most 1000 codes"),
        "{body}"
    );
    let (status, _) = post_batch(&app, &json!({ "codes": [] })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = post_batch(&app, &json!({ "code": "x" })).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body.as_str().unwrap().starts_with("batch request:"),
        "{body}"
    );
}

#[tokio::test]
async fn the_openapi_document_is_served_and_lists_every_route() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, _) = app(tmp.path(), "127.0.0.1:1");
    let (status, doc) = get(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for (path, method) in [
        ("/v1/health", "get"),
        ("/v1/enroll", "post"),
        ("/v1/sync", "post"),
        ("/verify", "get"),
        ("/verify/batch", "post"),
        ("/verify/01/{gtin}/21/{serial}", "get"),
        ("/01/{gtin}/21/{serial}", "get"),
        ("/openapi.json", "get"),
    ] {
        assert!(
            doc["paths"][path].get(method).is_some(),
            "{method} {path} is not described"
        );
    }
    let batch = &doc["paths"]["/verify/batch"]["post"];
    for status in ["200", "400", "413", "429"] {
        assert!(batch["responses"].get(status).is_some(), "batch {status}");
    }
}

/// The elements of `s`'s label, in the label's order.
fn elements(s: &IssuedSerial) -> Vec<(String, String)> {
    custodian_scanner::parse(&s.element_string)
        .unwrap()
        .elements
        .iter()
        .map(|e| (e.ai.to_string(), e.value.clone()))
        .collect()
}

/// `s`'s label with `ai` set to `value` (added when the label has none), or taken off.
fn with(s: &IssuedSerial, ai: &str, value: Option<&str>) -> Vec<(String, String)> {
    set(&elements(s), ai, value)
}

/// `elements` with `ai` set to `value` (added when they have none), or taken off.
fn set(elements: &[(String, String)], ai: &str, value: Option<&str>) -> Vec<(String, String)> {
    let mut out = elements.to_vec();
    match (out.iter().position(|(a, _)| a == ai), value) {
        (Some(i), Some(v)) => out[i].1 = v.to_string(),
        (Some(i), None) => {
            out.remove(i);
        }
        (None, Some(v)) => out.insert(1, (ai.to_string(), v.to_string())),
        (None, None) => {}
    }
    out
}

fn value_of<'a>(elements: &'a [(String, String)], ai: &str) -> Option<&'a str> {
    elements
        .iter()
        .find(|(a, _)| a == ai)
        .map(|(_, v)| v.as_str())
}

fn element_string(elements: &[(String, String)]) -> String {
    let pairs: Vec<(&str, &str)> = elements
        .iter()
        .map(|(a, v)| (a.as_str(), v.as_str()))
        .collect();
    custodian_scanner::element_string(&pairs)
}

/// The elements as a Digital Link path on the hub's domain.
fn link_of(elements: &[(String, String)]) -> String {
    let gtin = custodian_scanner::Gtin::parse(value_of(elements, "01").unwrap()).unwrap();
    let attributes: Vec<(&str, &str)> = elements
        .iter()
        .filter(|(a, _)| a != "01" && a != "21")
        .map(|(a, v)| (a.as_str(), v.as_str()))
        .collect();
    let uri = custodian_scanner::digital_link(
        "https://hub.example",
        &gtin,
        value_of(elements, "21"),
        &attributes,
    );
    uri["https://hub.example".len()..].to_string()
}

/// `signature` with one character changed.
fn flipped(signature: &str, at: usize) -> String {
    let mut chars: Vec<char> = signature.chars().collect();
    chars[at] = if chars[at] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

/// Asks for `elements` as an element string, as a Digital Link resolution, under `/verify/01/`
/// and in a batch, and checks that every form gets `status` and `genuine`. Returns the message.
async fn check_every_form(
    app: &axum::Router,
    elements: &[(String, String)],
    status: &str,
    genuine: bool,
) -> String {
    let link = link_of(elements);
    let mut message = None;
    for uri in [
        query(&element_string(elements)),
        link.clone(),
        format!("/verify{link}"),
    ] {
        let (code, v) = get(app, &uri).await;
        assert_eq!(code, StatusCode::OK, "{uri}: {v}");
        assert_eq!(
            (v["status"].as_str(), v["genuine"].as_bool()),
            (Some(status), Some(genuine)),
            "{uri}: {v}"
        );
        message.get_or_insert_with(|| v["message"].as_str().unwrap().to_string());
    }
    let (code, report) = post_batch(
        app,
        &json!({ "codes": [element_string(elements), format!("https://hub.example{link}")] }),
    )
    .await;
    assert_eq!(code, StatusCode::OK, "{report}");
    for item in report["results"].as_array().unwrap() {
        assert_eq!(
            (item["status"].as_str(), item["genuine"].as_bool()),
            (Some(status), Some(genuine)),
            "batch: {item}"
        );
    }
    message.unwrap()
}

#[tokio::test]
async fn the_genuine_code_is_genuine_in_every_form() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    for s in [&data.serials[20], &data.serials[220]] {
        let message = check_every_form(&app, &elements(s), "genuine", true).await;
        assert!(message.starts_with("genuine "), "{message}");
        // A label that leaves out its lot and expiry says nothing the registry contradicts.
        let bare = set(&with(s, "10", None), "17", None);
        check_every_form(&app, &bare, "genuine", true).await;
    }
    let (_, v) = get(&app, &query(&data.serials[20].bracketed)).await;
    assert_eq!(v["status"], "genuine", "{v}");
}

#[tokio::test]
async fn a_flipped_signature_character_is_not_genuine() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    for (s, at) in [
        (&data.serials[21], 0),
        (&data.serials[22], 40),
        (&data.serials[221], 80),
    ] {
        let signature = value_of(&elements(s), "8030").unwrap().to_string();
        let forged = with(s, "8030", Some(&flipped(&signature, at)));
        let message = check_every_form(&app, &forged, "signature_invalid", false).await;
        assert!(message.contains("does not verify"), "{message}");
        assert!(message.contains("counterfeit"), "{message}");
    }
}

#[tokio::test]
async fn a_cut_or_undecodable_signature_is_never_genuine() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    let s = &data.serials[30];
    let signature = value_of(&elements(s), "8030").unwrap().to_string();
    for broken in [&signature[..85], &signature[..43], "A", "AAAAA"] {
        let code = element_string(&with(s, "8030", Some(broken)));
        let (status, v) = get(&app, &query(&code)).await;
        // Refused as unreadable, or read and judged: either way not genuine.
        assert!(
            status == StatusCode::BAD_REQUEST
                || (status == StatusCode::OK && v["status"] == "signature_invalid"),
            "{broken:?}: {status} {v}"
        );
    }
}

#[tokio::test]
async fn another_units_signature_is_not_genuine() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    let (s, other) = (&data.serials[23], &data.serials[24]);
    let borrowed = with(s, "8030", value_of(&elements(other), "8030"));
    check_every_form(&app, &borrowed, "signature_invalid", false).await;
    // The other unit's whole code is still its own, and genuine.
    check_every_form(&app, &elements(other), "genuine", true).await;
}

#[tokio::test]
async fn a_code_without_its_signature_is_answered_unsigned_and_not_genuine() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    let s = &data.serials[25];
    let stripped = with(s, "8030", None);
    let message = check_every_form(&app, &stripped, "unsigned", false).await;
    assert!(
        message.contains("was issued") && message.contains("no signature"),
        "{message}"
    );
    // A key typed in, a plain Digital Link, a GTIN and serial in a batch: the same.
    let (_, v) = get(&app, &format!("/01/{}/21/{}", s.gtin, s.serial)).await;
    assert_eq!(
        (v["status"].as_str(), v["genuine"].as_bool()),
        (Some("unsigned"), Some(false))
    );
    assert_eq!(v["product"], "Cordless drill DX-18", "{v}");
    let (_, v) = get(&app, &format!("/verify/01/{}/21/{}", s.gtin, s.serial)).await;
    assert_eq!(v["status"], "unsigned");
    let (_, report) = post_batch(
        &app,
        &json!({ "codes": [{ "gtin": s.gtin, "serial": s.serial }] }),
    )
    .await;
    assert_eq!(report["summary"], json!({ "unsigned": 1 }));

    // What is known against a unit is still said without a signature, and it is not genuine.
    let laser = &data.serials[230];
    registry
        .add_recall(&Recall {
            gtin: laser.gtin.clone(),
            lot: laser.lot.clone(),
            reason: "battery contacts overheat".into(),
        })
        .unwrap();
    let (_, v) = get(&app, &format!("/01/{}/21/{}", laser.gtin, laser.serial)).await;
    assert_eq!(
        (v["status"].as_str(), v["genuine"].as_bool()),
        (Some("recalled"), Some(false))
    );
    let message = v["message"].as_str().unwrap();
    assert!(
        message.contains("overheat") && message.contains("no signature"),
        "{message}"
    );
    let (_, v) = get(&app, &link(laser)).await;
    assert_eq!(
        (v["status"].as_str(), v["genuine"].as_bool()),
        (Some("recalled"), Some(true))
    );
    // An unsigned code whose lot is not the unit's is a label mismatch, signature or none.
    let (_, v) = get(
        &app,
        &format!("/01/{}/21/{}?10=OTHER", laser.gtin, laser.serial),
    )
    .await;
    assert_eq!(v["status"], "label_mismatch", "{v}");
}

#[tokio::test]
async fn a_changed_lot_is_a_label_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    for s in [&data.serials[26], &data.serials[226]] {
        let relabelled = with(s, "10", Some("L2612X"));
        let message = check_every_form(&app, &relabelled, "label_mismatch", false).await;
        assert!(
            message.contains("lot (AI 10) is L2612X") && message.contains("counterfeit"),
            "{message}"
        );
    }
    // The registry's lot decides the recall of a code whose lot was changed away from it: the
    // changed label is answered as a mismatch, not as an unrecalled lot.
    let laser = &data.serials[227];
    registry
        .add_recall(&Recall {
            gtin: laser.gtin.clone(),
            lot: laser.lot.clone(),
            reason: "battery contacts overheat".into(),
        })
        .unwrap();
    check_every_form(
        &app,
        &with(laser, "10", Some("L2612X")),
        "label_mismatch",
        false,
    )
    .await;
    check_every_form(&app, &elements(laser), "recalled", true).await;
}

#[tokio::test]
async fn a_changed_expiry_is_a_label_mismatch() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    let laser = &data.serials[228];
    assert_eq!(laser.expiry.as_deref(), Some("291231"));
    let message = check_every_form(
        &app,
        &with(laser, "17", Some("301231")),
        "label_mismatch",
        false,
    )
    .await;
    assert!(
        message.contains("expiry date (AI 17) is 301231"),
        "{message}"
    );
    // A drill was issued without an expiry: a label that gives it one was not issued so.
    let drill = &data.serials[27];
    assert_eq!(drill.expiry, None);
    check_every_form(
        &app,
        &with(drill, "17", Some("291231")),
        "label_mismatch",
        false,
    )
    .await;
}

#[tokio::test]
async fn checks_run_in_the_handhelds_order_signature_first() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    let alerted = &data.serials[28];
    registry
        .add_alert(&Alert {
            epc: format!(
                "https://id.gs1.org/01/{}/21/{}",
                alerted.gtin, alerted.serial
            ),
            reason: "code copied".into(),
        })
        .unwrap();
    let signature = value_of(&elements(alerted), "8030").unwrap().to_string();
    // A forged signature is said before the alert list, a changed lot too.
    check_every_form(
        &app,
        &with(alerted, "8030", Some(&flipped(&signature, 3))),
        "signature_invalid",
        false,
    )
    .await;
    check_every_form(
        &app,
        &with(alerted, "10", Some("L0000")),
        "label_mismatch",
        false,
    )
    .await;
    check_every_form(&app, &elements(alerted), "reported_counterfeit", false).await;
    // An alert is said before a recall.
    registry
        .add_recall(&Recall {
            gtin: alerted.gtin.clone(),
            lot: None,
            reason: "switch sticks".into(),
        })
        .unwrap();
    check_every_form(&app, &elements(alerted), "reported_counterfeit", false).await;
    check_every_form(&app, &elements(&data.serials[29]), "recalled", true).await;
}

#[tokio::test]
async fn an_expired_unit_is_genuine_but_expired_by_its_label_or_by_the_registry() {
    use rand::SeedableRng;
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    let laser_gtin = &data.serials[200].gtin;
    let issued = registry
        .issue(
            laser_gtin,
            2,
            &custodian_hub::registry::IssueOptions {
                lot: Some("L2401".into()),
                expiry: Some("250131".into()),
                markets: vec!["DE".into()],
                facility: "plant-stuttgart".into(),
                line: "line-2".into(),
            },
            chrono::DateTime::parse_from_rfc3339("2024-01-10T07:00:00+01:00").unwrap(),
            &mut rand_chacha::ChaCha8Rng::seed_from_u64(7),
        )
        .unwrap();
    let s = &issued[0];
    let message = check_every_form(&app, &elements(s), "expired", true).await;
    assert!(message.contains("expired on 2025-01-31"), "{message}");
    // Without AI 17 on the code, the expiry it was issued with decides.
    check_every_form(&app, &with(s, "17", None), "expired", true).await;
    let (_, v) = get(&app, &format!("/01/{}/21/{}", s.gtin, s.serial)).await;
    assert_eq!(
        (v["status"].as_str(), v["genuine"].as_bool()),
        (Some("expired"), Some(false))
    );
}

#[tokio::test]
async fn overlong_and_malformed_codes_are_refused_with_a_reason_never_a_failure() {
    use rand::{Rng, SeedableRng};
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    let long = format!(
        "{}{}",
        data.serials[0].element_string,
        "9".repeat(MAX_CODE_BYTES)
    );
    let (status, v) = get(&app, &query(&long)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.as_str().unwrap().contains("at most 4096 bytes"), "{v}");
    let (status, report) = post_batch(
        &app,
        &json!({ "codes": [long, { "gtin": data.serials[0].gtin, "serial": "S".repeat(100_000) }] }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["summary"], json!({ "unreadable": 2 }));

    // Codes cut, spliced and garbled at random: each is answered, none fails the hub.
    let seed: u64 = std::env::var("VERIFY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x7665);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let alphabet: Vec<char> = "0123456789ABZaz()/?=&%-_.~\u{1d}\u{e9}]dQ3C1 8030"
        .chars()
        .collect();
    for _ in 0..300 {
        let base = &data.serials[rng.gen_range(0..data.serials.len())];
        let mut code: Vec<char> = match rng.gen_range(0..3) {
            0 => base.element_string.chars().collect(),
            1 => base.bracketed.chars().collect(),
            _ => base.digital_link.chars().collect(),
        };
        for _ in 0..rng.gen_range(1..6) {
            let at = rng.gen_range(0..=code.len());
            match rng.gen_range(0..3) {
                0 if at < code.len() => {
                    code.remove(at);
                }
                1 if at < code.len() => code[at] = alphabet[rng.gen_range(0..alphabet.len())],
                _ => code.insert(at, alphabet[rng.gen_range(0..alphabet.len())]),
            }
        }
        let code: String = code.into_iter().collect();
        let (status, v) = get(&app, &query(&code)).await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "seed {seed}: {code:?} answered {status}: {v}"
        );
        let (status, _) = post_batch(&app, &json!({ "codes": [code] })).await;
        assert_eq!(status, StatusCode::OK, "seed {seed}: {code:?} in a batch");
    }
}

/// `GET path` over HTTPS from the local address `from` (any of 127.0.0.0/8 on loopback),
/// trusting only the hub's CA; the whole response as text.
async fn https_get(
    hub: SocketAddr,
    from: IpAddr,
    config: Arc<rustls::ClientConfig>,
    path: String,
) -> String {
    use std::io::{Read, Write};
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let stream = socket.connect(hub).await.unwrap().into_std().unwrap();
    tokio::task::spawn_blocking(move || {
        stream.set_nonblocking(false).unwrap();
        let connection =
            rustls::ClientConnection::new(config, rustls::pki_types::ServerName::from(hub.ip()))
                .unwrap();
        let mut tls = rustls::StreamOwned::new(connection, stream);
        write!(
            tls,
            "GET {path} HTTP/1.1\r\nHost: {hub}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = Vec::new();
        match tls.read_to_end(&mut response) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
            Err(e) => panic!("reading the answer to {path}: {e}"),
        }
        String::from_utf8_lossy(&response).into_owned()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_https_sources_are_the_connections_addresses() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let tmp = tempfile::tempdir().unwrap();
    let data = demo::seed(&Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap()).unwrap();
    let (url_tx, url_rx) = tokio::sync::oneshot::channel::<String>();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let hub = tokio::spawn(server::serve(
        server::ServeOptions {
            data: tmp.path().to_path_buf(),
            store: None,
            listen: "127.0.0.1:0".parse().unwrap(),
            demo: true,
            public: PublicOptions {
                rate: UNLIMITED,
                ..PublicOptions::default()
            },
            round_events: custodian_sync::protocol::MAX_EVENTS_PER_ROUND,
            webhook_roots: Vec::new(),
        },
        move |url| {
            let _ = url_tx.send(url.to_string());
        },
        async move {
            let _ = stopped.await;
        },
    ));
    let url = url_rx.await.unwrap();
    let addr: SocketAddr = url.trim_start_matches("https://").parse().unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(rustls::pki_types::CertificateDer::from(
            std::fs::read(tmp.path().join("tls").join("ca.der")).unwrap(),
        ))
        .unwrap();
    let config = Arc::new(
        rustls::ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    );
    let registry = Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap();

    // One address, many connections, a forged signature in between: one source, no flag.
    let (repeated, cloned) = (&data.serials[40], &data.serials[41]);
    let local: IpAddr = "127.0.0.1".parse().unwrap();
    for _ in 0..2 * VELOCITY_THRESHOLD {
        let answer = https_get(addr, local, config.clone(), link(repeated)).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.contains(r#""status":"genuine""#), "{answer}");
    }
    let signature = value_of(&elements(repeated), "8030").unwrap().to_string();
    let forged = link_of(&with(repeated, "8030", Some(&flipped(&signature, 5))));
    let answer = https_get(addr, local, config.clone(), forged).await;
    assert!(
        answer.contains(r#""status":"signature_invalid""#),
        "{answer}"
    );
    assert_eq!(
        await_counted(tmp.path(), repeated, 2 * VELOCITY_THRESHOLD + 1).await,
        (2 * VELOCITY_THRESHOLD + 1, 1)
    );

    // One more loopback address than the threshold allows: the clone signal.
    let threshold = u8::try_from(VELOCITY_THRESHOLD).unwrap();
    for n in 0..=threshold {
        let from = IpAddr::from([127, 0, 1, n + 1]);
        let answer = https_get(addr, from, config.clone(), link(cloned)).await;
        assert!(answer.contains(r#""status":"genuine""#), "{answer}");
    }
    let flags = await_velocity_flags(&registry, 1).await;
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert!(flags[0].epc.ends_with(&cloned.serial), "{flags:?}");
    let _ = stop.send(());
    hub.await.unwrap().unwrap();
}
