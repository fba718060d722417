//! Public verification through the hub's router, in process: Digital Link resolution,
//! `/verify`, rate limiting per client, the velocity flag, and the OpenAPI document.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode};
use custodian_hub::verify::VELOCITY_THRESHOLD;
use custodian_hub::{Registry, demo, server};
use tower::ServiceExt;

fn app(dir: &std::path::Path, client: &str) -> (axum::Router, Arc<Registry>, demo::DemoData) {
    let registry = Arc::new(Registry::open_with_key(dir, demo::issuer_key).unwrap());
    let data = demo::seed(&registry).unwrap();
    let client: SocketAddr = client.parse().unwrap();
    (
        server::router(registry.clone()).layer(MockConnectInfo(client)),
        registry,
        data,
    )
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let resp = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
        .await
        .unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, body)
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
async fn each_client_is_rate_limited() {
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
}

#[tokio::test]
async fn a_code_verified_too_often_raises_one_velocity_flag() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, registry, data) = app(tmp.path(), "127.0.0.1:1");
    let s = &data.serials[2];
    for _ in 0..VELOCITY_THRESHOLD * 2 {
        custodian_hub::verify::verify(&registry, &s.digital_link).unwrap();
    }
    let flags = registry.flags().unwrap();
    assert_eq!(flags.len(), 1);
    assert_eq!(flags[0].kind, "velocity");
    assert_eq!(flags[0].org, "acme");
}

#[tokio::test]
async fn the_openapi_document_is_served_and_lists_every_route() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, _, _) = app(tmp.path(), "127.0.0.1:1");
    let (status, doc) = get(&app, "/openapi.json").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/v1/health",
        "/v1/enroll",
        "/v1/sync",
        "/verify",
        "/verify/01/{gtin}/21/{serial}",
        "/01/{gtin}/21/{serial}",
        "/openapi.json",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} is not described");
    }
}
