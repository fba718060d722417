//! `custodian bench NAME`: benchmarks on generated data, printing their figures (with `--json`
//! one object whose keys are those of the CLI contract).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use custodian_hub::registry::StoreAt;
use custodian_hub::server::{ServeOptions, serve};
use custodian_ledger::Step;
use custodian_scanner::HostLayout;
use custodian_sync::{Device, Taken};
use serde_json::{Value, json};

pub mod capture;
mod decode;
pub mod fleet;
pub mod verify;

/// The options of the benchmarks that take more than a count.
pub struct Configured {
    pub verify: verify::Options,
    pub fleet: fleet::Options,
    pub capture: capture::Options,
}

/// Runs benchmark `name`; `labels` is the label corpus `decode` reads, `configured` what the
/// `verify`, `fleet` and `capture` benchmarks take.
pub fn run(
    name: &str,
    events: usize,
    labels: Option<&Path>,
    configured: &Configured,
    flag_storm: bool,
    store: Option<&str>,
) -> Result<Value> {
    if flag_storm && name != "sync" {
        bail!("--flag-storm is a variant of the sync benchmark: custodian bench sync --flag-storm");
    }
    if store.is_some() && !["sync", "fleet", "verify", "capture"].contains(&name) {
        bail!(
            "--store is taken by the sync, fleet, verify and capture benchmarks: custodian bench sync --store postgres://…"
        );
    }
    match name {
        "sync" => sync(events, flag_storm, store),
        "ingest" => ingest(events),
        "decode" => decode::run(&labels.map_or_else(decode::default_labels, Path::to_path_buf)),
        "verify" => verify::run(&verify::Options {
            store: store.map(str::to_string),
            ..configured.verify.clone()
        }),
        "fleet" => fleet::run(&fleet::Options {
            store: store.map(str::to_string),
            ..configured.fleet.clone()
        }),
        "capture" => capture::run(&capture::Options {
            store: store.map(str::to_string),
            ..configured.capture.clone()
        }),
        other => {
            bail!(
                "unknown benchmark {other:?}: available: sync, ingest, decode, verify, fleet, capture"
            )
        }
    }
}

/// A device records `events` scans offline, then reconnects: seconds until both sides hold
/// everything, and bytes on the wire per event; then a small increment of 10 events.
///
/// With `flag_storm`, the events are receipts of `events` units the hub has issued but has no
/// shipment for (a manufacturer's shipping events arriving a day late), so every unit is out
/// of sequence: the figures add the flags raised on the hub and those that reached the device,
/// and the units the device's flags list.
fn sync(events: usize, flag_storm: bool, store: Option<&str>) -> Result<Value> {
    let tmp = std::env::temp_dir().join(format!("custodian-bench-sync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let at = match store {
        Some(store) => StoreAt::parse(store),
        None => StoreAt::Sqlite(tmp.join("hub")),
    };
    let result = sync_in(&tmp, &at, events, flag_storm);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn sync_in(tmp: &Path, at: &StoreAt, events: usize, flag_storm: bool) -> Result<Value> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (url, hub) = InProcessHub::start(&tmp.join("hub"), at).await?;
        let (_, ca) = custodian_hub::server::hub_address(&tmp.join("hub"))?;
        let token = {
            let (url, ca) = (url.clone(), ca.clone());
            blocking(at, move |r| {
                r.create_token("dist-a", "dc-hamburg", &url, &ca, 1)
            })
            .await?
        };
        let device = Device::open(&tmp.join("device"))?;
        device.enroll(&token, "bench").await?;
        // A second device of the same site, enrolled before the events exist: it downloads them
        // all in one sync afterwards.
        let token = {
            let (url, ca) = (url.clone(), ca.clone());
            blocking(at, move |r| {
                r.create_token("dist-a", "dc-hamburg", &url, &ca, 1)
            })
            .await?
        };
        let peer = Device::open(&tmp.join("peer"))?;
        peer.enroll(&token, "bench-peer").await?;

        let (serials, step) = if flag_storm {
            (storm_serials(at, events).await?, Step::Receiving)
        } else {
            (demo_serials()?, Step::Inspecting)
        };
        let base = chrono::DateTime::parse_from_rfc3339("2026-11-20T08:00:00+01:00")?;
        // Recorded as group commits of a thousand (as a busy scanner's queue is): a month of
        // events is set up in seconds, and the sync that follows is what is measured.
        let record = |n: usize, offset: usize| -> Result<()> {
            let scans: Vec<Taken> = (0..n)
                .map(|i| {
                    Ok(Taken {
                        typed: serials[(offset + i) % serials.len()].clone(),
                        at: base + chrono::Duration::milliseconds(i64::try_from(offset + i)? * 250),
                    })
                })
                .collect::<Result<_>>()?;
            for chunk in scans.chunks(1_000) {
                device.scan_taken(chunk, step, None, HostLayout::default())?;
            }
            Ok(())
        };
        record(events, 0)?;
        let started = Instant::now();
        let report = device.sync().await?;
        let converge_s = started.elapsed().as_secs_f64();
        if report.stored_by_hub != events || !report.converged || report.waiting != 0 {
            bail!(
                "one sync left work undone: the hub stored {} of {events} events, {} wait",
                report.stored_by_hub,
                report.waiting
            );
        }
        let flags_on_hub = blocking(at, |r| Ok(r.counts()?.flags)).await?;
        let held = device.flags()?;
        let flags_on_device = held.len();
        // The units those flags list, as the device holds them (a flag lists its cause's units).
        let mut units_listed_on_device = 0;
        for flag in &held {
            units_listed_on_device += device.flag_units(&flag.id)?.len();
        }
        let started = Instant::now();
        let download = peer.sync().await?;
        let download_s = started.elapsed().as_secs_f64();
        if download.downloaded != events || !download.converged {
            bail!(
                "one sync brought the other device {} of {events} events",
                download.downloaded
            );
        }
        record(10, events)?;
        let increment = device.sync().await?;
        hub.stop().await?;
        let per_event = |r: &custodian_sync::SyncReport, n: usize| {
            (r.bytes_sent + r.bytes_received) as f64 / n as f64
        };
        Ok(json!({
            "events": events,
            "converge_s": round(converge_s, 3),
            "bytes_per_event": round(per_event(&report, events), 1),
            "increment_bytes_per_event": round(per_event(&increment, 10), 1),
            "rounds": report.rounds,
            "downloaded_while_converging": report.downloaded,
            "download_s": round(download_s, 3),
            "flag_storm": flag_storm,
            "flags_on_hub": flags_on_hub,
            "flags_on_device": flags_on_device,
            "units_listed_on_device": units_listed_on_device,
            "download_rounds": download.rounds,
            "bytes_sent": report.bytes_sent,
            "bytes_received": report.bytes_received,
        }))
    })
}

/// `f` on the registry at `at`, on a thread that may block (a PostgreSQL store's client does).
async fn blocking<T: Send + 'static>(
    at: &StoreAt,
    f: impl FnOnce(&custodian_hub::Registry) -> Result<T, custodian_hub::HubError> + Send + 'static,
) -> Result<T> {
    let at = at.clone();
    tokio::task::spawn_blocking(move || -> Result<T> {
        let registry = custodian_hub::Registry::open_at(&at)?;
        Ok(f(&registry)?)
    })
    .await?
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// `count` units of the demo drill issued afresh on the hub in `dir`, as a scanner types them:
/// nobody has shipped them anywhere yet.
async fn storm_serials(at: &StoreAt, count: usize) -> Result<Vec<String>> {
    let at = at.clone();
    tokio::task::spawn_blocking(move || storm_serials_in(&at, count)).await?
}

fn storm_serials_in(at: &StoreAt, count: usize) -> Result<Vec<String>> {
    let registry = custodian_hub::server::open_registry_at(at, true)?;
    let extract = custodian_hub::registry::current_extract(&registry)?;
    let Some(drill) = extract.products.first().map(|p| p.gtin.clone()) else {
        bail!("the demo products are missing from {at:?}");
    };
    let issued = registry.issue(
        &drill,
        count,
        &custodian_hub::registry::IssueOptions {
            lot: Some("STORM".into()),
            expiry: None,
            markets: vec!["DE".into()],
            facility: "plant-stuttgart".into(),
            line: "line-1".into(),
        },
        chrono::Local::now().fixed_offset(),
        &mut rand::rngs::OsRng,
    )?;
    Ok(issued.into_iter().map(|s| s.element_string).collect())
}

/// The demo serials' element strings, as a scanner types them.
fn demo_serials() -> Result<Vec<String>> {
    let tmp = std::env::temp_dir().join(format!("custodian-bench-demo-{}", std::process::id()));
    let registry = custodian_hub::Registry::open_with_key(&tmp, custodian_hub::demo::issuer_key)?;
    let data = custodian_hub::demo::seed(&registry)?;
    drop(registry);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(data.serials.into_iter().map(|s| s.element_string).collect())
}

/// A hub serving the demo registry on `at` (its TLS identity in `data`) in this process, on a
/// loopback port the system chose.
struct InProcessHub {
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<Result<()>>,
}

impl InProcessHub {
    /// Starts it: its URL once it accepts connections.
    async fn start(data: &Path, at: &StoreAt) -> Result<(String, InProcessHub)> {
        let (url_tx, url_rx) = tokio::sync::oneshot::channel();
        let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let options = ServeOptions {
            data: data.to_path_buf(),
            store: Some(at.clone()),
            listen: "127.0.0.1:0".parse()?,
            demo: true,
            public: Default::default(),
            round_events: custodian_sync::protocol::MAX_EVENTS_PER_ROUND,
            webhook_roots: Vec::new(),
        };
        let server = tokio::spawn(serve(
            options,
            move |url| {
                let _ = url_tx.send(url.to_string());
            },
            async move {
                let _ = stop_rx.await;
            },
        ));
        let url = url_rx.await.context("the hub did not start")?;
        Ok((url, InProcessHub { stop, server }))
    }

    /// Stops it and waits until it has.
    async fn stop(self) -> Result<()> {
        let _ = self.stop.send(());
        self.server.await?
    }
}

/// The demo's issued units as Digital Link URIs on id.gs1.org.
fn demo_serials_dl() -> Result<Vec<String>> {
    let tmp = std::env::temp_dir().join(format!("custodian-bench-demo-dl-{}", std::process::id()));
    let registry = custodian_hub::Registry::open_with_key(&tmp, custodian_hub::demo::issuer_key)?;
    let data = custodian_hub::demo::seed(&registry)?;
    drop(registry);
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(data
        .serials
        .into_iter()
        .map(|s| format!("https://id.gs1.org/01/{}/21/{}", s.gtin, s.serial))
        .collect())
}

/// A ledger already holding `events` events: how fast a durable scan gets its verdict, how fast
/// the ledger opens, its size on disk and the memory in use.
fn ingest(events: usize) -> Result<Value> {
    let tmp = std::env::temp_dir().join(format!("custodian-bench-ingest-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = ingest_in(&tmp, events);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn ingest_in(tmp: &Path, events: usize) -> Result<Value> {
    use custodian_ledger::event::{Action, BizStep, Disposition, EventType};
    use custodian_ledger::{Epc, Event, EventBody, Ledger, Recorder};

    let hub_dir = tmp.join("hub");
    let registry =
        custodian_hub::Registry::open_with_key(&hub_dir, custodian_hub::demo::issuer_key)?;
    let demo = custodian_hub::demo::seed(&registry)?;
    let extract = custodian_hub::registry::current_extract(&registry)?;
    drop(registry);
    let dir = tmp.join("device");
    {
        let mut ledger = Ledger::open(&dir)?;
        let me = Recorder {
            org: "dist-a".into(),
            site: "dc-hamburg".into(),
            device: "bench".into(),
        };
        ledger.set_recorder(&me)?;
        ledger.set_extract(&extract)?;
        ledger.store_events(&demo.asn_events, false)?;
        // History: inspections of a large population of units, as a busy site accumulates.
        let gtin = custodian_scanner::Gtin::parse(&demo.products[0].gtin)?;
        let base = chrono::DateTime::parse_from_rfc3339("2025-01-01T08:00:00+01:00")?;
        let mut batch = Vec::with_capacity(10_000);
        for i in 0..events.saturating_sub(demo.asn_events.len()) {
            batch.push(Event::new(EventBody {
                event_type: EventType::ObjectEvent,
                action: Action::Observe,
                biz_step: BizStep::Inspecting,
                disposition: Some(Disposition::Active),
                event_time: base + chrono::Duration::seconds(i64::try_from(i)?),
                epcs: vec![Epc::Unit {
                    gtin: gtin.clone(),
                    serial: format!("H{}", i % 200_000),
                }],
                parent: None,
                biz_transactions: vec![],
                source: None,
                destination: None,
                recorder: me.clone(),
                extension: Default::default(),
            }));
            if batch.len() == 10_000 {
                ledger.store_events(&batch, true)?;
                batch.clear();
            }
        }
        ledger.store_events(&batch, true)?;
    }
    let opened = Instant::now();
    let mut ledger = Ledger::open(&dir)?;
    let held = ledger.event_count()?;
    let open_ms = opened.elapsed().as_secs_f64() * 1e3;

    // Durable scans: each commits (fsync) before its verdict returns.
    let now = chrono::Local::now().fixed_offset();
    let mut latencies = Vec::new();
    let started = Instant::now();
    for (i, s) in demo.serials.iter().cycle().take(2_000).enumerate() {
        let t = Instant::now();
        let v = ledger.scan(
            &s.element_string,
            Step::Inspecting,
            None,
            now + chrono::Duration::milliseconds(i64::try_from(i)?),
        )?;
        latencies.push(t.elapsed().as_secs_f64() * 1e3);
        if v.event.is_none() {
            bail!("scan {i} recorded no event: {}", v.reason);
        }
    }
    let scans_per_s = latencies.len() as f64 / started.elapsed().as_secs_f64();
    // Against the demo ASN: the manifest is derived on every scan.
    let mut manifest_latencies = Vec::new();
    for s in demo.serials.iter().take(24) {
        let t = Instant::now();
        ledger.scan(
            &s.element_string,
            Step::Receiving,
            Some(custodian_hub::demo::ASN_ID),
            now,
        )?;
        manifest_latencies.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let me = ledger.recorder()?;
    let stream = sustained_stream(&mut ledger, &me, now)?;
    let checkpoints = ledger.checkpoints();
    drop(ledger);
    let disk: u64 = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok()?.metadata().ok())
        .map(|m| m.len())
        .sum();
    Ok(json!({
        "events_in_ledger": held,
        "scan_p50_ms": round(percentile(&mut latencies, 0.50), 3),
        "scan_p99_ms": round(percentile(&mut latencies, 0.99), 3),
        "scans_per_s": round(scans_per_s, 0),
        "manifest_scan_p50_ms": round(percentile(&mut manifest_latencies, 0.50), 3),
        "open_ms": round(open_ms, 2),
        "stream_scans": stream.scans,
        "stream_scans_per_s": round(stream.scans_per_s, 0),
        "stream_mean_batch": round(stream.mean_batch, 1),
        "stream_verdict_p99_ms": round(stream.verdict_p99_ms, 3),
        "disk_bytes_per_event": round(disk as f64 / held as f64, 1),
        "checkpoints_background": checkpoints.background,
        "checkpoints_inline": checkpoints.inline,
        "rss_mb": rss_mb(),
    }))
}

/// Figures of a sustained scan stream.
struct Stream {
    scans: usize,
    scans_per_s: f64,
    mean_batch: f64,
    verdict_p99_ms: f64,
}

/// Cases of units on the ASN the stream receives, and units per case.
const STREAM_CASES: usize = 100;
const STREAM_UNITS_PER_CASE: usize = 200;

/// A receiving dock at full speed: an ASN of 100 cases of 200 units arrives, and a scripted
/// scanner stream (every unit, 1% double reads, 0.5% unreadable codes, in dock order) is fed
/// from another thread as fast as it comes. The ledger commits whatever queued up while its
/// previous commit was in flight (group commit), so every scan is fsynced before its verdict.
/// The verdict latency counts from the moment a scan is queued until its batch is durable.
fn sustained_stream(
    ledger: &mut custodian_ledger::Ledger,
    me: &custodian_ledger::Recorder,
    now: chrono::DateTime<chrono::FixedOffset>,
) -> Result<Stream> {
    use custodian_ledger::event::{Action, BizStep, BizTransaction, Disposition, EventType};
    use custodian_ledger::{Epc, Event, EventBody, Recorder, ScanInput, VerdictKind};
    use custodian_scanner::{Gtin, Sscc, check_digit, element_string};

    const ASN: &str = "ASN-STREAM";
    let gtin = Gtin::parse("09506000134352")?;
    let maker = Recorder {
        org: "acme".into(),
        site: "plant".into(),
        device: "line-1".into(),
    };
    let at = now - chrono::Duration::days(2);
    let event = |event_type, action, biz_step, epcs, parent, txn: bool| {
        Event::new(EventBody {
            event_type,
            action,
            biz_step,
            disposition: Some(Disposition::InProgress),
            event_time: at,
            epcs,
            parent,
            biz_transactions: if txn {
                vec![BizTransaction {
                    kind: "desadv".into(),
                    id: ASN.into(),
                }]
            } else {
                vec![]
            },
            source: Some(maker.org.clone()),
            destination: Some(me.org.clone()),
            recorder: maker.clone(),
            extension: Default::default(),
        })
    };
    let mut events = Vec::new();
    let mut cases = Vec::new();
    let mut codes = Vec::new();
    for c in 0..STREAM_CASES {
        let digits = format!("195060001{c:08}");
        let sscc = Epc::Logistic(Sscc::parse(&format!("{digits}{}", check_digit(&digits)))?);
        let units: Vec<Epc> = (0..STREAM_UNITS_PER_CASE)
            .map(|u| Epc::Unit {
                gtin: gtin.clone(),
                serial: format!("S{c:03}{u:04}"),
            })
            .collect();
        for u in &units {
            if let Epc::Unit { serial, .. } = u {
                codes.push(format!(
                    "]d2{}",
                    element_string(&[("01", gtin.as_str()), ("21", serial)])
                ));
            }
        }
        events.push(event(
            EventType::AggregationEvent,
            Action::Add,
            BizStep::Packing,
            units,
            Some(sscc.clone()),
            false,
        ));
        cases.push(sscc);
    }
    events.push(event(
        EventType::ObjectEvent,
        Action::Observe,
        BizStep::Shipping,
        cases,
        None,
        true,
    ));
    ledger.store_events(&events, false)?;

    // The script: every unit in dock order, with double reads and unreadable codes mixed in.
    let mut script = Vec::with_capacity(codes.len() * 102 / 100);
    for (i, c) in codes.iter().enumerate() {
        script.push(c.clone());
        if i % 100 == 37 {
            script.push(c.clone());
        }
        if i % 200 == 11 {
            script.push("]d20109506000134353".into());
        }
    }

    let (tx, rx) = std::sync::mpsc::sync_channel::<(String, Instant)>(4096);
    let producer = std::thread::spawn(move || {
        for raw in script {
            if tx.send((raw, Instant::now())).is_err() {
                break;
            }
        }
    });
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut batches = 0usize;
    let mut seen_ok = 0usize;
    let mut pending: Vec<(String, Instant)> = Vec::new();
    loop {
        pending.clear();
        match rx.recv() {
            Ok(first) => pending.push(first),
            Err(_) => break,
        }
        while pending.len() < 1024 {
            match rx.try_recv() {
                Ok(next) => pending.push(next),
                Err(_) => break,
            }
        }
        let inputs: Vec<ScanInput<'_>> = pending
            .iter()
            .map(|(raw, _)| ScanInput {
                raw,
                step: Step::Receiving,
                manifest: Some(ASN),
                now,
            })
            .collect();
        let verdicts = ledger.scan_batch(&inputs)?;
        let durable = Instant::now();
        batches += 1;
        for ((_, queued), v) in pending.iter().zip(&verdicts) {
            latencies.push((durable - *queued).as_secs_f64() * 1e3);
            if v.verdict == VerdictKind::Ok {
                seen_ok += 1;
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    producer
        .join()
        .map_err(|_| anyhow::anyhow!("the scan stream's producer panicked"))?;
    if seen_ok != codes.len() {
        bail!(
            "the stream received {seen_ok} units on {ASN}, expected {}",
            codes.len()
        );
    }
    let scans = latencies.len();
    Ok(Stream {
        scans,
        scans_per_s: scans as f64 / elapsed,
        mean_batch: scans as f64 / batches.max(1) as f64,
        verdict_p99_ms: percentile(&mut latencies, 0.99),
    })
}

fn percentile(xs: &mut [f64], q: f64) -> f64 {
    xs.sort_by(f64::total_cmp);
    let i = ((xs.len() as f64 - 1.0) * q).round() as usize;
    xs.get(i).copied().unwrap_or(f64::NAN)
}

/// Peak resident memory of this process, in MB (Linux; `null` elsewhere).
fn rss_mb() -> Value {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(Value::Null, |kb| json!(round(kb / 1024.0, 1)))
}
