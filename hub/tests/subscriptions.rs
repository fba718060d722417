//! Query subscriptions delivered by webhook to a real HTTPS endpoint on loopback: signed with
//! the subscriber's token, retried with backoff while the endpoint fails, never sent again
//! once acknowledged (also with two hub processes delivering at once), and a partner's query
//! delivering only its own organisation's events.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use custodian_hub::accounts::{Caller, Kind, NewAccount, Role};
use custodian_hub::subscriptions::{Deliveries, signature};
use custodian_hub::verify::PublicOptions;
use custodian_hub::{Registry, demo, server, tls};
use serde_json::{Value, json};
use tower::ServiceExt;

/// What an endpoint received: each delivery's body, its `GS1-Signature`, and the status it was
/// answered.
type Received = Arc<Mutex<Vec<(String, Option<String>, u16)>>>;

/// A subscriber's endpoint: answers 500 to its first `fail_first` deliveries, then 200; keeps
/// every delivery (its body and signature header).
struct Endpoint {
    url: String,
    ca_der: Vec<u8>,
    received: Received,
    _dir: tempfile::TempDir,
}

async fn endpoint(fail_first: usize) -> Endpoint {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let material = tls::load_or_create(dir.path(), &[]).unwrap();
    let received: Received = Arc::default();
    let calls = Arc::new(AtomicUsize::new(0));
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            let calls = calls.clone();
            async move {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                let status = if n < fail_first { 500 } else { 200 };
                kept.lock().unwrap().push((
                    String::from_utf8(body.to_vec()).unwrap(),
                    headers
                        .get("GS1-Signature")
                        .map(|v| v.to_str().unwrap().to_string()),
                    status,
                ));
                StatusCode::from_u16(status).unwrap()
            }
        }),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        material.cert_pem.into_bytes(),
        material.key_pem.into_bytes(),
    )
    .await
    .unwrap();
    tokio::spawn(axum_server::from_tcp_rustls(listener, config).serve(app.into_make_service()));
    Endpoint {
        url: format!("https://127.0.0.1:{port}/hook"),
        ca_der: material.ca_der,
        received,
        _dir: dir,
    }
}

struct Hub {
    app: axum::Router,
    registry: Arc<Registry>,
    data: demo::DemoData,
    _dir: tempfile::TempDir,
}

fn hub() -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::open_with_key(dir.path(), demo::issuer_key).unwrap());
    let data = demo::seed(&registry).unwrap();
    let client: SocketAddr = "192.0.2.9:4000".parse().unwrap();
    let app = server::router(registry.clone(), &PublicOptions::default())
        .unwrap()
        .layer(MockConnectInfo(client));
    Hub {
        app,
        registry,
        data,
        _dir: dir,
    }
}

impl Hub {
    fn key(&self, id: &str, role: Role, org: &str) -> String {
        self.registry
            .create_account(
                &Caller::command_line("tester", ""),
                &NewAccount {
                    id: id.into(),
                    kind: Kind::Service,
                    role,
                    org: org.into(),
                    password: None,
                },
                chrono::Utc::now(),
            )
            .unwrap()
            .key
            .unwrap()
            .token
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("Authorization", format!("Bearer {token}"));
        if body.is_some() {
            request = request.header("Content-Type", "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let resp = self.app.clone().oneshot(request).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    /// Captures one ObjectEvent of demo unit `n` at `step`, as `token`'s organisation.
    async fn capture(&self, token: &str, n: usize, step: &str, day: u32) {
        let s = &self.data.serials[n];
        let event = json!({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "ObjectEvent",
            "eventTime": format!("2026-02-{day:02}T08:00:00Z"),
            "eventTimeZoneOffset": "+00:00",
            "epcList": [format!("https://id.gs1.org/01/{}/21/{}", s.gtin, s.serial)],
            "action": "OBSERVE",
            "bizStep": step,
        });
        let (status, answer) = self
            .call(Method::POST, "/epcis/events", token, Some(event))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{answer}");
    }
}

fn events_in(body: &str) -> Vec<String> {
    let doc: Value = serde_json::from_str(body).unwrap();
    doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventTime"].as_str().unwrap().to_string())
        .collect()
}

/// Rounds of `deliveries` until `done` or 200 rounds.
async fn deliver_until(deliveries: &Arc<Deliveries>, mut done: impl FnMut() -> bool) {
    for _ in 0..200 {
        if done() {
            return;
        }
        deliveries.clone().round().await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(done(), "not delivered after 200 rounds");
}

#[tokio::test]
async fn deliveries_are_signed_retried_and_never_repeated_once_acknowledged() {
    let h = hub();
    let erp = h.key("erp", Role::Integration, "acme");
    let hook = endpoint(2).await;
    let (s, answer) = h
        .call(
            Method::POST,
            "/epcis/queries",
            &erp,
            Some(json!({ "name": "inspections", "query": { "EQ_bizStep": ["inspecting"] } })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{answer}");
    let (s, sub) = h
        .call(
            Method::POST,
            "/epcis/queries/inspections/subscriptions",
            &erp,
            Some(json!({ "dest": hook.url, "signatureToken": "s3cret-of-the-subscriber", "stream": true })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{sub}");
    assert!(
        sub.get("signatureToken").is_none(),
        "the token is never shown back"
    );
    h.capture(&erp, 1, "inspecting", 1).await;
    h.capture(&erp, 2, "storing", 2).await;
    h.capture(&erp, 3, "inspecting", 3).await;

    let deliveries = Arc::new(
        Deliveries::new(
            h.registry.clone(),
            std::slice::from_ref(&hook.ca_der),
            Duration::from_millis(10),
        )
        .unwrap(),
    );
    let received = hook.received.clone();
    deliver_until(&deliveries, || {
        received
            .lock()
            .unwrap()
            .iter()
            .any(|(_, _, status)| *status == 200)
    })
    .await;
    let got = hook.received.lock().unwrap().clone();
    // Two failures, then the same batch again, acknowledged.
    assert_eq!(got.iter().map(|g| g.2).collect::<Vec<_>>(), [500, 500, 200]);
    for (body, sig, _) in &got {
        assert_eq!(
            events_in(body),
            ["2026-02-01T08:00:00Z", "2026-02-03T08:00:00Z"]
        );
        assert_eq!(
            sig.as_deref(),
            Some(signature("s3cret-of-the-subscriber", body.as_bytes()).as_str())
        );
    }
    // Acknowledged: nothing is sent again, however many rounds run.
    for _ in 0..5 {
        deliveries.clone().round().await.unwrap();
    }
    assert_eq!(hook.received.lock().unwrap().len(), 3);
    // What is captured next is sent next, alone — by whichever of two hub processes takes it.
    let other = Arc::new(
        Deliveries::new(
            h.registry.clone(),
            std::slice::from_ref(&hook.ca_der),
            Duration::from_millis(10),
        )
        .unwrap(),
    );
    h.capture(&erp, 4, "inspecting", 4).await;
    h.capture(&erp, 5, "inspecting", 5).await;
    let received = hook.received.clone();
    for _ in 0..50 {
        let (a, b) = tokio::join!(deliveries.clone().round(), other.clone().round());
        a.unwrap();
        b.unwrap();
        if received.lock().unwrap().len() > 3 {
            break;
        }
    }
    for _ in 0..5 {
        let (a, b) = tokio::join!(deliveries.clone().round(), other.clone().round());
        a.unwrap();
        b.unwrap();
    }
    let got = hook.received.lock().unwrap().clone();
    let later: Vec<String> = got[3..]
        .iter()
        .flat_map(|(body, _, _)| events_in(body))
        .collect();
    assert_eq!(
        later,
        ["2026-02-04T08:00:00Z", "2026-02-05T08:00:00Z"],
        "each once: {got:?}"
    );
    // The subscription says when it was last acknowledged.
    let (_, subs) = h
        .call(
            Method::GET,
            "/epcis/queries/inspections/subscriptions",
            &erp,
            None,
        )
        .await;
    assert!(subs[0]["lastNotifiedAt"].is_string(), "{subs}");
}

#[tokio::test]
async fn a_partners_subscription_delivers_only_its_own_events() {
    let h = hub();
    let erp = h.key("erp", Role::Integration, "acme");
    let a_wms = h.key("a-wms", Role::Integration, "dist-a");
    let a_reader = h.key("a-reader", Role::Partner, "dist-a");
    let b_reader = h.key("b-reader", Role::Partner, "dist-b");
    let hook = endpoint(0).await;
    let (s, _) = h
        .call(
            Method::POST,
            "/epcis/queries",
            &a_reader,
            Some(json!({ "name": "all-of-mine", "query": {} })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = h
        .call(
            Method::POST,
            "/epcis/queries/all-of-mine/subscriptions",
            &a_reader,
            Some(json!({ "dest": hook.url, "stream": true })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    // Another partner neither sees nor subscribes to dist-a's query.
    for (method, uri) in [
        (Method::GET, "/epcis/queries/all-of-mine"),
        (Method::GET, "/epcis/queries/all-of-mine/events"),
        (Method::GET, "/epcis/queries/all-of-mine/subscriptions"),
        (Method::DELETE, "/epcis/queries/all-of-mine"),
    ] {
        let (s, _) = h.call(method.clone(), uri, &b_reader, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{method} {uri}");
    }
    let (_, listed) = h.call(Method::GET, "/epcis/queries", &b_reader, None).await;
    assert_eq!(listed, json!([]));
    h.capture(&erp, 6, "inspecting", 6).await;
    h.capture(&a_wms, 7, "inspecting", 7).await;
    h.capture(&erp, 8, "inspecting", 8).await;
    let deliveries = Arc::new(
        Deliveries::new(
            h.registry.clone(),
            std::slice::from_ref(&hook.ca_der),
            Duration::from_millis(10),
        )
        .unwrap(),
    );
    let received = hook.received.clone();
    deliver_until(&deliveries, || !received.lock().unwrap().is_empty()).await;
    for _ in 0..3 {
        deliveries.clone().round().await.unwrap();
    }
    let got = hook.received.lock().unwrap().clone();
    let all: Vec<String> = got
        .iter()
        .flat_map(|(body, _, _)| events_in(body))
        .collect();
    assert_eq!(all, ["2026-02-07T08:00:00Z"]);
    assert_eq!(got[0].1, None, "no token, no signature");
    // The query's events as the partner reads them: the same.
    let (_, page) = h
        .call(
            Method::GET,
            "/epcis/queries/all-of-mine/events",
            &a_reader,
            None,
        )
        .await;
    assert_eq!(
        page["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn a_subscription_is_refused_what_it_cannot_honestly_do() {
    let h = hub();
    let erp = h.key("erp", Role::Integration, "acme");
    let (s, _) = h
        .call(
            Method::POST,
            "/epcis/queries",
            &erp,
            Some(json!({ "name": "q", "query": {} })),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    for (body, why) in [
        (
            json!({ "dest": "http://example.com/hook", "stream": true }),
            "not HTTPS",
        ),
        (
            json!({ "dest": "https://user:pw@example.com/hook", "stream": true }),
            "credentials in the URL",
        ),
        (json!({ "dest": "not a url", "stream": true }), "not a URL"),
        (
            json!({ "dest": "https://example.com/hook", "stream": false }),
            "scheduled",
        ),
        (
            json!({ "dest": "https://example.com/hook", "stream": true, "initialRecordTime": "soon" }),
            "a bad time",
        ),
    ] {
        let (s, answer) = h
            .call(
                Method::POST,
                "/epcis/queries/q/subscriptions",
                &erp,
                Some(body),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}: {answer}");
    }
    for (query, why) in [
        (json!({ "EQ_bizStep": [1] }), "not strings"),
        (json!({ "WD_nonsense": ["x"] }), "unknown parameter"),
        (json!({ "GE_eventTime": "yesterday" }), "bad time"),
        (json!({ "perPage": "5" }), "paging is not a query"),
        (json!("EQ_bizStep=x"), "not an object"),
    ] {
        let (s, answer) = h
            .call(
                Method::POST,
                "/epcis/queries",
                &erp,
                Some(json!({ "name": "bad", "query": query })),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{why}: {answer}");
    }
    let (s, _) = h
        .call(
            Method::POST,
            "/epcis/queries",
            &erp,
            Some(json!({ "name": "q", "query": {} })),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
}
