//! Public verification through the hub's router, in process: Digital Link resolution,
//! `/verify`, batch verification of a manifest, rate limiting per client, the velocity flag, and
//! the OpenAPI document.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use custodian_hub::verify::{
    MAX_BATCH_CODES, PublicOptions, RateLimit, VELOCITY_THRESHOLD, Verifier,
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
    let (status, v) = get(&app, &format!("/01/{}/21/{}", s.gtin, s.serial)).await;
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
    let (_, v) = get(&app, &format!("/01/{}/21/{}", laser.gtin, laser.serial)).await;
    assert_eq!(
        (v["status"].as_str(), v["genuine"].as_bool()),
        (Some("recalled"), Some(true))
    );
    assert!(v["message"].as_str().unwrap().contains("overheat"), "{v}");
    let (_, v) = get(&app, &format!("/01/{}/21/{}", drill.gtin, drill.serial)).await;
    assert_eq!(v["status"], "reported_counterfeit");
    let other_drill = &data.serials[4];
    let (_, v) = get(
        &app,
        &format!("/01/{}/21/{}", other_drill.gtin, other_drill.serial),
    )
    .await;
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
    let url = format!("/01/{}/21/{}", s.gtin, s.serial);
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
    let (_, v) = get(&app, &format!("/01/{}/21/{}", other.gtin, other.serial)).await;
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
    let mut limited = 0;
    for _ in 0..40 {
        let (status, _) = get(&app, &format!("/01/{}/21/{}", s.gtin, s.serial)).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited += 1;
        }
    }
    assert!(
        limited >= 5,
        "a burst of 40 from one address is throttled (limited {limited})"
    );
    assert_eq!(PublicOptions::default().rate, RateLimit::PUBLIC);
    assert_eq!(
        (RateLimit::PUBLIC.per_second, RateLimit::PUBLIC.burst),
        (10.0, 30.0)
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

fn counted(dir: &std::path::Path, gtin: &str, serial: &str) -> i64 {
    let conn = rusqlite::Connection::open(dir.join(custodian_hub::verify::VELOCITY_FILE)).unwrap();
    conn.query_row(
        "SELECT coalesce(sum(count), 0) FROM verifications WHERE epc = ?1",
        [format!("https://id.gs1.org/01/{gtin}/21/{serial}")],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test]
async fn the_velocity_flag_fires_once_when_the_count_passes_the_threshold() {
    let tmp = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::open_with_key(tmp.path(), demo::issuer_key).unwrap());
    let data = demo::seed(&registry).unwrap();
    let verifier = Verifier::start(registry.clone(), 2).unwrap();
    let s = &data.serials[2];
    // Counted in memory, written in batches of different sizes.
    for _ in 0..VELOCITY_THRESHOLD - 5 {
        verifier.verify(&s.digital_link).await.unwrap();
    }
    verifier.flush().unwrap();
    for _ in 0..5 {
        verifier.verify(&s.element_string).await.unwrap();
    }
    verifier.flush().unwrap();
    assert_eq!(
        counted(tmp.path(), &s.gtin, &s.serial),
        VELOCITY_THRESHOLD,
        "every query is counted"
    );
    assert!(
        velocity_flags(&registry).is_empty(),
        "at the threshold, no flag yet"
    );

    verifier.verify(&s.digital_link).await.unwrap();
    assert_eq!(verifier.flush().unwrap(), 1);
    for _ in 0..VELOCITY_THRESHOLD {
        verifier.verify(&s.digital_link).await.unwrap();
        verifier.flush().unwrap();
    }
    let flags = velocity_flags(&registry);
    assert_eq!(flags.len(), 1, "{flags:?}");
    assert_eq!(flags[0].org, "acme");
    assert!(flags[0].epc.ends_with(&s.serial));
    assert_eq!(
        counted(tmp.path(), &s.gtin, &s.serial),
        2 * VELOCITY_THRESHOLD + 1
    );

    // A serial that was never issued is not counted: there is no unit to flag.
    for _ in 0..VELOCITY_THRESHOLD + 2 {
        let v = verifier
            .verify(&format!("https://x.example/01/{}/21/NEVERISSUED", s.gtin))
            .await
            .unwrap();
        assert_eq!(v.status, "unknown_serial");
    }
    verifier.flush().unwrap();
    assert_eq!(counted(tmp.path(), &s.gtin, "NEVERISSUED"), 0);
    assert_eq!(velocity_flags(&registry).len(), 1);
}

#[tokio::test]
async fn the_served_hub_raises_the_velocity_flag_on_its_own() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, registry, data) = app_with(tmp.path(), "127.0.0.1:1", UNLIMITED);
    let s = &data.serials[5];
    for _ in 0..=VELOCITY_THRESHOLD {
        let (status, _) = get(&app, &format!("/01/{}/21/{}", s.gtin, s.serial)).await;
        assert_eq!(status, StatusCode::OK);
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while velocity_flags(&registry).is_empty() {
        assert!(Instant::now() < deadline, "no velocity flag within 10 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(velocity_flags(&registry).len(), 1);
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
            "genuine",
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
        json!({ "genuine": 3, "unknown_serial": 1, "recalled": 1, "reported_counterfeit": 1,
                "unreadable": 3, "unknown_product": 1 })
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
