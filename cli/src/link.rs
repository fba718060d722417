//! What `custodian sync` prints, and `sync --watch`.

use std::io::Write;

use anyhow::Result;
use custodian_sync::Device;

use crate::{print_json, shutdown_signal};

pub(crate) fn print_sync(report: &custodian_sync::SyncReport, json: bool) -> Result<()> {
    if json {
        return print_json(report);
    }
    if !report.converged {
        outln!("{}", unfinished(report));
    }
    outln!(
        "synced in {} round(s): {} events up ({} new to the hub), {} down, {} bytes sent, {} received",
        report.rounds,
        report.uploaded,
        report.stored_by_hub,
        report.downloaded,
        report.bytes_sent,
        report.bytes_received
    );
    for f in &report.new_flags {
        outln!("new flag {}: {}", f.kind, f.reason);
    }
    for f in &report.moved_flags {
        outln!("flag {} ({}) is now {}", f.id, f.kind, f.status);
    }
    Ok(())
}

/// What a sync that stopped short left: said plainly, for a person and a script alike.
pub(crate) fn unfinished(report: &custodian_sync::SyncReport) -> String {
    format!(
        "sync stopped unfinished after {} rounds, {}",
        report.rounds,
        report.left().unwrap_or_default()
    )
}

/// `custodian sync --watch`: syncs every `interval` seconds while the hub answers (at once again
/// while a sync stopped unfinished), backs off (exponentially, with jitter, up to 10 s) while it
/// cannot be reached, and stops cleanly at Ctrl-C or SIGTERM, in a sync as between syncs: a
/// round cut short is sent again next time and stores nothing twice. A refusal ends it: it
/// would be refused again. Each sync that moved something is reported, and so is each change
/// between online and offline.
pub(crate) async fn watch_sync(device: &Device, interval: u64, json: bool) -> Result<()> {
    let stop = shutdown_signal()?;
    tokio::pin!(stop);
    let mut failures: u32 = 0;
    loop {
        let result = tokio::select! {
            () = &mut stop => return Ok(()),
            result = device.sync() => result,
        };
        let delay = match result {
            Ok(report) if !report.converged => {
                print_sync(&report, json)?;
                failures = 0;
                std::time::Duration::ZERO
            }
            Ok(report) => {
                if report.moved() || failures > 0 {
                    print_sync(&report, json)?;
                }
                failures = 0;
                std::time::Duration::from_secs(interval.max(1))
            }
            Err(e) if e.is_transient() => {
                if failures == 0 {
                    if json {
                        print_json(&serde_json::json!({ "offline": e.to_string() }))?;
                    } else {
                        outln!("offline: {e}");
                    }
                }
                failures = failures.saturating_add(1);
                let backoff = device.backoff(failures);
                backoff.max(std::time::Duration::from_millis(200))
            }
            Err(e) => return Err(e.into()),
        };
        let _ = std::io::stdout().flush();
        tokio::select! {
            () = &mut stop => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}
