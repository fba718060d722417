//! `custodian bench capture`: the hub as an EPCIS repository, over the real HTTPS hub on
//! 127.0.0.1, driven by clients in this process (reqwest on rustls).
//!
//! - **Capture**: `--events` events (default 100,000) in documents of `--per-document`
//!   (default 1,000), POSTed to `/epcis/capture` by `--connections` clients at once, each
//!   waiting for its job to finish before sending the next. One event in ten is an inspection
//!   of a unit the registry issued (judged and reconciled as a handheld's scan); the others
//!   are storage observations of units of another GTIN (kept, not judged). Figures: events a
//!   second from the first POST to the last job finished, and the 99th percentile of a
//!   document's time from POST to its job finished.
//! - **Query**: the repository is first filled to `--stored` events (default 10,000,000)
//!   through the same capture code, in process (a fill this size through HTTPS would take most
//!   of an hour and measure nothing new; `--data DIR` keeps it for the next run); then
//!   `--queries` queries for one EPC's events (`MATCH_epc`), each EPC named by 4 events, are
//!   timed one at a time.
//!
//! Every capture job must succeed and every query find its EPC's events, or the bench fails.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use custodian_hub::accounts::{Caller, Kind, NewAccount, Role};
use custodian_hub::registry::StoreAt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::{percentile, round};

/// What `bench capture` takes from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// Events captured through `/epcis/capture`.
    pub events: usize,
    /// Events per captured document.
    pub per_document: usize,
    /// Events the repository holds when queried.
    pub stored: usize,
    /// Queries timed.
    pub queries: usize,
    /// Clients capturing at once.
    pub connections: usize,
    /// The registry to build or reuse; a temporary one when `None`.
    pub data: Option<PathBuf>,
    /// The registry on this PostgreSQL database instead.
    pub store: Option<String>,
}

/// The GTIN of the units the bench's storage observations name (not one the registry issued).
const BENCH_GTIN: &str = "09506000134352";
/// Events naming each EPC of the fill.
const EVENTS_PER_EPC: usize = 4;
/// Events per document of the fill.
const FILL_DOCUMENT: usize = 10_000;

fn epc(i: usize) -> String {
    format!("https://id.gs1.org/01/{BENCH_GTIN}/21/B{i:010}")
}

fn document(events: Vec<Value>) -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-01T00:00:00Z",
        "epcisBody": { "eventList": events }
    })
}

/// Storage observation `i` of the fill or the capture: EPC `i / EVENTS_PER_EPC`'s, at a time
/// of its own (so every event is distinct).
fn storage(i: usize, units: usize) -> Value {
    let second = i % 86_400;
    let day = 1 + (i / 86_400) % 28;
    json!({
        "type": "ObjectEvent",
        "eventTime": format!("2026-10-{day:02}T{:02}:{:02}:{:02}Z", second / 3600, second / 60 % 60, second % 60),
        "eventTimeZoneOffset": "+01:00",
        "epcList": [epc((i / EVENTS_PER_EPC) % units.max(1))],
        "action": "OBSERVE",
        "bizStep": "storing",
        "disposition": "in_progress",
        "readPoint": { "id": format!("urn:epc:id:sgln:4012345.00001.{}", i % 50) },
        "bizLocation": { "id": "urn:epc:id:sgln:4012345.00001.0" },
        "eventID": format!("urn:uuid:00000000-0000-4000-8000-{i:012}"),
    })
}

pub fn run(options: &Options) -> Result<Value> {
    if options.connections == 0 || options.per_document == 0 || options.events == 0 {
        bail!("--connections, --per-document and --events must be above zero");
    }
    let (dir, temporary) = match &options.data {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("custodian-bench-capture-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&dir)?;
    let result = run_in(&dir, options);
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn run_in(dir: &std::path::Path, options: &Options) -> Result<Value> {
    let at = match &options.store {
        Some(store) => StoreAt::parse(store),
        None => StoreAt::Sqlite(dir.join("hub")),
    };
    // The demo registry (its products, organisations and issued units), and the repository
    // filled to what the queries run against, less what the capture phase adds.
    let registry = custodian_hub::server::open_registry_at(&at, true)?;
    let admin = Caller::command_line("bench", "");
    let key = match registry.create_account(
        &admin,
        &NewAccount {
            id: format!("bench-{}", std::process::id()),
            kind: Kind::Service,
            role: Role::Integration,
            org: "acme".into(),
            password: None,
        },
        chrono::Utc::now(),
    ) {
        Ok(created) => created.key.context("a service account gets a key")?.token,
        Err(e) => bail!("creating the bench's account: {e}"),
    };
    let caller = registry.authenticate(&key, "bench", chrono::Utc::now())?;
    let fill_to = options.stored.saturating_sub(options.events);
    let units = options.stored.div_ceil(EVENTS_PER_EPC);
    let held = registry.captured_events()?;
    let fill_started = Instant::now();
    let mut filled = 0;
    let mut next = held;
    while next < fill_to {
        let n = FILL_DOCUMENT.min(fill_to - next);
        let doc = document((next..next + n).map(|i| storage(i, units)).collect());
        registry
            .capture(
                &caller,
                &doc,
                "epcis.capture",
                "bench fill",
                chrono::Utc::now(),
            )
            .map_err(|r| anyhow::anyhow!("filling the repository: {}", r.1))?;
        next += n;
        filled += n;
        if filled % 1_000_000 < n {
            eprintln!("bench capture: repository filled to {next} events");
        }
    }
    let fill_s = fill_started.elapsed().as_secs_f64();
    drop(registry);

    // The capture phase's documents: storage observations continuing the fill's numbering, one
    // in ten an inspection of an issued unit.
    let issued = super::demo_serials_dl()?;
    let mut docs = Vec::new();
    let mut i = next;
    let mut judged_sent = 0;
    while docs.len() * options.per_document < options.events {
        let n = options
            .per_document
            .min(options.events - docs.len() * options.per_document);
        let events: Vec<Value> = (0..n)
            .map(|k| {
                let e = if k % 10 == 0 {
                    judged_sent += 1;
                    json!({
                        "type": "ObjectEvent",
                        "eventTime": format!("2026-11-{:02}T10:00:00Z", 1 + (i % 28)),
                        "eventTimeZoneOffset": "+01:00",
                        "epcList": [issued[i % issued.len()]],
                        "action": "OBSERVE",
                        "bizStep": "inspecting",
                        "readPoint": { "id": "urn:epc:id:sgln:4012345.00001.0" },
                        "eventID": format!("urn:uuid:00000000-0000-4000-9000-{i:012}"),
                    })
                } else {
                    storage(i, units)
                };
                i += 1;
                e
            })
            .collect();
        docs.push(document(events).to_string());
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (url, hub) = super::InProcessHub::start(&dir.join("hub"), &at).await?;
        let (_, ca) = custodian_hub::server::hub_address(&dir.join("hub"))?;
        let client = reqwest::Client::builder()
            .add_root_certificate(reqwest::Certificate::from_der(&ca)?)
            .timeout(Duration::from_secs(600))
            .build()?;

        // Capture.
        let docs = Arc::new(docs);
        let next_doc = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..options.connections {
            let (client, url, key, docs, next_doc) = (
                client.clone(),
                url.clone(),
                key.clone(),
                docs.clone(),
                next_doc.clone(),
            );
            workers.push(tokio::spawn(async move {
                let mut times = Vec::new();
                loop {
                    let d = next_doc.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(body) = docs.get(d) else { break };
                    let sent = Instant::now();
                    let resp = client
                        .post(format!("{url}/epcis/capture"))
                        .bearer_auth(&key)
                        .header("Content-Type", "application/ld+json")
                        .body(body.clone())
                        .send()
                        .await?;
                    if resp.status() != 202 {
                        bail!("capture refused: {} {}", resp.status(), resp.text().await?);
                    }
                    let job = resp
                        .headers()
                        .get("location")
                        .and_then(|l| l.to_str().ok())
                        .context("no Location")?
                        .to_string();
                    loop {
                        let state: Value = serde_json::from_str(
                            &client
                                .get(format!("{url}{job}"))
                                .bearer_auth(&key)
                                .send()
                                .await?
                                .text()
                                .await?,
                        )?;
                        if state["running"] == false {
                            if state["success"] != true {
                                bail!("capture job failed: {state}");
                            }
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    times.push(sent.elapsed().as_secs_f64() * 1000.0);
                }
                Ok::<_, anyhow::Error>(times)
            }));
        }
        let mut doc_ms = Vec::new();
        for w in workers {
            doc_ms.extend(w.await??);
        }
        let capture_s = started.elapsed().as_secs_f64();

        // Query: one EPC's events, EPCs drawn at random from the whole repository.
        let mut rng = StdRng::seed_from_u64(20_261_208);
        let mut query_ms = Vec::with_capacity(options.queries);
        for _ in 0..options.queries {
            let which = rng.gen_range(0..units.min(next.div_ceil(EVENTS_PER_EPC)).max(1));
            let sent = Instant::now();
            let resp = client
                .get(format!("{url}/epcis/events?MATCH_epc={}", epc(which)))
                .bearer_auth(&key)
                .send()
                .await?;
            let status = resp.status();
            let page: Value = serde_json::from_str(&resp.text().await?)?;
            query_ms.push(sent.elapsed().as_secs_f64() * 1000.0);
            let found = page["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
                .as_array()
                .map_or(0, Vec::len);
            if status != 200 || found == 0 {
                bail!("the query for EPC {which} found nothing: {status} {page}");
            }
        }
        hub.stop().await?;
        Ok(json!({
            "store": if options.store.is_some() { "postgres" } else { "sqlite" },
            "events": options.events,
            "per_document": options.per_document,
            "connections": options.connections,
            "judged": judged_sent,
            "capture_s": round(capture_s, 2),
            "events_per_s": round(options.events as f64 / capture_s, 0),
            "p99_ms": round(percentile(&mut doc_ms.clone(), 0.99), 1),
            "p50_ms": round(percentile(&mut doc_ms, 0.50), 1),
            "stored": next + options.events,
            "fill_s": round(fill_s, 1),
            "queries": options.queries,
            "query_p50_ms": round(percentile(&mut query_ms.clone(), 0.50), 2),
            "query_p99_ms": round(percentile(&mut query_ms, 0.99), 2),
        }))
    })
}
