//! `custodian`: the scriptable face of the hub and of a device ledger (see `--help`).
//!
//! Every reporting subcommand takes `--json` and then prints JSON (one object per line where it
//! reports per input line). Errors go to stderr as one clear line with a non-zero exit.

/// `println!` that ends the process quietly when standard output's reader went away
/// (`custodian flags | head`) instead of panicking; see [`written`].
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        if let Err(e) = $crate::written(writeln!(std::io::stdout().lock(), $($arg)*)) {
            panic!("failed writing to standard output: {e}");
        }
    }};
}

mod accounts;
mod aftersales;
mod bench;
mod capture;
mod flags;
mod hub;
mod link;
mod manifest;

use flags::{FlagsArgs, flags};
use hub::{HubCommand, run_hub};
use link::{print_sync, unfinished, watch_sync};
use manifest::{EpcisCommand, ManifestCommand, run_epcis, run_manifest};

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use custodian_ledger::Step;
use custodian_sync::{Device, Taken};
use serde::Serialize;

#[derive(Parser)]
#[command(
    name = "custodian",
    version,
    about = "Serial tracking for channel partners: hub, device ledger and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args)]
struct Data {
    /// The data directory (a hub's registry or a device's ledger).
    #[arg(long)]
    data: PathBuf,
}

#[derive(Args, Clone, Copy)]
struct Output {
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// The most scans recorded in one group commit.
const SCAN_BATCH_MAX: usize = 1024;

#[derive(Subcommand)]
enum Command {
    /// The manufacturer's registry service.
    #[command(subcommand)]
    Hub(HubCommand),
    /// Enrolls a device ledger with the hub named in TOKEN.
    Enroll {
        #[command(flatten)]
        data: Data,
        token: String,
        /// A name for this device, as the hub lists it.
        #[arg(long, default_value = "handheld")]
        name: String,
        #[command(flatten)]
        out: Output,
    },
    /// Syncs with the hub: uploads new scans, downloads what concerns this site, and flags.
    Sync {
        #[command(flatten)]
        data: Data,
        /// Retry transient failures this many times (exponential backoff with jitter).
        #[arg(long, default_value_t = 0)]
        retries: u32,
        /// Keep syncing in the background until stopped: every --interval seconds while the hub
        /// is reachable, and with exponential backoff and jitter (up to 10 s) while it is not.
        #[arg(long)]
        watch: bool,
        /// Seconds between syncs with --watch.
        #[arg(long, default_value_t = 20, requires = "watch")]
        interval: u64,
        /// The most events one round carries each way (1 to 10000): smaller rounds suit a link
        /// that drops long transfers.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        round_events: u32,
        /// Seeds the retry jitter, so that a run against the same faults replays exactly.
        #[arg(long)]
        seed: Option<u64>,
        #[command(flatten)]
        out: Output,
    },
    /// This device: enrollment, last sync, events waiting.
    Status {
        #[command(flatten)]
        data: Data,
        #[command(flatten)]
        out: Output,
    },
    /// Manifests (ASNs) and their live progress.
    #[command(subcommand)]
    Manifest(ManifestCommand),
    /// Records scans: each input line is raw scanner output; prints one verdict per line.
    ///
    /// Scans can also come from serial-port scanners and cameras at the same time as the input
    /// lines; they are recorded in the order they arrive. A source that fails (a camera absent,
    /// busy or unplugged, a scanner disconnected) is reported on one line and the others go on.
    /// The session ends when every source has ended (a serial port or camera runs until it is
    /// unplugged or the command is interrupted); it fails if any source failed.
    Scan {
        #[command(flatten)]
        data: Data,
        /// receiving, shipping, retail_selling, inspecting, repairing, returning.
        #[arg(long)]
        step: String,
        /// The ASN / order the scans are checked against.
        #[arg(long)]
        manifest: Option<String>,
        /// The keyboard layout of the host a US-layout scanner types into: us, qwertz (de),
        /// azerty (fr), or auto (mapped back only when the text as typed is not a valid code).
        #[arg(long, default_value = "us")]
        layout: custodian_scanner::HostLayout,
        /// A file of scans, or - (the default) for standard input.
        input: Option<PathBuf>,
        /// Also read scans from the serial-port scanner at PORT (/dev/ttyACM0, /dev/rfcomm0,
        /// COM3); repeat for several.
        #[arg(long, value_name = "PORT")]
        serial: Vec<String>,
        /// The serial ports' baud rate (USB and Bluetooth scanners ignore it).
        #[arg(long, default_value_t = 9600)]
        baud: u32,
        /// Also read codes from camera INDEX (0 when omitted; see `custodian cameras`). Needs a
        /// custodian built with the `camera` feature.
        #[arg(long, value_name = "INDEX", num_args = 0..=1, default_missing_value = "0")]
        camera: Vec<u32>,
        #[command(flatten)]
        out: Output,
    },
    /// Lists the cameras `scan --camera` can use: index, name, device.
    Cameras {
        #[command(flatten)]
        out: Output,
    },
    /// Warranty registration and claims.
    #[command(subcommand)]
    Warranty(aftersales::WarrantyCommand),
    /// Records a repair of a unit with the parts fitted and removed, each a serialised part.
    Repair(aftersales::RepairArgs),
    /// Reports a unit counterfeit, with a note and optionally a photo.
    ReportCounterfeit(aftersales::ReportArgs),
    /// Takes a unit back and marks it refurbished or scrapped.
    Return(aftersales::ReturnArgs),
    /// Declares an event this organisation recorded erroneous (an EPCIS error declaration).
    Correct(aftersales::CorrectArgs),
    /// Puts a suspect unit in quarantine, with the reason: scans warn it is not to be sold or
    /// shipped until it is released.
    Quarantine(aftersales::QuarantineArgs),
    /// Releases a unit from quarantine, with a note of what was found.
    Release(aftersales::ReleaseArgs),
    /// A unit's biography: custody chain, owner, warranty and claims, repairs and parts,
    /// reports, corrections, flags.
    History {
        #[command(flatten)]
        data: Data,
        code: String,
        #[command(flatten)]
        out: Output,
    },
    /// Flags known to this device, with their status and history; `flags move` moves one.
    Flags(FlagsArgs),
    /// EPCIS 2.0 JSON-LD export and import of the ledger's events.
    #[command(subcommand)]
    Epcis(EpcisCommand),
    /// Runs a named benchmark on generated data and prints its figures (sync, ingest, decode,
    /// verify, fleet).
    Bench {
        name: String,
        /// How many events the benchmark generates (50,000; `fleet`: per device, 500).
        #[arg(long)]
        events: Option<usize>,
        /// The label corpus `decode` reads (a directory with a manifest.tsv); defaults to the
        /// workspace's fixtures/labels.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// `verify`: issued serials the registry holds in all (the missing ones are issued,
        /// signed, before the run).
        #[arg(long, default_value_t = 10_000_000)]
        serials: usize,
        /// `verify`: the registry to build, or reuse from an earlier run (created if absent); a
        /// temporary one when omitted.
        #[arg(long)]
        data: Option<PathBuf>,
        /// `verify`: seconds of each measured phase.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// `verify`: verifications a second in the paced phase, where latency is measured.
        #[arg(long, default_value_t = 10_000.0)]
        rate: f64,
        /// `verify`: client connections of the load generator (64); `capture`: clients
        /// capturing at once (2).
        #[arg(long)]
        connections: Option<usize>,
        /// `capture`: events per captured document.
        #[arg(long, default_value_t = 1_000)]
        per_document: usize,
        /// `capture`: events the repository holds when queried (filled before the run; kept in
        /// --data for the next).
        #[arg(long, default_value_t = 10_000_000)]
        stored: usize,
        /// `capture`: queries for one EPC's events, timed one at a time.
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
        /// `sync`: the events are receipts of units the hub has no shipment for, every one out
        /// of sequence (a flag storm).
        #[arg(long)]
        flag_storm: bool,
        /// `sync`, `fleet`, `verify`: the hub's registry on this PostgreSQL database
        /// (postgres://…; an empty one, or for `verify` one an earlier run built) instead of a
        /// SQLite file.
        #[arg(long)]
        store: Option<String>,
        /// `fleet`: handhelds coming back online at once.
        #[arg(long, default_value_t = 1_000)]
        devices: usize,
        /// `fleet`: partner organisations the devices belong to.
        #[arg(long, default_value_t = 50)]
        orgs: usize,
        /// `fleet`, `verify`: hub processes on the one store (2 on PostgreSQL, 1 on SQLite).
        #[arg(long)]
        hubs: Option<usize>,
        /// `fleet`: devices syncing at the same time.
        #[arg(long, default_value_t = 50)]
        concurrency: usize,
        /// `fleet`: of each device's events, receipts of units nobody shipped (out of
        /// sequence: one flag per organisation).
        #[arg(long, default_value_t = 2)]
        unexpected: usize,
        #[command(flatten)]
        out: Output,
    },
    /// Decodes every barcode in each image (PNG, JPEG, WebP, GIF, BMP, TIFF, HEIC): one line per
    /// symbol. At the live camera's settings unless --thorough.
    Decode {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Look harder (TryHarder: every row of 1D codes, a second pass over the whole image)
        /// for small, blurred or damaged codes; several times slower.
        #[arg(long)]
        thorough: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Parses scanner output, element strings, bracketed AIs or Digital Link URIs.
    Parse {
        #[arg(required = true)]
        text: Vec<String>,
        /// The keyboard layout of the host a US-layout scanner typed the text into: its
        /// characters are mapped back first (us, qwertz, azerty, or auto).
        #[arg(long, default_value = "us")]
        layout: custodian_scanner::HostLayout,
        #[command(flatten)]
        out: Output,
    },
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli.command) {
        let mut chain = e.to_string();
        for cause in e.chain().skip(1) {
            chain.push_str(": ");
            chain.push_str(&cause.to_string());
        }
        eprintln!("custodian: {chain}");
        std::process::exit(1);
    }
}

/// The exit status when standard output's reader went away: what a shell reports for a tool
/// that SIGPIPE ended.
const READER_GONE: i32 = 141;

/// Passes a write's result on, except that a reader gone away (a closed pipe) ends the process
/// quietly, as SIGPIPE ends a Unix tool: whatever was recorded before stays recorded.
fn written(result: std::io::Result<()>) -> std::io::Result<()> {
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(READER_GONE),
        other => other,
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn now() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::Local::now().fixed_offset()
}

fn print_json<T: Serialize>(value: &T) -> Result<()> {
    outln!("{}", serde_json::to_string(value)?);
    Ok(())
}

fn run(command: Command) -> Result<()> {
    match command {
        Command::Hub(hub) => run_hub(hub),
        Command::Enroll {
            data,
            token,
            name,
            out,
        } => {
            let device = Device::open(&data.data)?;
            let status = runtime()?.block_on(device.enroll(&token, &name))?;
            if out.json {
                print_json(&status)
            } else {
                outln!(
                    "enrolled as {} for {} / {} with {}",
                    status.device.unwrap_or_default(),
                    status.org.unwrap_or_default(),
                    status.site.unwrap_or_default(),
                    status.hub.unwrap_or_default()
                );
                Ok(())
            }
        }
        Command::Sync {
            data,
            retries,
            watch,
            interval,
            round_events,
            seed,
            out,
        } => {
            let mut device = Device::open(&data.data)?
                .with_round_events(usize::try_from(round_events).unwrap_or(usize::MAX));
            if let Some(seed) = seed {
                device = device.with_jitter_seed(seed);
            }
            if watch {
                return runtime()?.block_on(watch_sync(&device, interval, out.json));
            }
            let report = runtime()?.block_on(device.sync_with_retry(retries))?;
            print_sync(&report, out.json)?;
            if !report.converged {
                bail!("{}", unfinished(&report));
            }
            Ok(())
        }
        Command::Status { data, out } => {
            let status = Device::open(&data.data)?.status()?;
            if out.json {
                return print_json(&status);
            }
            if status.enrolled {
                outln!(
                    "device {} of {} / {}, hub {}\nlast sync {}, {} events waiting, {} events held",
                    status.device.unwrap_or_default(),
                    status.org.unwrap_or_default(),
                    status.site.unwrap_or_default(),
                    status.hub.unwrap_or_default(),
                    status.last_sync.unwrap_or_else(|| "never".into()),
                    status.waiting,
                    status.events
                );
            } else {
                outln!("not enrolled");
            }
            Ok(())
        }
        Command::Manifest(m) => run_manifest(m),
        Command::Epcis(e) => run_epcis(e),
        Command::Scan {
            data,
            step,
            manifest,
            layout,
            input,
            serial,
            baud,
            camera,
            out,
        } => {
            let step = Step::parse(&step).with_context(|| {
                format!("unknown step {step:?}: use one of receiving, shipping, retail_selling, inspecting, repairing, returning")
            })?;
            let mut sources = vec![capture::Source::lines(input.as_deref())?];
            for path in serial {
                sources.push(capture::Source::serial(path, baud)?);
            }
            for index in camera {
                sources.push(capture::Source::camera(index)?);
            }
            let device = Device::open(&data.data)?;
            let mut stdout = std::io::stdout().lock();
            let total = sources.len();
            let (mut running, mut failed) = (total, 0);
            let events = capture::start(sources);
            // An event taken from the channel while gathering a batch, handled next.
            let mut held: Option<capture::Event> = None;
            while running > 0 {
                let event = match held.take() {
                    Some(event) => event,
                    None => events
                        .recv()
                        .context("every scan source stopped without a word")?,
                };
                match event {
                    capture::Event::Scan(raw) => {
                        // Group commit (see `Device::scan_taken`): the scans that queued up
                        // while the previous batch was being made durable are recorded
                        // together, each with the moment it was taken off the queue.
                        let mut batch = vec![Taken {
                            typed: raw,
                            at: now(),
                        }];
                        while batch.len() < SCAN_BATCH_MAX {
                            match events.try_recv() {
                                Ok(capture::Event::Scan(raw)) => batch.push(Taken {
                                    typed: raw,
                                    at: now(),
                                }),
                                Ok(other) => {
                                    held = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        let verdicts =
                            device.scan_taken(&batch, step, manifest.as_deref(), layout)?;
                        for verdict in &verdicts {
                            if out.json {
                                written(writeln!(stdout, "{}", serde_json::to_string(verdict)?))?;
                            } else {
                                written(writeln!(
                                    stdout,
                                    "{:<20} {}",
                                    verdict.verdict.as_str().to_uppercase(),
                                    verdict.reason
                                ))?;
                            }
                        }
                        written(stdout.flush())?;
                    }
                    capture::Event::Warning(warning) => eprintln!("custodian: {warning}"),
                    capture::Event::Ended(end) => {
                        running -= 1;
                        if let Err(error) = end {
                            failed += 1;
                            eprintln!("custodian: {error}");
                        }
                    }
                }
            }
            if failed > 0 {
                bail!(
                    "{failed} of {total} scan sources failed (see above); every verdict printed was recorded"
                );
            }
            Ok(())
        }
        Command::Cameras { out } => capture::print_cameras(out.json),
        Command::History { data, code, out } => {
            let history = Device::open(&data.data)?.history(&code, now())?;
            if out.json {
                return print_json(&history);
            }
            aftersales::print_history(&history);
            Ok(())
        }
        Command::Warranty(w) => aftersales::warranty(w),
        Command::Repair(args) => aftersales::repair(args),
        Command::ReportCounterfeit(args) => aftersales::report_counterfeit(args),
        Command::Return(args) => aftersales::take_back(args),
        Command::Correct(args) => aftersales::correct(args),
        Command::Quarantine(args) => aftersales::quarantine(args),
        Command::Release(args) => aftersales::release(args),
        Command::Flags(args) => flags(args),
        Command::Bench {
            name,
            events,
            labels,
            serials,
            data,
            seconds,
            rate,
            connections,
            per_document,
            stored,
            queries,
            flag_storm,
            store,
            devices,
            orgs,
            hubs,
            concurrency,
            unexpected,
            out,
        } => {
            let on_postgres = store.as_deref().is_some_and(|s| s.starts_with("postgres"));
            let verify = bench::verify::Options {
                serials,
                data,
                seconds,
                rate,
                connections: connections.unwrap_or(64),
                store: None,
                hubs: hubs.unwrap_or(if on_postgres { 2 } else { 1 }),
            };
            let capture = bench::capture::Options {
                events: events.unwrap_or(100_000),
                per_document,
                stored,
                queries,
                connections: connections.unwrap_or(2),
                data: verify.data.clone(),
                store: None,
            };
            let fleet = bench::fleet::Options {
                devices,
                events: events.unwrap_or(500),
                orgs,
                hubs: hubs.unwrap_or(if on_postgres { 2 } else { 1 }),
                concurrency,
                unexpected,
                store: None,
            };
            let figures = bench::run(
                &name,
                events.unwrap_or(50_000),
                labels.as_deref(),
                &bench::Configured {
                    verify,
                    fleet,
                    capture,
                },
                flag_storm,
                store.as_deref(),
            )?;
            if out.json {
                print_json(&figures)
            } else {
                for (k, v) in figures.as_object().into_iter().flatten() {
                    outln!("{k:<28} {v}");
                }
                Ok(())
            }
        }
        Command::Decode {
            images,
            thorough,
            out,
        } => {
            let options = if thorough {
                custodian_scanner::DecodeOptions::thorough()
            } else {
                custodian_scanner::DecodeOptions::default()
            };
            let mut failed = false;
            for image in images {
                let file = image.display().to_string();
                match custodian_scanner::decode::decode_image_file_with(&image, &options) {
                    Ok(found) if found.is_empty() => {
                        failed = true;
                        eprintln!("custodian: {file}: no barcode found");
                    }
                    Ok(found) => {
                        for d in found {
                            let parsed = custodian_scanner::parse(&d.scan_text());
                            if out.json {
                                print_json(&serde_json::json!({
                                    "file": file,
                                    "format": format!("{:?}", d.format),
                                    "aim": d.aim,
                                    "text": d.text,
                                    "valid": parsed.is_ok(),
                                    "error": parsed.err().map(|e| e.to_string()),
                                }))?;
                            } else {
                                let verdict = parsed
                                    .err()
                                    .map(|e| format!("  (invalid: {e})"))
                                    .unwrap_or_default();
                                outln!(
                                    "{file}: {:?} {} {}{verdict}",
                                    d.format,
                                    d.aim,
                                    d.text.replace('\u{1d}', "[GS]")
                                );
                            }
                        }
                    }
                    Err(e) => {
                        failed = true;
                        eprintln!("custodian: {e}");
                    }
                }
            }
            if failed {
                std::process::exit(2);
            }
            Ok(())
        }
        Command::Parse { text, layout, out } => {
            let mut failed = false;
            for t in text {
                match custodian_scanner::parse(&layout.us_text(&t)) {
                    Ok(scan) => {
                        if out.json {
                            print_json(&scan_json(&t, &scan))?;
                        } else {
                            outln!("{t}: {scan:?}");
                        }
                    }
                    Err(e) => {
                        failed = true;
                        if out.json {
                            print_json(
                                &serde_json::json!({ "input": t, "ok": false, "error": e.to_string(), "kind": e.kind.code(), "position": e.position }),
                            )?;
                        } else {
                            outln!("{t}: invalid: {e}");
                        }
                    }
                }
            }
            if failed {
                std::process::exit(2);
            }
            Ok(())
        }
    }
}

/// The fields of a parse an integrator needs, as JSON.
fn scan_json(input: &str, scan: &custodian_scanner::Scan) -> serde_json::Value {
    // The YYMMDD AIs as dates (a day of 00 is the month's last), like the expiry (AI 17).
    let date = |ai: &str| scan.date(ai).map(|d| d.to_string());
    serde_json::json!({
        "input": input,
        "ok": true,
        "symbology": scan.symbology,
        "form": scan.form,
        "elements": scan.elements,
        "gtin": scan.gtin().map(ToString::to_string),
        "serial": scan.serial(),
        "sscc": scan.sscc().map(ToString::to_string),
        "lot": scan.lot(),
        "expiry": scan.expiry().map(|d| d.to_string()),
        "production_date": date("11"),
        "due_date": date("12"),
        "packaging_date": date("13"),
        "best_before": date("15"),
        "sell_by": date("16"),
        "signature_bytes": scan.signature().map(<[u8]>::len),
        // An AI 8030 that is GS1 text but no signature (it does not decode): the scan is read,
        // and the code is to be treated as one whose signature does not verify.
        "signature_valid": scan.get("8030").map(|_| scan.signature().is_some()),
    })
}

fn print_chain(chain: &[custodian_ledger::custody::Link]) {
    for l in chain {
        let to = l
            .destination
            .as_ref()
            .map(|d| format!(" → {d}"))
            .unwrap_or_default();
        let via = l
            .via
            .as_ref()
            .map(|v| format!(" (via {v})"))
            .unwrap_or_default();
        let tx = l
            .transaction
            .as_ref()
            .map(|t| format!(" [{t}]"))
            .unwrap_or_default();
        let detail = l
            .detail
            .as_ref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        outln!(
            "  {}  {:<14} {}/{}{to}{tx}{via}{detail}",
            l.time,
            l.step,
            l.org,
            l.site
        );
    }
}

/// Ctrl-C or SIGTERM, listened for from the moment this is called rather than from the first
/// time the future is polled: a signal that comes during the first sync of `sync --watch`
/// stops it cleanly instead of killing the process. Call it inside the runtime.
fn shutdown_signal() -> Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for Ctrl-C")?;
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
