//! `custodian bench verify`: public verification against a registry of millions of issued
//! serials, over the real HTTPS hub on 127.0.0.1, driven by a load generator in this process
//! (reqwest on rustls, keep-alive connections, each worker its own client and connection).
//!
//! The registry is the demo data set plus `--serials` in all, the rest issued in bulk (every
//! serial signed, as issuance does) under the demo drill's GTIN; `--data DIR` keeps it for the
//! next run. The requests are a mix: genuine serials drawn at random from the whole registry,
//! never-issued serials, a recalled lot and codes on the counterfeit alert list, sent as
//! element strings to `/verify?code=`, as GS1 Digital Link resolutions and as `/verify/01/…`.
//! Every answer is checked against the status its code must get.
//!
//! Phases: a warm-up; a closed loop (each connection sends its next request when the last is
//! answered) for the throughput; a paced phase at `--rate` for the latency, each request timed
//! from when it was due, so a slow answer also counts against the requests queued behind it;
//! and batches of manifest codes to `/verify/batch`.
//!
//! With `--store postgres://…` the registry is on PostgreSQL and `--hubs` hub processes (this
//! binary's `hub serve`) answer, the load generator's connections spread over them in turn.
//!
//! Each connection comes from an address of its own on the loopback network (127.0.0.2, .3, …),
//! as the public's requests come from many; but every one of them asks far more than the public
//! rate limit (10 a second per address) allows, so the limit is raised for the bench, and the
//! figures say so.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use custodian_hub::registry::{IssueOptions, IssuedSerial, StoreAt};
use custodian_hub::server::{ServeOptions, serve};
use custodian_hub::verify::{PublicOptions, RateLimit};
use custodian_ledger::extract::{Alert, Recall};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use super::{percentile, round};

/// What `bench verify` takes from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    /// Issued serials the registry holds in all.
    pub serials: usize,
    /// The registry to build or reuse; a temporary one when `None`.
    pub data: Option<PathBuf>,
    /// Seconds of each measured phase.
    pub seconds: f64,
    /// Requests a second in the paced phase.
    pub rate: f64,
    /// Client connections.
    pub connections: usize,
    /// The registry on this PostgreSQL database (`postgres://…`) instead of a SQLite file in
    /// `data`.
    pub store: Option<String>,
    /// Hub processes answering (several share a PostgreSQL registry; one serves SQLite, in
    /// this process).
    pub hubs: usize,
}

/// The rate limit of the bench's one client address: every request comes from 127.0.0.1.
const BENCH_LIMIT: RateLimit = RateLimit {
    per_second: 1e9,
    burst: 1e9,
};
/// Genuine serials drawn from the registry for the requests.
const GENUINE_SAMPLE: usize = 200_000;
/// Requests in the prepared mix, cycled through.
const MIX: usize = 200_000;
/// Codes per `/verify/batch` request in the batch phase.
const BATCH_CODES: usize = 500;
/// Distinct batch bodies, enough that a serial comes up once or twice a run.
const BATCH_BODIES: usize = 256;
const SERIAL_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

pub fn run(options: &Options) -> Result<Value> {
    if options.connections == 0 || options.seconds <= 0.0 || options.rate <= 0.0 {
        bail!("--connections, --seconds and --rate must be above zero");
    }
    match &options.data {
        Some(dir) => run_in(dir, options),
        None => {
            let tmp =
                std::env::temp_dir().join(format!("custodian-bench-verify-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&tmp);
            let result = run_in(&tmp, options);
            let _ = std::fs::remove_dir_all(&tmp);
            result
        }
    }
}

/// A request of the mix and the status its answer must carry.
struct Request {
    path: String,
    /// The start of a right answer: `{"status":"…"`.
    expect: String,
}

/// The hub the load goes to: in this process on a SQLite registry, or hub processes on a
/// PostgreSQL one.
enum Served {
    InProcess {
        rt: tokio::runtime::Runtime,
        stop: tokio::sync::oneshot::Sender<()>,
        task: tokio::task::JoinHandle<Result<()>>,
    },
    Processes(super::fleet::Hubs),
}

impl Served {
    /// The hub(s) on `at`, with the TLS identity in `dir`, and the URL each listens at.
    fn start(dir: &Path, at: &StoreAt, hubs: usize) -> Result<(Served, Vec<String>)> {
        if let StoreAt::Postgres(_) = at {
            let limit = BENCH_LIMIT.per_second.to_string();
            let burst = BENCH_LIMIT.burst.to_string();
            let (processes, urls) = super::fleet::start_hubs(
                dir,
                at,
                hubs,
                &["--public-rate", &limit, "--public-burst", &burst],
            )?;
            return Ok((Served::Processes(processes), urls));
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("bench-hub")
            .enable_all()
            .build()?;
        let (url_tx, url_rx) = std::sync::mpsc::channel::<String>();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let public = PublicOptions {
            rate: BENCH_LIMIT,
            ..PublicOptions::default()
        };
        let task = rt.spawn(serve(
            ServeOptions {
                data: dir.to_path_buf(),
                store: None,
                listen: "127.0.0.1:0".parse()?,
                demo: true,
                public,
                round_events: custodian_sync::protocol::MAX_EVENTS_PER_ROUND,
                webhook_roots: Vec::new(),
            },
            move |url| {
                let _ = url_tx.send(url.to_string());
            },
            async move {
                let _ = stop_rx.await;
            },
        ));
        let url = url_rx
            .recv_timeout(Duration::from_secs(120))
            .context("the hub did not start")?;
        Ok((
            Served::InProcess {
                rt,
                stop: stop_tx,
                task,
            },
            vec![url],
        ))
    }

    /// Stops the hub(s): an error when the one in this process failed.
    fn stop(self) -> Result<()> {
        match self {
            Served::InProcess { rt, stop, task } => {
                let _ = stop.send(());
                rt.block_on(task).context("the hub's task failed")??;
                drop(rt);
            }
            Served::Processes(processes) => drop(processes),
        }
        Ok(())
    }
}

fn run_in(dir: &Path, options: &Options) -> Result<Value> {
    let at = match &options.store {
        Some(store) => StoreAt::parse(store),
        None => StoreAt::Sqlite(dir.to_path_buf()),
    };
    let on_postgres = matches!(at, StoreAt::Postgres(_));
    if options.hubs == 0 || (options.hubs > 1 && !on_postgres) {
        bail!(
            "one hub process serves a SQLite registry; several share a PostgreSQL one: add --store postgres://…"
        );
    }
    let prepared = prepare(&at, options.serials)?;
    let requests = Arc::new(mix(&prepared)?);
    let batches = Arc::new(batch_bodies(&prepared)?);
    let (served, urls) = Served::start(dir, &at, options.hubs)?;
    let (_, ca) = custodian_hub::server::hub_address(dir)?;

    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("bench-client")
        .enable_all()
        .build()?;
    let load = loadavg();
    let figures = client_rt.block_on(drive(&urls, &ca, options, requests, batches));
    served.stop()?;
    let figures = figures?;

    let registry = custodian_hub::Registry::open_at(&at)?;
    let velocity_flags = velocity_flags(&registry)? - prepared.flags_before;
    let disk = registry.stored_bytes()?;
    let mut out = json!({
        "serials": prepared.total,
        "verifies_per_s": round(figures.closed.per_s, 0),
        "p99_ms": round(figures.paced.p99_ms, 3),
        "p50_ms": round(figures.paced.p50_ms, 3),
        "paced_rate_per_s": options.rate,
        "paced_achieved_per_s": round(figures.paced.per_s, 0),
        "paced_requests": figures.paced.requests,
        "saturated_p50_ms": round(figures.closed.p50_ms, 3),
        "saturated_p99_ms": round(figures.closed.p99_ms, 3),
        "saturated_requests": figures.closed.requests,
        "batch_codes_per_s": round(figures.batch_codes_per_s, 0),
        "connections": options.connections,
        "protocol": figures.protocol,
        "hub_processes": options.hubs,
        "store": if on_postgres { "postgres" } else { "sqlite" },
        "hub_verifier_threads": PublicOptions::default().readers,
        "mix": "88% genuine (random over the registry), 6% never issued, 4% recalled lot, 2% on the alert list; 60% /verify?code=element string, 25% Digital Link resolution, 15% /verify/01/…",
        "public_rate_limit": format!(
            "raised to {} a second per address for this bench, whose {} connections each come from an address of their own on 127.0.0.0/8 and ask far more than the public would (the product's default: {} a second, bursts of {})",
            BENCH_LIMIT.per_second, options.connections, RateLimit::PUBLIC.per_second, RateLimit::PUBLIC.burst
        ),
        "velocity_flags": velocity_flags,
        "registry_mb": round(disk as f64 / 1e6, 0),
        "load_avg_1m": load,
        "cores": std::thread::available_parallelism().map_or(0, std::num::NonZeroUsize::get),
        "rss_mb": super::rss_mb(),
    });
    if let (Some(issuance), Some(map)) = (&prepared.issuance, out.as_object_mut()) {
        map.insert("issued_now".into(), json!(issuance.issued));
        map.insert("issuance_s".into(), json!(round(issuance.seconds, 1)));
        map.insert(
            "issuance_per_s".into(),
            json!(round(issuance.issued as f64 / issuance.seconds, 0)),
        );
        map.insert("signing_threads".into(), json!(issuance.signing_threads));
    } else if let Some(map) = out.as_object_mut() {
        map.insert("issued_now".into(), json!(0));
    }
    Ok(out)
}

fn velocity_flags(registry: &custodian_hub::Registry) -> Result<usize> {
    Ok(registry
        .flags()?
        .iter()
        .filter(|f| f.kind == "velocity")
        .count())
}

/// The 1-minute load average, as the kernel reports it.
fn loadavg() -> Value {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(Value::Null, |l| json!(l))
}

struct Issuance {
    issued: usize,
    seconds: f64,
    signing_threads: usize,
}

struct Prepared {
    total: u64,
    /// Velocity flags the registry held before the run.
    flags_before: usize,
    issuance: Option<Issuance>,
    genuine: Vec<IssuedSerial>,
    recalled: Vec<IssuedSerial>,
    alerted: Vec<IssuedSerial>,
    bulk_gtin: String,
}

/// The lot the bench's bulk issuance is made in.
const BULK_LOT: &str = "L2701";

/// Builds (or tops up) the registry to `serials` issued serials, and picks the codes to ask.
fn prepare(at: &StoreAt, serials: usize) -> Result<Prepared> {
    let registry = custodian_hub::server::open_registry_at(at, true)?;
    let extract = custodian_hub::registry::current_extract(&registry)?;
    let [drill, laser] = [0, 1].map(|i| extract.products.get(i).map(|p| p.gtin.clone()));
    let (Some(drill), Some(laser)) = (drill, laser) else {
        bail!(
            "{} holds a registry without the demo products: use a new directory",
            describe(at)
        );
    };
    let held = registry.counts()?.serials;
    let mut issuance = None;
    if (held as usize) < serials {
        let count = serials - held as usize;
        eprintln!(
            "custodian bench verify: issuing {count} signed serials into {} (once; reuse it{})",
            describe(at),
            if matches!(at, StoreAt::Sqlite(_)) {
                " with --data"
            } else {
                ""
            }
        );
        let started = Instant::now();
        let mut next_report = 1_000_000;
        let summary = registry.issue_bulk(
            &drill,
            count,
            &IssueOptions {
                lot: Some(BULK_LOT.into()),
                expiry: None,
                markets: vec!["DE".into(), "AT".into(), "FR".into()],
                facility: "plant-stuttgart".into(),
                line: "line-1".into(),
            },
            chrono::Local::now().fixed_offset(),
            &mut StdRng::from_entropy(),
            &mut |n| {
                if n >= next_report {
                    eprintln!("  {n} issued ({:.0} s)", started.elapsed().as_secs_f64());
                    next_report += 1_000_000;
                }
            },
        )?;
        issuance = Some(Issuance {
            issued: summary.issued,
            seconds: started.elapsed().as_secs_f64(),
            signing_threads: summary.signing_threads,
        });
    }
    let total = registry.counts()?.serials;

    // The laser level's lot is recalled, and a fifth of its units are on the alert list.
    let lasers = registry.issued_after(&laser, "", 1_000)?;
    let Some(lot) = lasers.first().and_then(|s| s.lot.clone()) else {
        bail!("the demo laser levels are missing from {}", describe(at));
    };
    if !extract.recalls.iter().any(|r| r.gtin == laser) {
        registry.add_recall(&Recall {
            gtin: laser.clone(),
            lot: Some(lot),
            reason: "battery contacts may overheat".into(),
        })?;
    }
    let (alerted, recalled) = lasers.split_at(lasers.len() / 5);
    for s in alerted {
        let epc = format!("https://id.gs1.org/01/{}/21/{}", s.gtin, s.serial);
        if !extract.alerts.iter().any(|a| a.epc == epc) {
            registry.add_alert(&Alert {
                epc,
                reason: "code seen on counterfeit goods".into(),
            })?;
        }
    }

    // Genuine serials at random places of the whole key range, new ones each run: a serial
    // verified dozens of times in a day is a velocity flag, and runs on one day add up.
    let mut rng = StdRng::from_entropy();
    let mut genuine = Vec::with_capacity(GENUINE_SAMPLE);
    let sampled = Instant::now();
    while genuine.len() < GENUINE_SAMPLE {
        let after = random_serial(&mut rng, "");
        genuine.extend(registry.issued_after(&drill, &after, 1)?);
        if sampled.elapsed() > Duration::from_secs(5) && genuine.is_empty() {
            bail!("no serials of {drill} in {}", describe(at));
        }
    }
    eprintln!(
        "custodian bench verify: {total} serials; sampled {} genuine codes in {:.1} s",
        genuine.len(),
        sampled.elapsed().as_secs_f64()
    );
    let flags_before = velocity_flags(&registry)?;
    Ok(Prepared {
        total,
        flags_before,
        issuance,
        genuine,
        recalled: recalled.to_vec(),
        alerted: alerted.to_vec(),
        bulk_gtin: drill,
    })
}

/// Where the registry is, for messages: its directory, or PostgreSQL's database (not the URL,
/// which may carry a password).
fn describe(at: &StoreAt) -> String {
    match at {
        StoreAt::Sqlite(dir) => dir.display().to_string(),
        StoreAt::Postgres(_) => "the PostgreSQL registry".into(),
    }
}

/// A serial of the issued kind, after `prefix`; with `prefix` "0", one that is never issued
/// (the digit 0 is not in the issued alphabet).
fn random_serial(rng: &mut StdRng, prefix: &str) -> String {
    let mut s = prefix.to_string();
    while s.len() < 10 {
        s.push(char::from(
            SERIAL_ALPHABET[rng.gen_range(0..SERIAL_ALPHABET.len())],
        ));
    }
    s
}

/// The request for `s` in one of the three forms.
fn request_for(s: &IssuedSerial, form: u32, expect: &str) -> Request {
    let path = match form {
        // An app scanning the label's element string.
        0..60 => format!("/verify?code={}", s.element_string.replace('\u{1d}', "%1D")),
        // A phone camera opening the label's QR code on the hub's domain.
        60..85 => s.digital_link[s.digital_link.find("/01/").unwrap_or(0)..].to_string(),
        _ => format!("/verify/01/{}/21/{}", s.gtin, s.serial),
    };
    // A key typed in carries no signature: an issued serial with nothing against it is
    // answered `unsigned`, never `genuine`.
    let expect = if form >= 85 && expect == "genuine" {
        "unsigned"
    } else {
        expect
    };
    Request {
        path,
        expect: format!("{{\"status\":\"{expect}\""),
    }
}

fn mix(p: &Prepared) -> Result<Vec<Request>> {
    let mut rng = StdRng::seed_from_u64(0x6d6978);
    let gtin = custodian_scanner::Gtin::parse(&p.bulk_gtin)?;
    let mut out = Vec::with_capacity(MIX);
    for _ in 0..MIX {
        let form = rng.gen_range(0..100);
        let kind = rng.gen_range(0..100);
        let request = match kind {
            0..88 => request_for(
                &p.genuine[rng.gen_range(0..p.genuine.len())],
                form,
                "genuine",
            ),
            88..94 => {
                let serial = random_serial(&mut rng, "0");
                let s = IssuedSerial {
                    gtin: gtin.to_string(),
                    serial: serial.clone(),
                    lot: None,
                    expiry: None,
                    element_string: custodian_scanner::element_string(&[
                        ("01", gtin.as_str()),
                        ("21", &serial),
                    ]),
                    bracketed: String::new(),
                    digital_link: custodian_scanner::digital_link(
                        "https://id.gs1.org",
                        &gtin,
                        Some(&serial),
                        &[],
                    ),
                };
                request_for(&s, form, "unknown_serial")
            }
            94..98 => request_for(
                &p.recalled[rng.gen_range(0..p.recalled.len())],
                form,
                "recalled",
            ),
            _ => request_for(
                &p.alerted[rng.gen_range(0..p.alerted.len())],
                form,
                "reported_counterfeit",
            ),
        };
        out.push(request);
    }
    Ok(out)
}

/// `/verify/batch` bodies: manifests of genuine codes as a distributor's receiving dock has
/// them, a few unknown ones mixed in.
fn batch_bodies(p: &Prepared) -> Result<Vec<String>> {
    let mut rng = StdRng::seed_from_u64(0x6261);
    (0..BATCH_BODIES)
        .map(|_| {
            let codes: Vec<Value> = (0..BATCH_CODES)
                .map(|i| {
                    if i % 50 == 49 {
                        json!({ "gtin": p.bulk_gtin, "serial": random_serial(&mut rng, "0") })
                    } else {
                        json!(p.genuine[rng.gen_range(0..p.genuine.len())].element_string)
                    }
                })
                .collect();
            Ok(serde_json::to_string(&json!({ "codes": codes }))?)
        })
        .collect()
}

/// What one phase measured.
#[derive(Default)]
struct Phase {
    requests: usize,
    per_s: f64,
    p50_ms: f64,
    p99_ms: f64,
}

struct Figures {
    closed: Phase,
    paced: Phase,
    batch_codes_per_s: f64,
    protocol: String,
}

/// What one worker saw.
#[derive(Default)]
struct Tally {
    latencies_ms: Vec<f64>,
    codes: usize,
    protocol: String,
}

/// One client of the load: its connection, to the hub at `url`.
#[derive(Clone)]
struct Client {
    http: reqwest::Client,
    url: String,
}

/// `n` clients trusting the hub's CA, one connection each, already connected: to the `urls`
/// in turn, each from an address of its own (127.0.0.2, 127.0.0.3, …).
async fn clients(urls: &[String], ca: &[u8], n: usize) -> Result<Vec<Client>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let host = u8::try_from(2 + i % 250).unwrap_or(2);
        let http = reqwest::Client::builder()
            .tls_certs_only([reqwest::Certificate::from_der(ca)?])
            .local_address(std::net::IpAddr::from([127, 0, 0, host]))
            .timeout(Duration::from_secs(30))
            .build()?;
        let url = urls[i % urls.len()].clone();
        let resp = http.get(format!("{url}/v1/health")).send().await?;
        if !resp.status().is_success() {
            bail!("the hub answered its health check with {}", resp.status());
        }
        out.push(Client { http, url });
    }
    Ok(out)
}

async fn drive(
    urls: &[String],
    ca: &[u8],
    options: &Options,
    requests: Arc<Vec<Request>>,
    batches: Arc<Vec<String>>,
) -> Result<Figures> {
    let clients = clients(urls, ca, options.connections).await?;
    let seconds = Duration::from_secs_f64(options.seconds);
    // Warm-up: connections, the hub's threads and the registry's pages.
    closed_loop(&clients, &requests, Duration::from_secs(3)).await?;
    let (closed, protocol) = closed_loop(&clients, &requests, seconds).await?;
    let paced = paced(&clients, &requests, options.rate, seconds).await?;
    let batch_codes_per_s = batch_loop(
        &clients[..clients.len().min(4)],
        &batches,
        Duration::from_secs(3),
    )
    .await?;
    Ok(Figures {
        closed,
        paced,
        batch_codes_per_s,
        protocol,
    })
}

/// Sends `request` and checks the answer.
async fn one(client: &Client, request: &Request) -> Result<reqwest::Version> {
    let resp = client
        .http
        .get(format!("{}{}", client.url, request.path))
        .send()
        .await
        .with_context(|| format!("GET {}", request.path))?;
    let status = resp.status();
    let version = resp.version();
    let body = resp.bytes().await?;
    if !status.is_success() || !body.starts_with(request.expect.as_bytes()) {
        bail!(
            "GET {} answered {status}: {} (expected {}…)",
            request.path,
            String::from_utf8_lossy(&body),
            request.expect
        );
    }
    Ok(version)
}

fn summarise(tallies: Vec<Tally>, elapsed: Duration) -> Phase {
    let mut latencies: Vec<f64> = tallies.into_iter().flat_map(|t| t.latencies_ms).collect();
    Phase {
        requests: latencies.len(),
        per_s: latencies.len() as f64 / elapsed.as_secs_f64(),
        p50_ms: percentile(&mut latencies, 0.50),
        p99_ms: percentile(&mut latencies, 0.99),
    }
}

async fn join_all(tasks: Vec<tokio::task::JoinHandle<Result<Tally>>>) -> Result<Vec<Tally>> {
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.context("a load worker panicked")??);
    }
    Ok(out)
}

/// Every connection sends its next request as soon as its last one is answered.
async fn closed_loop(
    clients: &[Client],
    requests: &Arc<Vec<Request>>,
    length: Duration,
) -> Result<(Phase, String)> {
    let started = Instant::now();
    let until = started + length;
    let clients_len = clients.len();
    let tasks = clients
        .iter()
        .enumerate()
        .map(|(w, client)| {
            let (client, requests) = (client.clone(), requests.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut i = w * (requests.len() / clients_len);
                while Instant::now() < until {
                    let request = &requests[i % requests.len()];
                    let sent = Instant::now();
                    let version = one(&client, request).await?;
                    tally.latencies_ms.push(sent.elapsed().as_secs_f64() * 1e3);
                    tally.protocol = format!("{version:?}");
                    i += 1;
                }
                anyhow::Ok(tally)
            })
        })
        .collect();
    let tallies = join_all(tasks).await?;
    let protocol = tallies
        .first()
        .map(|t| t.protocol.clone())
        .unwrap_or_default();
    Ok((summarise(tallies, started.elapsed()), protocol))
}

/// Requests fall due at `rate` a second whatever the answers do; each is timed from when it
/// was due, so a stall counts against every request it delayed.
async fn paced(
    clients: &[Client],
    requests: &Arc<Vec<Request>>,
    rate: f64,
    length: Duration,
) -> Result<Phase> {
    let total = (rate * length.as_secs_f64()).round() as u64;
    let ticket = Arc::new(AtomicU64::new(0));
    let started = tokio::time::Instant::now() + Duration::from_millis(20);
    let tasks = clients
        .iter()
        .map(|client| {
            let (client, requests, ticket) = (client.clone(), requests.clone(), ticket.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                loop {
                    let n = ticket.fetch_add(1, Ordering::Relaxed);
                    if n >= total {
                        return anyhow::Ok(tally);
                    }
                    let due = started + Duration::from_secs_f64(n as f64 / rate);
                    tokio::time::sleep_until(due).await;
                    let request = &requests[(n as usize * 31) % requests.len()];
                    one(&client, request).await?;
                    tally.latencies_ms.push(due.elapsed().as_secs_f64() * 1e3);
                }
            })
        })
        .collect();
    let tallies = join_all(tasks).await?;
    Ok(summarise(tallies, started.elapsed()))
}

/// Manifests of [`BATCH_CODES`] codes to `/verify/batch`, back to back: codes verified a second.
async fn batch_loop(
    clients: &[Client],
    bodies: &Arc<Vec<String>>,
    length: Duration,
) -> Result<f64> {
    let started = Instant::now();
    let until = started + length;
    let tasks = clients
        .iter()
        .enumerate()
        .map(|(w, client)| {
            let (client, bodies) = (client.clone(), bodies.clone());
            tokio::spawn(async move {
                let mut tally = Tally::default();
                let mut i = w;
                while Instant::now() < until {
                    let resp = client
                        .http
                        .post(format!("{}/verify/batch", client.url))
                        .header("content-type", "application/json")
                        .body(bodies[i % bodies.len()].clone())
                        .send()
                        .await?;
                    let status = resp.status();
                    let report: Value =
                        serde_json::from_slice(&resp.bytes().await?).unwrap_or(Value::Null);
                    if !status.is_success()
                        || report["summary"]["genuine"].as_u64() != Some(490)
                        || report["summary"]["unknown_serial"].as_u64() != Some(10)
                    {
                        bail!(
                            "POST /verify/batch answered {status}: {}",
                            report["summary"]
                        );
                    }
                    tally.codes += BATCH_CODES;
                    i += 1;
                }
                anyhow::Ok(tally)
            })
        })
        .collect();
    let tallies = join_all(tasks).await?;
    let codes: usize = tallies.iter().map(|t| t.codes).sum();
    Ok(codes as f64 / started.elapsed().as_secs_f64())
}
