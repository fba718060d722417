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
        other => bail!("unknown benchmark {other:?}: available: sync"),
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
