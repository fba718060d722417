//! The manufacturer's API on a running hub over HTTPS, as its systems meet it: accounts made
//! with `custodian hub account`, an EPCIS XML document captured by a partner's system and a
//! JSON-LD event by the manufacturer's, each partner's reader reaching only its own
//! organisation's events, a revoked key refused, and every change on the trail that
//! `custodian hub audit` prints, with where it came from. Run on SQLite, and on PostgreSQL in
//! the test command's PostgreSQL pass.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::time::Duration;

use custodian_e2e::{HubProcess, custodian, json};
use serde_json::{Value, json};

/// `custodian hub account create` with --json: the account's API key.
fn account(hub: &HubProcess, id: &str, role: &str, org: &str) -> String {
    let out = json(&custodian(&[
        "hub",
        "account",
        "create",
        "--data",
        hub.data(),
        id,
        "--kind",
        "service",
        "--role",
        role,
        "--org",
        org,
        "--json",
    ]));
    out["key"]["token"].as_str().unwrap().to_string()
}

/// A client of the hub's API trusting its CA, and what it answered.
struct Api {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    base: String,
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        json(&self.body)
    }
}

impl Api {
    fn new(hub: &HubProcess) -> Api {
        let ca =
            std::fs::read(std::path::Path::new(hub.data()).join("tls").join("ca.der")).unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_der(&ca).unwrap())
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        Api {
            rt,
            client,
            base: format!("https://{}", hub.address()),
        }
    }

    fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<(&str, String)>,
    ) -> Answer {
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some((kind, body)) = body {
            request = request.header("Content-Type", kind).body(body);
        }
        self.rt.block_on(async {
            let resp = request.send().await.unwrap();
            Answer {
                status: resp.status().as_u16(),
                headers: resp.headers().clone(),
                body: resp.text().await.unwrap(),
            }
        })
    }

    fn get(&self, path: &str, token: &str) -> Answer {
        self.send(reqwest::Method::GET, path, token, None)
    }

    fn post(&self, path: &str, token: &str, kind: &str, body: String) -> Answer {
        self.send(reqwest::Method::POST, path, token, Some((kind, body)))
    }
}

fn events_of(page: &Value) -> Vec<Value> {
    page["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        .as_array()
        .unwrap_or_else(|| panic!("not a query document: {page}"))
        .clone()
}

/// The demo's unit `n`: its GTIN and serial.
fn demo_unit(n: usize) -> (String, String) {
    let text =
        std::fs::read_to_string(custodian_e2e::workspace().join("fixtures/demo/serials.jsonl"))
            .unwrap();
    let line = json(text.lines().nth(n).unwrap());
    (
        line["gtin"].as_str().unwrap().to_string(),
        line["serial"].as_str().unwrap().to_string(),
    )
}

/// The demo's unit `n` as an SGTIN URN (the demo's GS1 company prefix has 7 digits).
fn sgtin(n: usize) -> String {
    let (gtin, serial) = demo_unit(n);
    format!(
        "urn:epc:id:sgtin:{}.{}{}.{serial}",
        &gtin[1..8],
        &gtin[0..1],
        &gtin[8..13]
    )
}

#[test]
fn partners_systems_capture_and_read_only_their_own_events_over_https() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start(tmp.path(), true);
    let api = Api::new(&hub);
    let admin = account(&hub, "root", "administrator", "acme");
    let a_wms = account(&hub, "a-wms", "integration", "dist-a");
    let a_reader = account(&hub, "a-reader", "partner", "dist-a");
    let b_reader = account(&hub, "b-reader", "partner", "dist-b");
    let erp = account(&hub, "erp", "integration", "acme");

    // dist-a's WMS sends EPCIS XML, as many trading partners still do.
    let xml = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" schemaVersion="2.0" creationDate="2026-01-02T00:00:00Z">
  <EPCISBody><EventList>
    <ObjectEvent>
      <eventTime>2026-01-02T09:00:00Z</eventTime>
      <eventTimeZoneOffset>+01:00</eventTimeZoneOffset>
      <epcList><epc>{}</epc></epcList>
      <action>OBSERVE</action>
      <bizStep>inspecting</bizStep>
      <readPoint><id>urn:epc:id:sgln:4012345.00001.0</id></readPoint>
    </ObjectEvent>
  </EventList></EPCISBody>
</epcis:EPCISDocument>"#,
        sgtin(3)
    );
    let resp = api.post("/epcis/capture", &a_wms, "application/xml", xml);
    assert_eq!(resp.status, 202, "{}", resp.body);
    assert_eq!(resp.headers["gs1-epcis-version"], "2.0.0");
    let job_url = resp.headers["location"].to_str().unwrap().to_string();
    let job = (0..300)
        .find_map(|_| {
            let job = api.get(&job_url, &a_wms).json();
            if job["running"] == false {
                Some(job)
            } else {
                std::thread::sleep(Duration::from_millis(20));
                None
            }
        })
        .expect("the capture job finishes");
    assert_eq!(job["success"], true, "{job}");

    // The manufacturer's ERP posts one event.
    let event = json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "ObjectEvent",
        "eventTime": "2026-01-03T09:00:00Z",
        "eventTimeZoneOffset": "+01:00",
        "epcList": [sgtin(4)],
        "action": "OBSERVE",
        "bizStep": "inspecting",
    });
    let resp = api.post(
        "/epcis/events",
        &erp,
        "application/ld+json",
        event.to_string(),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let location = resp.headers["location"].to_str().unwrap().to_string();
    let stored = api.get(&location, &erp).json();
    assert_eq!(stored["epcList"], json!([sgtin(4)]));

    let query = |token: &str, q: &str| -> Vec<Value> {
        let resp = api.get(&format!("/epcis/events?{q}"), token);
        assert_eq!(resp.status, 200, "{}", resp.body);
        events_of(&resp.json())
    };
    // dist-a reads its own event, not the manufacturer's; dist-b reads neither; the ERP both.
    let a = query(&a_reader, "perPage=100");
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["epcList"], json!([sgtin(3)]));
    assert_eq!(query(&b_reader, "perPage=100").len(), 0);
    assert_eq!(
        query(&b_reader, &format!("MATCH_epc={}", sgtin(3))).len(),
        0
    );
    assert_eq!(query(&erp, "perPage=100").len(), 2);
    // The unit is found by its Digital Link as well as by the URN it was captured as.
    let (gtin, serial) = demo_unit(3);
    let dl = format!("https://id.gs1.org/01/{gtin}/21/{serial}");
    assert_eq!(query(&erp, &format!("MATCH_epc={dl}")).len(), 1);
    // Every kind of clause the queries are built of, on this hub's store.
    for (q, n) in [
        ("eventType=ObjectEvent%7CAggregationEvent", 2),
        ("EQ_bizStep=inspecting&EQ_action=OBSERVE", 2),
        (
            "GE_eventTime=2026-01-03T00:00:00Z&LT_eventTime=2026-02-01T00:00:00Z",
            1,
        ),
        ("GE_recordTime=2026-01-01T00:00:00Z", 2),
        ("EQ_readPoint=urn:epc:id:sgln:4012345.00001.0", 1),
        ("EQ_bizLocation=urn:epc:id:sgln:4012345.00001.0", 0),
        ("EXISTS_errorDeclaration=false", 2),
        ("EQ_disposition=in_transit", 0),
    ] {
        assert_eq!(query(&erp, q).len(), n, "{q}");
    }
    let anyepc = format!("MATCH_anyEPC={}", sgtin(4));
    assert_eq!(query(&erp, &anyepc).len(), 1);
    assert_eq!(query(&a_reader, &anyepc).len(), 0);
    // Pages of one event each, chained by Link.
    let first = api.get("/epcis/events?perPage=1", &erp);
    let link = first.headers["link"].to_str().unwrap().to_string();
    let next = api.get(&link[1..link.find('>').unwrap()], &erp);
    assert_eq!(next.status, 200);
    assert!(next.headers.get("link").is_none());
    assert_ne!(events_of(&first.json()), events_of(&next.json()));
    // The top-level resources, each as the caller may see them.
    let epcs: Vec<String> = serde_json::from_str(&api.get("/epcis/epcs", &erp).body).unwrap();
    assert_eq!(epcs.len(), 2, "{epcs:?}");
    let epcs: Vec<String> = serde_json::from_str(&api.get("/epcis/epcs", &a_reader).body).unwrap();
    assert_eq!(epcs, std::slice::from_ref(&dl));
    let steps = api.get("/epcis/bizSteps/inspecting/events", &a_reader);
    assert_eq!(events_of(&steps.json()).len(), 1);
    let escaped: String = location.trim_start_matches("/epcis/events/").to_string();
    assert_eq!(
        api.get(&format!("/epcis/events/{escaped}"), &a_reader)
            .status,
        404
    );

    // A reader cannot capture, and a revoked key is refused at once.
    let resp = api.post(
        "/epcis/events",
        &a_reader,
        "application/ld+json",
        event.to_string(),
    );
    assert_eq!(resp.status, 403);
    let key_id = b_reader.split('_').nth(1).unwrap();
    custodian(&[
        "hub",
        "account",
        "revoke",
        "--data",
        hub.data(),
        "b-reader",
        key_id,
    ]);
    assert_eq!(api.get("/epcis/events", &b_reader).status, 401);

    // Text no store can hold is the caller's error, on either store, and changes nothing.
    let resp = api.post(
        "/api/v1/accounts",
        &admin,
        "application/json",
        json!({ "id": "x", "kind": "service", "role": "quality", "org": "acme\u{0}" }).to_string(),
    );
    assert_eq!(resp.status, 400, "{}", resp.body);
    let resp = api.get("/epcis/events?EQ_bizStep=inspecting%00", &erp);
    assert_eq!(resp.status, 400, "{}", resp.body);
    assert_eq!(api.get("/epcis/events/urn:x%00", &erp).status, 404);
    assert_eq!(api.get("/epcis/capture/x%00", &erp).status, 404);

    // Every change, through the API or the command line, is on the trail: who, what, whence.
    let resp = api.get("/api/v1/audit?limit=100", &admin);
    assert_eq!(resp.status, 200);
    let trail: Vec<Value> = serde_json::from_str(&resp.body).unwrap();
    let lines: Vec<(String, String, String)> = trail
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_string(),
                e["action"].as_str().unwrap().to_string(),
                e["origin"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let of = |actor: &str, action: &str| {
        lines
            .iter()
            .filter(|(a, b, _)| a == actor && b == action)
            .map(|(_, _, o)| o.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(of("a-wms", "epcis.capture"), ["127.0.0.1"]);
    assert_eq!(of("erp", "epcis.event"), ["127.0.0.1"]);
    assert!(
        lines
            .iter()
            .filter(|(a, b, o)| a.starts_with("cli:") && b == "account.create" && o == "cli")
            .count()
            == 5,
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|(a, b, _)| a.starts_with("cli:") && b == "account.key.revoke")
    );
    // The command line prints the same trail.
    let printed = custodian(&["hub", "audit", "--data", hub.data(), "--json"]);
    assert_eq!(printed.lines().count(), trail.len());
    let last: Value = json(printed.lines().last().unwrap());
    assert_eq!(last, *trail.last().unwrap());
}

/// `custodian bench capture` at a small size: its capture jobs must all succeed and each query
/// find its EPC's events, or it fails; its figures have the keys the issue's goals name.
#[test]
fn the_capture_benchmark_runs_and_reports_its_figures() {
    let out = custodian_e2e::custodian_output(
        &[
            "bench",
            "capture",
            "--events",
            "2000",
            "--per-document",
            "500",
            "--stored",
            "6000",
            "--queries",
            "40",
            "--json",
        ],
        None,
    );
    assert!(
        out.status.success(),
        "bench capture failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let figures = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(figures["events"], 2000);
    assert_eq!(
        figures["judged"], 200,
        "one event in ten is judged: {figures}"
    );
    assert_eq!(figures["stored"], 6000);
    assert_eq!(figures["queries"], 40);
    for key in ["events_per_s", "p99_ms", "query_p50_ms", "query_p99_ms"] {
        assert!(figures[key].as_f64().unwrap() > 0.0, "{key}: {figures}");
    }
}

/// Each delivery an endpoint received: its body and its `GS1-Signature`.
type Deliveries = std::sync::Arc<std::sync::Mutex<Vec<(String, Option<String>)>>>;

/// A query subscriber's HTTPS endpoint on loopback: every delivery's body and signature.
struct Subscriber {
    url: String,
    ca_pem_file: std::path::PathBuf,
    received: Deliveries,
    _dir: tempfile::TempDir,
    _rt: tokio::runtime::Runtime,
}

fn subscriber() -> Subscriber {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let material = custodian_hub::tls::load_or_create(dir.path(), &[]).unwrap();
    let ca_pem_file = dir.path().join("subscriber-ca.der");
    std::fs::write(&ca_pem_file, &material.ca_der).unwrap();
    let received: Deliveries = std::sync::Arc::default();
    let kept = received.clone();
    let app = axum::Router::new().route(
        "/events",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let kept = kept.clone();
                async move {
                    kept.lock().unwrap().push((
                        String::from_utf8(body.to_vec()).unwrap(),
                        headers
                            .get("GS1-Signature")
                            .map(|v| v.to_str().unwrap().to_string()),
                    ));
                    axum::http::StatusCode::NO_CONTENT
                }
            },
        ),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let config = axum_server::tls_rustls::RustlsConfig::from_pem(
            material.cert_pem.into_bytes(),
            material.key_pem.into_bytes(),
        )
        .await
        .unwrap();
        tokio::spawn(axum_server::from_tcp_rustls(listener, config).serve(app.into_make_service()));
    });
    Subscriber {
        url: format!("https://127.0.0.1:{port}/events"),
        ca_pem_file,
        received,
        _dir: dir,
        _rt: rt,
    }
}

#[test]
fn a_running_hub_delivers_a_subscription_to_its_subscriber_signed() {
    let sub = subscriber();
    let tmp = tempfile::tempdir().unwrap();
    let hub = HubProcess::start_with(
        tmp.path(),
        true,
        "127.0.0.1:0",
        &["--webhook-ca", sub.ca_pem_file.to_str().unwrap()],
    );
    let api = Api::new(&hub);
    let a_reader = account(&hub, "a-reader", "partner", "dist-a");
    let a_wms = account(&hub, "a-wms", "integration", "dist-a");
    let erp = account(&hub, "erp", "integration", "acme");
    let define = json!({ "name": "dist-a-inspections", "query": { "EQ_bizStep": ["inspecting"] } });
    let resp = api.post(
        "/epcis/queries",
        &a_reader,
        "application/json",
        define.to_string(),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let subscribe = json!({ "dest": sub.url, "signatureToken": "t0ken-of-dist-a", "stream": true });
    let resp = api.post(
        "/epcis/queries/dist-a-inspections/subscriptions",
        &a_reader,
        "application/json",
        subscribe.to_string(),
    );
    assert_eq!(resp.status, 201, "{}", resp.body);
    let event = |n: usize, day: u32| {
        json!({
            "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
            "type": "ObjectEvent",
            "eventTime": format!("2026-03-{day:02}T09:00:00Z"),
            "eventTimeZoneOffset": "+01:00",
            "epcList": [sgtin(n)],
            "action": "OBSERVE",
            "bizStep": "inspecting",
        })
        .to_string()
    };
    assert_eq!(
        api.post("/epcis/events", &erp, "application/ld+json", event(11, 1))
            .status,
        201
    );
    assert_eq!(
        api.post("/epcis/events", &a_wms, "application/ld+json", event(12, 2))
            .status,
        201
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sub.received.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    // A moment more: nothing else may follow.
    std::thread::sleep(Duration::from_millis(1500));
    let got = sub.received.lock().unwrap().clone();
    assert_eq!(got.len(), 1, "one delivery: {got:?}");
    let (body, signature) = &got[0];
    assert_eq!(
        signature.as_deref(),
        Some(custodian_hub::subscriptions::signature("t0ken-of-dist-a", body.as_bytes()).as_str())
    );
    let events = events_of(&json(body));
    assert_eq!(events.len(), 1, "only dist-a's own event: {events:?}");
    assert_eq!(events[0]["epcList"], json!([sgtin(12)]));
}
