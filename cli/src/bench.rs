//! `custodian bench NAME`: benchmarks on generated data, printing their figures (with `--json`
//! one object whose keys are those of the CLI contract).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use custodian_hub::server::{ServeOptions, serve};
use custodian_ledger::Step;
use custodian_sync::Device;
use serde_json::{Value, json};

/// Runs benchmark `name`.
pub fn run(name: &str, events: usize) -> Result<Value> {
    match name {
        "sync" => sync(events),
        "ingest" => ingest(events),
        other => bail!("unknown benchmark {other:?}: available: sync, ingest"),
    }
}

/// A device records `events` scans offline, then reconnects: seconds until both sides hold
/// everything, and bytes on the wire per event; then a small increment of 10 events.
fn sync(events: usize) -> Result<Value> {
    let tmp = std::env::temp_dir().join(format!("custodian-bench-sync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = sync_in(&tmp, events);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn sync_in(tmp: &Path, events: usize) -> Result<Value> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let (url_tx, url_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let options = ServeOptions {
            data: tmp.join("hub"),
            listen: "127.0.0.1:0".parse()?,
            demo: true,
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
        let (_, ca) = custodian_hub::server::hub_address(&tmp.join("hub"))?;
        let registry = custodian_hub::Registry::open(&tmp.join("hub"))?;
        let token = registry.create_token("dist-a", "dc-hamburg", &url, &ca, 1)?;
        drop(registry);
        let device = Device::open(&tmp.join("device"))?;
        device.enroll(&token, "bench").await?;

        let serials = demo_serials()?;
        let base = chrono::DateTime::parse_from_rfc3339("2026-11-20T08:00:00+01:00")?;
        let record = |n: usize, offset: usize| -> Result<()> {
            let mut ledger = device.ledger();
            for i in 0..n {
                let at = base + chrono::Duration::milliseconds(i64::try_from(offset + i)? * 250);
                ledger.scan(
                    &serials[(offset + i) % serials.len()],
                    Step::Inspecting,
                    None,
                    at,
                )?;
            }
            Ok(())
        };
        record(events, 0)?;
        let started = Instant::now();
        let report = device.sync().await?;
        let converge_s = started.elapsed().as_secs_f64();
        if report.stored_by_hub != events {
            bail!("the hub stored {} of {events} events", report.stored_by_hub);
        }
        record(10, events)?;
        let increment = device.sync().await?;
        let _ = stop_tx.send(());
        server.await??;
        let per_event = |r: &custodian_sync::SyncReport, n: usize| {
            (r.bytes_sent + r.bytes_received) as f64 / n as f64
        };
        Ok(json!({
            "events": events,
            "converge_s": round(converge_s, 3),
            "bytes_per_event": round(per_event(&report, events), 1),
            "increment_bytes_per_event": round(per_event(&increment, 10), 1),
            "rounds": report.rounds,
            "bytes_sent": report.bytes_sent,
            "bytes_received": report.bytes_received,
        }))
    })
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
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
        "disk_bytes_per_event": round(disk as f64 / held as f64, 1),
        "rss_mb": rss_mb(),
    }))
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
