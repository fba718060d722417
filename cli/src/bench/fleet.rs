//! `custodian bench fleet`: a fleet of handhelds back online at once, syncing through several
//! hub processes on one registry.
//!
//! Set up first, not timed: `--orgs` partner organisations (a site each) and, per device, its
//! units issued (signed) and shipped by the manufacturer to the device's organisation on the
//! hub; the hub processes started (`custodian hub serve`, this binary) on the one store; every
//! device enrolled (through the hubs in turn) and its `--events` receipts recorded offline. Of
//! each device's receipts, `--unexpected` are of units issued but never shipped: out of
//! sequence, all of an organisation's on one day from one holder, one cause.
//!
//! Timed: every device syncs, `--concurrency` at a time, each a ledger of its own on disk, until
//! its sync reports it converged (everything it recorded is on the hub, and it holds all the hub
//! had for it). Each round is timed from its request to its answer applied.
//!
//! Checked after: every event on the hub once, and for every organisation one open flag for its
//! cause listing exactly its devices' unexpected units, plus the manufacturer's own flag for the
//! same cause: no flag raised twice by two hub processes at once.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use custodian_hub::Registry;
use custodian_hub::registry::{IssueOptions, IssuedSerial, StoreAt};
use custodian_ledger::event::{Action, BizStep, Disposition, EventType};
use custodian_ledger::{Epc, Event, EventBody, FlagKind, Recorder, Step};
use custodian_scanner::{Gtin, HostLayout};
use custodian_sync::{Device, Taken};
use serde_json::{Value, json};

use super::{percentile, round};

/// What `bench fleet` takes from the command line.
#[derive(Clone, Debug)]
pub struct Options {
    pub devices: usize,
    /// Events each device records offline.
    pub events: usize,
    pub orgs: usize,
    /// Hub processes on the one store (several need PostgreSQL).
    pub hubs: usize,
    /// Devices syncing at the same time.
    pub concurrency: usize,
    /// Of each device's events, receipts of units nobody shipped.
    pub unexpected: usize,
    /// `postgres://…` (an empty database); a SQLite file in a temporary directory when `None`.
    pub store: Option<String>,
}

/// The most EPCs one of the manufacturer's shipping events names.
const SHIPMENT_UNITS: usize = 1_000;
/// The lot the fleet's units are issued in.
const LOT: &str = "FLEET";
/// How long a hub process may take to say where it listens.
const HUB_START: Duration = Duration::from_secs(120);

pub fn run(options: &Options) -> Result<Value> {
    if options.devices == 0 || options.events == 0 || options.orgs == 0 {
        bail!("--devices, --events and --orgs must be above zero");
    }
    if options.hubs == 0 || options.concurrency == 0 {
        bail!("--hubs and --concurrency must be above zero");
    }
    if options.unexpected > options.events {
        bail!(
            "--unexpected {} is more than the {} events of a device",
            options.unexpected,
            options.events
        );
    }
    if options.devices < options.orgs {
        bail!(
            "{} devices cannot cover {} organisations: give at least one each",
            options.devices,
            options.orgs
        );
    }
    let at = options.store.as_deref().map(StoreAt::parse);
    if options.hubs > 1 && !matches!(at, Some(StoreAt::Postgres(_))) {
        bail!("several hub processes share a PostgreSQL store: add --store postgres://…");
    }
    let tmp = std::env::temp_dir().join(format!("custodian-bench-fleet-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = run_in(&tmp, at, options);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// The hub processes, stopped (killed) when dropped.
pub(super) struct Hubs(Vec<Child>);

impl Drop for Hubs {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn org_id(o: usize) -> String {
    format!("fleet-{o:03}")
}

fn run_in(tmp: &Path, at: Option<StoreAt>, options: &Options) -> Result<Value> {
    let data = tmp.join("hub");
    let at = at.unwrap_or_else(|| StoreAt::Sqlite(data.clone()));
    let devices = options.devices;
    let org_of = |d: usize| d % options.orgs;

    // The registry: partners, their units issued and shipped.
    let started = Instant::now();
    let registry = custodian_hub::server::open_registry_at(&at, true)?;
    let before = registry.counts()?;
    let (plan, maker) = prepare(&registry, options)?;
    let flags_before = before.flags;
    let events_before = registry.counts()?.events;
    drop(registry);

    let hubs = start_hubs(&data, &at, options.hubs, &[])?;
    let urls: Vec<String> = hubs.1;
    let hubs = hubs.0;
    let (_, ca) = custodian_hub::server::hub_address(&data)?;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let registry = Arc::new(Registry::open_at(&at)?);
    let base = chrono::DateTime::parse_from_rfc3339("2026-11-20T08:00:00+01:00")?;
    let gate = Arc::new(tokio::sync::Semaphore::new(options.concurrency));
    let plan = Arc::new(plan);

    // Every device enrolled and its receipts recorded, `concurrency` at a time.
    rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for d in 0..devices {
            let (gate, registry, plan, ca) =
                (gate.clone(), registry.clone(), plan.clone(), ca.clone());
            let url = urls[d % urls.len()].clone();
            let dir = tmp.join("devices").join(d.to_string());
            let org = org_id(org_of(d));
            tasks.spawn(async move {
                let _turn = gate.acquire_owned().await?;
                let token = {
                    let registry = registry.clone();
                    let org = org.clone();
                    tokio::task::spawn_blocking(move || {
                        registry.create_token(&org, &format!("{org}-site"), &url, &ca, 2)
                    })
                    .await??
                };
                let device = Device::open(&dir)?;
                device.enroll(&token, &format!("fleet-{d}")).await?;
                let scans: Vec<Taken> = plan[d]
                    .iter()
                    .enumerate()
                    .map(|(i, typed)| Taken {
                        typed: typed.clone(),
                        at: base
                            + chrono::Duration::milliseconds(i64::try_from(i).unwrap_or(0) * 250),
                    })
                    .collect();
                tokio::task::spawn_blocking(move || {
                    device.scan_taken(&scans, Step::Receiving, None, HostLayout::default())
                })
                .await??;
                anyhow::Ok(())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done??;
        }
        anyhow::Ok(())
    })?;
    let setup_s = started.elapsed().as_secs_f64();

    // The measured part: every device syncs until it has converged.
    let started = Instant::now();
    let rounds = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for d in 0..devices {
            let gate = gate.clone();
            let dir = tmp.join("devices").join(d.to_string());
            tasks.spawn(async move {
                let _turn = gate.acquire_owned().await?;
                let device = Device::open(&dir)?.with_jitter_seed(d as u64);
                let mut rounds = Vec::new();
                let mut retries = 0;
                for _ in 0..10 {
                    // A retried attempt's rounds are not reported: its answer never came. What
                    // it stored is counted on the hub below.
                    let report = device.sync_with_retry(5).await?;
                    rounds.extend(report.round_seconds.iter().copied());
                    retries += report.retries;
                    if report.converged && report.waiting == 0 {
                        return Ok((rounds, retries));
                    }
                }
                bail!("device {d} did not converge in 10 syncs")
            });
        }
        let mut rounds: Vec<f64> = Vec::new();
        let mut retries = 0;
        while let Some(done) = tasks.join_next().await {
            let (more, again) = done??;
            rounds.extend(more);
            retries += again;
        }
        anyhow::Ok((rounds, retries))
    })?;
    let (rounds, retries) = rounds;
    let converge_s = started.elapsed().as_secs_f64();
    drop(hubs);

    // What the hub holds: every event once, one flag per cause.
    let counts = registry.counts()?;
    let total = devices * options.events;
    let stored = counts.events - events_before;
    if stored != total as u64 {
        bail!("the hub holds {stored} new events, not the {total} the devices recorded");
    }
    let flags = registry.flags()?;
    let mut wrong = Vec::new();
    for o in 0..options.orgs {
        let org = org_id(o);
        let of_org: Vec<_> = flags
            .iter()
            .filter(|f| f.org == org && f.flag.kind == FlagKind::OutOfSequence)
            .collect();
        let expected = (0..devices).filter(|d| org_of(*d) == o).count() * options.unexpected;
        let listed: usize = of_org.iter().map(|f| f.flag.units as usize).sum();
        if expected == 0 && of_org.is_empty() {
            continue;
        }
        if of_org.len() != 1 || listed != expected {
            wrong.push(format!(
                "{org}: {} flags listing {listed} units, not 1 listing {expected}",
                of_org.len()
            ));
        }
    }
    let causes = (0..options.orgs)
        .filter(|o| options.unexpected > 0 && (0..devices).any(|d| org_of(d) == *o))
        .count();
    let by_maker = flags
        .iter()
        .filter(|f| f.org == maker && f.flag.kind == FlagKind::OutOfSequence)
        .count();
    let raised = counts.flags - flags_before;
    if raised != 2 * causes as u64 || by_maker != causes {
        wrong.push(format!(
            "{raised} flags raised ({by_maker} the manufacturer's) for {causes} causes: one each for the organisation and the manufacturer expected"
        ));
    }
    if !wrong.is_empty() {
        bail!("the flags are wrong: {}", wrong.join("; "));
    }
    let mut times = rounds.clone();
    Ok(json!({
        "devices": devices,
        "events": total,
        "orgs": options.orgs,
        "hub_processes": options.hubs,
        "store": if matches!(at, StoreAt::Postgres(_)) { "postgres" } else { "sqlite" },
        "concurrency": options.concurrency,
        "converge_s": round(converge_s, 3),
        "events_per_s": round(total as f64 / converge_s, 1),
        "rounds": rounds.len(),
        "retries": retries,
        "round_p50_ms": round(percentile(&mut times, 0.50) * 1000.0, 1),
        "round_p99_ms": round(percentile(&mut times, 0.99) * 1000.0, 1),
        "round_max_ms": round(percentile(&mut times, 1.0) * 1000.0, 1),
        "flags_raised": raised,
        "flags_right": true,
        "setup_s": round(setup_s, 1),
    }))
}

/// Adds the partner organisations, issues every device's units and records the manufacturer's
/// shipments of the expected ones: what each device will scan, and the manufacturer's id.
fn prepare(registry: &Registry, options: &Options) -> Result<(Vec<Vec<String>>, String)> {
    for o in 0..options.orgs {
        let id = org_id(o);
        registry.add_org(&custodian_ledger::extract::Org {
            id: id.clone(),
            name: format!("Fleet partner {o}"),
            role: "distributor".into(),
            market: "DE".into(),
            gln: {
                let payload = format!("4012346{o:05}");
                format!("{payload}{}", custodian_scanner::check_digit(&payload))
            },
        })?;
        registry.add_site(
            &id,
            &format!("{id}-site"),
            &format!("Warehouse of partner {o}"),
        )?;
    }
    let extract = custodian_hub::registry::current_extract(registry)?;
    let Some(drill) = extract.products.first().map(|p| p.gtin.clone()) else {
        bail!("the demo products are missing from the registry");
    };
    let maker = extract
        .orgs
        .iter()
        .find(|o| o.role == "manufacturer")
        .map(|o| o.id.clone())
        .context("the registry has no manufacturer")?;
    let time = |at: &str| chrono::DateTime::parse_from_rfc3339(at).expect("a fixed valid time");
    // Issued in bulk (signed on every core, written in key order), then read back as labels
    // carry them: those of this issuance's lot, in serial order (as good as random).
    let wanted = options.devices * options.events;
    registry.issue_bulk(
        &drill,
        wanted,
        &IssueOptions {
            lot: Some(LOT.into()),
            expiry: None,
            markets: vec!["DE".into()],
            facility: "plant-stuttgart".into(),
            line: "line-1".into(),
        },
        time("2026-11-18T08:00:00+01:00"),
        &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(7),
        &mut |_| {},
    )?;
    let mut issued: Vec<IssuedSerial> = Vec::with_capacity(wanted);
    let mut after = String::new();
    loop {
        let page = registry.issued_after(&drill, &after, 50_000)?;
        let Some(last) = page.last() else { break };
        after = last.serial.clone();
        issued.extend(page.into_iter().filter(|s| s.lot.as_deref() == Some(LOT)));
    }
    if issued.len() != wanted {
        bail!(
            "the registry holds {} serials of lot {LOT}, not the {wanted} just issued: use an empty database",
            issued.len()
        );
    }
    let unit = |s: &IssuedSerial| -> Result<Epc> {
        Ok(Epc::Unit {
            gtin: Gtin::parse(&s.gtin)?,
            serial: s.serial.clone(),
        })
    };
    let recorder = Recorder {
        org: maker.clone(),
        site: "plant-stuttgart".into(),
        device: custodian_hub::registry::HUB_DEVICE.into(),
    };
    let mut plan = Vec::with_capacity(options.devices);
    let mut shipped: Vec<Vec<Epc>> = vec![Vec::new(); options.orgs];
    for (d, units) in issued.chunks(options.events).enumerate() {
        let expected = options.events - options.unexpected;
        for s in &units[..expected] {
            shipped[d % options.orgs].push(unit(s)?);
        }
        plan.push(units.iter().map(|s| s.element_string.clone()).collect());
    }
    let mut shipments = Vec::new();
    for (o, units) in shipped.iter().enumerate() {
        for chunk in units.chunks(SHIPMENT_UNITS) {
            shipments.push(Event::new(EventBody {
                event_type: EventType::ObjectEvent,
                action: Action::Observe,
                biz_step: BizStep::Shipping,
                disposition: Some(Disposition::InTransit),
                event_time: time("2026-11-19T14:00:00+01:00"),
                epcs: chunk.to_vec(),
                parent: None,
                biz_transactions: vec![],
                source: Some(maker.clone()),
                destination: Some(org_id(o)),
                recorder: recorder.clone(),
                extension: Default::default(),
            }));
        }
    }
    for batch in shipments.chunks(50) {
        registry.record(batch)?;
    }
    Ok((plan, maker))
}

/// Starts `count` hub processes on `at`, all with the TLS identity in `data` and `extra`
/// arguments to `hub serve`: the processes and the URL each listens at.
pub(super) fn start_hubs(
    data: &Path,
    at: &StoreAt,
    count: usize,
    extra: &[&str],
) -> Result<(Hubs, Vec<String>)> {
    let exe = std::env::current_exe().context("where this program is")?;
    let mut hubs = Hubs(Vec::new());
    let mut urls = Vec::new();
    for _ in 0..count {
        let mut command = Command::new(&exe);
        command.args(["hub", "serve", "--data"]).arg(data);
        command.args(["--listen", "127.0.0.1:0"]).args(extra);
        if let StoreAt::Postgres(url) = at {
            command.args(["--store", url]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting a hub process")?;
        let stdout = child.stdout.take().context("the hub's output")?;
        hubs.0.push(child);
        urls.push(listening_url(stdout)?);
    }
    Ok((hubs, urls))
}

/// The URL in the first line a hub process prints, waiting at most [`HUB_START`].
fn listening_url(stdout: std::process::ChildStdout) -> Result<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(HUB_START)
        .context("a hub process did not say where it listens")?;
    line.split_whitespace()
        .find(|w| w.starts_with("https://"))
        .map(str::to_string)
        .with_context(|| format!("a hub process printed {line:?}, not its URL"))
}
