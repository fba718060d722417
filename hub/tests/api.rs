//! The manufacturer's API through the hub's router, in process: the EPCIS 2.0 REST binding
//! (capture jobs, single events, queries, top-level resources, version headers), accounts and
//! their credentials, roles, a partner's reach, and the audit trail — tried as each role, as a
//! hostile partner and as an anonymous caller would.

#![allow(
    clippy::unwrap_used,
    reason = "tests fail loudly on any unexpected error"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request, StatusCode};
use custodian_hub::accounts::{Caller, Kind, NewAccount, Role, Rotation};
use custodian_hub::verify::PublicOptions;
use custodian_hub::{Registry, demo, server};
use serde_json::{Value, json};
use tower::ServiceExt;

struct Hub {
    app: axum::Router,
    registry: Arc<Registry>,
    data: demo::DemoData,
    dir: tempfile::TempDir,
}

fn hub() -> Hub {
    let dir = tempfile::tempdir().unwrap();
    let registry = Arc::new(Registry::open_with_key(dir.path(), demo::issuer_key).unwrap());
    let data = demo::seed(&registry).unwrap();
    let client: SocketAddr = "192.0.2.7:4000".parse().unwrap();
    let app = server::router(registry.clone(), &PublicOptions::default())
        .unwrap()
        .layer(MockConnectInfo(client));
    Hub {
        app,
        registry,
        data,
        dir,
    }
}

fn admin() -> Caller {
    Caller::command_line("tester", "")
}

impl Hub {
    /// A service account of `role` for `org`, and its API key.
    fn key(&self, id: &str, role: Role, org: &str) -> String {
        self.registry
            .create_account(
                &admin(),
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
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        if body.is_some() {
            request = request.header("Content-Type", "application/json");
        }
        let request = request
            .body(body.map_or_else(Body::empty, Body::from))
            .unwrap();
        let resp = self.app.clone().oneshot(request).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, headers, body)
    }

    async fn get(&self, uri: &str, token: &str) -> (StatusCode, Value) {
        let (s, _, b) = self.call(Method::GET, uri, Some(token), None).await;
        (s, b)
    }

    /// Captures `doc` as a capture job and waits for it to finish: the job.
    async fn capture(&self, token: &str, doc: &Value) -> Value {
        let (status, headers, body) = self
            .call(
                Method::POST,
                "/epcis/capture",
                Some(token),
                Some(doc.to_string()),
            )
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let location = headers["location"].to_str().unwrap().to_string();
        for _ in 0..500 {
            let (s, job) = self.get(&location, token).await;
            assert_eq!(s, StatusCode::OK, "{job}");
            if job["running"] == false {
                return job;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("capture job {location} did not finish");
    }

    /// Rows of each table the API changes: what a refused call must leave as it was.
    fn counts(&self) -> Vec<(String, i64)> {
        let conn = rusqlite::Connection::open(self.dir.path().join("hub.sqlite")).unwrap();
        [
            "accounts",
            "credentials",
            "audit",
            "captured_events",
            "captured_epcs",
            "capture_jobs",
            "events",
            "flags",
        ]
        .iter()
        .map(|t| {
            (
                t.to_string(),
                conn.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                    .unwrap(),
            )
        })
        .collect()
    }
}

/// An EPCIS document of `events`.
fn document(events: Vec<Value>) -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-01-01T00:00:00Z",
        "epcisBody": { "eventList": events }
    })
}

/// An ObjectEvent observing `epcs` at `location` on `day` of January 2026.
fn observation(epcs: &[String], step: &str, location: &str, day: u32) -> Value {
    json!({
        "type": "ObjectEvent",
        "eventTime": format!("2026-01-{day:02}T10:00:00Z"),
        "eventTimeZoneOffset": "+00:00",
        "epcList": epcs,
        "action": "OBSERVE",
        "bizStep": step,
        "readPoint": { "id": location },
        "bizLocation": { "id": location },
    })
}

/// A unit the demo issued, as a Digital Link on id.gs1.org, and as an SGTIN URN.
fn unit(h: &Hub, n: usize) -> (String, String) {
    let s = &h.data.serials[n];
    let dl = format!("https://id.gs1.org/01/{}/21/{}", s.gtin, s.serial);
    // GS1 company prefix of the demo's GTINs: 7 digits (ACME's 4012345).
    let g = &s.gtin;
    let urn = format!(
        "urn:epc:id:sgtin:{}.{}{}.{}",
        &g[1..8],
        &g[0..1],
        &g[8..13],
        s.serial
    );
    (dl, urn)
}

const LOCATION_A: &str = "urn:epc:id:sgln:4012345.00001.0";
const LOCATION_B: &str = "urn:epc:id:sgln:4012345.00002.0";

/// Every endpoint of the API, and the roles that may call it — written out here, not read from
/// the hub, so that a change of the hub's table of permissions shows up as a failing test.
fn endpoints(h: &Hub) -> Vec<(Method, String, Option<String>, Vec<Role>)> {
    use Role::*;
    let everyone = vec![
        Administrator,
        Quality,
        BrandProtection,
        Service,
        Integration,
        Partner,
    ];
    let capture = vec![Administrator, Integration];
    let admin = vec![Administrator];
    let master = vec![
        Administrator,
        Quality,
        BrandProtection,
        Service,
        Integration,
    ];
    let quality = vec![Administrator, Quality];
    let brand = vec![Administrator, BrandProtection];
    let flags = vec![Administrator, Quality, BrandProtection];
    let histories = vec![Administrator, Quality, BrandProtection, Service];
    let (dl, _) = unit(h, 0);
    let gtin = h.data.serials[0].gtin.clone();
    let recall = json!({ "gtin": gtin, "lot": "L-BENCH", "reason": "loose battery contacts" });
    let alert = json!({ "code": dl, "reason": "cloned label found in a market stall" });
    let history = format!(
        "/api/v1/units/{}/history",
        dl.replace('/', "%2F").replace(':', "%3A")
    );
    let doc = document(vec![observation(
        std::slice::from_ref(&dl),
        "inspecting",
        LOCATION_A,
        2,
    )]);
    let mut event = observation(&[dl], "inspecting", LOCATION_A, 3);
    event["@context"] = json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]);
    let account = json!({ "id": "new-one", "kind": "service", "role": "quality", "org": "acme" });
    vec![
        (Method::GET, "/epcis/".into(), None, everyone.clone()),
        (Method::GET, "/epcis/events".into(), None, everyone.clone()),
        (
            Method::GET,
            "/epcis/eventTypes".into(),
            None,
            everyone.clone(),
        ),
        (Method::GET, "/epcis/epcs".into(), None, everyone.clone()),
        (
            Method::GET,
            "/epcis/bizSteps/inspecting/events".into(),
            None,
            everyone.clone(),
        ),
        (
            Method::POST,
            "/epcis/capture".into(),
            Some(doc.to_string()),
            capture.clone(),
        ),
        (Method::GET, "/epcis/capture".into(), None, capture.clone()),
        (
            Method::POST,
            "/epcis/events".into(),
            Some(event.to_string()),
            capture.clone(),
        ),
        (Method::GET, "/api/v1/accounts".into(), None, admin.clone()),
        (
            Method::POST,
            "/api/v1/accounts".into(),
            Some(account.to_string()),
            admin.clone(),
        ),
        (
            Method::GET,
            "/api/v1/accounts/reader".into(),
            None,
            admin.clone(),
        ),
        (
            Method::POST,
            "/api/v1/accounts/reader/keys".into(),
            Some("{}".into()),
            admin.clone(),
        ),
        (
            Method::POST,
            "/api/v1/accounts/reader/disable".into(),
            None,
            admin.clone(),
        ),
        (
            Method::DELETE,
            "/api/v1/accounts/reader/keys/0000000000000000".into(),
            None,
            admin.clone(),
        ),
        (Method::GET, "/api/v1/audit".into(), None, admin.clone()),
        (Method::GET, "/api/v1/products".into(), None, master.clone()),
        (Method::GET, "/api/v1/partners".into(), None, master.clone()),
        (
            Method::POST,
            "/api/v1/recalls".into(),
            Some(recall.to_string()),
            quality.clone(),
        ),
        (
            Method::POST,
            "/api/v1/recalls/withdraw".into(),
            Some(recall.to_string()),
            quality.clone(),
        ),
        (Method::GET, "/api/v1/alerts".into(), None, brand.clone()),
        (
            Method::POST,
            "/api/v1/alerts".into(),
            Some(alert.to_string()),
            brand.clone(),
        ),
        (
            Method::POST,
            "/api/v1/alerts/clear".into(),
            Some(alert.to_string()),
            brand.clone(),
        ),
        (Method::GET, "/api/v1/flags".into(), None, flags.clone()),
        (Method::GET, history, None, histories.clone()),
        (
            Method::POST,
            "/epcis/queries".into(),
            Some(
                json!({ "name": "new-query", "query": { "EQ_bizStep": ["inspecting"] } })
                    .to_string(),
            ),
            everyone.clone(),
        ),
        (Method::GET, "/epcis/queries".into(), None, everyone.clone()),
    ]
}

#[tokio::test]
async fn every_endpoint_refuses_a_role_without_the_right_and_changes_nothing() {
    let h = hub();
    h.key("reader", Role::Quality, "acme");
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let org = if role == Role::Partner {
            "dist-a"
        } else {
            "acme"
        };
        tokens.push((role, h.key(&format!("as-{}", role.as_str()), role, org)));
    }
    let mut refused = 0;
    for (method, uri, body, allowed) in endpoints(&h) {
        for (role, token) in &tokens {
            if allowed.contains(role) {
                continue;
            }
            let before = h.counts();
            let (status, _, answer) = h
                .call(method.clone(), &uri, Some(token), body.clone())
                .await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "{method} {uri} as {role:?}: {answer}"
            );
            assert_eq!(answer["type"], "epcisException:SecurityException");
            assert_eq!(
                h.counts(),
                before,
                "{method} {uri} as {role:?} changed something"
            );
            refused += 1;
        }
    }
    // Every role the table leaves out of an endpoint was refused it.
    let expected: usize = endpoints(&h)
        .iter()
        .map(|(_, _, _, allowed)| Role::ALL.len() - allowed.len())
        .sum();
    assert_eq!(refused, expected);
    assert!(refused >= 60, "{refused}");
    // Those allowed are let through (their own errors aside: never 401 or 403).
    for (method, uri, body, allowed) in endpoints(&h) {
        for (role, token) in &tokens {
            if !allowed.contains(role) {
                continue;
            }
            let (status, _, answer) = h
                .call(method.clone(), &uri, Some(token), body.clone())
                .await;
            assert!(
                status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                "{method} {uri} as {role:?}: {status} {answer}"
            );
        }
    }
}

#[tokio::test]
async fn an_anonymous_or_forged_caller_is_refused_alike() {
    let h = hub();
    let key = h.key("erp", Role::Integration, "acme");
    let (id, _) = key.strip_prefix("cust_").unwrap().split_once('_').unwrap();
    let forged = [
        None,
        Some("".to_string()),
        Some("cust_".to_string()),
        Some("not-a-key".to_string()),
        Some(format!(
            "cust_{id}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        )),
        Some(format!("cust_0000000000000000_{}", &key[22..])),
        Some("x".repeat(100_000)),
    ];
    for (method, uri, body, _) in endpoints(&h) {
        for token in &forged {
            let before = h.counts();
            let (status, headers, answer) = h
                .call(method.clone(), &uri, token.as_deref(), body.clone())
                .await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "{method} {uri} with {token:?}: {answer}"
            );
            assert_eq!(headers["www-authenticate"], "Bearer");
            assert_eq!(h.counts(), before);
        }
    }
    // The real key works.
    assert_eq!(h.get("/epcis/events", &key).await.0, StatusCode::OK);
}

#[tokio::test]
async fn keys_rotate_and_revoke_and_a_disabled_account_is_refused() {
    let h = hub();
    let old = h.key("erp", Role::Integration, "acme");
    let admin_key = h.key("root", Role::Administrator, "acme");
    assert_eq!(h.get("/epcis/events", &old).await.0, StatusCode::OK);
    // A rotation with a grace period leaves the old key working for now.
    let (s, _, kept) = h
        .call(
            Method::POST,
            "/api/v1/accounts/erp/keys",
            Some(&admin_key),
            Some(json!({ "retire_others_after_seconds": 3600 }).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{kept}");
    assert_eq!(h.get("/epcis/events", &old).await.0, StatusCode::OK);
    // One that retires the others at once stops both earlier keys.
    let (s, _, new) = h
        .call(
            Method::POST,
            "/api/v1/accounts/erp/keys",
            Some(&admin_key),
            Some(json!({ "retire_others_after_seconds": 0 }).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let new = new["token"].as_str().unwrap().to_string();
    assert_eq!(
        h.get("/epcis/events", &old).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        h.get("/epcis/events", kept["token"].as_str().unwrap())
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(h.get("/epcis/events", &new).await.0, StatusCode::OK);
    // Revoked: refused at once.
    let new_id = new.split('_').nth(1).unwrap();
    let (s, _, _) = h
        .call(
            Method::DELETE,
            &format!("/api/v1/accounts/erp/keys/{new_id}"),
            Some(&admin_key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        h.get("/epcis/events", &new).await.0,
        StatusCode::UNAUTHORIZED
    );
    // A disabled account's keys are refused, and it gets no new one.
    let other = h.key("wms", Role::Integration, "acme");
    let (s, _, _) = h
        .call(
            Method::POST,
            "/api/v1/accounts/wms/disable",
            Some(&admin_key),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(
        h.get("/epcis/events", &other).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (s, _, _) = h
        .call(
            Method::POST,
            "/api/v1/accounts/wms/keys",
            Some(&admin_key),
            Some("{}".into()),
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The secrets are not kept: only digests are in the store.
    let conn = rusqlite::Connection::open(h.dir.path().join("hub.sqlite")).unwrap();
    let secret = new.rsplit('_').next().unwrap();
    let found: i64 = conn
        .query_row(
            "SELECT count(*) FROM credentials WHERE secret_sha256 LIKE '%' || ?1 || '%'",
            [secret],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(found, 0);
    // Each change is on the audit trail, by whom and from where.
    let (s, trail) = h.get("/api/v1/audit?limit=1000", &admin_key).await;
    assert_eq!(s, StatusCode::OK);
    let actions: Vec<(&str, &str, &str)> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap(),
                e["origin"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            ("cli:tester", "account.create", "cli"),
            ("cli:tester", "account.create", "cli"),
            ("root", "account.key.create", "192.0.2.7"),
            ("root", "account.key.create", "192.0.2.7"),
            ("root", "account.key.revoke", "192.0.2.7"),
            ("cli:tester", "account.create", "cli"),
            ("root", "account.disable", "192.0.2.7"),
        ]
    );
}

#[tokio::test]
async fn a_user_signs_in_with_a_password_hashed_with_argon2() {
    let h = hub();
    h.registry
        .create_account(
            &admin(),
            &NewAccount {
                id: "q.lead@acme".into(),
                kind: Kind::User,
                role: Role::Quality,
                org: "acme".into(),
                password: Some("correct horse battery".into()),
            },
            chrono::Utc::now(),
        )
        .unwrap();
    let sign_in =
        |password: &str| json!({ "account": "q.lead@acme", "password": password }).to_string();
    let (s, _, body) = h
        .call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(sign_in("wrong horse battery")),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    let (s, _, unknown) = h
        .call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(json!({ "account": "nobody", "password": "correct horse battery" }).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown["title"], body["title"],
        "a wrong name and a wrong password read alike"
    );
    let (s, _, session) = h
        .call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(sign_in("correct horse battery")),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{session}");
    let token = session["token"].as_str().unwrap();
    let (s, me) = h.get("/api/v1/whoami", token).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        me,
        json!({ "account": "q.lead@acme", "role": "quality", "org": "acme" })
    );
    // The password is kept as an Argon2id hash, never as given.
    let conn = rusqlite::Connection::open(h.dir.path().join("hub.sqlite")).unwrap();
    let stored: String = conn
        .query_row(
            "SELECT password FROM accounts WHERE id = 'q.lead@acme'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");
    assert!(!stored.contains("correct horse"));
    // Too short a password is refused.
    let short = h.registry.create_account(
        &admin(),
        &NewAccount {
            id: "short".into(),
            kind: Kind::User,
            role: Role::Service,
            org: "acme".into(),
            password: Some("12345".into()),
        },
        chrono::Utc::now(),
    );
    assert!(short.is_err());
}

#[tokio::test]
async fn roles_must_fit_the_organisation() {
    let h = hub();
    for (role, org, ok) in [
        (Role::Partner, "acme", false),
        (Role::Quality, "dist-a", false),
        (Role::Administrator, "dist-a", false),
        (Role::Partner, "dist-a", true),
        (Role::Integration, "dist-a", true),
        (Role::Integration, "acme", true),
        (Role::Quality, "nowhere", false),
    ] {
        let made = h.registry.create_account(
            &admin(),
            &NewAccount {
                id: format!("{}-{org}", role.as_str()),
                kind: Kind::Service,
                role,
                org: org.into(),
                password: None,
            },
            chrono::Utc::now(),
        );
        assert_eq!(made.is_ok(), ok, "{role:?} for {org}: {made:?}");
    }
    let again = h.registry.create_account(
        &admin(),
        &NewAccount {
            id: "partner-dist-a".into(),
            kind: Kind::Service,
            role: Role::Partner,
            org: "dist-a".into(),
            password: None,
        },
        chrono::Utc::now(),
    );
    assert!(matches!(again, Err(custodian_hub::HubError::Conflict(_))));
}

#[tokio::test]
async fn a_partner_never_reads_another_partners_events() {
    let h = hub();
    let a_systems = h.key("a-wms", Role::Integration, "dist-a");
    let a_reader = h.key("a-reader", Role::Partner, "dist-a");
    let b_reader = h.key("b-reader", Role::Partner, "dist-b");
    let b_systems = h.key("b-wms", Role::Integration, "dist-b");
    let quality = h.key("quality", Role::Quality, "acme");
    let (dl, _) = unit(&h, 5);
    let job = h
        .capture(
            &a_systems,
            &document(vec![observation(
                std::slice::from_ref(&dl),
                "inspecting",
                LOCATION_A,
                4,
            )]),
        )
        .await;
    assert_eq!(job["success"], true, "{job}");
    let id = {
        let (_, page) = h.get("/epcis/events", &a_reader).await;
        let events = page["epcisBody"]["queryResults"]["resultsBody"]["eventList"].clone();
        assert_eq!(events.as_array().unwrap().len(), 1, "{page}");
        events[0]["eventID"].as_str().map(str::to_string)
    };
    // The event came without an id: the hub gave it one.
    let id = id.unwrap_or_else(|| {
        let conn = rusqlite::Connection::open(h.dir.path().join("hub.sqlite")).unwrap();
        conn.query_row("SELECT id FROM captured_events", [], |r| r.get(0))
            .unwrap()
    });
    let escaped = id
        .replace('/', "%2F")
        .replace(';', "%3B")
        .replace(':', "%3A")
        .replace('?', "%3F")
        .replace('=', "%3D");
    let epc = dl.replace('/', "%2F").replace(':', "%3A");
    // Everything another partner can ask names nothing of dist-a's.
    for uri in [
        "/epcis/events".to_string(),
        format!("/epcis/events?MATCH_anyEPC={epc}"),
        format!("/epcis/epcs/{epc}/events"),
        "/epcis/bizSteps/inspecting/events".to_string(),
        "/epcis/eventTypes/ObjectEvent/events".to_string(),
    ] {
        let (s, page) = h.get(&uri, &b_reader).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {page}");
        assert_eq!(
            page["epcisBody"]["queryResults"]["resultsBody"]["eventList"],
            json!([]),
            "{uri}"
        );
        let (_, page) = h.get(&uri, &a_reader).await;
        assert_eq!(
            page["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                .as_array()
                .unwrap()
                .len(),
            1,
            "{uri}: {page}"
        );
    }
    for uri in [
        "/epcis/epcs",
        "/epcis/bizSteps",
        "/epcis/readPoints",
        "/epcis/eventTypes",
    ] {
        let (s, values) = h.get(uri, &b_reader).await;
        assert_eq!((s, values), (StatusCode::OK, json!([])), "{uri}");
        let (_, values) = h.get(uri, &a_reader).await;
        assert_eq!(values.as_array().unwrap().len(), 1, "{uri}");
    }
    for uri in [
        format!("/epcis/events/{escaped}"),
        format!("/epcis/epcs/{epc}"),
    ] {
        assert_eq!(
            h.get(&uri, &b_reader).await.0,
            StatusCode::NOT_FOUND,
            "{uri}"
        );
        assert_eq!(h.get(&uri, &a_reader).await.0, StatusCode::OK, "{uri}");
    }
    // Its systems' capture jobs are its own too.
    let (_, jobs) = h.get("/epcis/capture", &b_systems).await;
    assert_eq!(jobs, json!([]));
    let job_uri = format!("/epcis/capture/{}", job["captureID"].as_str().unwrap());
    assert_eq!(h.get(&job_uri, &b_systems).await.0, StatusCode::NOT_FOUND);
    // The manufacturer's staff read every partner's events.
    let (_, page) = h.get("/epcis/events", &quality).await;
    assert_eq!(
        page["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A partner's system cannot speak for another organisation.
    let mut forged = observation(&[dl], "inspecting", LOCATION_A, 5);
    forged["cust:recordedBy"] =
        json!({ "cust:org": "dist-a", "cust:site": "hamburg", "cust:device": "hh-1" });
    let mut doc = document(vec![forged]);
    doc["@context"] = json!([
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        { "cust": "https://custodian.dev/epcis/" }
    ]);
    let before = h.counts();
    let job = h.capture(&b_systems, &doc).await;
    assert_eq!(job["success"], false, "{job}");
    assert_eq!(
        job["errors"][0]["type"], "epcisException:SecurityException",
        "{job}"
    );
    let after = h.counts();
    assert_eq!(
        after
            .iter()
            .filter(|(t, _)| t != "capture_jobs")
            .collect::<Vec<_>>(),
        before
            .iter()
            .filter(|(t, _)| t != "capture_jobs")
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_captured_receipt_reconciles_and_flags_as_a_scan_does() {
    let h = hub();
    let systems = h.key("a-wms", Role::Integration, "dist-a");
    let flags_before = h.registry.flags().unwrap().len();
    // dist-a receives a unit nobody shipped it: a receipt with no shipment on record.
    let (_, urn) = unit(&h, 7);
    let mut receipt = observation(&[urn], "receiving", LOCATION_B, 6);
    receipt["disposition"] = json!("in_progress");
    receipt["action"] = json!("OBSERVE");
    let job = h.capture(&systems, &document(vec![receipt])).await;
    assert_eq!(job["success"], true, "{job}");
    // The receiver's flag and the manufacturer's, as for a handheld's receipt.
    let flags = h.registry.flags().unwrap();
    let raised = &flags[flags_before..];
    let mut orgs: Vec<&str> = raised.iter().map(|f| f.org.as_str()).collect();
    orgs.sort_unstable();
    assert_eq!(orgs, ["acme", "dist-a"], "{flags:?}");
    assert!(
        raised
            .iter()
            .all(|f| format!("{:?}", f.kind) == "OutOfSequence"),
        "{raised:?}"
    );
    // The same unit as the hub's custody sees it: dist-a's receipt is in its history.
    let custody = h.registry.custody(&unit(&h, 7).0).unwrap();
    assert!(format!("{custody:?}").contains("dist-a"), "{custody:?}");
    // And on the audit trail.
    let trail = h
        .registry
        .audit(&admin(), &custodian_hub::audit::Filter::default())
        .unwrap();
    let capture = trail.iter().find(|e| e.action == "epcis.capture").unwrap();
    assert_eq!(capture.actor, "a-wms");
    assert_eq!(capture.detail["judged"], 1);
    assert_eq!(capture.detail["flags"], 2);
}

#[tokio::test]
async fn an_invalid_document_is_refused_with_its_path_and_stores_nothing() {
    let h = hub();
    let systems = h.key("erp", Role::Integration, "acme");
    let (dl, _) = unit(&h, 1);
    let good = observation(std::slice::from_ref(&dl), "inspecting", LOCATION_A, 2);
    let mut bad = observation(&[dl], "inspecting", LOCATION_A, 3);
    bad["action"] = json!("SHOUT");
    let before = h.counts();
    // Refused on receipt, whole, with the path of the first error: no job, nothing stored.
    let (status, _, answer) = h
        .call(
            Method::POST,
            "/epcis/capture",
            Some(&systems),
            Some(document(vec![good.clone(), bad.clone()]).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["type"], "epcisException:ValidationException");
    assert_eq!(
        answer["instance"], "epcisBody.eventList[1].action",
        "{answer}"
    );
    assert_eq!(h.counts(), before);
    // A single event likewise.
    let mut single = bad.clone();
    single["@context"] = json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]);
    let (status, _, answer) = h
        .call(
            Method::POST,
            "/epcis/events",
            Some(&systems),
            Some(single.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["instance"], "$.action", "{answer}");
    assert_eq!(h.counts(), before);
    // A document valid as EPCIS that the repository cannot store whole (an event of another
    // organisation's) fails in its job, and stores nothing either.
    let mut foreign = good.clone();
    foreign["cust:recordedBy"] =
        json!({ "cust:org": "dist-b", "cust:site": "x", "cust:device": "y" });
    let mut doc = document(vec![good, foreign]);
    doc["@context"] = json!([
        "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        { "cust": "https://custodian.dev/epcis/" }
    ]);
    let job = h.capture(&systems, &doc).await;
    assert_eq!(job["success"], false);
    assert_eq!(job["running"], false);
    assert_eq!(
        job["errors"][0]["instance"], "epcisBody.eventList[1]",
        "{job}"
    );
    let after = h.counts();
    for (table, n) in &after {
        let was = before.iter().find(|(t, _)| t == table).unwrap().1;
        let grew = if table == "capture_jobs" { 1 } else { 0 };
        assert_eq!(*n, was + grew, "{table}");
    }
    // Not JSON at all, or not a document: 400 at once, no job.
    for body in [
        "{",
        "[]",
        "<EPCISDocument",
        &json!({"type": "ObjectEvent"}).to_string(),
    ] {
        let (s, _, answer) = h
            .call(
                Method::POST,
                "/epcis/capture",
                Some(&systems),
                Some(body.into()),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert_eq!(answer["status"], 400);
    }
    assert_eq!(h.counts(), after);
    // Greedy capture is not offered: said so, not ignored.
    let (s, _, _) = {
        let request = Request::post("/epcis/capture")
            .header("Authorization", format!("Bearer {systems}"))
            .header("GS1-Capture-Error-Behaviour", "proceed")
            .body(Body::from(document(vec![]).to_string()))
            .unwrap();
        let resp = h.app.clone().oneshot(request).await.unwrap();
        (resp.status(), (), ())
    };
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn queries_select_by_the_standard_parameters_and_pages_chain() {
    let h = hub();
    let systems = h.key("erp", Role::Integration, "acme");
    let units: Vec<(String, String)> = (10..20).map(|n| unit(&h, n)).collect();
    let mut events = Vec::new();
    for (i, (dl, _)) in units.iter().enumerate() {
        let step = if i % 2 == 0 { "inspecting" } else { "storing" };
        let location = if i < 5 { LOCATION_A } else { LOCATION_B };
        events.push(observation(
            std::slice::from_ref(dl),
            step,
            location,
            1 + i as u32,
        ));
    }
    let job = h.capture(&systems, &document(events)).await;
    assert_eq!(job["success"], true, "{job}");
    let list = |page: &Value| -> Vec<Value> {
        page["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .clone()
    };
    let count = |q: String| {
        let h = &h;
        let systems = systems.clone();
        async move {
            let (s, page) = h.get(&format!("/epcis/events?{q}"), &systems).await;
            assert_eq!(s, StatusCode::OK, "{q}: {page}");
            list(&page).len()
        }
    };
    assert_eq!(count("perPage=100".into()).await, 10);
    assert_eq!(count("EQ_bizStep=inspecting".into()).await, 5);
    assert_eq!(
        count("EQ_bizStep=https://ref.gs1.org/cbv/BizStep-storing".into()).await,
        5
    );
    assert_eq!(count("EQ_bizStep=inspecting%7Cstoring".into()).await, 10);
    assert_eq!(count(format!("EQ_bizLocation={LOCATION_B}")).await, 5);
    assert_eq!(
        count(format!("EQ_readPoint={LOCATION_A}&EQ_bizStep=storing")).await,
        2
    );
    assert_eq!(
        count("GE_eventTime=2026-01-03T00:00:00Z&LT_eventTime=2026-01-06T00:00:00Z".into()).await,
        3
    );
    assert_eq!(count("eventType=AggregationEvent".into()).await, 0);
    assert_eq!(
        count("eventType=ObjectEvent&EQ_action=OBSERVE&perPage=50".into()).await,
        10
    );
    assert_eq!(
        count("GE_recordTime=2000-01-01T00:00:00Z&perPage=50".into()).await,
        10
    );
    // An EPC matches in any of its forms: the Digital Link it was captured as, or its URN.
    let (dl, urn) = &units[3];
    assert_eq!(count(format!("MATCH_epc={dl}")).await, 1);
    assert_eq!(count(format!("MATCH_epc={urn}")).await, 1);
    assert_eq!(count(format!("MATCH_anyEPC={urn}")).await, 1);
    assert_eq!(count(format!("MATCH_parentID={urn}")).await, 0);
    // Pages chain through Link until every event is read once.
    let mut uri = "/epcis/events?perPage=3".to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let (s, headers, page) = h.call(Method::GET, &uri, Some(&systems), None).await;
        assert_eq!(s, StatusCode::OK, "{uri}: {page}");
        pages += 1;
        seen.extend(
            list(&page)
                .iter()
                .map(|e| e["eventTime"].as_str().unwrap().to_string()),
        );
        let Some(link) = headers.get("link") else {
            break;
        };
        let link = link.to_str().unwrap();
        assert!(link.ends_with("rel=\"next\""), "{link}");
        uri = link[1..link.find('>').unwrap()].to_string();
    }
    assert_eq!(pages, 4);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 10, "{seen:?}");
    // A page token belongs to its query.
    let (_, headers, _) = h
        .call(Method::GET, "/epcis/events?perPage=3", Some(&systems), None)
        .await;
    let link = headers["link"].to_str().unwrap().to_string();
    let token = &link[link.find("nextPageToken=").unwrap() + 14..link.find('>').unwrap()];
    let (s, _, answer) = h
        .call(
            Method::GET,
            &format!("/epcis/events?perPage=3&EQ_bizStep=storing&nextPageToken={token}"),
            Some(&systems),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(answer["type"], "epcisException:QueryParameterException");
    // Bad parameters are the client's error, named.
    for q in [
        "perPage=0",
        "perPage=100000",
        "GE_eventTime=yesterday",
        "EQ_action=SHOUT",
        "EXISTS_errorDeclaration=maybe",
        "nextPageToken=garbage",
        "EQ_bizStep=",
    ] {
        let (s, _, answer) = h
            .call(
                Method::GET,
                &format!("/epcis/events?{q}"),
                Some(&systems),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {answer}");
        assert_eq!(
            answer["type"], "epcisException:QueryParameterException",
            "{q}"
        );
    }
    // Each event carries the time the repository recorded it.
    let (_, page) = h.get("/epcis/events?perPage=1", &systems).await;
    assert!(list(&page)[0]["recordTime"].is_string());
}

#[tokio::test]
async fn a_single_event_is_a_web_resource_and_a_repeat_stores_nothing() {
    let h = hub();
    let systems = h.key("erp", Role::Integration, "acme");
    let (dl, _) = unit(&h, 2);
    let mut event = observation(&[dl], "inspecting", LOCATION_A, 9);
    event["@context"] = json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]);
    event["eventID"] = json!("urn:uuid:6f7b1a52-2a8b-4b5f-8e5e-3c1f0a9d2b11");
    let (s, headers, answer) = h
        .call(
            Method::POST,
            "/epcis/events",
            Some(&systems),
            Some(event.to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{answer}");
    let location = headers["location"].to_str().unwrap().to_string();
    let (s, got) = h.get(&location, &systems).await;
    assert_eq!(s, StatusCode::OK, "{location}: {got}");
    assert_eq!(got["eventID"], event["eventID"]);
    assert_eq!(got["bizStep"], "inspecting");
    let before = h.counts();
    let (s, _, _) = h
        .call(
            Method::POST,
            "/epcis/events",
            Some(&systems),
            Some(event.to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let after = h.counts();
    let audit_grew = |c: &Vec<(String, i64)>| {
        c.iter()
            .filter(|(t, _)| t != "audit")
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(
        audit_grew(&after),
        audit_grew(&before),
        "a repeat stores nothing new"
    );
    // The same id with other content is a conflict.
    event["bizStep"] = json!("storing");
    let (s, _, answer) = h
        .call(
            Method::POST,
            "/epcis/events",
            Some(&systems),
            Some(event.to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "{answer}");
}

#[tokio::test]
async fn every_epcis_answer_names_its_versions_and_a_wrong_version_is_refused() {
    let h = hub();
    let key = h.key("erp", Role::Integration, "acme");
    let (s, headers, _) = h.call(Method::OPTIONS, "/epcis/capture", None, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(headers["gs1-epcis-version"], "2.0.0");
    assert_eq!(headers["gs1-cbv-version"], "2.0.0");
    assert_eq!(headers["gs1-capture-error-behaviour"], "rollback");
    assert!(headers["allow"].to_str().unwrap().contains("POST"));
    let (s, headers, top) = h.call(Method::GET, "/epcis/", Some(&key), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(headers["gs1-epcis-version"], "2.0.0");
    assert!(top.as_array().unwrap().contains(&json!("events")));
    let request = Request::get("/epcis/events")
        .header("Authorization", format!("Bearer {key}"))
        .header("GS1-EPCIS-Version", "1.2")
        .body(Body::empty())
        .unwrap();
    let resp = h.app.clone().oneshot(request).await.unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_ACCEPTABLE);
}

#[tokio::test]
async fn the_audit_trail_cannot_be_altered_even_in_the_store() {
    let h = hub();
    h.key("erp", Role::Integration, "acme");
    let conn = rusqlite::Connection::open(h.dir.path().join("hub.sqlite")).unwrap();
    let update = conn.execute("UPDATE audit SET actor = 'someone else'", []);
    assert!(update.is_err());
    let delete = conn.execute("DELETE FROM audit", []);
    assert!(delete.is_err());
    let n: i64 = conn
        .query_row(
            "SELECT count(*) FROM audit WHERE actor = 'cli:tester'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn the_openapi_description_covers_every_route() {
    let h = hub();
    let (s, _, doc) = h
        .call(Method::GET, "/api/v1/openapi.json", None, None)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(doc["openapi"].as_str().unwrap().get(..2), Some("3."));
    let paths = doc["paths"].as_object().unwrap();
    for (method, uri, _, _) in endpoints(&h) {
        // The route's template: the concrete values of the table replaced by their parameters.
        let template = match uri.as_str() {
            "/epcis/eventTypes" | "/epcis/epcs" => "/epcis/{resource}".to_string(),
            "/epcis/bizSteps/inspecting/events" => "/epcis/{resource}/{value}/events".to_string(),
            "/api/v1/accounts/reader" => "/api/v1/accounts/{id}".to_string(),
            "/api/v1/accounts/reader/keys" => "/api/v1/accounts/{id}/keys".to_string(),
            "/api/v1/accounts/reader/disable" => "/api/v1/accounts/{id}/disable".to_string(),
            "/api/v1/accounts/reader/keys/0000000000000000" => {
                "/api/v1/accounts/{id}/keys/{key}".to_string()
            }
            u if u.starts_with("/api/v1/units/") => "/api/v1/units/{code}/history".to_string(),
            other => other.to_string(),
        };
        let operation = &paths
            .get(&template)
            .unwrap_or_else(|| panic!("{template} is not described"))
            [method.as_str().to_ascii_lowercase()];
        assert!(
            operation.is_object(),
            "{method} {template} is not described"
        );
        assert!(operation["responses"].get("403").is_some() || template == "/api/v1/sessions");
    }
}

#[test]
fn a_rotation_request_reads_as_the_api_documents_it() {
    let r: Rotation = serde_json::from_str("{}").unwrap();
    assert_eq!(r.retire_others_after_seconds, None);
    let r: Rotation = serde_json::from_str(r#"{"retire_others_after_seconds": 5}"#).unwrap();
    assert_eq!(r.retire_others_after_seconds, Some(5));
}

#[tokio::test]
async fn quality_recalls_and_brand_protection_lists_a_counterfeit_on_the_record() {
    let h = hub();
    let quality = h.key("q", Role::Quality, "acme");
    let brand = h.key("bp", Role::BrandProtection, "acme");
    let service = h.key("svc", Role::Service, "acme");
    let gtin = h.data.serials[0].gtin.clone();
    let (s, _, answer) = h
        .call(
            Method::POST,
            "/api/v1/recalls",
            Some(&quality),
            Some(
                json!({ "gtin": gtin, "lot": "L9", "reason": "loose battery contacts" })
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{answer}");
    let extract = custodian_hub::registry::current_extract(&h.registry).unwrap();
    assert!(
        extract
            .recalls
            .iter()
            .any(|r| r.gtin == gtin && r.lot.as_deref() == Some("L9")),
        "{:?}",
        extract.recalls
    );
    // A reason is required, and bounded.
    for reason in ["", "   ", &"x".repeat(5000)] {
        let (s, _, _) = h
            .call(
                Method::POST,
                "/api/v1/recalls",
                Some(&quality),
                Some(json!({ "gtin": gtin, "reason": reason }).to_string()),
            )
            .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
    }
    let (dl, _) = unit(&h, 4);
    let (s, _, answer) = h
        .call(
            Method::POST,
            "/api/v1/alerts",
            Some(&brand),
            Some(json!({ "code": dl, "reason": "cloned label" }).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{answer}");
    let (s, list) = h.get("/api/v1/alerts", &brand).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        list.as_array().unwrap().iter().any(|a| a["epc"] == dl),
        "{list}"
    );
    let (s, _, _) = h
        .call(
            Method::POST,
            "/api/v1/alerts/clear",
            Some(&brand),
            Some(json!({ "code": dl, "reason": "genuine: the seal was intact" }).to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, list) = h.get("/api/v1/alerts", &brand).await;
    assert!(
        !list.as_array().unwrap().iter().any(|a| a["epc"] == dl),
        "{list}"
    );
    // Service reads the unit's history: its commissioning by the manufacturer.
    let path = format!(
        "/api/v1/units/{}/history",
        dl.replace('/', "%2F").replace(':', "%3A")
    );
    let (s, custody) = h.get(&path, &service).await;
    assert_eq!(s, StatusCode::OK, "{custody}");
    assert!(custody.to_string().contains("commissioning"), "{custody}");
    // Each change is on the trail, by whom.
    let trail = h
        .registry
        .audit(&admin(), &custodian_hub::audit::Filter::default())
        .unwrap();
    let done: Vec<(&str, &str)> = trail
        .iter()
        .filter(|e| !e.action.starts_with("account"))
        .map(|e| (e.actor.as_str(), e.action.as_str()))
        .collect();
    assert_eq!(
        done,
        [
            ("q", "recall.publish"),
            ("bp", "alert.list"),
            ("bp", "alert.clear")
        ]
    );
}

#[tokio::test]
async fn an_event_without_an_id_is_stored_under_its_cbv_hash_id() {
    let h = hub();
    let systems = h.key("erp", Role::Integration, "acme");
    let (_, urn) = unit(&h, 3);
    let mut event = observation(std::slice::from_ref(&urn), "storing", LOCATION_A, 11);
    event["@context"] = json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"]);
    let expected = custodian_ledger::epcis::event_hash_id(&event, None).unwrap();
    assert!(expected.ends_with("?ver=CBV2.0"), "{expected}");
    let (s, headers, answer) = h
        .call(
            Method::POST,
            "/epcis/events",
            Some(&systems),
            Some(event.to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{answer}");
    let (_, stored) = h.get(headers["location"].to_str().unwrap(), &systems).await;
    assert!(stored.get("eventID").is_none(), "kept as it came: {stored}");
    let (_, page) = h
        .get(&format!("/epcis/events?EQ_eventID={expected}"), &systems)
        .await;
    assert_eq!(
        page["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{page}"
    );
    // The same event from another system, its EPC as a Digital Link and its time in another
    // zone's notation: the same hash id, so nothing new is stored.
    let before = h.counts();
    let (dl, _) = unit(&h, 3);
    let mut again = event.clone();
    again["epcList"] = json!([dl]);
    again["eventTime"] = json!("2026-01-11T11:00:00+01:00");
    assert_eq!(
        custodian_ledger::epcis::event_hash_id(&again, None).unwrap(),
        expected
    );
    let doc = document(vec![{
        let mut e = again.clone();
        e.as_object_mut().unwrap().remove("@context");
        e
    }]);
    let job = h.capture(&systems, &doc).await;
    assert_eq!(job["success"], true, "{job}");
    let after = h.counts();
    let of = |c: &Vec<(String, i64)>, t: &str| c.iter().find(|(n, _)| n == t).unwrap().1;
    assert_eq!(
        of(&after, "captured_events"),
        of(&before, "captured_events")
    );
}

#[tokio::test]
async fn guessing_passwords_is_held_to_a_few_tries() {
    let h = hub();
    h.registry
        .create_account(
            &admin(),
            &NewAccount {
                id: "svc.lead".into(),
                kind: Kind::User,
                role: Role::Service,
                org: "acme".into(),
                password: Some("a long passphrase here".into()),
            },
            chrono::Utc::now(),
        )
        .unwrap();
    let guess =
        |n: usize| json!({ "account": "svc.lead", "password": format!("guess number {n}") });
    let mut statuses = Vec::new();
    for n in 0..8 {
        let (s, headers, _) = h
            .call(
                Method::POST,
                "/api/v1/sessions",
                None,
                Some(guess(n).to_string()),
            )
            .await;
        if s == StatusCode::TOO_MANY_REQUESTS {
            assert!(headers.contains_key("retry-after"));
        }
        statuses.push(s.as_u16());
    }
    // The burst (5) is answered; then the address waits, even with the right password.
    assert_eq!(statuses[..5], [401; 5]);
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    let right = json!({ "account": "svc.lead", "password": "a long passphrase here" });
    let (s, _, _) = h
        .call(
            Method::POST,
            "/api/v1/sessions",
            None,
            Some(right.to_string()),
        )
        .await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    let sessions = h
        .counts()
        .into_iter()
        .find(|(t, _)| t == "credentials")
        .unwrap()
        .1;
    assert_eq!(sessions, 0, "no session was opened");
}
